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
import os
import sys
from collections.abc import Sequence

from teiten import __version__
from teiten.core.errors import TeitenError

#: Sub-command name -> the module that registers it, in the order ``teiten --help`` lists
#: them. Only the module of the command being run is imported, so that heavy libraries one
#: command needs (Ibis, pandas, matplotlib...) do not slow down every other command.
COMMANDS: dict[str, str] = {
    "ingest": "teiten.cli.ingest_cmd",
    "store": "teiten.cli.store_cmd",
    "stats": "teiten.cli.stats_cmd",
    "detect": "teiten.cli.detect_cmd",
    "rules": "teiten.cli.rules_cmd",
    "signatures": "teiten.cli.signatures_cmd",
    "sensor": "teiten.cli.sensor_cmd",
    "simulate": "teiten.cli.simulate_cmd",
    "report": "teiten.cli.report_cmd",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every registered sub-command, or just ``only`` when it is known."""
    parser = argparse.ArgumentParser(
        prog="teiten",
        description="Internet fixed-point observation: captures to statistics and reports.",
    )
    parser.add_argument("--version", action="version", version=f"teiten {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        # rich lays tables out for 80 columns when it cannot see a terminal; in a pipe or a
        # file, wide tables are easier to read unwrapped
        os.environ["COLUMNS"] = "200"
    if argv == ["--version"]:  # without importing every command (~0.5 s)
        print(f"teiten {__version__}")
        return 0
    parser = build_parser(argv[0] if argv else None)
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
