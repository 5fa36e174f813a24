"""The vectorised engine: prefilter + verification equals a per-row reference; output table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from teiten.signatures.compiler import Columns
from teiten.signatures.content import inspect
from teiten.signatures.engine import ALERT_SCHEMA, Engine, evaluate
from teiten.signatures.loader import RuleSet, load_rules_text

from .conftest import pkt, table

ALPHABET = b"abcAB\x00\x01"


def random_packets(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        proto = ["tcp", "udp", "icmp"][int(rng.integers(3))]
        payload = bytes(rng.choice(list(ALPHABET), size=int(rng.integers(0, 12))).tolist())
        extra: dict[str, Any] = {"payload": payload}
        if proto in ("tcp", "udp"):
            extra["dport"] = int(rng.choice([53, 80, 1434]))
        rows.append(pkt(proto, ts=i, src=f"10.0.0.{int(rng.integers(1, 4))}", **extra))
    return table(rows)


def random_rules(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for sid in range(1, n + 1):
        proto = ["tcp", "udp", "icmp", "ip"][int(rng.integers(4))]
        ports = ["any", "53", "80", "[80,1434]"]
        port = "any" if proto in ("icmp", "ip") else str(rng.choice(ports))
        opts = []
        for k in range(int(rng.integers(1, 4))):
            pat = bytes(rng.choice(list(ALPHABET), size=int(rng.integers(1, 3))).tolist())
            neg = "!" if rng.random() < 0.2 else ""
            opts.append(f'content:{neg}"|{pat.hex(" ")}|"')
            if rng.random() < 0.3:
                opts.append("nocase")
            r = rng.random()
            if k and r < 0.3:
                opts.append(f"distance:{int(rng.integers(-2, 3))}")
                if rng.random() < 0.5:
                    opts.append(f"within:{len(pat) + int(rng.integers(0, 4))}")
            elif r < 0.5:
                opts.append(f"offset:{int(rng.integers(0, 4))}")
                if rng.random() < 0.5:
                    opts.append(f"depth:{len(pat) + int(rng.integers(0, 5))}")
        opts.append(f"sid:{sid}")
        lines.append(f"alert {proto} any any -> any {port} ({'; '.join(opts)};)")
    return "\n".join(lines)


def reference(t: pa.Table, rs: RuleSet) -> set[tuple[int, int]]:
    cols = Columns(t)
    payloads = t.column("payload").to_pylist()
    plen = t.column("payload_len").to_pylist()
    out = set()
    for r in rs.rules:
        m = r.header_mask(cols)
        for row in np.flatnonzero(m).tolist():
            if r.rule.contents and not (plen[row] and inspect(r.rule.contents, payloads[row])):
                continue
            out.add((r.rule.sid, int(t.column("ts")[row].value)))
    return out


def test_engine_equals_per_row_reference() -> None:
    t = random_packets(400, seed=1)
    rs = load_rules_text(random_rules(150, seed=2))
    assert len(rs.rules) > 100
    got = evaluate(t, rs)
    pairs = set(zip(got.column("sid").to_pylist(),
                    got.column("ts").cast(pa.int64()).to_pylist(), strict=True))
    want = reference(t, rs)
    assert want  # the data must exercise something
    assert pairs == want


def test_batches_equal_one_table() -> None:
    t = random_packets(300, seed=3)
    rs = load_rules_text(random_rules(60, seed=4))
    whole = evaluate(t, rs)
    parts = evaluate(t.to_batches(max_chunksize=70), rs)
    assert whole.equals(parts)


def test_output_schema_and_category() -> None:
    rs = load_rules_text('alert udp any any -> any 53 (msg:"dns x"; content:"ab"; '
                         "classtype:attempted-recon; sid:9;)")
    a = evaluate(table([pkt("udp", dport=53, payload=b"xxab", country="JP")]), rs)
    assert a.schema.equals(ALERT_SCHEMA, check_metadata=False)
    row = a.to_pylist()[0]
    assert (row["sid"], row["msg"], row["category"], row["country"], row["dport"]) == (
        9, "dns x", "DNS", "JP", 53)


def test_truncated_payload_flagged() -> None:
    rs = load_rules_text('alert udp any any -> any any (content:"ab"; sid:1;)')
    t = table([pkt("udp", payload=b"ab", payload_len=900), pkt("udp", payload=b"ab", ts=1)])
    assert evaluate(t, rs).column("payload_truncated").to_pylist() == [True, False]


def test_nocase_found_by_prefilter() -> None:
    rs = load_rules_text('alert tcp any any -> any any (content:"HeLLo"; nocase; sid:1;)')
    t = table([pkt(payload=b"xxhellOxx"), pkt(payload=b"hell", ts=1)])
    assert evaluate(t, rs).num_rows == 1


def test_content_rule_never_matches_empty_payload() -> None:
    rs = load_rules_text('alert tcp any any -> any any (content:!"x"; sid:1;)')
    t = table([pkt(), pkt(payload=b"abc", ts=1)])
    assert evaluate(t, rs).column("ts").cast(pa.int64()).to_pylist() == [1_000_000_000]


def test_bidirectional_rule() -> None:
    rs = load_rules_text("alert tcp 10.0.0.1 any <> 192.0.2.1 80 (flags:S; sid:1;)")
    t = table([pkt(src="10.0.0.1", dst="192.0.2.1", dport=80),
               pkt(src="192.0.2.1", dst="10.0.0.1", sport=80, dport=5, ts=1),
               pkt(src="192.0.2.1", dst="10.0.0.1", sport=81, dport=80, ts=2)])
    assert evaluate(t, rs).num_rows == 2


def test_ipv6_addresses() -> None:
    rs = load_rules_text("alert icmp 2001:db8::/32 any -> any any (itype:128; sid:1;)")
    t = table([pkt(58, src="2001:db8::1", dst="2001:db8::2", icmp_type=128),
               pkt(58, src="2001:db9::1", dst="2001:db8::2", icmp_type=128, ts=1)])
    assert evaluate(t, rs).num_rows == 1


def test_header_tests_need_non_null_columns() -> None:
    rs = load_rules_text("alert ip any any -> any any (flags:!S; sid:1;)")
    t = table([pkt("udp"), pkt("tcp", tcp_flags=0x10, ts=1)])
    assert evaluate(t, rs).num_rows == 1


def test_stats_count_distinct_payloads() -> None:
    rs = load_rules_text('alert udp any any -> any any (content:"ab"; sid:1;)')
    eng = Engine(rs)
    eng.match(table([pkt("udp", payload=b"ab", ts=i) for i in range(5)]))
    alerts = eng.finish()
    assert alerts.num_rows == 5
    assert (eng.stats.payload_rows, eng.stats.distinct_payloads, eng.stats.verified) == (5, 1, 1)


def test_empty_input() -> None:
    rs = load_rules_text("alert tcp any any -> any any (sid:1;)")
    assert evaluate(table([]), rs).num_rows == 0


def test_sameip_and_tcp_mss() -> None:
    rs = load_rules_text("alert ip any any -> any any (sameip; sid:1;)\n"
                         "alert tcp any any -> any any (tcp.mss:<536; sid:2;)")
    t = table([pkt(src="10.0.0.1", dst="10.0.0.1"), pkt(ts=1, tcp_mss=1460),
               pkt(ts=2, tcp_mss=100)])
    got = list(zip(evaluate(t, rs).column("sid").to_pylist(),
                   evaluate(t, rs).column("ts").cast(pa.int64()).to_pylist(), strict=True))
    assert got == [(1, 0), (2, 2_000_000_000)]


def test_fragbits_rule() -> None:
    rs = load_rules_text("alert tcp any any -> any any (fragbits:!D; flags:S,12; sid:1;)")
    t = table([pkt(ip_flags=0x2), pkt(ts=1, ip_flags=0), pkt(ts=2)])
    assert evaluate(t, rs).num_rows == 1  # null ip_flags never matches
