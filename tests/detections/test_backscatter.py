"""Backscatter / DDoS inference: corsaro thresholds, sliding window, idle timeout, ICMP victims."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from teiten.core.periods import Period
from teiten.detections._common import packets_from_columns
from teiten.detections.backscatter import Params, detect

S = 10**9
T0 = int(np.datetime64("2026-10-10T00:00:00", "ns").astype(np.int64))
VICTIM = 0xC6336401  # 198.51.100.1


def synacks(times_s: Any, victim: int = VICTIM, sport: Any = 80, **extra: Any) -> dict[str, Any]:
    t = np.asarray(times_s, dtype=np.float64)
    n = len(t)
    cols: dict[str, Any] = {
        "ts": (T0 + t * S).astype(np.int64), "ip_version": [4] * n, "src": [victim] * n,
        "dst": 0x0A000000 + (np.arange(n) % 200), "proto": [6] * n,
        "sport": np.broadcast_to(sport, n), "dport": 40000 + np.arange(n) % 1000,
        "tcp_flags": [0x12] * n,
    }  # fmt: skip
    cols.update(extra)
    return cols


def run(cols: dict[str, Any], **params: Any) -> pa.Table:
    params.setdefault("monitored_addresses", 256)
    return detect(packets_from_columns(cols), None, Params(**params))


def concat(*parts: dict[str, Any]) -> dict[str, Any]:
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def test_31_packets_over_60_s_is_an_attack() -> None:
    r = run(synacks(np.arange(31) * 2))
    assert r.num_rows == 1
    assert r.column("packets")[0].as_py() == 31
    assert r.column("max_window_packets")[0].as_py() == 30


def test_30_packets_over_58_s_is_too_short() -> None:
    assert run(synacks(np.arange(30) * 2)).num_rows == 0


def test_min_packets_edge() -> None:
    assert run(synacks(np.arange(25) * 5), min_window_packets=1).num_rows == 1
    assert run(synacks(np.arange(24) * 5), min_window_packets=1).num_rows == 0


def test_sliding_window_rejects_a_slow_trickle() -> None:
    r = run(synacks(np.arange(60) * 60.0))  # one a minute for an hour
    assert r.num_rows == 0


def test_sliding_window_finds_a_burst_in_a_trickle() -> None:
    times = np.r_[np.arange(10) * 60.0, 600 + np.arange(30) * 1.5]
    r = run(synacks(times))
    assert r.num_rows == 1
    assert r.column("max_window_packets")[0].as_py() >= 30


def test_window_is_aligned_to_10_s_buckets() -> None:
    # 30 packets 2 s apart from t=5 s to 63 s lie within 58 s, but no window of six aligned
    # 10-s buckets holds more than 28 of them (corsaro3 alignment), so this is no attack.
    times = np.r_[5 + np.arange(30) * 2.0, 125.0]
    assert run(synacks(times)).num_rows == 0
    r = run(synacks(times), min_window_packets=1)
    assert r.column("max_window_packets").to_pylist() == [28]


def test_gap_over_idle_timeout_splits_the_attack() -> None:
    burst = np.arange(40) * 2.0
    r = run(synacks(np.r_[burst, burst[-1] + 301 + burst]))
    assert r.num_rows == 2


def test_gap_of_exactly_the_idle_timeout_keeps_one_attack() -> None:
    burst = np.arange(40) * 2.0
    r = run(synacks(np.r_[burst, burst[-1] + 300 + burst]))
    assert r.num_rows == 1
    assert r.column("packets")[0].as_py() == 80


def test_icmp_unreachable_victim_is_the_quoted_destination() -> None:
    n = 40
    router = 0xCB007101
    cols = {
        "ts": (T0 + np.arange(n) * 2 * S), "ip_version": [4] * n, "src": [router] * n,
        "dst": 0x0A000000 + np.arange(n), "proto": [1] * n, "icmp_type": [3] * n,
        "icmp_code": [3] * n, "inner_proto": [17] * n, "inner_src": 0x0A000000 + np.arange(n),
        "inner_dst": [VICTIM] * n, "inner_sport": [5555] * n, "inner_dport": [80] * n,
    }  # fmt: skip
    r = run(cols)
    assert r.column("victim_ip").to_pylist() == ["198.51.100.1"]
    assert r.column("protocol").to_pylist() == [17]
    assert r.column("attack_type").to_pylist() == ["UDP flood"]
    assert r.column("victim_ports").to_pylist() == [[80]]
    assert r.column("mismatches").to_pylist() == [0]


def test_icmp_mismatch_is_counted() -> None:
    n = 40
    cols = {
        "ts": (T0 + np.arange(n) * 2 * S), "ip_version": [4] * n, "src": [1] * n,
        "dst": [0x0A000001] * n, "proto": [1] * n, "icmp_type": [3] * n, "inner_proto": [6] * n,
        "inner_src": [0x0A000002] * n, "inner_dst": [VICTIM] * n, "inner_dport": [443] * n,
    }  # fmt: skip
    r = run(cols)
    assert r.column("mismatches").to_pylist() == [40]
    assert r.column("attack_type").to_pylist() == ["SYN flood"]


def test_echo_replies_are_a_ping_flood() -> None:
    cols = synacks(np.arange(40) * 2, proto=[1] * 40, tcp_flags=[None] * 40, icmp_type=[0] * 40)
    r = run(cols)
    assert r.column("attack_type").to_pylist() == ["PING flood"]
    assert r.column("victim_ports").to_pylist() == [[]]


def test_rst_backscatter_is_a_syn_flood() -> None:
    r = run(synacks(np.arange(40) * 2, tcp_flags=[0x14] * 40))
    assert r.column("attack_type").to_pylist() == ["SYN flood"]
    assert r.column("backscatter_class").to_pylist() == ["backscatter-rst"]


def test_extrapolation_uses_the_monitored_address_count() -> None:
    r = run(synacks(np.arange(61)), monitored_addresses=65536)
    peak = r.column("peak_pps")[0].as_py()
    assert peak == 1.0  # 60 packets in the best minute
    assert r.column("est_peak_pps")[0].as_py() == peak * 65536


def test_spoofed_addresses_and_victim_ports() -> None:
    cols = synacks(np.arange(40) * 2, sport=np.r_[[80] * 30, [443] * 10])
    r = run(cols)
    assert r.column("spoofed_addresses").to_pylist() == [40]
    assert r.column("victim_ports").to_pylist() == [[80, 443]]
    assert r.column("n_victim_ports").to_pylist() == [2]


def test_two_victims_are_two_attacks() -> None:
    r = run(concat(synacks(np.arange(40) * 2), synacks(np.arange(40) * 2, victim=VICTIM + 1)))
    assert r.num_rows == 2


def test_syn_probes_are_not_backscatter() -> None:
    assert run(synacks(np.arange(100), tcp_flags=[0x02] * 100)).num_rows == 0


def test_period_limits_the_packets() -> None:
    t = packets_from_columns(synacks(np.arange(40) * 2))
    inside = Period(date(2026, 10, 10), date(2026, 10, 11), "day", "UTC")
    outside = Period(date(2026, 10, 11), date(2026, 10, 12), "day", "UTC")
    assert detect(t, inside, Params(monitored_addresses=256)).num_rows == 1
    assert detect(t, outside, Params(monitored_addresses=256)).num_rows == 0


def test_monitored_count_falls_back_to_distinct_destinations() -> None:
    r = detect(packets_from_columns(synacks(np.arange(40) * 2)), None)
    assert r.column("monitored_addresses").to_pylist() == [40]


def test_dataset_and_duckdb_sources_agree_with_the_table() -> None:
    t = packets_from_columns(synacks(np.arange(40) * 2))
    con = duckdb.connect()
    con.register("packets", t)
    p = Params(monitored_addresses=256)
    expected = detect(t, None, p)
    assert detect(ds.dataset(t), None, p).equals(expected)
    assert detect(con, None, p).equals(expected)


def test_empty_result_has_the_schema() -> None:
    from teiten.detections.backscatter import SCHEMA

    assert run(synacks([0.0])).schema == SCHEMA
