"""The report of a small fixed-seed world, through the real statistics and detection APIs."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from teiten.analyses import analysis, compare_periods, make_context
from teiten.core.periods import parse_period
from teiten.report.build import collect
from teiten.report.compose import compose
from teiten.report.facts import ReportFacts
from teiten.report.model import ReportData
from teiten.report.render import render_html, render_markdown

from .world import packets, registry

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TEITEN_UPDATE_SNAPSHOTS") == "1"
PERIOD = parse_period("2026-10")


@pytest.fixture(scope="module")
def world() -> tuple[object, ReportFacts, float]:
    pk = packets()
    t0 = time.perf_counter()
    facts = collect(pk, PERIOD, registry=registry())
    return pk, facts, time.perf_counter() - t0


_COMPOSE_SECONDS: dict[str, float] = {}


def _timed_compose(facts: ReportFacts, lang: str) -> ReportData:
    t0 = time.perf_counter()
    report = compose(facts, lang)
    render_html(report)
    _COMPOSE_SECONDS[lang] = time.perf_counter() - t0
    return report


@pytest.fixture(scope="module")
def ja(world: tuple[object, ReportFacts, float]) -> ReportData:
    return _timed_compose(world[1], "ja")


@pytest.fixture(scope="module")
def en(world: tuple[object, ReportFacts, float]) -> ReportData:
    return _timed_compose(world[1], "en")


@pytest.fixture(scope="module")
def ctx(world: tuple[object, ReportFacts, float]) -> object:
    return make_context(world[0], PERIOD, registry=registry())


def test_every_statistics_and_detection_section_is_filled(world: tuple[object, ReportFacts,
                                                                        float]) -> None:
    facts = world[1]
    assert set(facts.reasons) == {"signatures", "payloads"}  # both need a store
    assert facts.attacks and facts.detected_events and facts.sport_profiles


def test_port_table_equals_the_comparison_api(ja: ReportData, ctx: object) -> None:
    api = {r["label"]: r for r in compare_periods(ctx, "ports").to_pylist()}
    rows = [r for r in ja.table("tbl-ports").rows if r[2].value in api]
    assert len(rows) >= 10
    for row in rows:
        a = api[row[2].value]
        assert row[0].value == a["rank_now"] and row[1].value == a["rank_before"]
        assert row[3].value == pytest.approx(a["value_now"])
        assert row[5].value == pytest.approx(a["change"])
        assert row[4].value == (pytest.approx(a["change_pct"]) if a["change_pct"] is not None
                                else None)
        assert (row[6].value, row[7].value) == (a["increase_rank"], a["decrease_rank"])


def test_country_table_equals_the_comparison_api(en: ReportData, ctx: object) -> None:
    api = {r["country"]: r for r in compare_periods(ctx, "countries").to_pylist()}
    for row in en.table("tbl-countries").rows:
        if row[2].value in api:
            a = api[row[2].value]
            assert (row[0].value, row[3].value) == (a["rank_now"], pytest.approx(a["value_now"]))
    assert en.table("tbl-countries").rows[0][2].text == "China"


def test_headline_table_equals_totals(ja: ReportData, ctx: object) -> None:
    tot = analysis("totals")(ctx).to_pylist()[0]
    cells = {row[0].value: row[1].value for row in ja.table("tbl-headline").rows}
    assert cells["metric.accesses"] == tot["accesses"]
    assert cells["metric.sources"] == tot["source_count"]
    assert cells["metric.distinct_sources"] == tot["distinct_sources"]
    assert cells["metric.acc_pad"] == pytest.approx(tot["accesses_per_address_day"])
    assert cells["metric.src_ppd"] == pytest.approx(tot["sources_per_point_day"])


def test_trend_table_equals_the_trend_api(ja: ReportData, ctx: object) -> None:
    api = {r["period"]: r for r in analysis("trend")(ctx).to_pylist() if r["sensor_days"]}
    rows = ja.table("tbl-trend").rows
    assert [r[0].value for r in rows] == list(api)
    for r in rows:
        assert r[1].value == pytest.approx(api[str(r[0].value)]["accesses_per_point_day"])


def test_injected_phenomena_are_told(ja: ReportData) -> None:
    attacks = ja.table("tbl-attacks")
    assert attacks.rows[0][0].value == "198.51.100.20"
    text = render_markdown(ja)
    assert "発信元ポート6000" in text and "8909/TCP" in text


def test_scan_campaign_is_listed(en: ReportData) -> None:
    row = en.table("tbl-scans").rows[0]
    assert (row[0].value, row[1].value, row[3].value, row[5].value) == (
        "91.0.0.1", "horizontal", "23/TCP", 12)


def test_report_is_fast(world: tuple[object, ReportFacts, float], ja: ReportData,
                        en: ReportData) -> None:
    # analyses (collect) + composing and rendering both languages
    assert world[2] + _COMPOSE_SECONDS["ja"] + _COMPOSE_SECONDS["en"] < 60


def _normalise(text: str) -> str:
    """Drop what changes without the report changing: chart paths, version, timestamps, and
    the parameter values other stages echo (they gain fields as those stages grow; the
    parameter table is checked on its own)."""
    text = re.sub(r'(<table id="tbl-params".*?<tbody>).*?(</tbody>)', r"\1…\2", text,
                  flags=re.S)
    text = re.sub(r"^\| [^|]+ \| [^|]*=.*$", "| params |", text, flags=re.M)
    text = re.sub(r"<svg .*?</svg>", lambda m: f"<svg tips={m.group(0).count('data-tip=')}/>",
                  text, flags=re.S)
    text = re.sub(r"teiten \d+\.\d+\.\d+\S*", "teiten X", text)
    return re.sub(r"sha256-[A-Za-z0-9+/=]+", "sha256-X", text)


def test_parameter_table_echoes_every_analysis(ja: ReportData) -> None:
    names = [row[0].value for row in ja.table("tbl-params").rows]
    for name in ("coverage", "comparison", "trend", "backscatter", "scans", "events",
                 "report.events"):
        assert name in names


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_golden_snapshot(lang: str, fmt: str, ja: ReportData, en: ReportData) -> None:
    report = ja if lang == "ja" else en
    got = _normalise(render_markdown(report) if fmt == "md" else render_html(report))
    path = SNAPSHOTS / f"world-2026-10-{lang}.{fmt}"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot {path.name}: run with TEITEN_UPDATE_SNAPSHOTS=1")
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; review, then refresh with TEITEN_UPDATE_SNAPSHOTS=1")
