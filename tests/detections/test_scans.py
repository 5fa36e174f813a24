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


def test_slow_sweep_is_bridged_across_gaps_longer_than_the_timeout() -> None:
    # a slow scan of all 96 addresses of a small sensor set: ~3 min between probes, several
    # gaps over 480 s; unremarkable at that rate, and no address probed twice: one campaign
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.exponential(180.0, 96))
    assert (np.diff(t) > 480).sum() >= 3
    cols = probes(t, BASE + rng.permutation(96), 22)
    r = run(cols, monitored_addresses=96)
    assert r.column("n_destinations").to_pylist() == [96]
    alone = run(cols, monitored_addresses=96, gap_probability=0)  # the timeout cuts it
    assert max(alone.column("n_destinations").to_pylist(), default=0) < 96


def test_random_trickle_is_not_bridged() -> None:
    # the same rate but random addresses with revisits (background host): the campaigns are
    # those of the timeout alone
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.exponential(180.0, 400))
    cols = probes(t, BASE + rng.integers(0, 96, 400), 22)
    assert run(cols, monitored_addresses=96).equals(
        run(cols, monitored_addresses=96, gap_probability=0))


def test_gap_long_for_the_rate_splits_a_sweep() -> None:
    # probes every 10 s, then 40 minutes of silence: 240 mean intervals, far beyond 6.9
    t = np.r_[np.arange(30) * 10.0, 290 + 2400 + np.arange(30) * 10.0]
    r = run(probes(t, BASE + np.arange(60), 23), monitored_addresses=96)
    assert r.column("n_destinations").to_pylist() == [30, 30]


def test_bridge_needs_a_mean_interval_within_the_timeout() -> None:
    # 30 probes 500 s apart: every gap passes the timeout, the mean too; never joined
    t = np.arange(30) * 500.0
    assert run(probes(t, BASE + np.arange(30), 23), monitored_addresses=96).num_rows == 0


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


def _reference(cols: dict[str, Any], idle_s: float, h: int, min_ports: int) -> list[tuple]:
    """Campaigns by the idle timeout alone, the plain way (tiny inputs only)."""
    order = np.lexsort((cols["ts"], cols["src"]))
    out: list[tuple] = []
    cur: list[int] = []

    def close() -> None:
        if cur:
            pairs = {(int(cols["dst"][i]), int(cols["dport"][i])) for i in cur}
            d = {x for x, _ in pairs}
            p = {q for _, q in pairs}
            per_port = max(sum(1 for _, q in pairs if q == port) for port in p)
            per_dst = max(sum(1 for x, _ in pairs if x == dst) for dst in d)
            if (len(p) >= min_ports and len(d) >= h) or per_port >= h or per_dst >= min_ports:
                out.append((int(cols["src"][cur[0]]), len(cur), len(d)))

    for i in order.tolist():
        if cur and (cols["src"][i] != cols["src"][cur[-1]]
                    or cols["ts"][i] - cols["ts"][cur[-1]] > idle_s * S):
            close()
            cur = []
        cur.append(i)
    close()
    return sorted(out)


def test_pure_timeout_matches_a_plain_reference() -> None:
    # background, a fast scan and a vertical scan, unsorted; small sessions are dropped early
    # by the compiled pass, which must not change what is found
    rng = np.random.default_rng(3)
    parts = [probes(rng.uniform(0, 7200, 300), BASE + rng.integers(0, 256, 300),
                    rng.integers(1, 1024, 300), src=s) for s in range(1, 6)]  # fmt: skip
    parts.append(probes(rng.uniform(0, 100, 100), BASE + np.arange(100), 22, src=9))
    parts.append(probes(rng.uniform(0, 60, 40), BASE + 3, 1000 + np.arange(40), src=10))
    cols = concat(*parts)
    perm = rng.permutation(len(cols["ts"]))
    cols = {k: np.asarray(v)[perm] for k, v in cols.items()}
    r = run(cols, gap_probability=0)
    got = sorted(zip(r.column("src").to_pylist(), r.column("packets").to_pylist(),
                     r.column("n_destinations").to_pylist(), strict=True))  # fmt: skip
    assert got == _reference(cols, 480.0, 25, 15)
    assert len(got) >= 3


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
