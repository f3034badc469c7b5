"""The ``pafpose`` command line: one subcommand per module in :mod:`pafpose.commands`.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the handler. Errors a user can fix (bad paths, bad files, bad options)
are raised as :class:`pafpose.errors.UserError` and printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

_COMMANDS = (
    "pafpose.commands.targets",
    "pafpose.commands.synth",
    "pafpose.commands.infer",
    "pafpose.commands.eval",
    "pafpose.commands.export",
    "pafpose.commands.convert",
    "pafpose.commands.train",
    "pafpose.commands.model_info",
    "pafpose.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pafpose",
        description="OpenPose (Part Affinity Fields) in PyTorch: train, run and evaluate pose models.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"pafpose {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pafpose {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
