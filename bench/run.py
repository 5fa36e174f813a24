"""Run every benchmark at its default (small) size, one after the other (``make bench``).

Each script runs teiten and its competitor side by side and prints the ratio; full sizes are
flags of each script (``--help``), and the figures of record are in ``docs/benchmarks.md``.
``bench/public_captures.py`` (the decoder against tshark/tcpdump on ~800 public test-suite
captures) runs last.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = [*sorted(HERE.glob("bench_*.py")), HERE / "public_captures.py"]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)])
        print(f"=== {script.name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(script.name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
