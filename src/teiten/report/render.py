"""Render a :class:`~teiten.report.model.ReportData` as HTML, Markdown or PDF.

HTML is one self-contained file: CSS, the small tooltip script and the charts (inline SVG) are
inlined, and a Content-Security-Policy allows no network access and no script but our own (by
hash) — a second wall behind escaping for anything that came off the wire. Jinja2 autoescapes
every value; only the SVG produced by :mod:`teiten.report.charts` is marked safe.

PDF is printed from that HTML by Debian's Chromium in headless mode (``--print-to-pdf``): fonts
are embedded as subsets and the text stays extractable.

Examples
--------
>>> from teiten.report.model import Paragraph, ReportData, Section, finalize
>>> r = finalize(ReportData("en", "T", "P", "Q", "2026-10", "", "0", (),
...     (Section("summary", "Summary", True, (Paragraph("<b>x</b>"),)),)))
>>> "&lt;b&gt;x&lt;/b&gt;" in render_html(r)
True
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import markupsafe

from teiten.core.errors import TeitenError
from teiten.report.i18n import Catalog
from teiten.report.model import ReportData, Table

#: Chromium flags for a quiet, offline, sandbox-free (containers) headless run.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-extensions", "--no-pdf-header-footer", "--hide-scrollbars")


class RenderError(TeitenError):
    """A report could not be rendered (e.g. no PDF renderer installed)."""


def _asset(name: str) -> str:
    return resources.files("teiten.report").joinpath("templates", name).read_text("utf-8")


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_asset),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>#])")


def md_escape(text: object) -> str:
    """Escape text for Markdown: no raw HTML, no emphasis, no table breaks, no links."""
    s = str(text).replace("&", "&amp;").replace("\r", " ").replace("\n", " ")
    s = _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;"}.get(m.group(1),
                                                                 "\\" + m.group(1)), s)
    return s


def script_and_hash() -> tuple[str, str]:
    """The inline script and its CSP source expression (``sha256-…``)."""
    js = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    return js, f"sha256-{digest}"


def render_html(report: ReportData) -> str:
    """The report as one self-contained HTML document."""
    cat = Catalog(report.lang)
    js, h = script_and_hash()
    return _env(True).get_template("report.html.j2").render(
        r=report, t=cat.t, css=markupsafe.Markup(_asset("report.css")),
        script=markupsafe.Markup(js), script_hash=h)


def _numeric_cols(table: Table) -> set[int]:
    if not table.rows:
        return set()
    return {i for i, cell in enumerate(table.rows[0]) if cell.num}


def render_markdown(report: ReportData) -> str:
    """The report as Markdown (figures are referenced by caption; tables are pipe tables)."""
    cat = Catalog(report.lang)
    labels = {t.id: t.label for t in report.tables()}
    text = _env(False).get_template("report.md.j2").render(
        r=report, t=cat.t, numeric_cols=_numeric_cols, label_of=lambda i: labels.get(i, i))
    return re.sub(r"\n{3,}", "\n\n", text)


def find_chromium() -> str | None:
    """Path of a Chromium binary (``TEITEN_CHROMIUM`` overrides), or None."""
    env = os.environ.get("TEITEN_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 120.0) -> Path:
    """Print an HTML file to PDF with headless Chromium.

    Raises
    ------
    RenderError
        No Chromium found, or it failed or timed out.
    """
    exe = find_chromium()
    if exe is None:
        raise RenderError("PDF needs Chromium: apt-get install chromium (or set TEITEN_CHROMIUM)")
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="teiten-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--print-to-pdf={pdf_path.resolve()}", Path(html_path).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise RenderError(f"Chromium did not finish printing {html_path} in {timeout:.0f} s") \
                from exc
    if proc.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise RenderError(f"Chromium failed to print {html_path}: {tail[0]}")
    return pdf_path


def write_report(report: ReportData, out_dir: Path, formats: tuple[str, ...] = ("html",),
                 stem: str | None = None) -> dict[str, Path]:
    """Write the report in ``formats`` (``html``, ``md``, ``pdf``) to ``out_dir``.

    Returns the written paths by format. The PDF is printed from the HTML file, which is
    written even when only ``pdf`` is asked for.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or f"teiten-report-{report.period_id}-{report.lang}"
    paths: dict[str, Path] = {}
    if "html" in formats or "pdf" in formats:
        html_path = out_dir / f"{stem}.html"
        _atomic_write(html_path, render_html(report))
        if "html" in formats:
            paths["html"] = html_path
        if "pdf" in formats:
            pdf = out_dir / f"{stem}.pdf"
            tmp = out_dir / f".{stem}.pdf.tmp"
            html_to_pdf(html_path, tmp)
            tmp.replace(pdf)
            paths["pdf"] = pdf
            if "html" not in formats:
                html_path.unlink()
    if "md" in formats:
        md_path = out_dir / f"{stem}.md"
        _atomic_write(md_path, render_markdown(report))
        paths["md"] = md_path
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


__all__ = ["CHROMIUM_FLAGS", "RenderError", "find_chromium", "html_to_pdf", "md_escape",
           "render_html", "render_markdown", "script_and_hash", "write_report"]
