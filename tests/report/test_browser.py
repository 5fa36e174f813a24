"""The HTML report in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from teiten.report.model import ReportData
from teiten.report.render import write_report

pytestmark = pytest.mark.browser


def _open(browser: Any, path: Path, width: int = 1100) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: problems.append(f"request: {r.url}")
            if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-ready='1']", timeout=10_000)
    return page, problems


def test_report_opens_without_errors_and_draws_every_figure(
        browser: Any, report_ja: ReportData, tmp_path: Path, artifacts: Path) -> None:
    html = write_report(report_ja, tmp_path, ("html",))["html"]
    page, problems = _open(browser, html)
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('figure.fig')).map(f => {
        const s = f.querySelector('svg.chart'); if (!s) return [0, 0, 0];
        const b = s.getBoundingClientRect();
        return [b.width, b.height, s.querySelectorAll('path').length]; })""")
    page.screenshot(path=str(artifacts / "report-ja-desktop.png"), full_page=True)
    page.close()
    assert problems == []
    assert len(sizes) == len(report_ja.figures())
    assert all(w > 300 and h > 50 and n > 10 for w, h, n in sizes), sizes


def test_report_fits_a_phone_screen(browser: Any, report_en: ReportData, tmp_path: Path,
                                    artifacts: Path) -> None:
    html = write_report(report_en, tmp_path, ("html",))["html"]
    page, problems = _open(browser, html, width=390)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(artifacts / "report-en-phone.png"))
    page.close()
    assert problems == [] and overflow <= 390


def test_tooltip_shows_the_bar_value(browser: Any, report_en: ReportData,
                                     tmp_path: Path) -> None:
    html = write_report(report_en, tmp_path, ("html",))["html"]
    page, _ = _open(browser, html)
    bar = page.locator("#fig-ports-compare g.tip").first
    bar.scroll_into_view_if_needed()
    bar.hover()
    tip = page.locator("#tooltip")
    text = tip.text_content() or ""
    visible = tip.is_visible()
    page.close()
    assert visible and text.startswith("445/TCP")


def test_injected_markup_does_not_execute(browser: Any, evil_report: ReportData,
                                          tmp_path: Path) -> None:
    html = write_report(evil_report, tmp_path, ("html",))["html"]
    page, problems = _open(browser, html)
    pwned = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
    imgs = page.evaluate("document.querySelectorAll('img').length")
    shown = page.locator("#tbl-payloads").inner_text()
    page.close()
    assert pwned is None and imgs == 0
    assert "<script>window.__pwned=1</script>" in shown
    assert problems == []
