"""First-payload records of the responsive sensors (the responder's segments and their truth)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teiten.sensors.classify import classify
from teiten.sensors.payloads import PAYLOAD_SCHEMA, by_protocol, load_segments, read_payloads
from teiten.simulate import first_payloads as fp
from teiten.simulate.responder import SEGMENT_SCHEMA
from teiten.simulate.scenario import RATE_KINDS
from teiten.store import create_store

from .conftest import Decoded

UPDATE = os.environ.get("TEITEN_UPDATE_SNAPSHOTS") == "1"
SNAPSHOT = Path(fp.__file__).with_name("first_payloads.json")


def _records(world_dir: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(f) for f in sorted(
        (world_dir / "payloads").glob("payloads-*.parquet"))])


def test_segment_schema_is_the_sensors_payload_schema() -> None:
    want = [(f.name, f.type) for f in PAYLOAD_SCHEMA]
    assert [(f.name, f.type) for f in SEGMENT_SCHEMA] == want


def test_template_classifications_match_the_classifier() -> None:
    got = {t.name: {"protocol": (c := classify(t.data)).protocol,
                    "fields": dict(sorted(c.fields.items()))} for t in fp.TEMPLATES}
    if UPDATE:
        SNAPSHOT.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == got, (
        "first_payloads.json is stale: review, then refresh with TEITEN_UPDATE_SNAPSHOTS=1")


def test_every_template_is_reachable_from_a_port_or_a_worm() -> None:
    used = {n for table in (*fp.BY_PORT.values(), *fp.BY_KIND.values(), fp.DEFAULT)
            for n in table}
    assert used == {t.name for t in fp.TEMPLATES}


def test_only_responsive_sensors_have_records(world_dir: Path) -> None:
    reg = tomllib.loads((world_dir / "sensors.toml").read_text(encoding="utf-8"))
    kinds = {s["id"]: s.get("kind", "passive") for s in reg["sensor"]}
    sensors = set(_records(world_dir).column("sensor").cast(pa.string()).to_pylist())
    assert sensors and all(kinds[s] == "responsive" for s in sensors)


def test_written_classification_is_what_the_classifier_says(world_dir: Path) -> None:
    t = _records(world_dir)
    pairs = set(zip(t.column("bytes").to_pylist(),
                    t.column("classification").cast(pa.string()).to_pylist(), strict=True))
    assert len(pairs) >= 5
    assert all(classify(b).protocol == c for b, c in pairs)


def test_records_answer_syns_seen_in_the_captures(world_dir: Path, decoded: Decoded) -> None:
    t = _records(world_dir)
    syn = decoded.arr("flags") == 0x02
    seen = {(s, sp, d, dp) for s, sp, d, dp in zip(
        decoded.arr("src")[syn].tolist(), decoded.arr("sport")[syn].tolist(),
        decoded.arr("dst")[syn].tolist(), decoded.arr("dport")[syn].tolist(), strict=True)}
    keys = list(zip(t.column("src").to_pylist(), t.column("sport").to_pylist(),
                    t.column("dst").to_pylist(), t.column("dport").to_pylist(), strict=True))
    assert keys and all(k in seen for k in keys)


def test_truth_names_a_rate_actor_for_every_record(world_dir: Path,
                                                   truth: dict[str, list[object]]) -> None:
    tp = pq.read_table(world_dir / "truth_payloads.parquet")
    assert tp.num_rows == _records(world_dir).num_rows
    kind = dict(zip(truth["actor_id"], truth["kind"], strict=True))
    assert {kind[a] for a in tp.column("actor_id").to_pylist()} <= set(RATE_KINDS)


def test_worms_send_their_own_first_payload(world_dir: Path) -> None:
    tp = pq.read_table(world_dir / "truth_payloads.parquet").to_pydict()
    by_actor: dict[str, set[str]] = {}
    for a, tmpl in zip(tp["actor"], tp["template"], strict=True):
        by_actor.setdefault(str(a), set()).add(str(tmpl))
    assert by_actor["conficker"] == {"smb1-negotiate"}
    assert by_actor["mirai"] <= {"telnet-iac-bot", "empty"}


def test_a_source_always_sends_the_same_payload_to_a_port(world_dir: Path) -> None:
    tp = pq.read_table(world_dir / "truth_payloads.parquet").to_pydict()
    seen: dict[tuple[int, int], set[str]] = {}
    for s, p, tmpl in zip(tp["src"], tp["dport"], tp["template"], strict=True):
        seen.setdefault((int(s), int(p)), set()).add(str(tmpl))
    assert max(len(v) for v in seen.values()) == 1


def test_empty_connections_time_out_without_bytes(world_dir: Path) -> None:
    t = _records(world_dir).to_pydict()
    empty = [i for i, c in enumerate(t["classification"]) if c == "empty"]
    assert empty
    assert all(t["length"][i] == 0 and t["end"][i] == "timeout" and t["wait_ms"][i] is None
               for i in empty)
    full = [i for i, c in enumerate(t["classification"]) if c != "empty"]
    assert all(t["length"][i] == len(t["bytes"][i]) and t["wait_ms"][i] for i in full)


def test_segments_load_into_a_store(world_dir: Path, tmp_path: Path) -> None:
    store = create_store(tmp_path / "store")
    n, added = load_segments(world_dir / "payloads", store)
    assert n >= 7 and added == _records(world_dir).num_rows
    protocols = set(by_protocol(read_payloads(store)).column("protocol").to_pylist())
    assert {"smb", "telnet", "http", "ssh", "rdp"} <= protocols


def test_passive_only_world_writes_no_records(tmp_path: Path) -> None:
    from teiten.simulate import Params, load_scenario, parse_period, simulate

    s, e = parse_period("2026-10-01")
    summary = simulate(load_scenario("talot2"), s, e, tmp_path, Params(scale=0.02))
    assert summary.payload_records == 0
    assert not (tmp_path / "payloads").exists()
    assert np.all([v >= 0 for v in summary.per_sensor.values()])


def test_truth_json_sums_the_records(world_dir: Path) -> None:
    doc = json.loads((world_dir / "truth.json").read_text(encoding="utf-8"))
    t = _records(world_dir)
    assert doc["payload_records"]["records"] == t.num_rows
    assert sum(doc["payload_records"]["by_classification"].values()) == t.num_rows
