"""The ``pafpose`` command line: one subcommand per module in :mod:`pafpose.commands`.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the handler. Failures a user can act on are printed as one line, without
a traceback, and each kind has its own exit status (:mod:`pafpose.errors`): errors a user can fix
(bad paths, bad files, bad options) are raised as :class:`pafpose.errors.UserError`; what the
operating system refuses (a full disk, a read-only folder) arrives as ``OSError``. SIGTERM is
handled like Ctrl-C (:mod:`pafpose.signals`), so both keep finished outputs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import errors
from .errors import UserError
from .signals import Terminated, terminate_as_interrupt

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
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="pafpose",
        description="OpenPose (Part Affinity Fields) in PyTorch: train, run and evaluate pose models.",
        epilog=errors.EXIT_STATUS_HELP + "\n'pafpose COMMAND --help' describes a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pafpose {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def describe_os_error(err: OSError) -> str:
    """``PATH: reason`` of an OSError (its strerror, e.g. "No space left on device")."""
    reason = err.strerror or str(err) or type(err).__name__
    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    return ": ".join([" -> ".join(paths), reason] if paths else [reason])


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into the closed pipe is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is no real file (tests capture it)
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return errors.EXIT_USAGE
    name = f"pafpose {args.command}"
    try:
        with terminate_as_interrupt():
            status = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
            return status
    except UserError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return errors.EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()
        return errors.EXIT_BROKEN_PIPE
    except OSError as err:
        print(f"{name}: {describe_os_error(err)}", file=sys.stderr)
        return errors.EXIT_OS_ERROR
    except Terminated:
        print(f"{name}: terminated", file=sys.stderr)
        return errors.EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return errors.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
