"""The packet table: the central contract between ingest and every analysis.

One row per captured packet. Names and types are binding (``docs/architecture.md``); columns
are only ever added, never renamed. :data:`DECODED_SCHEMA` is what a capture decoder produces
(no sensor, no enrichment); :data:`PACKET_SCHEMA` is what the store holds.

Examples
--------
>>> PACKET_SCHEMA.field("dport").type
DataType(uint16)
>>> "country" in DECODED_SCHEMA.names
False
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

#: Dictionary-encoded string: low-cardinality labels (sensor, country, class, tool).
DICT_STRING: Final = pa.dictionary(pa.int32(), pa.string())

#: Values of the ``fragment`` column.
FRAG_NONE: Final = 0  # not a fragment
FRAG_FIRST: Final = 1  # first fragment (offset 0, more-fragments set): L4 fields present
FRAG_LATER: Final = 2  # a later fragment: L4 fields are null

_DECODED_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("ts", pa.timestamp("ns", tz="UTC"), "capture time"),
    ("ip_version", pa.uint8(), "4 or 6"),
    ("src", pa.uint32(), "IPv4 source address as an integer (null for IPv6)"),
    ("dst", pa.uint32(), "IPv4 destination address as an integer (null for IPv6)"),
    ("src6", pa.binary(16), "IPv6 source address (null for IPv4)"),
    ("dst6", pa.binary(16), "IPv6 destination address (null for IPv4)"),
    ("proto", pa.uint8(), "IP protocol number (after IPv6 extension headers)"),
    ("sport", pa.uint16(), "TCP/UDP source port (null otherwise or in later fragments)"),
    ("dport", pa.uint16(), "TCP/UDP destination port (null otherwise or in later fragments)"),
    ("icmp_type", pa.uint8(), "ICMP/ICMPv6 type (null otherwise)"),
    ("icmp_code", pa.uint8(), "ICMP/ICMPv6 code (null otherwise)"),
    ("tcp_flags", pa.uint8(), "TCP flags FIN=0x01 .. CWR=0x80 (null if not TCP)"),
    ("ttl", pa.uint8(), "IPv4 TTL or IPv6 hop limit"),
    ("ip_id", pa.uint16(), "IPv4 identification (null for IPv6)"),
    ("ip_len", pa.uint16(), "IPv4 total length or IPv6 payload length + 40, as in the header"),
    ("ip_flags", pa.uint8(), "IPv4 flags bits (0x4 reserved, 0x2 DF, 0x1 MF; null for IPv6)"),
    ("fragment", pa.uint8(), "0 not a fragment, 1 first fragment, 2 later fragment"),
    ("tcp_seq", pa.uint32(), "TCP sequence number"),
    ("tcp_ack", pa.uint32(), "TCP acknowledgement number"),
    ("tcp_win", pa.uint16(), "TCP window (unscaled)"),
    ("tcp_opts", pa.binary(), "TCP option kinds in order, one byte each (fingerprints)"),
    ("tcp_mss", pa.uint16(), "TCP MSS option value (null when absent)"),
    ("tcp_wscale", pa.uint8(), "TCP window-scale option value (null when absent)"),
    ("icmp_id", pa.uint16(), "ICMP echo/timestamp identifier (null otherwise)"),
    ("icmp_seq", pa.uint16(), "ICMP echo/timestamp sequence (null otherwise)"),
    ("payload_len", pa.uint16(), "L4 payload length as on the wire (from the IP length)"),
    ("payload", pa.binary(), "first bytes of the L4 payload (capped, and by the snapshot)"),
    ("inner_proto", pa.uint8(), "ICMP error: protocol of the quoted packet"),
    ("inner_src", pa.uint32(), "ICMP error: quoted IPv4 source"),
    ("inner_dst", pa.uint32(), "ICMP error: quoted IPv4 destination"),
    ("inner_sport", pa.uint16(), "ICMP error: quoted TCP/UDP source port"),
    ("inner_dport", pa.uint16(), "ICMP error: quoted TCP/UDP destination port"),
    ("wire_len", pa.uint32(), "original frame length on the wire"),
    ("interface", pa.uint16(), "capture interface index within the input (pcapng), else 0"),
]

_STORE_EXTRA: list[tuple[str, pa.DataType, str]] = [
    ("sensor", DICT_STRING, "sensor id from the sensor registry"),
    ("country", DICT_STRING, "source country, ISO 3166 alpha-2 (enriched at ingest; null unknown)"),
    ("traffic_class", DICT_STRING, "traffic class, e.g. scan-tcp, backscatter-synack (enriched)"),
    ("tool", DICT_STRING, "scanner fingerprint: zmap, masscan, mirai, nmap, ... or null"),
]


def _schema(fields: list[tuple[str, pa.DataType, str]]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, typ, metadata={"doc": doc}) for name, typ, doc in fields]
    )


#: What a capture decoder yields: every packet field, no sensor and no enrichment.
DECODED_SCHEMA: Final[pa.Schema] = _schema(_DECODED_FIELDS)

#: The stored packet table (``interface`` is dropped at ingest: it only picks the sensor).
PACKET_SCHEMA: Final[pa.Schema] = _schema(
    [_DECODED_FIELDS[0], _STORE_EXTRA[0]]
    + [f for f in _DECODED_FIELDS[1:] if f[0] != "interface"]
    + _STORE_EXTRA[1:]
)


def column_doc(name: str) -> str:
    """Return the one-line documentation of a packet-table column.

    >>> column_doc("dport")
    'TCP/UDP destination port (null otherwise or in later fragments)'
    """
    doc: bytes = PACKET_SCHEMA.field(name).metadata[b"doc"]
    return doc.decode()


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """Check and cast a table to ``schema``: same names in order, safely castable types.

    Raises :class:`teiten.core.errors.SchemaError` naming the first offending column.
    """
    from teiten.core.errors import SchemaError

    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    if table.schema.names != schema.names:
        missing = [n for n in schema.names if n not in table.schema.names]
        extra = [n for n in table.schema.names if n not in schema.names]
        raise SchemaError(f"columns differ from the schema: missing {missing}, extra {extra}")
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"table does not fit the schema: {exc}") from exc
