"""traffic_class enricher: corsaro's backscatter rules and the probe classes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from teiten.detections._common import packets_from_columns
from teiten.ingest.enrich import ENRICHERS, EnrichContext
from teiten.ingest.enrich.traffic_class import VOCABULARY, TrafficClassEnricher, classify


def one(**cols: object) -> str:
    t = packets_from_columns({k: [v] for k, v in cols.items()})
    out = classify(t).to_pylist()
    assert len(out) == 1
    return str(out[0])


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (0x12, "backscatter-synack"),
        (0x04, "backscatter-rst"),
        (0x14, "backscatter-rst"),  # RST+ACK
        (0x16, "backscatter-rst"),  # RST wins over SYN+ACK
        (0x02, "scan-tcp"),
        (0xC2, "scan-tcp"),  # SYN with ECE/CWR
        (0x10, "tcp-other"),
        (0x01, "tcp-other"),
        (0x00, "tcp-other"),
    ],
)
def test_tcp_flags(flags: int, expected: str) -> None:
    assert one(proto=6, tcp_flags=flags, sport=80, dport=4000) == expected


@pytest.mark.parametrize(
    ("itype", "expected"),
    [
        (0, "backscatter-icmp-echo-reply"),
        (3, "backscatter-icmp-unreach"),
        (11, "backscatter-icmp-time-exceeded"),
        (4, "backscatter-icmp-error"),
        (5, "backscatter-icmp-error"),
        (12, "backscatter-icmp-error"),
        (14, "backscatter-icmp-reply"),
        (16, "backscatter-icmp-reply"),
        (18, "backscatter-icmp-reply"),
        (8, "icmp-echo"),
        (13, "icmp-other"),
    ],
)
def test_icmp_types(itype: int, expected: str) -> None:
    assert one(proto=1, icmp_type=itype, icmp_code=0) == expected


@pytest.mark.parametrize(
    ("itype", "expected"),
    [(129, "backscatter-icmp-echo-reply"), (1, "backscatter-icmp-unreach"),
     (128, "icmp-echo"), (135, "icmp-other")],
)  # fmt: skip
def test_icmpv6_types(itype: int, expected: str) -> None:
    assert one(proto=58, ip_version=6, icmp_type=itype) == expected


def test_udp_from_dns_port_is_dns_backscatter() -> None:
    assert one(proto=17, sport=53, dport=33000) == "backscatter-dns"


def test_udp_to_dns_port_is_udp() -> None:
    assert one(proto=17, sport=33000, dport=53) == "udp"


def test_other_protocol() -> None:
    assert one(proto=47) == "other"


def test_later_fragment_is_other() -> None:
    assert one(proto=6, fragment=2) == "other"


def test_every_class_is_in_the_vocabulary_and_never_null() -> None:
    t = packets_from_columns({
        "proto": [6, 6, 1, 1, 17, 17, 47, 58, 6],
        "tcp_flags": [0x12, 0x02, None, None, None, None, None, None, None],
        "icmp_type": [None, None, 0, 8, None, None, None, 129, None],
        "sport": [80, 5, None, None, 53, 9, None, None, None],
    })  # fmt: skip
    out = classify(t)
    assert out.null_count == 0
    assert set(out.to_pylist()) <= set(VOCABULARY)
    assert out.type == pa.dictionary(pa.int32(), pa.string())


def test_enricher_protocol_and_registration() -> None:
    enr = TrafficClassEnricher(EnrichContext())
    t = packets_from_columns({"proto": [6, 17], "tcp_flags": [2, None]})
    assert enr.column == "traffic_class"
    assert len(enr(t)) == 2
    assert "teiten.ingest.enrich.traffic_class:TrafficClassEnricher" in ENRICHERS
