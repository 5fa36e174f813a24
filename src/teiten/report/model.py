"""The report as data: typed sections of paragraphs, figures and tables.

A :class:`ReportData` is language-specific, fully composed text and numbers; the renderers
(HTML, Markdown, PDF) only lay it out. Each :class:`Section` has an ``available`` state: a
section whose analysis has not run renders a "not analysed" note instead of content, and the
methodology lists it.

Figures and tables are numbered per section the way the NPA report numbers them (``図 3-1``,
``表 3-1``) by :func:`finalize`, which also resolves references written in text as ``⟦id⟧``.

Examples
--------
>>> t = Table("tbl-x", "Ports", ("Port", "Value"), ((Cell("445/TCP"), Cell("1.00", 1.0)),))
>>> s = Section("ports", "By port", True, (Paragraph("See ⟦tbl-x⟧."), t))
>>> r = finalize(ReportData("en", "T", "P", "Q", "2026-10", "", "0", (), (s,)))
>>> r.sections[0].blocks[1].label, r.sections[0].blocks[0].text
('Table 1-1', 'See Table 1-1.')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from teiten.report.i18n import Catalog

#: A reference to a figure or table in running text, resolved by :func:`finalize`.
REF_RE = re.compile(r"⟦([a-z0-9][a-z0-9_-]{0,63})⟧")


def ref(block_id: str) -> str:
    """The in-text reference token for a figure or table id."""
    return f"⟦{block_id}⟧"


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: the text shown and, for numbers, the value it shows.

    ``value`` lets tests walk a table and compare it with the analysis it came from.
    """

    text: str
    value: float | int | str | None = None
    num: bool = False
    cls: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """A numbered table with a caption; ``source`` names the analysis behind the numbers."""

    id: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = ()
    source: str = ""
    label: str = ""
    kind: Literal["table"] = "table"


@dataclass(frozen=True, slots=True)
class Figure:
    """A numbered figure: an inline SVG chart; ``data_table`` is the table holding its numbers."""

    id: str
    caption: str
    svg: str
    source: str = ""
    data_table: str | None = None
    label: str = ""
    kind: Literal["figure"] = "figure"


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Running text. ``style`` is ``p``, ``lead`` (emphasised), ``note`` or ``event``."""

    text: str
    style: Literal["p", "lead", "note", "event"] = "p"
    kind: Literal["paragraph"] = "paragraph"


@dataclass(frozen=True, slots=True)
class Heading:
    """A sub-heading inside a section (``(1) 概要``)."""

    text: str
    kind: Literal["heading"] = "heading"


Block = Paragraph | Figure | Table | Heading


@dataclass(frozen=True, slots=True)
class Section:
    """One numbered section.

    Parameters
    ----------
    key : str
        Stable id (``summary``, ``ports``…), used as the HTML anchor.
    title : str
        Localised title.
    available : bool
        False when the analysis behind the section has not run; ``reason`` says why.
    blocks : tuple
        Paragraphs, headings, figures and tables in reading order.
    """

    key: str
    title: str
    available: bool
    blocks: tuple[Block, ...] = ()
    reason: str = ""
    number: int = 0


@dataclass(frozen=True, slots=True)
class ReportData:
    """A composed report in one language (see :func:`teiten.report.build.compose`)."""

    lang: str
    title: str
    period_label: str
    prev_label: str
    period_id: str
    generated_at: str
    version: str
    highlights: tuple[str, ...]
    sections: tuple[Section, ...]
    meta: dict[str, str] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        """Every table, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        """Every figure, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]

    def table(self, block_id: str) -> Table:
        """The table with id ``block_id`` (KeyError if absent)."""
        for t in self.tables():
            if t.id == block_id:
                return t
        raise KeyError(block_id)


def finalize(report: ReportData) -> ReportData:
    """Number sections, figures and tables, and resolve ``⟦id⟧`` references in text.

    A reference to a block that is not in the report is left as its bare id, so a missing table
    is visible rather than silently dropped.
    """
    cat = Catalog(report.lang)
    labels: dict[str, str] = {}
    numbered: list[Section] = []
    for si, sec in enumerate(report.sections, start=1):
        nf = nt = 0
        blocks: list[Block] = []
        for b in sec.blocks:
            if isinstance(b, Figure):
                nf += 1
                b = replace(b, label=cat.t("doc.figure", n=f"{si}-{nf}"))
                labels[b.id] = b.label
            elif isinstance(b, Table):
                nt += 1
                b = replace(b, label=cat.t("doc.table", n=f"{si}-{nt}"))
                labels[b.id] = b.label
            blocks.append(b)
        numbered.append(replace(sec, number=si, blocks=tuple(blocks)))

    def resolve(text: str) -> str:
        return REF_RE.sub(lambda m: labels.get(m.group(1), m.group(1)), text)

    out: list[Section] = []
    for sec in numbered:
        blocks = []
        for b in sec.blocks:
            if isinstance(b, Paragraph):
                b = replace(b, text=resolve(b.text))
            elif isinstance(b, Table):
                b = replace(b, notes=tuple(resolve(n) for n in b.notes))
            elif isinstance(b, Figure):
                b = replace(b, caption=resolve(b.caption))
            blocks.append(b)
        out.append(replace(sec, blocks=tuple(blocks)))
    return replace(report, sections=tuple(out),
                   highlights=tuple(resolve(h) for h in report.highlights))


__all__ = ["REF_RE", "Block", "Cell", "Figure", "Heading", "Paragraph", "ReportData", "Section",
           "Table", "finalize", "ref"]
