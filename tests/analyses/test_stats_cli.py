"""``teiten stats`` on a generated store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from teiten.cli.main import main

from ._brute import Brute, generate, registry, write_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: Any) -> Path:
    root = tmp_path_factory.mktemp("stats") / "st"
    write_store(root, generate(1500, seed=11), registry())
    return root


def _run(capsys: Any, *argv: str) -> str:
    assert main(["stats", *argv]) == 0
    return str(capsys.readouterr().out)


def test_json_totals_match_brute_force(store_dir: Path, capsys: Any) -> None:
    out = _run(capsys, "--store", str(store_dir), "--period", "2026-10", "--by", "total",
               "--format", "json", "--outage-min-daily", "10")
    got = json.loads(out)["totals"][0]
    b = Brute(generate(1500, seed=11), 2026, 10)
    # sensor a's outage day has no packets either way; b's maintenance day is excluded
    assert got["accesses"] == len(b.rows)
    assert got["source_count"] == len(b.units())


def test_table_output_has_port_labels(store_dir: Path, capsys: Any) -> None:
    out = _run(capsys, "--store", str(store_dir), "--period", "2026-10", "--by", "port")
    assert "/TCP" in out and "rank" in out


def test_compare_prints_footnote_and_ja_names(store_dir: Path, capsys: Any) -> None:
    out = _run(capsys, "--store", str(store_dir), "--period", "2026-10", "--by", "country",
               "--compare", "--lang", "ja", "--top", "50")
    assert "日本" in out


def test_csv_has_one_section_per_analysis(store_dir: Path, capsys: Any) -> None:
    out = _run(capsys, "--store", str(store_dir), "--period", "2026-10", "--by", "port,country",
               "--format", "csv")
    assert "# ports" in out and "# countries" in out


def test_parquet_files_and_saved_results(store_dir: Path, tmp_path: Path, capsys: Any) -> None:
    _run(capsys, "--store", str(store_dir), "--period", "2026-10", "--by", "sport",
         "--ports", "445/TCP", "--format", "parquet", "--output", str(tmp_path), "--save")
    tab = pq.read_table(tmp_path / "sport_profile.parquet")
    assert set(tab["label"].to_pylist()) == {"445/TCP"}
    from teiten.store import open_store

    assert open_store(store_dir).read_result("sport_profile", "2026-10") is not None


def test_unknown_analysis_exits_with_usage_error(store_dir: Path, capsys: Any) -> None:
    assert main(["stats", "--store", str(store_dir), "--period", "2026-10", "--by", "x"]) == 2
    assert "unknown analysis" in capsys.readouterr().err
