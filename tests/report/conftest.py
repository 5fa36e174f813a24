"""Fixtures of the report tests: composed sample reports, Chromium, poppler."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teiten.report.compose import compose
from teiten.report.model import ReportData
from teiten.report.render import find_chromium

from .facts_sample import sample_facts

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def report_ja() -> ReportData:
    return compose(sample_facts(), "ja")


@pytest.fixture(scope="session")
def report_en() -> ReportData:
    return compose(sample_facts(), "en")


@pytest.fixture(scope="session")
def evil_report() -> ReportData:
    # Only the sections that carry wire text (and few charts, to keep the tests quick).
    f = dataclasses.replace(sample_facts(evil=True), trend=None, daily_ports=None,
                            daily_countries=None, hourly=None, port_shares_world=None,
                            port_by_country=None, country_shares=None, sport_profiles=None)
    return compose(f, "ja")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def need_chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return exe


def need_poppler() -> None:
    for tool in ("pdfinfo", "pdffonts", "pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            pytest.skip("poppler-utils is not installed")


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is started, which breaks any later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = need_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
        yield b
        b.close()
