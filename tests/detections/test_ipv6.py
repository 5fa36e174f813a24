"""IPv6: backscatter (SYN/ACK, RST, ICMPv6 errors quoting the spoofed packet) and scans, from
captures written with the capture writer (frames built with dpkt) and decoded by teiten."""

from __future__ import annotations

import io
import ipaddress
from typing import Any

import dpkt
import numpy as np
import pyarrow as pa

from teiten.capture.reader import read_table
from teiten.capture.writer import LINKTYPE_RAW, write_pcap
from teiten.core.schema import PACKET_SCHEMA
from teiten.detections import backscatter, scans

S = 10**9
T0 = int(np.datetime64("2026-10-10T00:00:00", "ns").astype(np.int64))
VICTIM = ipaddress.IPv6Address("2001:db8:bad::7")
ROUTER = ipaddress.IPv6Address("2001:db8:f00::1")
SCANNER = ipaddress.IPv6Address("2001:db8:5ca::9")
V4_VICTIM = 0xC6336401


def sensor(i: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(f"2001:db8:5e::{i + 1:x}")


def ip6(src: Any, dst: Any, nxt: int, l4: Any) -> bytes:
    pkt = dpkt.ip6.IP6(src=src.packed, dst=dst.packed, nxt=nxt, hlim=57, data=l4)
    pkt.plen = len(bytes(l4))
    return bytes(pkt)


def tcp(sport: int, dport: int, flags: int) -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1, ack=2, win=1024)


def synack(i: int) -> bytes:
    return ip6(VICTIM, sensor(i % 64), 6, tcp(443, 40000 + i, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK))


def unreachable(i: int) -> bytes:
    # the victim's router answers a spoofed UDP flood packet (sensor -> victim:53)
    quoted = ip6(sensor(i % 64), VICTIM, 17, dpkt.udp.UDP(sport=50000 + i, dport=53, ulen=8))
    icmp = dpkt.icmp6.ICMP6(type=1, code=4, data=b"\x00" * 4 + quoted)
    return ip6(ROUTER, sensor(i % 64), 58, icmp)


def probe(i: int) -> bytes:
    return ip6(SCANNER, sensor(i), 6, tcp(61000, 22, dpkt.tcp.TH_SYN))


def capture(frames: list[bytes], times_s: Any) -> pa.Table:
    """Write raw-IP frames as pcap with the capture writer, decode it with teiten's reader, and
    give it the store's columns (sensor and enrichment null)."""
    buf = np.frombuffer(b"".join(frames), dtype=np.uint8)
    offsets = np.r_[0, np.cumsum([len(f) for f in frames])].astype(np.int64)
    out = io.BytesIO()
    ts = (T0 + np.asarray(times_s, dtype=np.float64) * S).astype(np.int64)
    write_pcap(out, ts, buf, offsets, linktype=LINKTYPE_RAW, nanosecond=True)
    out.seek(0)
    t = read_table(out, "v6.pcap")
    cols = [t.column(f.name) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
            for f in PACKET_SCHEMA]  # fmt: skip
    return pa.Table.from_arrays(cols, schema=PACKET_SCHEMA)


def test_ipv6_synack_flood_is_an_attack_on_the_outer_source() -> None:
    t = capture([synack(i) for i in range(40)], np.arange(40) * 2.0)
    assert t.column("ip_version").to_pylist() == [6] * 40  # really decoded as IPv6
    r = backscatter.detect(t, None, backscatter.Params(monitored_addresses=256)).to_pylist()
    assert [(a["victim_ip"], a["attack_type"], a["victim_ports"], a["ip_version"]) for a in r] == [
        (str(VICTIM), "SYN flood", [443], 6)
    ]
    assert r[0]["victim"] is None and r[0]["est_peak_pps"] is None
    assert r[0]["spoofed_addresses"] == 40


def test_ipv6_rst_backscatter_is_a_syn_flood() -> None:
    frames = [ip6(VICTIM, sensor(i % 64), 6, tcp(80, 40000 + i, dpkt.tcp.TH_RST))
              for i in range(40)]  # fmt: skip
    r = backscatter.detect(capture(frames, np.arange(40) * 2.0), None)
    assert r.column("attack_type").to_pylist() == ["SYN flood"]
    assert r.column("backscatter_class").to_pylist() == ["backscatter-rst"]


def test_icmpv6_unreachable_names_the_quoted_destination() -> None:
    t = capture([unreachable(i) for i in range(40)], np.arange(40) * 2.0)
    r = backscatter.detect(t, None).to_pylist()
    assert [(a["victim_ip"], a["protocol"], a["attack_type"], a["victim_ports"]) for a in r] == [
        (str(VICTIM), 17, "UDP flood", [53])
    ]
    assert r[0]["mismatches"] == 0  # quoted source == outer destination (the spoofed sensor)


def test_icmpv6_quote_with_another_source_is_a_mismatch() -> None:
    frames = [unreachable(i) for i in range(40)]
    wrong = ip6(sensor(99), VICTIM, 17, dpkt.udp.UDP(sport=1, dport=53, ulen=8))
    frames[0] = ip6(
        ROUTER, sensor(0), 58, dpkt.icmp6.ICMP6(type=1, code=4, data=b"\x00" * 4 + wrong)
    )
    r = backscatter.detect(capture(frames, np.arange(40) * 2.0), None)
    assert r.column("mismatches").to_pylist() == [1]


def test_ipv4_and_ipv6_attacks_side_by_side() -> None:
    from teiten.detections._common import packets_from_columns

    v6 = capture([synack(i) for i in range(40)], np.arange(40) * 2.0)
    n = 40
    v4 = packets_from_columns({
        "ts": T0 + np.arange(n) * 2 * S, "ip_version": [4] * n, "src": [V4_VICTIM] * n,
        "dst": 0x0A000000 + np.arange(n), "proto": [6] * n, "sport": [80] * n,
        "tcp_flags": [0x12] * n})  # fmt: skip
    r = backscatter.detect(pa.concat_tables([v4, v6]), None,
                           backscatter.Params(monitored_addresses=256))  # fmt: skip
    assert sorted(r.column("victim_ip").to_pylist()) == sorted(["198.51.100.1", str(VICTIM)])
    assert sorted(r.column("ip_version").to_pylist()) == [4, 6]


def test_ipv6_horizontal_scan() -> None:
    t = capture([probe(i) for i in range(40)], np.arange(40) * 1.0)
    r = scans.detect(t, None, scans.Params(monitored_addresses=256)).to_pylist()
    assert [(c["src_ip"], c["kind"], c["ports"], c["n_destinations"], c["ip_version"])
            for c in r] == [(str(SCANNER), "horizontal", [22], 40, 6)]  # fmt: skip
    assert r[0]["src"] is None and r[0]["est_pps"] is None and not r[0]["internet_wide"]


def test_ipv6_thresholds_scale_with_the_addresses_probed() -> None:
    # alone, 24 of 24 probed addresses pass min(25, half of 24); with another source probing
    # 40 more addresses (64 in all) the scanner's 24 stay below Zeek's 25
    assert scans.detect(capture([probe(i) for i in range(24)], np.arange(24) * 1.0),
                        None).num_rows == 1  # fmt: skip
    other = ipaddress.IPv6Address("2001:db8:5ca::10")
    more = [ip6(other, sensor(24 + i), 6, tcp(61000, 23, dpkt.tcp.TH_SYN)) for i in range(40)]
    r = scans.detect(capture([probe(i) for i in range(24)] + more, np.arange(64) * 1.0), None)
    assert r.column("src_ip").to_pylist() == [str(other)]
    assert r.column("monitored_addresses").to_pylist() == [64]


def test_ipv6_source_gets_a_tool_verdict() -> None:
    from teiten.detections import tools

    t = capture([probe(i) for i in range(10)], np.arange(10) * 1.0)
    labels = pa.array(["masscan"] * 9 + [None], pa.string()).dictionary_encode()
    t = t.set_column(t.schema.get_field_index("tool"), "tool",
                     labels.cast(PACKET_SCHEMA.field("tool").type))  # fmt: skip
    r = tools.detect(t, None).to_pylist()
    assert [(x["src_ip"], x["tool"], x["tool_packets"], x["packets"], x["ip_version"])
            for x in r] == [(str(SCANNER), "masscan", 9, 10, 6)]  # fmt: skip
