"""Charts for the report: matplotlib figures rendered to inline SVG with Japanese text.

Each chart function takes plain numbers (already computed by an analysis) and returns an SVG
string ready to inline in HTML: no XML prolog, ids prefixed with the figure id (several charts
share one page), a ``viewBox`` so it scales to the page, and hover tooltips — every bar or point
carries ``data-tip`` and a ``<title>`` (the browser shows the title even without JavaScript).
Text is drawn as paths with Noto Sans CJK JP, so charts look the same everywhere.

Examples
--------
>>> svg = bar_compare("fig-x", ["445/TCP", "23/TCP"], [3.0, 1.0], [2.0, 2.0], ("10月", "11月"))
>>> svg.startswith("<svg") and 'data-tip="445/TCP' in svg
True
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib import font_manager
from matplotlib.patches import Rectangle

#: The font charts use; Debian package fonts-noto-cjk.
FONT_NAME: Final = "Noto Sans CJK JP"
_FONT_FILES: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
#: Colour-blind-friendly palette (Okabe–Ito without black, then a few more distinct hues).
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                  "#8C6D31", "#5254A3", "#7F7F7F", "#17BECF", "#9E2A2B")
#: The "other" segment is always this light grey.
OTHER_COLOUR: Final = "#C8C8C8"
#: Labels drawn as "other" (the catalog's ja and en words).
OTHER_LABELS: Final = frozenset({"その他", "Other", "other"})


@cache
def setup_fonts() -> str:
    """Register Noto Sans CJK JP with matplotlib and set deterministic SVG output.

    Returns the font family actually used (a fallback if the Debian font is missing, in which
    case Japanese glyphs will not render — the report tests require the font).
    """
    for f in _FONT_FILES:
        if Path(f).exists():
            font_manager.fontManager.addfont(f)
    names = {f.name for f in font_manager.fontManager.ttflist}
    family = FONT_NAME if FONT_NAME in names else "DejaVu Sans"
    matplotlib.rcParams.update({
        "font.family": [family, "DejaVu Sans"],
        "svg.fonttype": "path",
        "svg.hashsalt": "teiten",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "font.size": 9,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
    })
    return family


class _Tips:
    """Collects tooltip texts for artists; applied to the SVG after saving."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, artist: Any, text: str) -> None:
        artist.set_gid(f"tip{len(self.texts)}")
        self.texts.append(text)


def _new(width: float = 7.2, height: float = 3.2) -> tuple[Any, Any]:
    setup_fonts()
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _finish(fig: Any, fig_id: str, tips: _Tips, alt: str = "") -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return _inline_svg(buf.getvalue(), fig_id, tips.texts, alt)


_ID_RE = re.compile(r'id="([^"]+)"')


def _inline_svg(svg: str, fig_id: str, tips: Sequence[str], alt: str) -> str:
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # matplotlib's `*{...}` style would leak into the whole HTML page; report.css sets it.
    svg = re.sub(r'<style type="text/css">.*?</style>', "", svg, flags=re.S)
    ids = set(_ID_RE.findall(svg))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{fig_id}-{old}"
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f'"#{old}"', f'"#{new}"')
        svg = svg.replace(f"url(#{old})", f"url(#{new})")
    for i, text in enumerate(tips):
        esc = html.escape(text, quote=True)
        svg = svg.replace(f'<g id="{fig_id}-tip{i}">',
                          f'<g id="{fig_id}-tip{i}" class="tip" data-tip="{esc}">'
                          f"<title>{esc}</title>", 1)
    # Scale with the page: keep the viewBox, drop fixed width/height of the root element.
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
                 r'<svg\1 class="chart" role="img"', svg, count=1)
    if alt:
        svg = svg.replace(">", f"><desc>{html.escape(alt)}</desc>", 1)
    return svg.strip()


def trend(fig_id: str, periods: Sequence[str], accesses: Sequence[float],
          sources: Sequence[float], acc_label: str, src_label: str) -> str:
    """Bars of accesses and a line of sources per point per day, one per period (図5-1)."""
    fig, ax = _new(7.2, 3.0)
    tips = _Tips()
    x = list(range(len(periods)))
    bars = ax.bar(x, accesses, color=PALETTE[0], width=0.55, label=acc_label)
    for xi, b, v in zip(x, bars, accesses, strict=True):
        tips.add(b, f"{periods[xi]}\n{acc_label}: {v:,.1f}\n{src_label}: {sources[xi]:,.1f}")
        ax.annotate(f"{v:,.0f}", (xi, v), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel(acc_label)
    ax.set_xticks(x, list(periods))
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    (line,) = ax2.plot(x, sources, color=PALETTE[3], marker="o", label=src_label)
    ax2.set_ylabel(src_label)
    ax2.set_ylim(0, max([*sources, 1.0]) * 1.25)
    ax.set_ylim(0, max([*accesses, 1.0]) * 1.18)
    ax.legend([bars, line], [acc_label, src_label], loc="upper left", frameon=False, ncols=2,
              bbox_to_anchor=(0, 1.12))
    return _finish(fig, fig_id, tips, f"{acc_label} / {src_label}")


def _hover_bands(ax: Any, tips: _Tips, x: Sequence[int], texts: Sequence[str]) -> None:
    """One invisible full-height band per x position, whose tooltip lists every series."""
    top = ax.get_ylim()[1]
    bands = ax.bar(list(x), [top] * len(x), width=1.0, bottom=0, alpha=0.0, zorder=0)
    for b, text in zip(bands, texts, strict=True):
        tips.add(b, text)
    ax.set_ylim(0, top)


def lines(fig_id: str, days: Sequence[date], series: Sequence[tuple[str, Sequence[float]]],
          ylabel: str) -> str:
    """Daily series, one line per key (a port or a country); hovering a day lists its values."""
    fig, ax = _new(7.2, 3.2)
    tips = _Tips()
    x = list(range(len(days)))
    for i, (name, ys) in enumerate(series):
        ax.plot(x, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.6, label=name)
    step = max(1, len(days) // 8)
    ax.set_xticks(x[::step], [f"{d.month}/{d.day}" for d in days[::step]])
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    _hover_bands(ax, tips, x, [
        d.isoformat() + "\n" + "\n".join(f"{name}: {ys[i]:,.2f}" for name, ys in series)
        for i, d in enumerate(days)])
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _finish(fig, fig_id, tips, ylabel)


def stacked_shares(fig_id: str, rows: Sequence[tuple[str, Sequence[tuple[str, float]]]],
                   colours: dict[str, str] | None = None) -> str:
    """Horizontal 100% bars: for each row (world, a country) the share of each segment."""
    height = 0.9 + 0.42 * len(rows)
    fig, ax = _new(7.2, height)
    ax.grid(False)
    tips = _Tips()
    seg_names: list[str] = []
    for _, segs in rows:
        for name, _ in segs:
            if name not in seg_names:
                seg_names.append(name)
    cmap = dict(colours or {})
    i = 0
    for name in seg_names:
        if name in OTHER_LABELS:
            cmap.setdefault(name, OTHER_COLOUR)
        elif name not in cmap:
            cmap[name] = PALETTE[i % len(PALETTE)]
            i += 1
    labels = [r for r, _ in rows]
    for yi, (row, segs) in enumerate(rows):
        left = 0.0
        for name, share in segs:
            (b,) = ax.barh([yi], [share * 100], left=[left], color=cmap[name], height=0.62,
                           edgecolor="white", linewidth=0.5)
            tips.add(b, f"{row} / {name}: {share * 100:.1f}%")
            if share >= 0.085:
                dark = cmap[name] in ("#0072B2", "#009E73", "#D55E00", "#5254A3", "#8C6D31",
                                      "#9E2A2B", "#7F7F7F")
                ax.text(left + share * 50, yi, name, ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
            left += share * 100
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    seg_names = [n for n in seg_names if n not in OTHER_LABELS] + [
        n for n in seg_names if n in OTHER_LABELS]
    handles = [Rectangle((0, 0), 1, 1, color=cmap[n]) for n in seg_names]
    ax.legend(handles, seg_names, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
              fontsize=7)
    return _finish(fig, fig_id, tips)


def bar_compare(fig_id: str, labels: Sequence[str], current: Sequence[float],
                previous: Sequence[float], legend: tuple[str, str]) -> str:
    """Grouped bars, previous vs current period per key (図5-2 of the IPA report)."""
    fig, ax = _new(7.2, 3.2)
    tips = _Tips()
    x = list(range(len(labels)))
    w = 0.38
    prev_bars = ax.bar([i - w / 2 for i in x], previous, width=w, color=PALETTE[9],
                       label=legend[0])
    cur_bars = ax.bar([i + w / 2 for i in x], current, width=w, color=PALETTE[0],
                      label=legend[1])
    for lab, b, v in zip(labels, prev_bars, previous, strict=True):
        tips.add(b, f"{lab} ({legend[0]}): {v:,.2f}")
    for lab, b, v in zip(labels, cur_bars, current, strict=True):
        tips.add(b, f"{lab} ({legend[1]}): {v:,.2f}")
    ax.set_xticks(x, list(labels), rotation=30, ha="right")
    ax.legend(frameon=False)
    return _finish(fig, fig_id, tips)


def hbars(fig_id: str, labels: Sequence[str], values: Sequence[float], xlabel: str,
          fmt: str = "{:,.1f}%") -> str:
    """Horizontal bars, largest first (shares of source ports, countries, tools)."""
    fig, ax = _new(7.2, 0.8 + 0.3 * len(labels))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    tips = _Tips()
    bars = ax.barh(range(len(labels)), values, color=PALETTE[0], height=0.6)
    for lab, b, v in zip(labels, bars, values, strict=True):
        tips.add(b, f"{lab}: {fmt.format(v)}")
        ax.annotate(fmt.format(v), (v, b.get_y() + b.get_height() / 2), va="center",
                    fontsize=7, xytext=(3, 0), textcoords="offset points")
    ax.set_yticks(range(len(labels)), list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, max([*values, 1e-9]) * 1.15)
    return _finish(fig, fig_id, tips)


def hourly(fig_id: str, series: Sequence[tuple[str, Sequence[float]]], xlabel: str,
           ylabel: str) -> str:
    """Accesses by hour of day (0–23), one line per clock (UTC, source local time)."""
    fig, ax = _new(7.2, 2.8)
    tips = _Tips()
    hours = list(range(24))
    for i, (name, ys) in enumerate(series):
        ax.plot(hours, ys, color=PALETTE[i % len(PALETTE)], marker="o", markersize=3,
                label=name)
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    _hover_bands(ax, tips, hours, [
        f"{h:02d}:00\n" + "\n".join(f"{name}: {ys[h]:,.0f}" for name, ys in series)
        for h in hours])
    ax.set_xlim(-0.5, 23.5)
    ax.legend(frameon=False)
    return _finish(fig, fig_id, tips)


__all__ = ["FONT_NAME", "PALETTE", "bar_compare", "hbars", "hourly", "lines", "setup_fonts",
           "stacked_shares", "trend"]
