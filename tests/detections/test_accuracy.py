"""Accuracy against the simulator's truth on a small telescope world (issue targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from teiten.core.periods import parse_period


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from teiten.cli.main import main
    from teiten.detections.accuracy import score

    d: Path = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--scenario", "telescope", "--period", "2026-09..2026-10",
                 "--out", str(d), "--seed", "3", "--scale", "0.1", "--quiet"]) == 0  # fmt: skip
    assert main(["ingest", str(d / "captures"), "--registry", str(d / "sensors.toml"),
                 "--store", str(d / "store")]) == 0  # fmt: skip
    return score(d / "store", d, parse_period("2026-10", tz="UTC"))


pytestmark = pytest.mark.slow


def test_ddos_precision_recall_and_timing(scores: dict[str, Any]) -> None:
    dd = scores["ddos"]
    assert dd["truth_above"] > 0
    assert dd["precision"] >= 0.95 and dd["recall"] >= 0.95
    assert dd["below_reported"] == 0
    assert dd["start_end_within_60s"] >= 0.95


def test_scan_campaigns_match_injected_scanners(scores: dict[str, Any]) -> None:
    sc = scores["scans"]
    assert sc["precision"] >= 0.95 and sc["recall"] >= 0.95


def test_tool_labels(scores: dict[str, Any]) -> None:
    assert scores["tools"]["accuracy"] >= 0.98
    assert scores["tools"]["forbidden_labels"] == 0


def test_events_found_with_few_spurious(scores: dict[str, Any]) -> None:
    ev = scores["events"]
    assert ev["recall"] == 1.0
    assert ev["spurious_port_events"] <= 5


def test_diurnal_separation(scores: dict[str, Any]) -> None:
    assert scores["diurnal"]["accuracy"] >= 0.9
    assert scores["diurnal"]["prefix_accuracy"] >= 0.9
