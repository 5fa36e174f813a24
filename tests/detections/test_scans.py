"""Scan campaigns: horizontal/vertical/box, idle timeout, Internet-wide class, tool roll-up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from teiten.detections._common import packets_from_columns
from teiten.detections.scans import Params, detect

S = 10**9
T0 = int(np.datetime64("2026-10-10T00:00:00", "ns").astype(np.int64))
BASE = 0x0A000000


def probes(
    times_s: Any, dst: Any, dport: Any, src: int = 0x0B000001, **extra: Any
) -> dict[str, Any]:
    t = np.asarray(times_s, dtype=np.float64)
    n = len(t)
    cols: dict[str, Any] = {
        "ts": (T0 + t * S).astype(np.int64), "ip_version": np.full(n, 4), "src": np.full(n, src),
        "dst": np.broadcast_to(dst, n), "proto": np.full(n, 6), "dport": np.broadcast_to(dport, n),
        "sport": np.full(n, 40000), "tcp_flags": np.full(n, 2),
    }  # fmt: skip
    cols.update(extra)
    return cols


def run(cols: dict[str, Any], **params: Any) -> pa.Table:
    params.setdefault("monitored_addresses", 256)
    return detect(packets_from_columns(cols), None, Params(**params))


def concat(*parts: dict[str, Any]) -> dict[str, Any]:
    return {k: np.concatenate([np.broadcast_to(p[k], len(p["ts"])) for p in parts])
            for k in parts[0]}  # fmt: skip


def test_horizontal_scan_at_25_destinations() -> None:
    r = run(probes(np.arange(25), BASE + np.arange(25), 23))
    assert r.column("kind").to_pylist() == ["horizontal"]
    assert r.column("ports").to_pylist() == [[23]]


def test_24_destinations_is_not_a_scan() -> None:
    assert run(probes(np.arange(24), BASE + np.arange(24), 23)).num_rows == 0


def test_vertical_scan_at_15_ports() -> None:
    r = run(probes(np.arange(15), BASE + 1, 1000 + np.arange(15)))
    assert r.column("kind").to_pylist() == ["vertical"]
    assert r.column("max_ports_per_destination").to_pylist() == [15]


def test_box_scan_many_ports_many_addresses() -> None:
    n = 400
    r = run(probes(np.arange(n), BASE + np.arange(n) % 40, 1000 + np.arange(n) % 20))
    assert r.column("kind").to_pylist() == ["box"]
    assert r.column("n_ports").to_pylist() == [20]
    assert r.column("n_destinations").to_pylist() == [40]


def test_idle_timeout_over_480_s_splits_campaigns() -> None:
    t = np.r_[np.arange(30), 29 + 481 + np.arange(30)]
    r = run(probes(t, BASE + np.arange(60) % 30, 23), monitored_addresses=65536)
    assert r.num_rows == 2


def test_gap_of_480_s_keeps_one_campaign() -> None:
    t = np.r_[np.arange(30), 29 + 480 + np.arange(30)]
    assert run(probes(t, BASE + np.arange(60) % 30, 23), monitored_addresses=65536).num_rows == 1


def test_idle_timeout_can_grow_for_small_sensor_sets() -> None:
    # 96 addresses: 480 s x 4096/96 capped at x24 = 3.2 h; a 40-min gap stays in the campaign
    t = np.r_[np.arange(30), 29 + 2400 + np.arange(30)]
    cols = probes(t, BASE + np.arange(60) % 30, 23)
    assert run(cols, monitored_addresses=96, max_idle_factor=24).num_rows == 1
    assert run(cols, monitored_addresses=96).num_rows == 2  # default: unscaled


def test_internet_wide_rate_and_coverage() -> None:
    # 128 of 256 addresses in 128 s: 1 pps observed, x 2^24 Internet-wide, coverage 0.5
    r = run(probes(np.arange(128), BASE + np.arange(128), 443))
    assert r.column("internet_wide").to_pylist() == [True]
    assert r.column("est_pps")[0].as_py() == 128 / 127 * 2**24
    assert r.column("coverage").to_pylist() == [0.5]
    assert r.column("size_class").to_pylist() == [">=10%"]


def test_slow_scan_is_not_internet_wide() -> None:
    # 200 destinations, one every 400 s on a /8-sized telescope: far below 10 pps Internet-wide
    r = run(probes(np.arange(200) * 400.0, BASE + np.arange(200), 443),
            monitored_addresses=2**24)  # fmt: skip
    assert r.column("kind").to_pylist() == ["horizontal"]
    assert r.column("internet_wide").to_pylist() == [False]


def test_thresholds_scale_to_small_sensor_sets() -> None:
    r = run(probes(np.arange(8), BASE + np.arange(8), 445), monitored_addresses=16)
    assert r.column("kind").to_pylist() == ["horizontal"]


def test_backscatter_and_dns_replies_are_not_probes() -> None:
    n = 50
    cols = probes(np.arange(n), BASE + np.arange(n), 23, tcp_flags=np.full(n, 0x12))
    assert run(cols).num_rows == 0


def test_tool_majority_and_share() -> None:
    n = 40
    tools = ["masscan"] * 30 + [None] * 10
    r = run(probes(np.arange(n), BASE + np.arange(n), 80, tool=tools))
    assert r.column("tool").to_pylist() == ["masscan"]
    assert r.column("tool_share").to_pylist() == [0.75]


def test_two_sources_two_campaigns() -> None:
    a = probes(np.arange(30), BASE + np.arange(30), 23, src=1)
    b = probes(np.arange(30), BASE + np.arange(30), 23, src=2)
    assert sorted(run(concat(a, b)).column("src").to_pylist()) == [1, 2]


def test_prefilter_does_not_change_the_result() -> None:
    rng = np.random.default_rng(3)
    noise = probes(rng.uniform(0, 3600, 500), BASE + rng.integers(0, 256, 500),
                   rng.integers(1, 1024, 500), src=9)  # fmt: skip
    scan = probes(np.arange(100), BASE + np.arange(100), 22, src=5)
    cols = concat(noise, scan)
    assert run(cols).equals(run(cols, prefilter=False))


def test_packed_campaign_counts_equal_the_generic_ones() -> None:
    from teiten.detections._common import distinct_per_group
    from teiten.detections.scans import _campaign_counts, _max_distinct_pairs

    rng = np.random.default_rng(0)
    n, k = 20_000, 300
    sid = np.sort(rng.integers(0, k, n))
    dst, port = rng.integers(0, 2**32, n), rng.integers(0, 65536, n)
    packed = _campaign_counts(sid, dst, port, k)
    generic = (distinct_per_group(sid, dst, k), distinct_per_group(sid, port, k),
               _max_distinct_pairs(sid, port, dst, k),
               _max_distinct_pairs(sid, dst, port, k))  # fmt: skip
    for a, b in zip(packed, generic, strict=True):
        assert (a == b).all()
