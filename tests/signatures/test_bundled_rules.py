"""Every bundled darknet rule: a packet (or sequence) that must match, near misses that must not."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from teiten.signatures.addresses import Variables
from teiten.signatures.loader import RuleSet, load_rules

from .conftest import HOME, pkt, table

# Synthetic reconstruction of a Slammer datagram: the bytes the rule inspects, padded to 376.
_SLAM = (b"\x04" + b"\x01" * 96 + b"\xdc\xc9\xb0\x42\xeb\x0e" + b"\x81\xf1\x03\x01\x04\x9b\x81"
         b"\xf1\x01" + b"\x90" * 40 + b"kernel32.dll GetTickCount ws2_32.dll socket sendto")
SLAMMER = _SLAM + b"\x90" * (376 - len(_SLAM))
NACHI = b"\xaa" * 64
MSGSVC_LE = bytes.fromhex("f8917b5a00ffd011a9b200c04fb6e6fc")
MSGSVC_BE = bytes.fromhex("5a7b91f8ff0011d0a9b200c04fb6e6fc")


def dcerpc(uuid: bytes, opnum: int = 0, drep: bytes = b"\x10\x00\x00") -> bytes:
    head = (b"\x04\x00\x28\x00" + drep + b"\x00" + b"\x00" * 16 + uuid + b"\x11" * 16
            + b"\x00" * 4 + struct.pack("<I", 1) + struct.pack("<I", 7)
            + struct.pack("<H", opnum) + b"\xff\xff" * 2 + struct.pack("<H", 80) + b"\x00" * 4)
    return head + b"Hello, you have a message" + b"\x00" * 40


DNS_ANY = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
           b"\x07example\x03com\x00\x00\xff\x00\x01")
DNS_A = DNS_ANY[:-4] + b"\x00\x01\x00\x01"
VERSION_BIND = (b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                b"\x07VERSION\x04BIND\x00\x00\x10\x00\x03")
DNS_RESP = (b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
            b"\x03www\x00\x00\x01\x00\x01" + b"\x00" * 16)
ISAKMP = b"\x01\x02\x03\x04\x05\x06\x07\x08" + b"\x00" * 8 + b"\x01\x10\x02\x00" + b"\x00" * 12
SIP = b"OPTIONS sip:100@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n"

Rows = list[dict[str, Any]]


def many(n: int, **kw: Any) -> Rows:
    """n SYNs (or other packets) one second apart; ``vary`` names a field set to the index."""
    vary = kw.pop("vary", None)
    proto = kw.pop("proto", "tcp")
    return [pkt(proto, ts=i, **kw, **({vary: 1000 + i} if vary else {})) for i in range(n)]


# sid: (must match, [near misses]) — each entry a packet sequence.
CASES: dict[int, tuple[Rows, list[Rows]]] = {
    1800001: ([pkt("udp", dport=1434, payload=SLAMMER)], [
        [pkt("udp", dport=1434, payload=SLAMMER[:-1])],
        [pkt("udp", dport=1433, payload=SLAMMER)],
        [pkt("udp", dport=1434, payload=b"\x05" + SLAMMER[1:])],
        [pkt("udp", dport=1434, payload=SLAMMER.replace(b"sendto", b"xendto"))],
        [pkt("udp", dport=1434, payload=SLAMMER, src="192.0.2.99")]]),
    1800002: ([pkt("icmp", payload=NACHI)], [
        [pkt("icmp", payload=NACHI[:-1] + b"\xab")], [pkt("icmp", payload=NACHI + b"\xaa")],
        [pkt("icmp", payload=NACHI, icmp_type=0)], [pkt("icmp", payload=NACHI, icmp_code=1)]]),
    1800003: ([pkt(dport=5554)], [[pkt(dport=5555)], [pkt(dport=5554, tcp_flags=0x12)]]),
    1800004: ([pkt(dport=9898)], [[pkt(dport=9997)], [pkt("udp", dport=9996)]]),
    1800005: ([pkt(dport=4444, tcp_flags=0x42)], [[pkt(dport=4444, tcp_flags=0x10)]]),
    1800006: ([pkt(dport=3150)], [[pkt(dport=3199)], [pkt(dport=2746)]]),
    1800010: ([pkt("udp", dport=1027, payload=dcerpc(MSGSVC_LE))], [
        [pkt("udp", dport=1030, payload=dcerpc(MSGSVC_LE))],
        [pkt("udp", dport=1027, payload=dcerpc(MSGSVC_LE, opnum=1))],
        [pkt("udp", dport=1027, payload=dcerpc(MSGSVC_BE))],
        [pkt("tcp", dport=1027, payload=dcerpc(MSGSVC_LE))]]),
    1800011: ([pkt("udp", dport=135, payload=dcerpc(MSGSVC_BE, drep=b"\x00\x00\x00"))], [
        [pkt("udp", dport=135, payload=dcerpc(MSGSVC_LE))],
        [pkt("udp", dport=135, payload=b"\x05" + dcerpc(MSGSVC_BE)[1:])]]),
    1800020: ([pkt("icmp", icmp_type=0, src="192.0.2.200")], [[pkt("icmp", icmp_type=8)],
                                                             [pkt("icmp", icmp_type=0,
                                                                  dst="203.0.113.1")]]),
    1800021: ([pkt("icmp", payload=b"\x00" * 4, icmp_id=0, icmp_seq=0)], [
        [pkt("icmp", payload=b"\x00" * 4, icmp_id=1, icmp_seq=0)],
        [pkt("icmp", payload=b"\x00" * 5, icmp_id=0, icmp_seq=0)]]),
    1800022: ([pkt(tcp_flags=0x12, sport=80, dport=5000), pkt(tcp_flags=0x12, ts=1)],
              [[pkt(tcp_flags=0x02)], [pkt(tcp_flags=0x13)]]),
    1800023: ([pkt(tcp_flags=0x14)], [[pkt(tcp_flags=0x10)]]),
    1800030: ([pkt("udp", dport=53, payload=DNS_ANY)], [
        [pkt("udp", dport=53, payload=DNS_A)], [pkt("udp", dport=54, payload=DNS_ANY)],
        [pkt("udp", dport=53, payload=DNS_ANY[:4] + b"\x00\x02" + DNS_ANY[6:])]]),
    1800031: ([pkt("udp", dport=53, payload=VERSION_BIND)], [
        [pkt("udp", dport=53, payload=VERSION_BIND.replace(b"BIND", b"BINE"))]]),
    1800032: ([pkt(dport=53)], [[pkt(dport=53, tcp_flags=0x10)], [pkt(dport=54)]]),
    1800033: ([pkt("udp", dport=53, payload=b"\x00" * 4)], [
        [pkt("udp", dport=53, payload=DNS_A)], [pkt("udp", dport=5353, payload=b"\x00")]]),
    1800034: ([pkt("udp", sport=53, dport=40000, payload=DNS_RESP)], [
        [pkt("udp", sport=53, dport=40000, payload=DNS_A)],
        [pkt("udp", sport=5353, dport=40000, payload=DNS_RESP)]]),
    1800040: (many(5, proto="icmp"), [many(4, proto="icmp"),
                                       many(5, proto="icmp", icmp_type=0)]),
    1800041: (many(20, vary="dport"), [many(19, vary="dport"), many(20, vary="sport",
                                                                   tcp_flags=0x10)]),
    1800042: (many(11, vary="dport"), [many(10, vary="dport"), many(30, dport=80)]),
    1800043: (many(11, proto="udp", vary="dport"), [many(10, proto="udp", vary="dport")]),
    1800044: ([pkt(dport=3128)], [[pkt(dport=3129)]]),
    1800045: ([pkt(tcp_flags=0x10)], [[pkt(tcp_flags=0x10, payload=b"x")], [pkt(tcp_flags=0x18)]]),
    1800046: ([pkt(tcp_flags=0)], [[pkt(tcp_flags=0x01)], [pkt("udp")]]),
    1800047: ([pkt(tcp_flags=0x01)], [[pkt(tcp_flags=0x11)]]),
    1800048: ([pkt(tcp_flags=0x29)], [[pkt(tcp_flags=0x2B)], [pkt(tcp_flags=0x09)]]),
    1800049: ([pkt(ip_id=54321, tcp_win=65535)], [[pkt(ip_id=54320)],
                                                  [pkt(ip_id=54321, tcp_flags=0x12)]]),
    1800050: ([pkt(ttl=250, tcp_win=1024)], [[pkt(ttl=199, tcp_win=1024)],
                                             [pkt(ttl=250, tcp_win=1025)]]),
    1800051: ([pkt("icmp", icmp_type=17)], [[pkt("icmp", icmp_type=13)],
                                            [pkt("icmp", icmp_type=18)]]),
    1800060: ([pkt("icmp", ttl=1)], [[pkt("icmp", ttl=2)], [pkt("icmp", ttl=1, icmp_type=0)]]),
    1800061: ([pkt("udp", dport=33434, ttl=1)], [[pkt("udp", dport=33434, ttl=3)],
                                                 [pkt("udp", dport=33433, ttl=1)]]),
    1800062: ([pkt("udp", dport=500, payload=ISAKMP)], [
        [pkt("udp", dport=500, payload=ISAKMP[:20])],
        [pkt("udp", dport=500, payload=ISAKMP[:8] + b"\x01" + ISAKMP[9:])]]),
    1800063: ([pkt("udp", dport=5060, payload=SIP)], [
        [pkt("udp", dport=5061, payload=SIP)],
        [pkt("udp", dport=5060, payload=SIP.replace(b"SIP/2.0", b"sip/2.0"))]]),
    1800064: ([pkt("icmp", payload=b"\x00" * 512, payload_len=1400)], [
        [pkt("icmp", payload=b"\x00" * 512, payload_len=800)]]),
}


@pytest.fixture(scope="module")
def bundled() -> RuleSet:
    return load_rules([], bundled=True, variables=Variables.defaults([HOME]))


def sids_alerting(rs: RuleSet, rows: Rows) -> set[int]:
    from teiten.signatures.engine import evaluate
    return set(evaluate(table(rows), rs).column("sid").to_pylist())


def test_every_bundled_rule_has_cases(bundled: RuleSet) -> None:
    assert {r.rule.sid for r in bundled.rules} == set(CASES)
    assert not bundled.skipped


@pytest.mark.parametrize("sid", sorted(CASES))
def test_rule_matches(bundled: RuleSet, sid: int) -> None:
    assert sid in sids_alerting(bundled, CASES[sid][0])


@pytest.mark.parametrize("sid", sorted(CASES))
def test_near_misses_do_not_match(bundled: RuleSet, sid: int) -> None:
    for rows in CASES[sid][1]:
        assert sid not in sids_alerting(bundled, rows), rows


def test_categories_of_bundled_rules(bundled: RuleSet) -> None:
    from teiten.signatures.categories import CategoryMap
    cm = CategoryMap.bundled()
    cats = {r.rule.sid: cm.category(r.rule) for r in bundled.rules}
    assert (cats[1800001], cats[1800010], cats[1800020], cats[1800030], cats[1800042],
            cats[1800063]) == ("Worm", "UDP spam", "DoS", "DNS", "Scan", "Others")


def test_slammer_is_not_cap_sensitive_but_dns_any_is(bundled: RuleSet) -> None:
    by_sid = {r.rule.sid: r for r in bundled.rules}
    assert not by_sid[1800001].cap_sensitive()
    assert by_sid[1800030].cap_sensitive()
