"""Output buffers of the decode kernel, recycled once Arrow no longer uses them.

Batches reference the kernel's matrices without copying. Fresh arrays cost a page fault per
4 KiB on first touch, which is most of the decoding time on small packets, so a set of
buffers is reused as soon as the batches built on it are gone (nothing else refers to it).
"""

from __future__ import annotations

import sys
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture.arrow import build_batch
from teiten.capture.decode import N8, N16, N32, N_VALID, decode

I64 = npt.NDArray[np.int64]

#: Arrays that Arrow batches refer to without copying.
_SHARED: Final = ("M8", "M16", "M32", "ts", "s6", "d6", "pay_off", "opt_off")

#: Most sets kept for reuse (a consumer holding on to more batches just gets fresh ones). The
#: ingest holds up to five at once: the two halves of the chunk being decoded and the three
#: batches waiting for (or being written by) the Parquet encoders. A pool smaller than that
#: dropped a set and made a fresh one for nearly every chunk once the encoders lagged: on a
#: 5.4 GB capture, 46 % more CPU (page faults on fresh memory) and 607 MiB instead of 391.
POOL_SIZE: Final = 8


class Outputs:
    """One set of kernel output arrays for up to ``cap`` rows.

    Values under nulls are whatever the memory held (Arrow leaves them undefined); the kernel
    writes every value it marks valid, and the validity rows are zeroed before each use.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.M8 = np.empty((N8, cap), np.uint8)
        self.M16 = np.empty((N16, cap), np.uint16)
        self.M32 = np.empty((N32, cap), np.uint32)
        self.V = np.empty((N_VALID, cap), np.uint8)  # zeroed per use
        self.ts = np.empty(cap, np.int64)
        self.s6 = np.empty((cap, 16), np.uint8)
        self.d6 = np.empty((cap, 16), np.uint8)
        self.pay_off = np.empty(cap + 1, np.int32)
        self.opt_off = np.empty(cap + 1, np.int32)
        self.pay = np.empty(0, np.uint8)
        self.opts = np.empty(0, np.uint8)
        self.status = np.empty(cap, np.uint8)

    def free(self) -> bool:
        """Whether no Arrow buffer refers to these arrays any more."""
        # a free array is referred to by this object's attribute and getrefcount's argument
        return all(sys.getrefcount(getattr(self, name)) <= 2 for name in _SHARED)

    def run(
        self,
        buf: npt.NDArray[np.uint8],
        r_off: I64,
        r_cap: I64,
        r_wire: I64,
        r_ts: I64,
        r_if: I64,
        if_link: I64,
        payload_cap: int,
    ) -> tuple[pa.RecordBatch, npt.NDArray[np.uint8]]:
        """Decode the given records; returns the batch and the per-record status codes."""
        n = r_off.shape[0]
        # records lie in buffer order, so their bytes fit in the span they cover
        total = int(r_off[n - 1] + r_cap[n - 1] - r_off[0]) if n else 0
        need_pay = min(total, n * payload_cap) + 1
        if self.pay.size < need_pay:
            self.pay = np.empty(max(need_pay, 2 * self.pay.size), np.uint8)
        need_opts = min(total, n * 40) + 1
        if self.opts.size < need_opts:
            self.opts = np.empty(max(need_opts, 2 * self.opts.size), np.uint8)
        self.V[:, :n] = 0
        status = self.status[:n]
        rows = decode(
            buf, r_off, r_cap, r_wire, r_ts, r_if, if_link, payload_cap,
            self.M8, self.M16, self.M32, self.V, self.ts, self.s6, self.d6,
            self.pay, self.pay_off, self.opts, self.opt_off, status,
        )
        batch = build_batch(rows, self.M8, self.M16, self.M32, self.V, self.ts, self.s6,
                            self.d6, self.pay, self.pay_off, self.opts, self.opt_off)
        return batch, status.copy()


class OutputPool:
    """Hands out :class:`Outputs` sets, reusing free ones of sufficient capacity."""

    def __init__(self) -> None:
        self._sets: list[Outputs] = []

    def acquire(self, n: int, taken: list[Outputs]) -> Outputs:
        """A set for ``n`` rows that is free and not in ``taken``."""
        for out in self._sets:
            if out.cap >= n and out not in taken and out.free():
                return out
        cap = max(1 << 12, 1 << (n - 1).bit_length())
        out = Outputs(cap)
        if len(self._sets) >= POOL_SIZE:
            self._sets.pop(0)
        self._sets.append(out)
        return out
