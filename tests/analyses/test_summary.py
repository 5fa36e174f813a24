"""Month summaries and the source-port rollup give the same tables as the rollups they sum."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from teiten.analyses import analysis, context, names, parse_period, run
from teiten.analyses import sport_profile as sp
from teiten.analyses.summary import SPORTS_PER_PORT, keep_sports
from teiten.core.sensors import Registry

from ._brute import REGISTRY_TOML, TZ, _to_packet_table, generate, write_store

#: The test registry without its maintenance window: a whole month of every sensor is then
#: answered from the summaries.
NO_MAINTENANCE = REGISTRY_TOML.split("[[sensor.maintenance]]")[0] + REGISTRY_TOML.split(
    'reason = "line maintenance"')[1]

NAMES = names()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reg = Registry.from_toml_text(NO_MAINTENANCE)
    return write_store(tmp_path_factory.mktemp("s") / "s", generate(3000, seed=11), reg)


def _ctx(store: Any, period: str = "2026-10", **kw: Any) -> Any:
    from teiten.analyses import CoverageParams

    return context.from_store(store, parse_period(period, TZ),
                              coverage_params=CoverageParams(outage_min_daily=10), **kw)


def test_whole_month_of_every_sensor_is_read_from_the_summaries(store: Any) -> None:
    assert _ctx(store).summarised


@pytest.mark.parametrize("kw", [{"sensors": ["a", "b", "c"]}, {"sensors": ["a"]}])
def test_a_sensor_selection_is_not_read_from_the_summaries(store: Any, kw: Any) -> None:
    assert not _ctx(store, **kw).summarised


def test_part_of_a_month_is_not_read_from_the_summaries(store: Any) -> None:
    assert not _ctx(store, "2026-10-01..2026-10-20").summarised


@pytest.fixture(scope="module")
def fast(store: Any) -> Any:
    return _ctx(store)


@pytest.fixture(scope="module")
def rolled(store: Any) -> Any:
    return _ctx(store, sensors=["a", "b", "c"])


@pytest.fixture(scope="module")
def raw(store: Any, fast: Any) -> Any:
    return context.from_packets(store.ibis(), parse_period("2026-10", TZ),
                                registry=store.registry(), coverage_params=fast.coverage_params)


@pytest.mark.parametrize("name", NAMES)
def test_summaries_give_the_tables_of_the_rollups(fast: Any, rolled: Any, name: str) -> None:
    assert run(fast, names=[name])[name].equals(run(rolled, names=[name])[name])


@pytest.mark.parametrize("name", NAMES)
def test_summaries_give_the_tables_of_raw_packets(fast: Any, raw: Any, name: str) -> None:
    assert run(fast, names=[name])[name].equals(run(raw, names=[name])[name])


def test_trend_months_without_packets_read_empty_summaries(fast: Any) -> None:
    t = analysis("trend")(fast).to_pylist()
    assert [r["accesses"] for r in t[:3]] == [0, 0, 0]  # May–July: nothing captured
    assert t[-1]["accesses"] == analysis("totals")(fast).to_pylist()[0]["accesses"]


# -- source ports ---------------------------------------------------------------------------


def test_keep_sports_keeps_the_busiest_and_bounds_the_rest() -> None:
    n = SPORTS_PER_PORT + 6
    counts = pa.table({"proto": pa.array([6] * n, pa.uint8()),
                       "port": pa.array([1521] * n, pa.int32()),
                       "sport": pa.array(list(range(n)), pa.int32()),
                       "n": pa.array(list(range(1000, 1000 - n, -1)), pa.int64())})
    kept, bounds = keep_sports(counts)
    assert kept["sport"].to_pylist() == list(range(SPORTS_PER_PORT))
    assert bounds.to_pylist() == [{"proto": 6, "port": 1521, "bound": 1000 - SPORTS_PER_PORT}]


def test_keep_sports_bound_is_zero_when_every_source_port_is_kept() -> None:
    counts = pa.table({"proto": pa.array([17, 17], pa.uint8()),
                       "port": pa.array([53, 53], pa.int32()),
                       "sport": pa.array([1, 2], pa.int32()),
                       "n": pa.array([5, 5], pa.int64())})
    assert keep_sports(counts)[1]["bound"].to_pylist() == [0]


def _sport_packets(spec: list[tuple[str, int, int, int]]) -> pa.Table:
    """Packets to 1521/TCP from (sensor, Tokyo day of October, source port, count)."""
    rows: dict[str, list[Any]] = {k: [] for k in ("ts", "sensor", "ip_version", "src", "src6",
                                                  "dst", "proto", "sport", "dport", "icmp_type",
                                                  "country")}
    i = 0
    for sensor, day, sport, count in spec:
        base = int(datetime(2026, 10, day, 3, tzinfo=UTC).timestamp()) * 10**9
        for _ in range(count):
            i += 1
            rows["ts"].append(base + i * 1000)
            rows["sensor"].append(sensor)
            rows["ip_version"].append(4)
            rows["src"].append(0x0B000000 + i % 50)
            rows["src6"].append(None)
            rows["dst"].append(0xC0000201 if sensor == "a" else 0xC6336401)
            rows["proto"].append(6)
            rows["sport"].append(sport)
            rows["dport"].append(1521)
            rows["icmp_type"].append(None)
            rows["country"].append("CN")
    return _to_packet_table(rows)


def _sport_store(tmp_path: Path, spec: list[tuple[str, int, int, int]]) -> Any:
    return write_store(tmp_path / "s", _sport_packets(spec),
                       Registry.from_toml_text(NO_MAINTENANCE))


#: 6000 and 7000 dominate; 100 source ports once each on sensor a (left out, bound 1).
HEAVY = [("a", 2, 6000, 40), ("b", 3, 6000, 30), ("a", 3, 7000, 20),
         *[("a", 5, 10000 + k, 1) for k in range(100)]]


@pytest.mark.parametrize(("period", "sensors"), [
    ("2026-10", None), ("2026-10-01..2026-10-03", None), ("2026-10", ["a"]),
])
def test_sport_profile_from_the_rollup_equals_raw_packets(
        tmp_path: Path, period: str, sensors: list[str] | None) -> None:
    ctx = _ctx(_sport_store(tmp_path, HEAVY), period, sensors=sensors)
    p = sp.Params(top_sports=2)
    chosen = sp._chosen_ports(ctx, p)
    fast = sp._from_rollups(ctx, chosen, p)
    assert fast is not None
    assert fast == sp._from_packets(ctx, chosen, p)


def test_sport_profile_reads_raw_packets_when_a_left_out_port_could_rank(
        tmp_path: Path) -> None:
    # every source port once: the 10th listed (1) does not beat the bound (1)
    spec = [("a", 2, 10000 + k, 1) for k in range(SPORTS_PER_PORT + 20)]
    ctx = _ctx(_sport_store(tmp_path, spec))
    p = sp.Params()
    assert sp._from_rollups(ctx, sp._chosen_ports(ctx, p), p) is None
    rows = analysis("sport_profile")(ctx, p).to_pylist()
    assert [r["sport"] for r in rows[:10]] == list(range(10000, 10010))
    assert rows[-1]["sport"] is None and rows[-1]["accesses"] == SPORTS_PER_PORT + 10


def test_sport_profile_of_a_sensor_selection_counts_only_its_packets(tmp_path: Path) -> None:
    ctx = _ctx(_sport_store(tmp_path, HEAVY), sensors=["b"])
    rows = analysis("sport_profile")(ctx).to_pylist()
    assert [(r["sport"], r["accesses"]) for r in rows] == [(6000, 30)]


def test_read_table_filter_reads_one_grouping(store: Any) -> None:
    import pyarrow.compute as pc

    from teiten.analyses.rollups import materialise, table_name

    month = parse_period("2026-10", TZ)
    materialise(store, month)
    name = table_name("summary", month)
    tab = store.read_table(name, filter=pc.field("grouping") == "country",
                           columns=["grouping", "country", "accesses"])
    assert tab.column_names == ["grouping", "country", "accesses"]
    assert set(tab["grouping"].to_pylist()) == {"country"}
    assert tab.num_rows == len(set(tab["country"].to_pylist())) > 1
