"""Notable events: entrants, rank jumps, surges, drivers, source ports, signature hook."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teiten.core.periods import Period
from teiten.detections._common import packets_from_columns
from teiten.detections.events import Params, detect

DAY = 86400 * 10**9
D0 = int(np.datetime64("2026-10-01", "ns").astype(np.int64))
PERIOD = Period(date(2026, 10, 11), date(2026, 10, 21), "range", "UTC")  # previous: 1st-10th
# Background: ports with steady daily volumes (rank order 445 > 23 > 22 > ... > 8080).
BACKGROUND = {445: 400, 23: 300, 22: 250, 3389: 200, 1433: 150, 80: 120, 135: 100, 139: 90,
              5900: 80, 8080: 70, 443: 60, 21: 50}  # fmt: skip


def traffic(rng: np.random.Generator, port: int, days: range, per_day: Any, n_src: int = 200,
            src0: int = 0x01000000, sport: Any = None) -> dict[str, Any]:  # fmt: skip
    counts = rng.poisson(per_day, len(days)) if np.isscalar(per_day) else np.asarray(per_day)
    day = np.repeat(np.asarray(days), counts)
    n = len(day)
    return {
        "ts": D0 + day * DAY + rng.integers(0, DAY, n), "ip_version": np.full(n, 4),
        "src": src0 + rng.integers(0, n_src, n), "dst": 0x0A000000 + rng.integers(0, 64, n),
        "proto": np.full(n, 6), "dport": np.full(n, port),
        "sport": rng.integers(1024, 65535, n) if sport is None else np.full(n, sport),
        "tcp_flags": np.full(n, 2), "country": np.full(n, "JP"),
    }  # fmt: skip


def world(*extra: dict[str, Any], seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    parts = [traffic(rng, p, range(20), v, src0=0x01000000 + i * 4096)
             for i, (p, v) in enumerate(BACKGROUND.items())]  # fmt: skip
    parts += list(extra)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return packets_from_columns(cols)


def events(t: pa.Table, **kw: Any) -> list[dict[str, Any]]:
    return detect(t, PERIOD, **kw).to_pylist()


def kinds(evs: list[dict[str, Any]], key: str) -> set[str]:
    return {e["kind"] for e in evs if e["key"] == key}


def test_steady_background_gives_no_port_events() -> None:
    evs = [e for e in events(world()) if e["dimension"] == "port"]
    assert evs == []


def test_new_entrant_with_a_single_source_and_a_fixed_source_port() -> None:
    rng = np.random.default_rng(7)
    oracle = traffic(rng, 1521, range(10, 20), 500, n_src=1, src0=0x05060708, sport=6000)
    evs = events(world(oracle))
    assert {"new-entrant", "single-source", "dominant-sport", "surge"} <= kinds(evs, "1521/TCP")
    single = next(e for e in evs if e["kind"] == "single-source")
    assert single["subject"] == "5.6.7.8"
    assert single["share"] == 1.0
    sport = next(e for e in evs if e["kind"] == "dominant-sport")
    assert json.loads(sport["params"])["sport"] == 6000


def test_surge_day_is_reported() -> None:
    rng = np.random.default_rng(8)
    per_day = np.zeros(20, dtype=int)
    per_day[15] = 900  # one day on 8909/TCP from many sources
    spike = traffic(rng, 8909, range(20), per_day, n_src=300, src0=0x09000000)
    evs = [e for e in events(world(spike)) if e["kind"] == "surge" and e["dimension"] == "port"]
    assert [e["key"] for e in evs] == ["8909/TCP"]
    assert evs[0]["day"] == date(2026, 10, 16)
    assert json.loads(evs[0]["params"])["trend_score"] > 6


def test_surge_from_one_slash24_is_a_single_prefix() -> None:
    rng = np.random.default_rng(9)
    burst = traffic(rng, 1433, range(10, 20), 1500, n_src=200, src0=0x0C0D0E00)
    evs = events(world(burst))
    pref = [e for e in evs if e["kind"] == "single-prefix" and e["key"] == "1433/TCP"]
    assert [e["subject"] for e in pref] == ["12.13.14.0/24"]


def test_rank_jump() -> None:
    rng = np.random.default_rng(10)
    more = traffic(rng, 5900, range(10, 20), 200, src0=0x0D000000)  # 80 -> 280 a day
    evs = events(world(more))
    jump = [e for e in evs if e["kind"] == "rank-jump" and e["key"] == "5900/TCP"]
    assert len(jump) == 1
    params = json.loads(jump[0]["params"])
    assert params["rank_previous"] - params["rank"] >= 3


def test_country_new_entrant() -> None:
    rng = np.random.default_rng(11)
    ru = traffic(rng, 445, range(10, 20), 300, src0=0x0E000000)
    ru["country"] = np.full(len(ru["ts"]), "RU")
    evs = [e for e in events(world(ru)) if e["dimension"] == "country"]
    assert ("new-entrant", "RU") in {(e["kind"], e["key"]) for e in evs}


def test_signature_trend_hook() -> None:
    sig = pa.table({"signature": ["SQL Slammer", "Nachi ping"], "current": [900, 100],
                    "previous": [100, 110]})  # fmt: skip
    evs = [e for e in events(world(), signatures=sig) if e["kind"] == "signature-trend"]
    assert [(e["key"], json.loads(e["params"])["direction"]) for e in evs] == [
        ("SQL Slammer", "up")]


def test_every_event_has_severity_and_json_params() -> None:
    rng = np.random.default_rng(12)
    oracle = traffic(rng, 1521, range(10, 20), 500, n_src=1, sport=6000)
    for e in events(world(oracle), params=Params(top_n=5)):
        assert e["severity"] in {"low", "medium", "high"}
        assert isinstance(json.loads(e["params"]), dict)


# -- with a store: statistics rollups and stored signature results ----------------------------


def write_store(root: Path, t: pa.Table) -> Any:
    """A one-sensor store holding ``t`` (one file per UTC date, one catalog input)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from teiten.core.sensors import Registry
    from teiten.store import create_store, file_schema
    from teiten.store.catalog import InputRecord

    store = create_store(root)
    fs = file_schema()
    day = pc.cast(t.column("ts"), pa.int64()).to_numpy() // DAY
    files = []
    for d in np.unique(day).tolist():
        rel = f"packets/sensor=s/date={np.datetime64(int(d), 'D')}/test-0.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        part = t.filter(pa.array(day == d))
        pq.write_table(part.select(fs.names).cast(fs), root / rel)
        files.append(rel)
    reg = Registry.from_toml_text('[[sensor]]\nid = "s"\naddresses = ["10.0.0.0/26"]\n')
    store.merge_sensors(list(reg.values()))
    store.catalog.commit(InputRecord(input_id="t", name="t", files=files, packets=t.num_rows))
    return store


def summary(t: pa.Table) -> list[tuple[Any, ...]]:
    return sorted((e["kind"], e["key"], e["value"], e["previous"], e["subject"], e["day"])
                  for e in t.to_pylist())  # fmt: skip


def test_rollups_from_the_store_give_the_same_events_as_packets(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    oracle = traffic(rng, 1521, range(10, 20), 500, n_src=1, src0=0x05060708, sport=6000)
    t = world(oracle)
    store = write_store(tmp_path / "st", t)
    from_store = detect(store.duckdb(), PERIOD, store=store)
    assert summary(from_store) == summary(detect(t, PERIOD))
    assert ("dominant-sport", "1521/TCP") in {(e["kind"], e["key"]) for e in from_store.to_pylist()}
    assert store.read_table("stats_cells.UTC.2026-10") is not None  # materialised, reusable


def test_nothing_is_compared_without_a_previous_period() -> None:
    rng = np.random.default_rng(14)
    oracle = traffic(rng, 1521, range(10, 20), 500, n_src=1, sport=6000)
    t = world(oracle)
    current = t.filter(pa.array(t.column("ts").cast(pa.int64()).to_numpy() >= D0 + 10 * DAY))
    assert kinds(events(t), "1521/TCP")  # with the previous period: events
    assert detect(current, PERIOD).num_rows == 0


def small() -> pa.Table:
    """A few packets on one port over both periods (signature tests need only a store)."""
    t = traffic(np.random.default_rng(17), 445, range(20), 20)
    return packets_from_columns(t)


def signature_result(store: Any, label: str, hits: dict[tuple[str, str], int],
                     address_days: int) -> None:  # fmt: skip
    from teiten.signatures.tables import COUNTS_SCHEMA

    rows = [{"day": 20727, "sensor": "s", "sid": i + 1, "msg": msg, "category": cat,
             "country": "CN", "hits": n} for i, ((msg, cat), n) in enumerate(hits.items())]
    store.write_result("signatures", label, pa.Table.from_pylist(rows, schema=COUNTS_SCHEMA),
                       {"address_days": address_days})  # fmt: skip


def test_signature_trend_from_stored_results_of_two_periods(tmp_path: Path) -> None:
    store = write_store(tmp_path / "st", small())
    month = Period(date(2026, 10, 1), date(2026, 11, 1), "month", "UTC")
    signature_result(store, "2026-09", {("SQL Slammer", "Worm"): 100, ("Nachi ping", "Worm"): 400,
                                        ("Messenger spam", "Spam"): 300}, 1000)  # fmt: skip
    signature_result(store, "2026-10", {("SQL Slammer", "Worm"): 500, ("Nachi ping", "Worm"): 90,
                                        ("Messenger spam", "Spam"): 310}, 1000)  # fmt: skip
    evs = [e for e in detect(store.duckdb(), month, store=store).to_pylist()
           if e["kind"] == "signature-trend"]  # fmt: skip
    got = {(e["dimension"], e["key"]): json.loads(e["params"]) for e in evs}
    assert set(got) == {("signature", "SQL Slammer"), ("signature", "Nachi ping")}
    assert got["signature", "SQL Slammer"]["direction"] == "up"
    assert got["signature", "Nachi ping"]["direction"] == "down"
    assert got["signature", "Nachi ping"]["fold_change"] > 4
    slammer = next(e for e in evs if e["key"] == "SQL Slammer")
    assert (slammer["value"], slammer["previous"], slammer["severity"]) == (500, 100, "high")


def test_signature_trend_is_judged_per_covered_address_day(tmp_path: Path) -> None:
    store = write_store(tmp_path / "st", small())
    month = Period(date(2026, 10, 1), date(2026, 11, 1), "month", "UTC")
    # twice the hits on twice the covered address-days: the same rate, no trend
    signature_result(store, "2026-09", {("SQL Slammer", "Worm"): 200}, 1000)
    signature_result(store, "2026-10", {("SQL Slammer", "Worm"): 400}, 2000)
    evs = detect(store.duckdb(), month, store=store).to_pylist()
    assert [e for e in evs if e["kind"] == "signature-trend"] == []


def test_category_trend_when_its_signatures_rise_together(tmp_path: Path) -> None:
    store = write_store(tmp_path / "st", small())
    month = Period(date(2026, 10, 1), date(2026, 11, 1), "month", "UTC")
    signature_result(store, "2026-09", {("a", "Scan"): 40, ("b", "Scan"): 40}, 1000)
    signature_result(store, "2026-10", {("a", "Scan"): 45, ("b", "Scan"): 45, ("c", "Scan"): 45},
                     1000)  # fmt: skip
    evs = detect(store.duckdb(), month, store=store).to_pylist()
    trends = {(e["dimension"], e["key"]) for e in evs if e["kind"] == "signature-trend"}
    assert trends == {("category", "Scan")}  # each signature is under min_packets hits


def test_separate_one_day_scanner_bursts_are_not_a_surge() -> None:
    rng = np.random.default_rng(15)
    # three scanners, one day each, on a port nobody else uses
    bursts = [traffic(rng, 9251, range(20), np.where(np.arange(20) == d, 300, 0), n_src=1,
                      src0=0x0F000000 + d) for d in (11, 14, 18)]  # fmt: skip
    evs = events(world(*bursts))
    assert "surge" not in kinds(evs, "9251/TCP")


def test_one_scanner_among_a_few_regular_sources_is_not_a_surge() -> None:
    rng = np.random.default_rng(16)
    regular = traffic(rng, 5934, range(20), 2, n_src=4, src0=0x10000000)  # ~2 sources a day
    day16 = traffic(rng, 5934, range(20), np.where(np.arange(20) == 16, 4, 0), n_src=1,
                    src0=0x10000000)  # fmt: skip
    day16["src"] = 0x10000000 + np.arange(4)  # all four regulars on the scan day: 5 sources
    scan = traffic(rng, 5934, range(20), np.where(np.arange(20) == 16, 70, 0), n_src=1,
                   src0=0x11000000)  # fmt: skip
    evs = events(world(regular, day16, scan))
    assert "surge" not in kinds(evs, "5934/TCP")
    loose = events(world(regular, day16, scan), params=Params(surge_sources_z=0.0))
    assert "surge" in kinds(loose, "5934/TCP")  # without the rule, the scanner made a surge


def test_a_day_on_which_many_ports_spike_at_once_is_not_a_flood_of_surges() -> None:
    # backscatter from floods, spread over the ephemeral ports: on day 13 each of 40 ports
    # gets 60 packets from many sources; a real surge on 8909/TCP on day 16 stays reported
    rng = np.random.default_rng(10)
    broad = []
    for i, port in enumerate(range(40000, 40040)):
        per_day = np.zeros(20, dtype=int)
        per_day[13] = 60
        broad.append(traffic(rng, port, range(20), per_day, n_src=50, src0=0x20000000 + i * 64))
    per_day = np.zeros(20, dtype=int)
    per_day[16] = 900
    broad.append(traffic(rng, 8909, range(20), per_day, n_src=300, src0=0x09000000))
    t = world(*broad)

    def surges(**kw: Any) -> set[str]:
        return {e["key"] for e in events(t, **kw)
                if e["kind"] == "surge" and e["dimension"] == "port"}

    assert surges(params=Params(broad_min_keys=30)) == {"8909/TCP"}
    assert len(surges(params=Params(broad_min_keys=1000))) == 41  # below the bound: each port
