"""The ingest benchmark (``bench/bench_ingest.py``) at a size the suite can afford.

It must run end to end, side by side with the tools it compares against, and report every
ratio; the figures themselves are for ``docs/benchmarks.md``, not for a test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_ingest.py"


def test_bench_ingest_runs_every_tool_and_reports_ratios(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--packets", "20000", "--sample", "2000", "--rounds", "2",
         "--small-files", "3", "--compressed", "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout
    for tool in ("tcpdump -r -w /dev/null", "dpkt loop counting dports", "tshark -T fields"):
        assert re.search(rf"teiten ingest / {re.escape(tool)}: [0-9.]+x best vs best; "
                         r"per round [0-9.]+x, [0-9.]+x", out), out
    assert "teiten ingest, 3 inputs of 2,000 packets" in out
    assert re.search(r"per input: [0-9.]+ ms wall", out)
    for tool in ("gzip", "zstd"):
        assert re.search(rf"\| teiten ingest, {tool} \([0-9]+ MB\) \| 20,000 \|", out), out
        assert f"| {tool} -dc alone | 20,000 |" in out


def test_bench_reports_the_peak_memory_of_the_command_not_of_the_benchmark() -> None:
    """Linux carries a parent's peak RSS into a child it starts: the benchmark, large from
    generating its capture, must not lend its peak to the tools it times."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import numpy as np; from common import timed\n"
        "big = np.ones(300 << 17)  # 300 MiB touched\n"
        "r = timed('x', [sys.executable, '-S', '-c', 'pass'], 1)\n"
        "print(r.peak_rss_mib, r.cpu_seconds, r.seconds)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(BENCH.parent)], capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    rss, cpu, wall = map(float, out)
    assert 1 < rss < 100  # an interpreter's own peak, not the parent's 300 MiB and more
    assert 0 < cpu < 5 and 0 < wall < 5
