"""Damage codes shared by the compiled kernels and the :class:`DamageLog` that counts them.

Every problem a reader meets is a small integer code here (kernels cannot carry strings); the
log turns codes into reasons, counts them, and keeps the first located entries.

Examples
--------
>>> log = DamageLog("x.pcap")
>>> log.add(3, 120, TRUNCATED_RECORD)
>>> log.counts, log.skipped
({'truncated-record': 1}, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from teiten.core.errors import Damage

OK: Final = 0
# framing: the record is lost (skipped)
TRUNCATED_RECORD: Final = 1  # record/block runs past the end of the input
GARBAGE: Final = 2  # implausible record header: bytes skipped until the next plausible record
BAD_BLOCK_LENGTH: Final = 3  # pcapng block length < 12, not a multiple of 4, or absurd
BLOCK_TRAILER_MISMATCH: Final = 4  # pcapng trailing block length differs from the leading one
NO_INTERFACE: Final = 5  # pcapng packet names an interface not (yet) described in its section
BAD_CAPLEN: Final = 6  # captured length larger than its block
# decode: the record is skipped
NON_IP: Final = 7  # ARP, LLDP, ... (benign: not damage)
UNKNOWN_LINKTYPE: Final = 8
TRUNCATED_L2: Final = 9
BAD_IP_HEADER: Final = 10  # version mismatch, IHL < 5, total length < header length
TRUNCATED_IP_HEADER: Final = 11
# decode: the row is kept, the affected fields are null
TRUNCATED_L4_HEADER: Final = 12
BAD_TCP_HEADER: Final = 13  # data offset < 5 or beyond the IP packet
IP_LENGTH_EXCEEDS_FRAME: Final = 14  # IP length claims more bytes than the frame had
CAPLEN_EXCEEDS_SNAPLEN: Final = 15  # kept: libpcap reads such records too
# input level
TRUNCATED_COMPRESSED: Final = 16
CORRUPT_COMPRESSED: Final = 17
READ_ERROR: Final = 18
BAD_IDB: Final = 19  # interface description too short: its interface decodes nothing
BAD_SHB: Final = 20
# framing: the record is lost (skipped)
TIMESTAMP_OUT_OF_RANGE: Final = 21  # pcapng time past what nanoseconds since 1970 hold (2262)

REASONS: Final[tuple[str, ...]] = (
    "ok",
    "truncated-record",
    "garbage-skipped",
    "bad-block-length",
    "block-trailer-mismatch",
    "no-interface",
    "bad-caplen",
    "non-ip",
    "unknown-linktype",
    "truncated-l2",
    "bad-ip-header",
    "truncated-ip-header",
    "truncated-l4-header",
    "bad-tcp-header",
    "ip-length-exceeds-frame",
    "caplen-exceeds-snaplen",
    "truncated-compressed-stream",
    "corrupt-compressed-stream",
    "read-error",
    "bad-interface-description",
    "bad-section-header",
    "timestamp-out-of-range",
)

#: Codes whose record produces no row.
SKIPPING: Final = frozenset(
    {TRUNCATED_RECORD, NO_INTERFACE, BAD_CAPLEN, NON_IP, UNKNOWN_LINKTYPE, TRUNCATED_L2,
     BAD_IP_HEADER, TRUNCATED_IP_HEADER, TIMESTAMP_OUT_OF_RANGE}
)
#: Codes that are counted but are not damage (``--strict`` ignores them).
BENIGN: Final = frozenset({NON_IP})

_SKIP_TABLE = np.zeros(len(REASONS), dtype=bool)
_SKIP_TABLE[list(SKIPPING)] = True


@dataclass
class DamageLog:
    """Counts of problems by reason and the first ``keep`` located entries.

    Parameters
    ----------
    input : str
        Name of the input the entries are located in.
    keep : int
        How many located :class:`~teiten.core.errors.Damage` entries to keep (counts are exact).

    Attributes
    ----------
    counts : dict[str, int]
        Every problem by reason, benign ones (``non-ip``) included.
    entries : list[Damage]
        The first ``keep`` non-benign problems, with record number and byte offset.
    skipped : int
        Records that produced no row (for any reason, ``non-ip`` included).
    """

    input: str
    keep: int = 1000
    counts: dict[str, int] = field(default_factory=dict)
    entries: list[Damage] = field(default_factory=list)
    skipped: int = 0

    @property
    def damaged(self) -> int:
        """Number of non-benign problems (what ``--strict`` fails on)."""
        return sum(n for r, n in self.counts.items() if r != REASONS[NON_IP])

    def add(self, record: int, offset: int, code: int) -> None:
        """Record one problem of ``code`` at ``record`` / byte ``offset``."""
        reason = REASONS[code]
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if code in SKIPPING:
            self.skipped += 1
        if code not in BENIGN and len(self.entries) < self.keep:
            self.entries.append(Damage(self.input, int(record), int(offset), reason))

    def add_many(
        self,
        records: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.int64],
        codes: npt.NDArray[np.uint8],
    ) -> None:
        """Record many problems at once (vectorised; arrays of equal length, codes > 0)."""
        if codes.size == 0:
            return
        tally = np.bincount(codes, minlength=len(REASONS))
        for code in np.flatnonzero(tally):
            reason = REASONS[code]
            self.counts[reason] = self.counts.get(reason, 0) + int(tally[code])
        self.skipped += int(tally[: len(REASONS)][_SKIP_TABLE].sum())
        room = self.keep - len(self.entries)
        if room > 0:
            located = np.flatnonzero(codes != NON_IP)[:room]
            self.entries.extend(
                Damage(self.input, int(records[i]), int(offsets[i]), REASONS[codes[i]])
                for i in located
            )
