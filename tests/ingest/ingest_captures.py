"""Small captures built with the project's writer, fixed seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from teiten.capture.writer import CaptureWriter, PacketColumns

T0 = 1_790_812_800 * 10**9  # 2026-10-01T00:00:00Z


def syn_capture(path: Path, n: int = 200, *, seed: int = 1, dst_base: int = 0xCB007100,
                ndst: int = 4, t0: int = T0, spacing_ns: int = 10**9, fmt: str = "pcap",
                compression: str | None = None) -> PacketColumns:
    """``n`` TCP SYNs from random sources to ``ndst`` addresses from ``dst_base``."""
    rng = np.random.default_rng(seed)
    cols = PacketColumns.tcp_syn(
        src=rng.integers(0x01000000, 0xDF000000, n, dtype=np.uint32),
        dst=dst_base + rng.integers(0, ndst, n).astype(np.uint32),
        dport=rng.choice([22, 23, 445, 1433, 3389], n),
        sport=rng.integers(1024, 65535, n),
        payload=b"",
    )
    ts = t0 + np.arange(n, dtype=np.int64) * spacing_ns
    with CaptureWriter(path, fmt=fmt, compression=compression) as w:  # type: ignore[arg-type]
        w.write(ts, cols)
    return cols
