"""Traffic class: what kind of unsolicited packet each row is (backscatter, probe, …).

The backscatter rules are corsaro's (``specs/detections.md`` §1.2): TCP with SYN+ACK or any
RST, and ICMP replies/errors of types 0, 3, 4, 5, 11, 12, 14, 16, 18. corsaro3's noise filter
also counts UDP from source port 53 (DNS answers to spoofed queries) as backscatter; it gets its
own class so that the DoS inference can leave it out.

Vocabulary (column ``traffic_class``, dictionary-encoded; never null):

===================================  ==========================================================
class                                packets
===================================  ==========================================================
``backscatter-synack``               TCP SYN+ACK without RST (a victim's answer to a SYN)
``backscatter-rst``                  TCP with RST set (answer to a SYN/ACK/data at a closed port)
``backscatter-icmp-echo-reply``      ICMP echo reply (0) / ICMPv6 129: answer to a ping flood
``backscatter-icmp-unreach``         ICMP destination unreachable (3) / ICMPv6 1; the quoted
                                     (``inner_*``) packet names victim and attack protocol
``backscatter-icmp-time-exceeded``   ICMP time exceeded (11) / ICMPv6 3, quoted packet as above
``backscatter-icmp-error``           other ICMP errors: source quench (4), redirect (5),
                                     parameter problem (12); ICMPv6 2 and 4
``backscatter-icmp-reply``           ICMP timestamp (14), information (16), mask (18) replies
``backscatter-dns``                  UDP from source port 53 (DNS responses)
``scan-tcp``                         TCP SYN without ACK and without RST (a probe)
``tcp-other``                        any other TCP (ACK, FIN, NULL, Xmas, …)
``icmp-echo``                        ICMP echo request (8) / ICMPv6 128
``icmp-other``                       any other ICMP / ICMPv6
``udp``                              UDP not from source port 53
``other``                            other IP protocols, and later fragments (no L4 header)
===================================  ==========================================================

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"proto": pa.array([6, 6, 1, 17], pa.uint8()),
...               "tcp_flags": pa.array([0x02, 0x12, None, None], pa.uint8()),
...               "icmp_type": pa.array([None, None, 0, None], pa.uint8()),
...               "sport": pa.array([40000, 80, None, 53], pa.uint16())})
>>> classify(t).to_pylist()
['scan-tcp', 'backscatter-synack', 'backscatter-icmp-echo-reply', 'backscatter-dns']
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture.arrow import from_numpy
from teiten.ingest.enrich import EnrichContext
from teiten.ingest.enrich.columns import ints
from teiten.ingest.enrich.kernels import traffic_classes

# IP protocol numbers and TCP flag bits (RFC 791 / RFC 9293).
IPPROTO_ICMP: Final = 1
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
IPPROTO_ICMPV6: Final = 58
TH_FIN: Final = 0x01
TH_SYN: Final = 0x02
TH_RST: Final = 0x04
TH_ACK: Final = 0x10

SYNACK: Final = "backscatter-synack"
RST: Final = "backscatter-rst"
ECHO_REPLY: Final = "backscatter-icmp-echo-reply"
UNREACH: Final = "backscatter-icmp-unreach"
TIME_EXCEEDED: Final = "backscatter-icmp-time-exceeded"
ICMP_ERROR: Final = "backscatter-icmp-error"
ICMP_REPLY: Final = "backscatter-icmp-reply"
DNS: Final = "backscatter-dns"
SCAN_TCP: Final = "scan-tcp"
TCP_OTHER: Final = "tcp-other"
ICMP_ECHO: Final = "icmp-echo"
ICMP_OTHER: Final = "icmp-other"
UDP: Final = "udp"
OTHER: Final = "other"

#: Every class, in dictionary order.
VOCABULARY: Final[tuple[str, ...]] = (
    SYNACK, RST, ECHO_REPLY, UNREACH, TIME_EXCEEDED, ICMP_ERROR, ICMP_REPLY, DNS,
    SCAN_TCP, TCP_OTHER, ICMP_ECHO, ICMP_OTHER, UDP, OTHER,
)  # fmt: skip

#: Classes the DoS inference treats as backscatter (``backscatter-dns`` is left out, as in
#: corsaro's DoS plugin: UDP backscatter cannot be told from other UDP).
DOS_BACKSCATTER: Final[frozenset[str]] = frozenset(VOCABULARY[:7])

#: Classes whose victim is the quoted (inner) destination, not the outer source.
QUOTING: Final[frozenset[str]] = frozenset({UNREACH, TIME_EXCEEDED, ICMP_ERROR})

#: ICMPv4 error types that quote the offending packet (corsaro: 3, 4, 5, 11, 12).
ICMP_ERROR_TYPES: Final[tuple[int, ...]] = (3, 4, 5, 11, 12)

_CODE = {name: i for i, name in enumerate(VOCABULARY)}

# ICMPv4 type -> class; ICMPv6 type -> class.
_ICMP4 = {0: ECHO_REPLY, 3: UNREACH, 11: TIME_EXCEEDED, 4: ICMP_ERROR, 5: ICMP_ERROR,
          12: ICMP_ERROR, 14: ICMP_REPLY, 16: ICMP_REPLY, 18: ICMP_REPLY, 8: ICMP_ECHO}  # fmt: skip
_ICMP6 = {129: ECHO_REPLY, 1: UNREACH, 3: TIME_EXCEEDED, 2: ICMP_ERROR, 4: ICMP_ERROR,
          128: ICMP_ECHO}  # fmt: skip


def _lut(mapping: dict[int, str]) -> npt.NDArray[np.int32]:
    lut = np.full(256, _CODE[ICMP_OTHER], dtype=np.int32)
    for typ, name in mapping.items():
        lut[typ] = _CODE[name]
    return lut


_LUT4 = _lut(_ICMP4)
_LUT6 = _lut(_ICMP6)


def column(table: pa.Table, name: str, fill: int) -> npt.NDArray[np.int64]:
    """A numeric column as an int64 NumPy array with nulls (or a missing column) as ``fill``."""
    if name not in table.column_names:
        return np.full(table.num_rows, fill, dtype=np.int64)
    col = table.column(name).cast(pa.int64()).fill_null(fill)
    return np.asarray(col.to_numpy(), dtype=np.int64)


def class_codes(packets: pa.Table) -> npt.NDArray[np.int32]:
    """Index into :data:`VOCABULARY` for each packet (one compiled pass).

    A null ``proto`` reads as no protocol (``other``), a null ``tcp_flags`` as no flags, a null
    ``icmp_type`` as 0, a null ``sport`` as no port.
    """
    out = np.empty(packets.num_rows, dtype=np.int32)
    if packets.num_rows == 0:
        return out
    traffic_classes(
        *ints(packets, "proto", np.uint8), *ints(packets, "tcp_flags", np.uint8),
        *ints(packets, "icmp_type", np.uint8), *ints(packets, "sport", np.uint16),
        *ints(packets, "fragment", np.uint8), _LUT4, _LUT6, _CODE[OTHER], _CODE[TCP_OTHER],
        _CODE[SCAN_TCP], _CODE[SYNACK], _CODE[RST], _CODE[UDP], _CODE[DNS], out,
    )
    return out


def classify(packets: pa.Table) -> pa.DictionaryArray:
    """Traffic class of every packet (see the module docstring for the vocabulary).

    Parameters
    ----------
    packets : pyarrow.Table
        Needs ``proto``, ``tcp_flags``, ``icmp_type``, ``sport``; ``fragment`` if present.

    Returns
    -------
    pyarrow.DictionaryArray
        ``dictionary<int32, string>``, one value per packet, never null.
    """
    codes = class_codes(packets)
    # (``safe=False``: the kernel's codes index VOCABULARY; Arrow's bounds check cost ~1 ms a chunk)
    return pa.DictionaryArray.from_arrays(from_numpy(codes), pa.array(VOCABULARY), safe=False)


class TrafficClassEnricher:
    """Ingest enricher filling ``traffic_class`` (registered in :data:`ENRICHERS`)."""

    column = "traffic_class"

    def __init__(self, ctx: EnrichContext | None = None) -> None:
        self.ctx = ctx

    def __call__(self, packets: pa.Table) -> pa.Array:
        """Return the traffic class of each packet of one ingest chunk."""
        return classify(packets)
