"""Composing facts into numbered, localised sections."""

from __future__ import annotations

from teiten.report.compose import SECTION_ORDER, compose
from teiten.report.facts import CmpRow, ReportFacts
from teiten.report.model import Paragraph, ReportData, Table

from .facts_sample import sample_facts


def _texts(r: ReportData) -> str:
    return "\n".join(b.text for s in r.sections for b in s.blocks if isinstance(b, Paragraph))


def test_sections_come_in_reading_order_and_are_numbered(report_ja: ReportData) -> None:
    assert [s.key for s in report_ja.sections] == list(SECTION_ORDER)
    assert [s.number for s in report_ja.sections] == list(range(1, len(SECTION_ORDER) + 1))


def test_figures_and_tables_are_numbered_per_section(report_ja: ReportData) -> None:
    ports = report_ja.table("tbl-ports")
    n = [s.key for s in report_ja.sections].index("ports") + 1
    assert ports.label == f"表 {n}-1"
    assert report_ja.figures()[0].label.startswith("図 ")


def test_text_references_resolve_to_table_labels(report_en: ReportData) -> None:
    label = report_en.table("tbl-ports").label
    assert f"({label})" in _texts(report_en)
    assert "⟦" not in _texts(report_en)


def test_section_without_analysis_is_marked_and_listed_in_methodology(
        report_ja: ReportData) -> None:
    sig = next(s for s in report_ja.sections if s.key == "signatures")
    assert not sig.available and "signatures" in sig.reason
    method = next(s for s in report_ja.sections if s.key == "methodology")
    assert any(sig.title in b.text for b in method.blocks if isinstance(b, Paragraph))


def test_citizen_sentence_uses_the_headline_numbers(report_ja: ReportData) -> None:
    # 74,770 sources and 293,252 accesses over 270 sensor-days: 277 sources, 1,086 accesses.
    text = _texts(report_ja)
    assert "277人の見知らぬ人" in text and "1,086件のアクセス" in text


def test_comparison_table_walks_back_to_the_facts(report_ja: ReportData) -> None:
    facts = sample_facts()
    assert facts.ports is not None
    by_key = {r.key: r for r in facts.ports}
    table = report_ja.table("tbl-ports")
    rows = [row for row in table.rows if row[2].value in by_key]
    assert len(rows) == 11
    for row in rows:
        r = by_key[str(row[2].value)]
        assert (row[0].value, row[1].value, row[3].value, row[5].value) == (
            r.rank, r.prev_rank, r.value, r.change_abs)
        assert row[3].text == f"{r.value:,.2f}件"


def test_missing_change_is_footnoted_not_invented(report_ja: ReportData) -> None:
    table = report_ja.table("tbl-ports")
    row = next(row for row in table.rows if row[2].value == "8909/TCP")
    assert row[4].value is None and row[4].text.endswith("※")
    assert any("8909/TCP" in n for n in table.notes)


def test_tiny_and_zero_values_read_very_few_and_not_detected() -> None:
    f = sample_facts()
    assert f.ports is not None
    rows = (*f.ports, CmpRow("1026/UDP", None, 3, 0.004, 2.8, -99.9, -2.796, None, 1),
            CmpRow("1027/UDP", None, 4, 0.0, 2.08, None, -2.08, None, 2))
    r = compose(ReportFacts(f.period, ports=rows), "ja")
    cells = {row[2].value: row[3].text for row in r.table("tbl-ports").rows}
    assert cells["1026/UDP"] == "ごく僅か" and cells["1027/UDP"] == "検知なし"


def test_no_facts_means_every_section_not_analysed() -> None:
    from teiten.core.periods import parse_period

    r = compose(ReportFacts(parse_period("2026-10")), "en")
    assert [s.key for s in r.sections if s.available] == ["methodology"]
    assert [t.id for t in r.tables()] == ["tbl-params"] and r.figures() == []


def test_every_event_sentence_names_a_table_of_the_report(report_en: ReportData) -> None:
    labels = {t.label for t in report_en.tables()}
    events = [b.text for s in report_en.sections for b in s.blocks
              if isinstance(b, Paragraph) and b.style == "event"]
    assert events
    assert all(any(lab in e for lab in labels) for e in events)


def test_tables_have_as_many_cells_as_columns(report_en: ReportData) -> None:
    for t in report_en.tables():
        assert isinstance(t, Table)
        assert all(len(row) == len(t.columns) for row in t.rows), t.id


def test_first_month_table_footnotes_the_unobserved_previous_period() -> None:
    f = sample_facts()
    rows = (CmpRow("445/TCP", 1, None, 400.0, 0.0, None, None),
            CmpRow("23/TCP", 2, None, 40.0, 0.0, None, None))
    r = compose(ReportFacts(f.period, ports=rows), "en")
    table = r.table("tbl-ports")
    assert [row[5].text for row in table.rows] == ["", ""]  # no (diff.)
    assert any("previous period was not observed" in n for n in table.notes)
    assert not any("No change %" in n for n in table.notes)


def test_backscatter_rate_states_its_extrapolation() -> None:
    import dataclasses

    f = sample_facts()
    assert f.attacks
    few = dataclasses.replace(f.attacks[0], monitored=10)
    big = dataclasses.replace(f.attacks[0], monitored=65536)
    notes = compose(ReportFacts(f.period, attacks=(few,)), "en").table("tbl-attacks").notes
    assert any("× 2³² ÷ monitored addresses (10)" in n for n in notes)
    assert any("order-of-magnitude" in n and "429,496,730" in n for n in notes)
    notes = compose(ReportFacts(f.period, attacks=(big,)), "ja").table("tbl-attacks").notes
    assert any("65,536" in n for n in notes) and not any("桁の目安" in n for n in notes)


def test_a_failed_import_inside_an_analysis_is_an_error_not_a_missing_module() -> None:
    from datetime import date

    from teiten.core.periods import Period
    from teiten.report.build import Params, _Collector

    c = _Collector(None, Period(date(2026, 10, 1), date(2026, 11, 1), "month", "UTC"), None,
                   Params(), False)

    def optional() -> None:
        raise ModuleNotFoundError("No module named 'teiten.signatures'", name="teiten.signatures")

    def broken() -> None:
        raise ImportError("cannot import name 'x' from 'teiten.detections.scans'",
                          name="teiten.detections.scans")

    c.part(("signatures",), optional)
    c.part(("scans",), broken)
    assert c.facts.reasons["signatures"] == "module not available: teiten.signatures"
    assert c.facts.reasons["scans"].startswith("ImportError: cannot import name 'x'")
