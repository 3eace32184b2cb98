"""The ``mtlsed`` command.

Each subcommand lives in the module that does its work and registers itself
here with a ``(name, add_arguments, run)`` triple, so this file stays a thin
dispatcher and ``mtlsed --help`` lists everything that exists.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from mtlsed import __version__
from mtlsed.audio import AudioError
from mtlsed.config import ConfigError
from mtlsed.data.format import FormatError

# Modules that provide a ``register(subparsers)`` function, in help order.
COMMAND_MODULES: list[str] = [
    "mtlsed.data.commands",
    "mtlsed.train",
    "mtlsed.evaluate",
    "mtlsed.experiments",
    "mtlsed.profiles",
    "mtlsed.book",
]


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtlsed",
        description=(
            "Companion to 'A multi-task learning method for weakly supervised sound event "
            "detection' (Liu, Yang, Kang, Yang, ICASSP 2022): synthesise data, train, "
            "evaluate and reproduce the paper's tables."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mtlsed {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int | None],
) -> argparse.ArgumentParser:
    """Register a subcommand whose ``run(args)`` returns the exit code."""
    sub = subparsers.add_parser(name, help=help, description=help)
    sub.set_defaults(_run=run)
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except (UserError, ConfigError, FormatError, AudioError, FileNotFoundError, FileExistsError) as err:
        print(f"mtlsed {args.command}: error: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:  # a read-only output folder, a data set on a read-only mount
        print(f"mtlsed {args.command}: error: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
