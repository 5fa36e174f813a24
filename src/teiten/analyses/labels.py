"""Labels for keys in result tables: ports, protocols, countries, comparison states.

* Port labels follow the seed reports: ``445/TCP``, ``1434/UDP``; ICMP by type, ``8/ICMP``;
  ICMPv6 ``128/ICMPv6``; other protocols by number, ``proto 47``; a TCP/UDP packet without a
  port (a later fragment) is ``?/TCP``.
* :func:`glossary` gives a bilingual note for the ports a darknet sees most
  (``data/port_glossary.toml``); :func:`service_name` the IANA service name for the rest
  (``data/services.csv``, taken from the IANA registry as shipped in Debian's netbase).
* :func:`country_name` gives English and Japanese names from pycountry's ISO 3166 data and its
  gettext translations, with the short forms the Japanese reports use (米国, 韓国, ロシア…).

Examples
--------
>>> port_label(6, 445), port_label(1, 8), port_label(47, None)
('445/TCP', '8/ICMP', 'proto 47')
>>> country_name("US", "ja"), country_name("KR", "en")
('米国', 'South Korea')
>>> service_name(6, 1433)
'ms-sql-s'
"""

from __future__ import annotations

import csv
import gettext
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

Lang = Literal["ja", "en"]

#: Protocol numbers with a name in port labels.
PROTO_NAMES: Final[dict[int, str]] = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP"}

#: What the comparison tables print for a value below the display floor or zero.
STATUS_TEXT: Final[dict[str, dict[str, str]]] = {
    "very_few": {"ja": "ごく僅か", "en": "very few"},
    "not_detected": {"ja": "検知なし", "en": "not detected"},
}

#: Short country names as the Japanese (NPA/IPA) and English reports write them.
_SHORT: Final[dict[str, dict[str, str]]] = {
    "ja": {
        "US": "米国", "KR": "韓国", "KP": "北朝鮮", "RU": "ロシア", "TW": "台湾", "GB": "英国",
        "VN": "ベトナム", "IR": "イラン", "SY": "シリア", "VE": "ベネズエラ", "BO": "ボリビア",
        "TZ": "タンザニア", "MD": "モルドバ", "LA": "ラオス", "HK": "香港", "MO": "マカオ",
        "CZ": "チェコ", "NL": "オランダ", "PS": "パレスチナ",
    },
    "en": {
        "US": "United States", "KR": "South Korea", "KP": "North Korea", "RU": "Russia",
        "TW": "Taiwan", "GB": "United Kingdom", "VN": "Vietnam", "IR": "Iran", "SY": "Syria",
        "VE": "Venezuela", "BO": "Bolivia", "TZ": "Tanzania", "MD": "Moldova", "LA": "Laos",
        "CZ": "Czechia",
    },
}


def port_label(proto: int | None, port: int | None) -> str:
    """The label of a destination port (or ICMP type) under a protocol.

    >>> port_label(17, 1434), port_label(58, 128), port_label(6, None)
    ('1434/UDP', '128/ICMPv6', '?/TCP')
    """
    if proto is None:
        return "other"
    name = PROTO_NAMES.get(int(proto))
    if name is None:
        return f"proto {int(proto)}"
    return f"{'?' if port is None else int(port)}/{name}"


def port_labels(proto: pa.Array | pa.ChunkedArray, port: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`port_label` over result columns (Arrow compute, no Python loop)."""
    proto = pa.array(proto) if not isinstance(proto, pa.ChunkedArray) else proto.combine_chunks()
    port = pa.array(port) if not isinstance(port, pa.ChunkedArray) else port.combine_chunks()
    if not len(proto):
        return pa.array([], pa.string())
    num = pc.fill_null(pc.cast(port, pa.string()), "?")
    known = pa.array(list(PROTO_NAMES), pa.uint8())
    names = pa.array(list(PROTO_NAMES.values()), pa.string())
    pname = pc.take(names, pc.index_in(pc.cast(proto, pa.uint8()), known))
    named = pc.binary_join_element_wise(num, pname, "/")
    other = pc.binary_join_element_wise(pa.scalar("proto"), pc.cast(proto, pa.string()), " ")
    out = pc.if_else(pc.is_null(pname), other, named)
    return pc.fill_null(out, "other").combine_chunks() if isinstance(
        out, pa.ChunkedArray) else pc.fill_null(out, "other")


def parse_port_label(label: str) -> tuple[int, int | None]:
    """Inverse of :func:`port_label`: ``"1521/TCP"`` → ``(6, 1521)``.

    >>> parse_port_label("8/icmp"), parse_port_label("proto 47")
    ((1, 8), (47, None))
    """
    from teiten.core.errors import UsageError

    t = label.strip()
    if t.lower().startswith("proto "):
        return int(t[6:]), None
    num, _, name = t.partition("/")
    by_name = {v.upper(): k for k, v in PROTO_NAMES.items()}
    if name.upper() not in by_name or not (num.isdigit() or num == "?"):
        raise UsageError(f"not a port label: {label!r} (expected e.g. 445/TCP, 8/ICMP)")
    return by_name[name.upper()], None if num == "?" else int(num)


@lru_cache(maxsize=1)
def _glossary() -> dict[str, dict[str, str]]:
    text = resources.files("teiten.analyses").joinpath("data/port_glossary.toml").read_text(
        encoding="utf-8"
    )
    return {p["label"]: {"ja": p["ja"], "en": p["en"]} for p in tomllib.loads(text)["port"]}


def glossary(label: str, lang: Lang = "ja") -> str | None:
    """The glossary note for a port label, or None when the port has no entry.

    >>> glossary("445/TCP", "en").startswith("Microsoft Windows file sharing")
    True
    """
    entry = _glossary().get(label)
    return entry[lang] if entry else None


def glossary_labels() -> list[str]:
    """Every port label that has a glossary entry."""
    return list(_glossary())


@lru_cache(maxsize=1)
def _services() -> dict[tuple[int, int], str]:
    by_name = {v: k for k, v in PROTO_NAMES.items()}
    text = resources.files("teiten.analyses").joinpath("data/services.csv").read_text()
    return {
        (by_name[r["proto"]], int(r["port"])): r["service"]
        for r in csv.DictReader(text.splitlines())
    }


def service_name(proto: int, port: int) -> str | None:
    """IANA service name of a TCP/UDP/SCTP port, or None."""
    return _services().get((int(proto), int(port)))


@lru_cache(maxsize=2)
def _translation(lang: str) -> gettext.NullTranslations:
    import pycountry

    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
    except OSError:  # pragma: no cover - pycountry always ships ja
        return gettext.NullTranslations()


@lru_cache(maxsize=1024)
def country_name(code: str | None, lang: Lang = "en") -> str:
    """Country name for an ISO 3166 alpha-2 code in ``ja`` or ``en``; the code if unknown.

    ``None`` (no country known) reads 不明 / unknown.
    """
    import pycountry

    if code is None:
        return "不明" if lang == "ja" else "unknown"
    short = _SHORT[lang].get(code.upper())
    if short:
        return short
    c = pycountry.countries.get(alpha_2=code.upper())
    if c is None:
        return code
    name = getattr(c, "common_name", None) or c.name
    if lang == "ja":
        return _translation("ja").gettext(c.name)
    return str(name)


def country_names(codes: pa.Array | pa.ChunkedArray, lang: Lang) -> pa.Array:
    """Vectorised :func:`country_name` over a result column (one lookup per distinct code)."""
    arr = codes.combine_chunks() if isinstance(codes, pa.ChunkedArray) else pa.array(codes)
    arr = pc.cast(arr, pa.string())
    if not len(arr):
        return pa.array([], pa.string())
    enc = pc.dictionary_encode(pc.fill_null(arr, "\x00"))
    names = pa.array([country_name(None if c == "\x00" else c, lang)
                      for c in enc.dictionary.to_pylist()], pa.string())
    return pc.take(names, enc.indices)


def status_text(status: str, lang: Lang = "ja") -> str:
    """Text for a comparison status (``very_few`` → ごく僅か, ``not_detected`` → 検知なし)."""
    return STATUS_TEXT[status][lang]


def null_to(arr: pa.Array | pa.ChunkedArray, value: str) -> pa.Array:
    """Replace nulls in a string column (for printing)."""
    return pc.fill_null(arr, value)


__all__ = [
    "PROTO_NAMES",
    "STATUS_TEXT",
    "country_name",
    "country_names",
    "glossary",
    "glossary_labels",
    "parse_port_label",
    "port_label",
    "port_labels",
    "service_name",
    "status_text",
]
