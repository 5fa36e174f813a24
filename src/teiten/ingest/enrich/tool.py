"""Scanner-tool fingerprint of single probes (``specs/detections.md`` §3).

Rules run in the spec's order (§3.6); the first that matches labels the packet, and packets
matching none get null. All rules except ``zmap-old`` on ICMP/UDP apply to IPv4 TCP probes with
SYN alone among SYN/ACK/RST.

==================  ==========================================================================
label               rule
==================  ==========================================================================
``zmap-old``        IP ID 54321 (ZMap before v4.1.0, every probe module); TCP also needs window
                    65535 and no options or MSS only (v1–v4.0), ICMP an echo request
``masscan``         IP ID == (dst ^ dport ^ seq) & 0xFFFF, supported by an observed TTL >= 200
                    (initial 255) or by window 1024 or 0 with a TTL above Nmap's 37–59
``mirai``           seq == destination address
``unicornscan``     seq ^ dst ^ ((dport << 16) + sport) constant over >= 3 distinct targets of
                    one source in the chunk (>= 2 with Unicornscan's window 4128); dst tried in
                    both byte orders
``nmap``            window 1024, options exactly MSS (1460), observed TTL <= 59 (initial 37–59)
``zmap-new``        ZMap v4.1+ defaults (random IP ID): window 65535, options MSS 1460, NOP,
                    WS 8, NOP, NOP, SACK-permitted, IP length 52, observed TTL <= 64, ack 0
                    (weaker, multi-field heuristic)
``generic-scanner`` corsaro's large-scale-scan filter: no options, window 1024, TTL >= 200
==================  ==========================================================================

Ordinary OS stacks (Windows TTL 128, Linux TTL 64 with timestamps, macOS) match none of these
except by chance (masscan ~1/65536 per packet with the supporting fields, mirai 1/2^32); the
per-source majority roll-up (:mod:`teiten.detections.tools`) removes such strays.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"ip_version": pa.array([4, 4], pa.uint8()), "proto": pa.array([6, 6], pa.uint8()),
...     "tcp_flags": pa.array([2, 2], pa.uint8()), "ip_id": pa.array([54321, 7], pa.uint16()),
...     "tcp_win": pa.array([65535, 512], pa.uint16()), "src": pa.array([1, 2], pa.uint32()),
...     "dst": pa.array([99, 100], pa.uint32()), "tcp_seq": pa.array([5, 100], pa.uint32())})
>>> fingerprint(t).to_pylist()
['zmap-old', 'mirai']
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture.arrow import from_numpy
from teiten.ingest.enrich import EnrichContext
from teiten.ingest.enrich import kernels as k
from teiten.ingest.enrich.columns import binary, ints

ZMAP_OLD: Final = "zmap-old"
ZMAP: Final = "zmap-new"
MASSCAN: Final = "masscan"
MIRAI: Final = "mirai"
UNICORNSCAN: Final = "unicornscan"
NMAP: Final = "nmap"
GENERIC: Final = "generic-scanner"

#: Every label, in the order the rules run (and dictionary order).
VOCABULARY: Final[tuple[str, ...]] = (ZMAP_OLD, MASSCAN, MIRAI, UNICORNSCAN, NMAP, ZMAP, GENERIC)

#: Tool family for reports: both ZMap fingerprints are ZMap.
FAMILY: Final[dict[str, str]] = {ZMAP_OLD: "zmap", ZMAP: "zmap"}

# The rules' constants live with the compiled pass (one source for both).
ZMAP_IP_ID: Final = k.ZMAP_IP_ID
ZMAP_WINDOW: Final = k.ZMAP_WINDOW
#: ZMap >= 4.1 ``--probe-args=windows``: MSS, NOP, WS, NOP, NOP, SACK-permitted.
ZMAP_V41_OPTS: Final = bytes(k.ZMAP_V41_OPTS)
MASSCAN_WINDOWS: Final = (k.SCANNER_WINDOW, 0)
SCANNER_WINDOW: Final = k.SCANNER_WINDOW
UNICORNSCAN_WINDOW: Final = k.UNICORNSCAN_WINDOW
HIGH_TTL: Final = k.HIGH_TTL
NMAP_MAX_TTL: Final = k.NMAP_MAX_TTL
MSS_ONLY: Final = bytes([k.OPT_MSS])


class Scratch:
    """The Unicornscan rule's hash table, kept from chunk to chunk (allocating and clearing
    it for every chunk cost more than the rule itself)."""

    def __init__(self) -> None:
        self.table = np.zeros((16, 3), np.uint64)
        self.bits = np.zeros(2, np.uint64)
        self.epoch = np.zeros(1, np.uint64)

    def fit(self, rows: int) -> None:
        """Make room for a chunk of ``rows`` rows (at least twice as many table slots, and
        two bitsets of 16 bits a row)."""
        if len(self.table) < 2 * rows:
            self.table = np.zeros((1 << (2 * rows - 1).bit_length(), 3), np.uint64)
            self.epoch[0] = 0
        if 64 * len(self.bits) < 32 * rows:
            self.bits = np.zeros(1 << max(1, (rows - 1).bit_length() - 1), np.uint64)


def tool_codes(packets: pa.Table, scratch: Scratch | None = None) -> npt.NDArray[np.int32]:
    """Index into :data:`VOCABULARY` per packet, -1 where no rule matches (one compiled pass;
    ``scratch`` kept by the caller saves a table per call).

    >>> import pyarrow as pa
    >>> t = pa.table({"ip_version": pa.array([4], pa.uint8()), "proto": pa.array([6], pa.uint8()),
    ...     "tcp_flags": pa.array([2], pa.uint8()), "dst": pa.array([9], pa.uint32()),
    ...     "tcp_seq": pa.array([9], pa.uint32())})
    >>> tool_codes(t).tolist()
    [2]
    """
    out = np.empty(packets.num_rows, dtype=np.int32)
    if packets.num_rows == 0:
        return out
    scratch = scratch or Scratch()
    scratch.fit(packets.num_rows)
    k.tool_fingerprints(
        *ints(packets, "ip_version", np.uint8), *ints(packets, "proto", np.uint8),
        *ints(packets, "tcp_flags", np.uint8), *ints(packets, "ip_id", np.uint16),
        *ints(packets, "src", np.uint32), *ints(packets, "dst", np.uint32),
        *ints(packets, "sport", np.uint16), *ints(packets, "dport", np.uint16),
        *ints(packets, "tcp_seq", np.uint32), *ints(packets, "tcp_ack", np.uint32),
        *ints(packets, "tcp_win", np.uint16), *ints(packets, "ttl", np.uint8),
        *ints(packets, "ip_len", np.uint16), *ints(packets, "tcp_mss", np.uint16),
        *ints(packets, "tcp_wscale", np.uint8), *ints(packets, "icmp_type", np.uint8),
        *binary(packets, "tcp_opts"), scratch.table, scratch.bits, scratch.epoch, out,
    )
    return out


def fingerprint(packets: pa.Table, scratch: Scratch | None = None) -> pa.DictionaryArray:
    """Scanner-tool label of every packet, null where no fingerprint matches.

    Parameters
    ----------
    packets : pyarrow.Table
        Packet-table columns (missing ones count as absent fields).
    scratch : Scratch, optional
        A table kept by the caller for the chunks it fingerprints one after the other.

    Returns
    -------
    pyarrow.DictionaryArray
        ``dictionary<int32, string>`` over :data:`VOCABULARY`.
    """
    codes = tool_codes(packets, scratch)
    indices = from_numpy(codes, null=codes < 0)
    # (``safe=False``: codes are -1, a null here, or index VOCABULARY; no bounds check needed)
    return pa.DictionaryArray.from_arrays(indices, pa.array(VOCABULARY), safe=False)


class ToolEnricher:
    """Ingest enricher filling ``tool`` (registered in :data:`ENRICHERS`)."""

    column = "tool"

    def __init__(self, ctx: EnrichContext | None = None) -> None:
        self.ctx = ctx
        self._scratch = Scratch()

    def __call__(self, packets: pa.Table) -> pa.Array:
        """Return the tool fingerprint of each packet of one ingest chunk."""
        return fingerprint(packets, self._scratch)
