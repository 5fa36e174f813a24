"""``teiten report`` wiring and the graceful degradation of collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from teiten.analyses import context
from teiten.cli.main import main
from teiten.core.periods import parse_period
from teiten.report.build import collect


def test_report_on_a_directory_that_is_not_a_store_is_a_store_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["report", "--store", str(tmp_path / "nope"), "--period", "2026-10",
               "--out", str(tmp_path / "out")])
    assert rc == 5
    assert "teiten: error:" in capsys.readouterr().err


def test_bad_period_is_a_usage_error(tmp_path: Path) -> None:
    rc = main(["report", "--store", str(tmp_path), "--period", "2026-13", "--out",
               str(tmp_path / "out")])
    assert rc == 2


def test_missing_parts_are_reasons_not_failures() -> None:
    facts = collect(context.empty_packets(), parse_period("2026-10"), detections=False)
    assert facts.headline is not None and facts.headline.accesses == 0
    assert facts.reasons["signatures"] == "needs a store"
    assert facts.reasons["backscatter"] == "detection not run"
    assert facts.attacks is None


def test_an_empty_period_says_no_data_instead_of_empty_tables() -> None:
    from teiten.report.compose import compose

    facts = collect(context.empty_packets(), parse_period("2026-10"), detections=True)
    report = compose(facts, "en")
    assert [t.id for t in report.tables() if not t.rows] == []
    ports = next(s for s in report.sections if s.key == "ports")
    assert ports.available and "No data" in ports.blocks[0].text  # type: ignore[union-attr]
