"""The ``teiten`` command.

Each sub-command lives in its own module under :mod:`teiten.cli` exposing
``register(subparsers)``; adding a command is one module and one line in :data:`COMMANDS`.

Exit codes
----------
0 success; 1 unexpected error; 2 usage or configuration error; 3 unusable input (missing, not a
capture); 4 damaged input under ``--strict``; 5 store error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from teiten import __version__
from teiten.core.errors import TeitenError

#: Modules that register sub-commands, in the order ``teiten --help`` lists them.
COMMANDS: list[str] = [
    "teiten.cli.ingest_cmd",
    "teiten.cli.store_cmd",
    "teiten.cli.sensor_cmd",
    "teiten.cli.detect_cmd",
    "teiten.cli.rules_cmd",
    "teiten.cli.signatures_cmd",
    "teiten.cli.stats_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="teiten",
        description="Internet fixed-point observation: captures to statistics and reports.",
    )
    parser.add_argument("--version", action="version", version=f"teiten {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except TeitenError as exc:
        print(f"teiten: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("teiten: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
