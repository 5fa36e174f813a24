"""The PDF: printed by Chromium, checked with poppler."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from teiten.report.model import ReportData
from teiten.report.render import write_report

from .conftest import need_chromium, need_poppler

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pdf_ja(report_ja: ReportData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_chromium()
    need_poppler()
    return write_report(report_ja, tmp_path_factory.mktemp("pdf"), ("pdf",))["pdf"]


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_pdf_is_a4_with_several_pages(pdf_ja: Path) -> None:
    info = _run("pdfinfo", str(pdf_ja))
    pages = int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))
    assert 4 <= pages <= 30
    assert "(A4)" in info


def test_pdf_embeds_every_font(pdf_ja: Path) -> None:
    rows = _run("pdffonts", str(pdf_ja)).splitlines()[2:]
    assert rows
    # columns: name type encoding emb sub uni object gen — "emb" is the 4th from the end
    assert all(r.split()[-5] == "yes" for r in rows), rows


def test_pdf_text_has_the_japanese_tables_numbers(pdf_ja: Path, report_ja: ReportData) -> None:
    text = _run("pdftotext", "-layout", str(pdf_ja), "-")
    assert "宛先ポート検知件数" in text and "集計方法" in text
    ports = report_ja.table("tbl-ports")
    for row in ports.rows[:10]:
        assert f"{row[2].text}" in text and row[3].text in text
    assert "293,252件" in text


def test_pdf_does_not_depend_on_an_html_file_left_behind(pdf_ja: Path) -> None:
    assert not pdf_ja.with_suffix(".html").exists()


def test_pdf_first_page_renders(pdf_ja: Path, artifacts: Path) -> None:
    out = artifacts / "report-ja-page"
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf_ja), str(out)],
                   check=True)
    assert any(artifacts.glob("report-ja-page*.png"))
