"""sensor_health analyses: capture gaps and drops per run."""

from __future__ import annotations

import pyarrow as pa

from teiten.sensors.health import capture_gaps, drops_by_run, rows_to_table

S = 1_000_000_000
T0 = 1_790_000_000 * S


def _rows() -> pa.Table:
    return rows_to_table([
        {"ts": T0, "sensor": "a", "event": "start", "run": T0},
        {"ts": T0 + 60 * S, "sensor": "a", "event": "stats", "run": T0, "captured": 90,
         "received": 95, "dropped": 5},
        {"ts": T0 + 100 * S, "sensor": "a", "event": "stats", "run": T0, "captured": 100,
         "received": 100, "dropped": 0 + 25},
        {"ts": T0 + 100 * S, "sensor": "a", "event": "exit", "run": T0, "exit_code": 1},
        {"ts": T0 + 130 * S, "sensor": "a", "event": "start", "run": T0 + 130 * S},
        {"ts": T0 + 200 * S, "sensor": "a", "event": "stop", "run": T0 + 130 * S},
        {"ts": T0 + 10 * S, "sensor": "b", "event": "start", "run": T0 + 10 * S},
    ])


def test_gap_from_exit_to_next_start() -> None:
    gaps = capture_gaps(_rows()).to_pylist()
    assert [(g["sensor"], g["reason"], g["seconds"]) for g in gaps] == [
        ("a", "exit", 30.0), ("a", "stop", None)]


def test_drops_use_the_last_counters_of_a_run() -> None:
    rows = drops_by_run(_rows()).to_pylist()
    assert len(rows) == 1
    assert (rows[0]["dropped"], rows[0]["received"]) == (25, 100)
    assert abs(rows[0]["drop_rate"] - 0.2) < 1e-12
