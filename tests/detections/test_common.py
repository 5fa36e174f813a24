"""Shared kernels of the detections: hashed ids, compiled sessionisation, distinct counts."""

from __future__ import annotations

import numpy as np

from teiten.detections._common import dense_ids, distinct_per_group, sessionise


def _plain_sessions(
    gid: np.ndarray, ts: np.ndarray, idle: int, min_packets: int
) -> list[list[int]]:
    order = np.lexsort((ts, gid))
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order.tolist():
        if cur and (gid[i] != gid[cur[-1]] or ts[i] - ts[cur[-1]] > idle):
            out.append(cur)
            cur = []
        cur.append(i)
    out.append(cur)
    return [s for s in out if len(s) >= min_packets]


def test_sessionise_equals_a_plain_loop_on_unsorted_input() -> None:
    rng = np.random.default_rng(11)
    gid = rng.integers(0, 50, 5000)
    ts = rng.integers(0, 10**6, 5000)
    s = sessionise(gid, ts, 50, 2000, min_packets=3)
    got = [s.rows[a:b].tolist() for a, b in zip(s.bounds[:-1], s.bounds[1:], strict=True)]
    want = _plain_sessions(gid, ts, 2000, 3)
    # equal times may come in either order inside a session: compare as sets
    assert sorted(map(sorted, got)) == sorted(map(sorted, want))
    assert all(gid[r[0]] == g for r, g in zip(got, s.group.tolist(), strict=True))


def test_sessionise_keeps_time_order_within_a_session() -> None:
    rng = np.random.default_rng(12)
    ts = rng.permutation(1000)
    s = sessionise(np.zeros(1000, np.int64), ts, 1, 5)
    assert (np.diff(ts[s.rows]) >= 0).all()
    assert len(s) == 1


def test_bridging_needs_both_the_gap_and_the_mean_rule() -> None:
    ts = np.r_[np.arange(20) * 10, 190 + 100 + np.arange(20) * 10]  # a gap of 100, mean ~12.8
    g = np.zeros(len(ts), np.int64)
    assert len(sessionise(g, ts, 1, 50)) == 2  # timeout alone
    assert len(sessionise(g, ts, 1, 50, gap_factor=10, max_mean_gap_ns=50)) == 1
    assert len(sessionise(g, ts, 1, 50, gap_factor=5, max_mean_gap_ns=50)) == 2  # 100 > 5*12.8
    assert len(sessionise(g, ts, 1, 50, gap_factor=10, max_mean_gap_ns=10)) == 2  # mean > 10


def test_dense_ids_number_in_order_of_first_appearance() -> None:
    rng = np.random.default_rng(13)
    keys = rng.integers(0, 2**63, 300).astype(np.uint64)[rng.integers(0, 300, 20000)]
    ids, uniq = dense_ids(keys)
    assert (uniq[ids] == keys).all()
    assert len(uniq) == len(np.unique(keys))
    first = np.unique(ids, return_index=True)[1]
    assert (np.diff(first) > 0).all()


def test_distinct_per_group_narrow_and_wide_values() -> None:
    rng = np.random.default_rng(14)
    gid = rng.integers(0, 30, 4000)
    for top in (10, 2**32, 2**50):
        vals = rng.integers(-1, top, 4000)
        want = [len(set(vals[gid == g].tolist())) for g in range(30)]
        assert distinct_per_group(gid, vals, 30).tolist() == want

