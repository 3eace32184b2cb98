"""The ``mtlsed`` command: a thin dispatcher over :data:`mtlsed.cli.commands.COMMANDS`.

The library raises; this module prints the errors a user causes (bad input, a
missing file, a full or read-only disk) without a traceback and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mtlsed import __version__
from mtlsed.core.diskspace import disk_message
from mtlsed.core.errors import UserError

__all__ = ["UserError", "add_command", "build_parser", "main"]


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
    from mtlsed.cli.commands import COMMANDS

    for add_commands in COMMANDS:
        add_commands(subparsers, add_command)
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
    except (UserError, FileNotFoundError, FileExistsError) as err:  # one root for what a user causes
        print(f"mtlsed {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        from mtlsed.cli.commands import interrupted_line

        print(f"\nmtlsed {args.command}: interrupted; {interrupted_line(args)}", file=sys.stderr)
        return 130
    except PermissionError as err:  # a read-only output folder, a data set on a read-only mount
        print(f"mtlsed {args.command}: error: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    except OSError as err:  # a disk that fills up or is mounted read-only while a command writes
        message = disk_message(err)
        if message is None:
            raise
        print(f"mtlsed {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
