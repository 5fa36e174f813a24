"""HTML and Markdown rendering: self-contained, escaped, deterministic."""

from __future__ import annotations

import re

from teiten.report.model import ReportData
from teiten.report.render import md_escape, render_html, render_markdown, script_and_hash

from .facts_sample import EVIL


def test_html_is_self_contained(report_ja: ReportData) -> None:
    html = render_html(report_ja)
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "@import" not in html and "<link" not in html


def test_html_allows_only_its_own_script(report_ja: ReportData) -> None:
    html = render_html(report_ja)
    _, digest = script_and_hash()
    assert f"script-src '{digest}'" in html and "default-src 'none'" in html
    assert html.count("<script") == 1


def test_wire_text_is_escaped_in_html(evil_report: ReportData) -> None:
    html = render_html(evil_report)
    assert EVIL not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<img" not in html


def test_wire_text_is_escaped_in_svg_tooltips(evil_report: ReportData) -> None:
    svg = next(f.svg for f in evil_report.figures() if f.id == "fig-tools")
    assert "<script" not in svg and "&lt;script&gt;" in svg


def test_every_figure_is_inline_svg_with_tooltips(report_ja: ReportData) -> None:
    html = render_html(report_ja)
    assert html.count('<svg ') == len(report_ja.figures()) > 5
    assert all("data-tip=" in f.svg for f in report_ja.figures())


def test_svg_ids_are_unique_across_the_page(report_ja: ReportData) -> None:
    ids = re.findall(r'\sid="([^"]+)"', render_html(report_ja))
    assert len(ids) == len(set(ids))


def test_rendering_is_deterministic(report_en: ReportData) -> None:
    assert render_html(report_en) == render_html(report_en)


def test_markdown_has_numbered_tables_and_escapes_wire_text(evil_report: ReportData) -> None:
    md = render_markdown(evil_report)
    assert "**表 4-1 宛先ポート検知件数**" in md
    assert "<script" not in md and "&lt;script&gt;" in md


def test_markdown_escape_keeps_tables_intact() -> None:
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_escape("[x](javascript:1)") == "\\[x\\](javascript:1)"
