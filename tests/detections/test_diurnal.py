"""Diurnal activity: spectral test at one cycle per day, local-time phase, levels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from teiten.core.errors import InputError, UsageError
from teiten.detections._common import packets_from_columns
from teiten.detections.diurnal import Params, detect

H = 3600 * 10**9
T0 = int(np.datetime64("2026-10-01", "ns").astype(np.int64))


def source(rng: np.random.Generator, src: int, rate: Any, days: int = 14,
           country: str = "JP") -> dict[str, Any]:  # fmt: skip
    """Poisson packets per hour with a 24-entry hourly (UTC) rate profile."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), (24,))
    counts = rng.poisson(np.tile(rate, days))
    hour = np.repeat(np.arange(days * 24), counts)
    n = len(hour)
    return {"ts": T0 + hour * H + rng.integers(0, H, n), "ip_version": np.full(n, 4),
            "src": np.full(n, src), "country": np.full(n, country)}  # fmt: skip


def table(*parts: dict[str, Any]) -> pa.Table:
    return packets_from_columns({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def office_hours_utc(offset: int) -> np.ndarray:
    """Rate 6/h during local 09-18, 0.3/h otherwise, for a UTC offset in hours."""
    local = (np.arange(24) + offset) % 24
    return np.where((local >= 9) & (local < 18), 6.0, 0.3)


def labels(t: pa.Table, **kw: Any) -> dict[str, str]:
    r = detect(t, None, Params(**kw))
    return dict(zip(r.column("entity").to_pylist(), r.column("label").to_pylist(), strict=True))


def test_office_hours_source_is_diurnal_and_constant_one_is_flat() -> None:
    rng = np.random.default_rng(1)
    t = table(source(rng, 1, office_hours_utc(9)), source(rng, 2, 3.0))
    assert labels(t, levels=("source",)) == {"0.0.0.1": "diurnal", "0.0.0.2": "flat"}


def test_flat_poisson_sources_are_rarely_called_diurnal() -> None:
    rng = np.random.default_rng(2)
    t = table(*[source(rng, i + 1, 2.0) for i in range(100)])
    out = labels(t, levels=("source",))
    assert len(out) == 100
    assert sum(v == "diurnal" for v in out.values()) <= 3  # alpha = 0.01


def test_local_peak_hour_and_day_night_ratio_use_the_country_offset() -> None:
    rng = np.random.default_rng(3)
    t = table(source(rng, 1, office_hours_utc(9), country="JP"))
    r = detect(t, None, Params(levels=("source",))).to_pylist()[0]
    assert r["utc_offset_h"] == 9.0
    assert 9 <= r["peak_local_hour"] < 18
    assert r["day_night_ratio"] > 2
    assert r["dominant_period_h"] == 24.0


def test_too_little_data_is_not_tested() -> None:
    rng = np.random.default_rng(4)
    t = table(source(rng, 1, 0.1, days=14), source(rng, 2, 3.0, days=2))
    assert labels(t, levels=("source",)) == {}


def test_prefix_and_country_levels() -> None:
    rng = np.random.default_rng(5)
    parts = [source(rng, 0x0A000100 + i, office_hours_utc(9) / 4) for i in range(8)]
    out = labels(table(*parts), levels=("prefix24", "country"))
    assert out == {"10.0.1.0/24": "diurnal", "JP": "diurnal"}


def test_unknown_level_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        detect(table(source(np.random.default_rng(6), 1, 1.0)), None, Params(levels=("city",)))


def asn_mmdb(path: Path) -> Path:
    import mmdb_writer  # a dev dependency
    from netaddr import IPSet

    w = mmdb_writer.MMDBWriter(4, "GeoLite2-ASN", languages=["en"])
    w.insert_network(IPSet(["10.0.1.0/24", "10.0.7.0/24"]),
                     {"autonomous_system_number": 64500, "autonomous_system_organization": "A"})
    w.insert_network(IPSet(["10.0.2.0/23"]), {"asn": "AS64501"})  # IPinfo-lite style
    w.to_db_file(str(path))
    return path


def test_asn_level_from_a_maxmind_asn_database(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    office = [source(rng, 0x0A000100 + i, office_hours_utc(9) / 4) for i in range(4)]
    office += [source(rng, 0x0A000700 + i, office_hours_utc(9) / 4) for i in range(4)]
    flat = [source(rng, 0x0A000200 + i, 0.5) for i in range(8)]
    other = [source(rng, 0x0B000000, 3.0)]  # in no AS: not at the AS level
    out = labels(table(*office, *flat, *other), levels=("asn",),
                 asn_mmdb=str(asn_mmdb(tmp_path / "asn.mmdb")))  # fmt: skip
    assert out == {"AS64500": "diurnal", "AS64501": "flat"}


def test_asn_level_without_a_database_is_skipped_with_the_reason() -> None:
    rng = np.random.default_rng(8)
    r = detect(table(source(rng, 1, office_hours_utc(9))), None, Params())
    assert "asn" not in r.column("level").to_pylist()
    assert set(r.column("level").to_pylist()) == {"source", "prefix24", "country"}
    skipped = json.loads(r.schema.metadata[b"skipped_levels"])
    assert "no ASN database" in skipped["asn"]


def test_an_unreadable_asn_database_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.mmdb").write_bytes(b"not a database")
    t = table(source(np.random.default_rng(9), 1, 1.0))
    with pytest.raises(InputError, match=r"bad\.mmdb"):
        detect(t, None, Params(levels=("asn",), asn_mmdb=str(tmp_path / "bad.mmdb")))


def test_the_screen_gives_the_labels_of_the_full_test_on_every_entity() -> None:
    rng = np.random.default_rng(10)
    parts = [source(rng, 0x0A000000 + i, office_hours_utc(i % 24) / 3) for i in range(30)]
    parts += [source(rng, 0x0B000000 + i, rng.uniform(0.3, 3.0)) for i in range(120)]
    burst = np.zeros(24)
    burst[3] = 40.0  # one busy hour a day, every day: diurnal by the test's definition
    parts += [source(rng, 0x0C000000 + i, burst) for i in range(5)]
    t = table(*parts)
    screened = detect(t, None, Params(levels=("source", "prefix24")))
    full = detect(t, None, Params(levels=("source", "prefix24"), screen=0.0))
    assert screened.column("label").to_pylist() == full.column("label").to_pylist()
    assert full.column("p_value").null_count == 0
    assert screened.column("p_value").null_count > 100  # most flat sources skip the full test
    assert screened.column("label").to_pylist().count("diurnal") >= 35


def test_one_pass_levels_add_up_their_sources() -> None:
    rng = np.random.default_rng(11)
    parts = [source(rng, 0x0A000100 + i, 1.0, country=c) for i, c in enumerate(["JP"] * 2
                                                                              + ["US"] * 2)]
    r = detect(table(*parts), None, Params()).to_pylist()
    by = {(x["level"], x["entity"]): x["packets"] for x in r}
    src = sum(v for (lvl, _), v in by.items() if lvl == "source")
    assert by["prefix24", "10.0.1.0/24"] == src
    assert by["country", "JP"] + by["country", "US"] == src
