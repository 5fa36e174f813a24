"""teiten's statistics equal figures computed independently from tshark's field output.

A small simulated TALOT2-like world (three points, two observation days, fixed seed) is
ingested into a store; ``bench/crosscheck_stats.py`` reads the same captures with
``tshark -T fields`` and recomputes every headline figure in plain Python.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from teiten.core.periods import parse_period
from teiten.core.sensors import Registry

pytestmark = [pytest.mark.needs_tshark,
              pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crosscheck_stats.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("crosscheck_stats", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["crosscheck_stats"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def cc() -> Any:
    return _module()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from teiten.simulate import Params, load_scenario, simulate
    from teiten.simulate import parse_period as sim_period

    root = tmp_path_factory.mktemp("world")
    text = (Path(load_scenario.__code__.co_filename).parent / "scenarios" / "talot2.toml"
            ).read_text()
    (root / "small.toml").write_text(text.replace("count = 10", "count = 3"))
    s, e = sim_period("2026-10-01..2026-10-02")
    simulate(load_scenario(str(root / "small.toml")), s, e, root / "w",
             Params(seed=5, scale=0.3))
    return root


@pytest.fixture(scope="module")
def both(cc: Any, world: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from teiten.ingest.pipeline import ingest
    from teiten.store import open_store

    reg = Registry.load(world / "w" / "sensors.toml")
    files = [(f, reg.for_path(str(f)), reg.for_path(str(f)).id)  # type: ignore[union-attr]
             for f in cc.capture_files(world / "w" / "captures")]
    ingest([str(f) for f, _, _ in files], world / "st", registry=reg)
    store = open_store(world / "st")
    period = parse_period("2026-10-01..2026-10-02", "Asia/Tokyo")
    ours, covered = cc.teiten_figures(store, period)
    ref = cc.read_reference(files, period.tz, period.start, period.days()[-1])
    assert cc.simple_coverage(ref, store.registry()) == covered
    theirs = cc.figures(ref, covered, cc.address_days(ref, store.registry(), covered))
    return ours, theirs


def test_the_world_has_enough_packets_to_mean_something(both: Any) -> None:
    theirs = both[1]
    assert theirs["totals"]["accesses"] > 1000
    assert len(theirs["ports"]) > 20 and len(theirs["countries"]) > 5


@pytest.mark.parametrize("figure", ["totals", "sensor_day_packets", "per_day", "ports",
                                    "countries", "hourly_utc"])
def test_teiten_equals_tshark(both: Any, figure: str) -> None:
    ours, theirs = both
    assert ours[figure] == theirs[figure]


def test_a_difference_is_reported(cc: Any, both: Any) -> None:
    ours, theirs = both
    changed = dict(theirs, totals=dict(theirs["totals"], source_count=-1))
    assert cc.differences(ours, changed) == [
        f"totals['source_count']: teiten {ours['totals']['source_count']!r}, tshark -1"]
