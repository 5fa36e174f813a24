"""The truth files match the captures exactly; sources and sensors are consistent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import iptocc
import numpy as np
import pyarrow.parquet as pq

from teiten.core.sensors import Registry
from teiten.ingest.enrich.country import v4_strings

from .conftest import Decoded


def test_every_checksum_is_valid(decoded: Decoded) -> None:
    assert len(decoded) > 10_000
    assert decoded.bad_checksums == 0


def test_packets_per_source_match_truth(decoded: Decoded,
                                        sources: dict[str, list[object]]) -> None:
    seen = Counter(decoded.cols["src"])
    truth = Counter()
    for s, n in zip(sources["src"], sources["packets"], strict=True):
        truth[s] += n
    assert {k: v for k, v in truth.items() if v} == dict(seen)


def test_packets_per_actor_match_truth(decoded: Decoded, truth: dict[str, list[object]],
                                       sources: dict[str, list[object]]) -> None:
    owner = {}
    for s, a in zip(sources["src"], sources["actor"], strict=True):
        owner.setdefault(s, a)
    seen = Counter(owner[s] for s in decoded.cols["src"])
    expected = {n: p for n, p, c in zip(truth["name"], truth["packets"], truth["category"],
                                        strict=True) if c != "sensor" and p}
    assert dict(seen) == expected


def test_counts_per_sensor_and_day_match_captures(world_dir: Path, decoded: Decoded) -> None:
    counts = pq.read_table(world_dir / "truth_counts.parquet").to_pydict()
    truth = Counter()
    for s, d, n in zip(counts["sensor"], counts["date"], counts["packets"], strict=True):
        truth[(s, d.isoformat())] += n
    days = np.floor(np.array(decoded.cols["ts"], dtype=float)).astype(np.int64).astype(
        "datetime64[s]").astype("datetime64[D]")
    seen = Counter(zip(decoded.cols["sensor"], (str(d) for d in days), strict=True))
    assert dict(seen) == dict(truth)


def test_source_countries_agree_with_iptocc(sources: dict[str, list[object]]) -> None:
    rows = [(s, c) for s, c in zip(sources["src"], sources["country"], strict=True) if c]
    addrs = v4_strings(np.array([s for s, _ in rows], dtype=np.uint32))
    assert list(iptocc.country_code(addrs)) == [c for _, c in rows]


def test_sources_never_use_sensor_addresses(world_dir: Path, decoded: Decoded) -> None:
    reg = Registry.load(world_dir / "sensors.toml")
    monitored = set()
    for s in reg.values():
        for b in s.addresses:
            monitored.update(int(a) for a in b.network)
    assert monitored.isdisjoint(set(decoded.cols["src"]))
    assert set(decoded.cols["dst"]) <= monitored


def test_registry_globs_claim_each_capture(world_dir: Path) -> None:
    reg = Registry.load(world_dir / "sensors.toml")
    files = sorted((world_dir / "captures").rglob("*.pcap"))
    assert files
    for f in files:
        s = reg.for_path(str(f))
        assert s is not None and s.id == f.parent.name
    # relative paths (as a user would type them) are claimed too
    rel = files[0].relative_to(world_dir.parent)
    assert reg.for_path(str(rel)) is not None


def test_truth_json_lists_every_actor(world_dir: Path, truth: dict[str, list[object]]) -> None:
    import json

    doc = json.loads((world_dir / "truth.json").read_text())
    assert [a["name"] for a in doc["actors"]] == truth["name"]
    assert doc["seed"] == 7 and doc["scenario"] == "npa"
