"""The monthly situation report: HTML, PDF and Markdown, in Japanese and English.

Pipeline: analysis results → :class:`~teiten.report.facts.ReportFacts` (language-neutral numbers,
one optional field per section) → :func:`~teiten.report.compose.compose` (a numbered, localised
:class:`~teiten.report.model.ReportData`) → :mod:`teiten.report.render` (HTML, Markdown, PDF).
:func:`teiten.report.build.collect` gathers the facts from a store.

The report reads analysis results only, never raw packets.
"""

from __future__ import annotations

from teiten.report.compose import compose
from teiten.report.facts import ReportFacts
from teiten.report.model import ReportData
from teiten.report.render import render_html, render_markdown, write_report

__all__ = ["ReportData", "ReportFacts", "compose", "render_html", "render_markdown",
           "write_report"]
