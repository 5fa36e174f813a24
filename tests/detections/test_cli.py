"""``teiten detect`` over a small store: results stored per period, machine formats."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from teiten.cli.main import main
from teiten.core.periods import parse_period
from teiten.core.sensors import Registry
from teiten.detections import monitored_v4


def test_monitored_v4_sums_ipv4_blocks() -> None:
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "a"\naddresses = ["192.0.2.0/24", "2001:db8::/64"]\n'
        '[[sensor]]\nid = "b"\naddresses = ["198.51.100.7/32"]\n'
    )
    assert monitored_v4(reg, parse_period("2026-10")) == 257


def test_unknown_detection_is_a_usage_error(tmp_path: Path) -> None:
    from teiten.store import create_store

    create_store(tmp_path / "s")
    rc = main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10", "nonsense"])
    assert rc == 2


def test_detect_on_an_empty_store_stores_empty_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from teiten.store import create_store, open_store

    create_store(tmp_path / "s")
    rc = main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10",
               "--format", "json", "backscatter", "scans"])  # fmt: skip
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"backscatter": [], "scans": []}
    res = open_store(tmp_path / "s").read_result("backscatter", "2026-10")
    assert res is not None
    table, meta = res
    assert table.num_rows == 0
    assert meta["params"]["min_packets"] == 25


def test_parquet_format_needs_out(tmp_path: Path) -> None:
    from teiten.store import create_store

    create_store(tmp_path / "s")
    rc = main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10",
               "--format", "parquet"])  # fmt: skip
    assert rc == 2


def test_schema_of_stored_result(tmp_path: Path) -> None:
    from teiten.detections.backscatter import SCHEMA
    from teiten.store import create_store, open_store

    create_store(tmp_path / "s")
    main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10", "--format", "csv",
          "backscatter"])  # fmt: skip
    res = open_store(tmp_path / "s").read_result("backscatter", "2026-10")
    assert res is not None
    assert res[0].schema.names == SCHEMA.names
    assert isinstance(res[0], pa.Table)


def test_diurnal_says_why_the_as_level_was_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from teiten.store import create_store, open_store

    create_store(tmp_path / "s")
    rc = main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10",
               "--format", "json", "diurnal"])  # fmt: skip
    assert rc == 0
    assert "asn level skipped: no ASN database" in capsys.readouterr().err
    res = open_store(tmp_path / "s").read_result("diurnal", "2026-10")
    assert res is not None
    assert "asn" in res[1]["skipped_levels"]


def test_a_missing_asn_database_is_a_usage_error(tmp_path: Path) -> None:
    from teiten.store import create_store

    create_store(tmp_path / "s")
    rc = main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10", "diurnal",
               "--asn-mmdb", str(tmp_path / "none.mmdb")])  # fmt: skip
    assert rc == 2


def test_events_read_the_store_rollups(tmp_path: Path) -> None:
    from teiten.store import create_store, open_store

    create_store(tmp_path / "s")
    assert main(["detect", "--store", str(tmp_path / "s"), "--period", "2026-10", "events",
                 "--format", "csv"]) == 0  # fmt: skip
    assert open_store(tmp_path / "s").read_table("stats_cells.Asia.Tokyo.2026-10") is not None


def test_run_store_yields_in_order_and_saves_only_when_asked(tmp_path: Path) -> None:
    from teiten.detections import run_store
    from teiten.store import create_store

    store = create_store(tmp_path / "s")
    period = parse_period("2026-10")
    got = [name for name, _, _ in run_store(store, period, ["scans", "tools"], save=False)]
    assert got == ["scans", "tools"]
    assert store.read_result("scans", "2026-10") is None
    done = {name: t.num_rows for name, t, _ in run_store(store, period, monitored=512)}
    assert list(done) == ["backscatter", "scans", "tools", "events", "diurnal"]
    res = store.read_result("tools", "2026-10")
    assert res is not None and res[1]["monitored_addresses"] == 512
