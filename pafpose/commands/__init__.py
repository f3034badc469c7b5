"""One module per ``pafpose`` subcommand; each exposes ``register(subparsers)``."""
