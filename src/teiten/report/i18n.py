"""Japanese and English strings and number formats for the report.

Every sentence the report prints comes from ``messages.toml`` (one table per key with ``ja`` and
``en``), filled only with values computed from analysis results.

Examples
--------
>>> cat = Catalog("ja")
>>> cat.t("unit.count", n=fmt_int(1234))
'1,234件'
>>> Catalog("en").t("section.ports")
'By destination port'
>>> fmt_pct(-14.04, "ja")
'－14.0%'
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Final

from teiten.core.errors import ConfigError

LANGS: Final = ("ja", "en")

_MONTHS_EN: Final = ("January", "February", "March", "April", "May", "June", "July", "August",
                     "September", "October", "November", "December")


@cache
def load_messages() -> dict[str, dict[str, str]]:
    """The catalog as ``{key: {"ja": ..., "en": ...}}`` (flattened dotted keys)."""
    text = resources.files("teiten.report").joinpath("messages.toml").read_text("utf-8")
    data = tomllib.loads(text)
    out: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        leaf = {k: v for k, v in node.items() if isinstance(v, str)}
        if leaf:
            out[prefix] = leaf
        for k, v in node.items():
            if isinstance(v, dict):
                walk(f"{prefix}.{k}" if prefix else k, v)

    walk("", data)
    return out


def placeholders(template: str) -> set[str]:
    """Names of the format fields used in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True, slots=True)
class Catalog:
    """Messages in one language.

    Parameters
    ----------
    lang : str
        ``"ja"`` or ``"en"``.
    """

    lang: str

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise ConfigError(f"unknown report language {self.lang!r} (use ja or en)")

    def t(self, key: str, **fields: object) -> str:
        """The message ``key`` filled with ``fields`` (a missing key is a programming error)."""
        template = load_messages()[key][self.lang]
        return template.format(**fields) if fields else template

    def has(self, key: str) -> bool:
        """Whether the catalog holds ``key``."""
        return key in load_messages()

    @property
    def is_ja(self) -> bool:
        """True for the Japanese catalog."""
        return self.lang == "ja"


def fmt_int(n: float | int) -> str:
    """Integer with thousands separators: ``293,252``."""
    return f"{round(n):,}"


def fmt_num(x: float, digits: int = 2) -> str:
    """Decimal with thousands separators and fixed digits: ``1,086.00``."""
    return f"{x:,.{digits}f}"


def fmt_signed(x: float, lang: str, digits: int = 2) -> str:
    """A signed difference; Japanese uses full-width signs as the seed tables do."""
    plus, minus = ("＋", "－") if lang == "ja" else ("+", "−")
    body = f"{abs(x):,.{digits}f}"
    if float(body.replace(",", "")) == 0:
        return "±" + body
    return (plus if x > 0 else minus) + body


def fmt_pct(x: float, lang: str, digits: int = 1) -> str:
    """A signed percentage: ``－14.0%`` (ja) or ``−14.0%`` (en)."""
    return fmt_signed(x, lang, digits) + "%"


def fmt_share(x: float, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: ``12.3%``."""
    return f"{100.0 * x:.{digits}f}%"


def month_label(year: int, month: int, lang: str) -> str:
    """``2026年10月`` or ``October 2026``."""
    return Catalog(lang).t("period.month", year=year, month=month,
                           month_name=_MONTHS_EN[month - 1])


def date_label(d: date, lang: str) -> str:
    """``2026年10月5日`` or ``5 Oct 2026``."""
    if lang == "ja":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS_EN[d.month - 1][:3]} {d.year}"


def range_label(start: date, end_inclusive: date, lang: str) -> str:
    """Label of a date range: a whole month reads as the month."""
    nxt = date(end_inclusive.year + (end_inclusive.month == 12), end_inclusive.month % 12 + 1, 1)
    if start.day == 1 and (end_inclusive.toordinal() + 1) == nxt.toordinal():
        if start.year == end_inclusive.year and start.month == end_inclusive.month:
            return month_label(start.year, start.month, lang)
        return Catalog(lang).t("period.range", start=month_label(start.year, start.month, lang),
                               end=month_label(end_inclusive.year, end_inclusive.month, lang))
    return Catalog(lang).t("period.range", start=date_label(start, lang),
                           end=date_label(end_inclusive, lang))


__all__ = ["LANGS", "Catalog", "date_label", "fmt_int", "fmt_num", "fmt_pct", "fmt_share",
           "fmt_signed", "load_messages", "month_label", "placeholders", "range_label"]
