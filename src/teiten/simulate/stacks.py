"""Operating-system TCP/IP stack profiles: initial TTL, SYN window and SYN options.

Observed TTL = initial TTL - hop count (per source). Option bytes are the raw TCP options of a
SYN; ``ts_at`` is the offset of the 4-byte timestamp value when the option set carries one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from teiten.capture.writer import Ragged


@dataclass(frozen=True)
class Stack:
    """One OS family's SYN fingerprint."""

    name: str
    ttl: int
    windows: tuple[int, ...]
    options: bytes
    ts_at: int = -1
    df: bool = True
    ip_id: str = "random"  # "random" or "counter" (per-host incrementing, Windows)


MSS = b"\x02\x04\x05\xb4"

#: The OS families sources are drawn from (``os`` weights in a scenario name these).
STACKS: Final[dict[str, Stack]] = {
    # Windows XP/2003: MSS, NOP, NOP, SACK-permitted
    "windows-xp": Stack("windows-xp", 128, (65535, 64512, 16384), MSS + b"\x01\x01\x04\x02",
                        ip_id="counter"),
    # Windows 7/10/11: MSS, NOP, WScale 8, NOP, NOP, SACK-permitted
    "windows": Stack("windows", 128, (8192, 64240, 65535),
                     MSS + b"\x01\x03\x03\x08\x01\x01\x04\x02", ip_id="counter"),
    # Linux: MSS, SACK-permitted, timestamps, NOP, WScale 7
    "linux": Stack("linux", 64, (29200, 64240, 5840),
                   MSS + b"\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07", ts_at=8),
    # BSD / macOS: MSS, NOP, WScale 6, NOP, NOP, timestamps, SACK-permitted, EOL, EOL
    "bsd": Stack("bsd", 64, (65535,),
                 MSS + b"\x01\x03\x03\x06\x01\x01\x08\x0a" + bytes(8) + b"\x04\x02\x00\x00",
                 ts_at=12),
    # embedded routers / IoT: MSS only
    "embedded": Stack("embedded", 64, (5840, 14600, 4128), MSS, df=False),
}


def syn_options(stack_idx: npt.NDArray[np.int64], names: list[str],
                ts_ns: npt.NDArray[np.int64]) -> Ragged:
    """TCP options for SYNs of sources with the given stack indexes (into ``names``).

    Timestamp options carry TSval = capture time in ms (mod 2**32), TSecr 0.
    """
    len(stack_idx)
    templates = [STACKS[nm].options for nm in names]
    t_len = np.array([len(t) for t in templates], dtype=np.int64)
    t_start = np.r_[0, np.cumsum(t_len)[:-1]].astype(np.int64)
    table = Ragged(np.frombuffer(b"".join(templates), dtype=np.uint8).copy(),
                   np.r_[t_start, t_len.sum()].astype(np.int64))
    out = table.take(stack_idx)
    ts_at = np.array([STACKS[nm].ts_at for nm in names], dtype=np.int64)[stack_idx]
    has = np.flatnonzero(ts_at >= 0)
    if len(has):
        tsval = (ts_ns[has] // 1_000_000) & 0xFFFFFFFF
        pos = out.offsets[has] + ts_at[has]
        for k in range(4):
            out.data[pos + k] = (tsval >> (8 * (3 - k))) & 0xFF
    return out
