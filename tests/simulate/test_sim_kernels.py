"""Compiled kernels of the engine: alias tables, templates, the merged rate stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from teiten.simulate import Params, load_scenario, simulate
from teiten.simulate import kernels as K  # noqa: N812
from teiten.simulate.engine import _Acc
from teiten.simulate.rates import RateStream
from teiten.simulate.world import HOUR, plan_world


def _draw(w: np.ndarray, n: int, seed: int) -> np.ndarray:
    prob = np.empty(len(w))
    alias = np.empty(len(w), np.int32)
    K.alias_build(w.astype(float), prob, alias)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(w), n)
    return np.where(rng.random(n) < prob[k], k, alias[k])


def test_alias_table_draws_follow_the_weights() -> None:
    w = np.array([1.0, 5.0, 0.5, 3.5])
    counts = np.bincount(_draw(w, 400_000, 1), minlength=4) / 400_000
    assert np.allclose(counts, w / w.sum(), atol=0.005)


def test_alias_table_never_draws_a_zero_weight() -> None:
    w = np.array([0.0, 2.0, 0.0, 1.0, 0.0])
    assert set(np.unique(_draw(w, 50_000, 2)).tolist()) == {1, 3}


def test_templates_copy_bytes_patch_tcp_timestamps_and_append_a_tail() -> None:
    data = np.frombuffer(b"ab" + b"\x08\x0a" + bytes(8), np.uint8).copy()
    off = np.array([0, 2, 12], np.int64)
    ts_at = np.array([-1, 2], np.int64)
    ts = np.array([0, 5_000_000, 7_000_000_000], np.int64)
    tail = np.frombuffer(b"xyz", np.uint8).copy()
    out, offsets = K.from_templates(np.array([0, -1, 1], np.int8), data, off, ts_at, ts,
                                    tail, np.array([0, 1, 3], np.int64))
    assert offsets.tolist() == [0, 2, 2, 12, 13, 15]
    assert bytes(out[:2]) == b"ab"
    assert bytes(out[2:12]) == b"\x08\x0a" + (7000).to_bytes(4, "big") + bytes(4)
    assert bytes(out[12:]) == b"xyz"


def _world(hours: int = 2) -> tuple[RateStream, _Acc, int]:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    w = plan_world(load_scenario("npa"), 3, 0.2, start, start + timedelta(hours=hours))
    n = len(w.actors)
    acc = _Acc(np.zeros(n, np.int64), np.full(n, np.iinfo(np.int64).max),
               np.full(n, np.iinfo(np.int64).min), np.zeros(len(w.sources.addr), np.int64))
    return RateStream(w), acc, w.start


def test_rate_stream_is_sorted_by_sensor_then_time() -> None:
    rs, acc, t0 = _world()
    r = rs.chunk(t0, t0 + 2 * HOUR, np.random.default_rng(1), acc)
    assert r is not None and len(r.ts) > 1000
    sensor = np.searchsorted(r.bounds, np.arange(len(r.ts)), side="right") - 1
    key = sensor.astype(np.int64) * (1 << 50) + (r.ts - t0)
    assert np.all(np.diff(key) >= 0)
    assert np.all((r.ts >= t0) & (r.ts < t0 + 2 * HOUR))


def test_rate_stream_counts_what_it_writes() -> None:
    rs, acc, t0 = _world()
    r = rs.chunk(t0, t0 + HOUR, np.random.default_rng(2), acc)
    assert r is not None
    assert acc.packets.sum() == acc.per_source.sum() == r.per_actor_sensor.sum() == len(r.ts)
    assert np.array_equal(np.bincount(r.actor, minlength=len(acc.packets)), acc.packets)


def test_rate_stream_destinations_belong_to_their_sensor() -> None:
    rs, acc, t0 = _world()
    r = rs.chunk(t0, t0 + HOUR, np.random.default_rng(3), acc)
    assert r is not None
    w = rs.w
    owner = dict(zip(w.addr.tolist(), w.addr_sensor.tolist(), strict=True))
    for i in range(len(w.sensors)):
        lo, hi = int(r.bounds[i]), int(r.bounds[i + 1])
        assert all(owner[d] == i for d in r.cols.dst[lo:hi].tolist())


def test_rate_volume_follows_the_planned_rate(tmp_path: Path) -> None:
    """Packets of a flat, steady population over a day: Poisson around rate x scale x addresses."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    simulate(load_scenario("telescope"), start, start + timedelta(days=1), tmp_path,
             Params(seed=5, scale=0.2))
    t = pq.read_table(tmp_path / "truth.parquet").to_pylist()
    down = sum((r["end"] - r["start"]).total_seconds() for r in t
               if r["category"] == "sensor" and r["kind"] in ("outage", "maintenance"))
    up = 1.0 - down / 86400  # the one sensor captures nothing while it is down
    checked = 0
    for row in t:
        if row["category"] != "population" or row["diurnal"]:
            continue
        d = json.loads(row["detail"])
        if (d["ramp"], d["start"], d["end"]) != (1.0, 0.0, 1.0):
            continue
        expected = d["rate_per_address_day"] * 0.2 * 256 * up
        if row["kind"] == "conficker":
            expected /= 2  # its generator never reaches a 4th octet >= 128
        assert abs(row["packets"] - expected) < 5 * np.sqrt(expected) + 1, row["name"]
        checked += 1
    assert checked >= 3
