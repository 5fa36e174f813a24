"""A representative time zone per country, for the hourly profile in the source's local time.

Countries with one zone use it (``zone.tab`` of the IANA database shipped by :mod:`tzdata`);
countries spanning several zones use the zone of their largest population centre (below);
the rest use the first zone ``zone.tab`` lists for them. Unknown countries have none.

>>> country_timezone("JP"), country_timezone("US"), country_timezone(None)
('Asia/Tokyo', 'America/New_York', None)
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Final

#: Multi-zone countries: the zone of the largest population centre.
REPRESENTATIVE: Final[dict[str, str]] = {
    "US": "America/New_York", "RU": "Europe/Moscow", "CN": "Asia/Shanghai",
    "BR": "America/Sao_Paulo", "CA": "America/Toronto", "AU": "Australia/Sydney",
    "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon", "DE": "Europe/Berlin", "UA": "Europe/Kyiv", "MN": "Asia/Ulaanbaatar",
    "CD": "Africa/Kinshasa", "EC": "America/Guayaquil", "NZ": "Pacific/Auckland",
    "MY": "Asia/Kuala_Lumpur", "UZ": "Asia/Tashkent", "GL": "America/Nuuk",
}


@lru_cache(maxsize=1)
def _zone_tab() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    first: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cc, _coords, tz = line.split("\t")[:3]
        first.setdefault(cc, tz)
    return first


def country_timezone(code: str | None) -> str | None:
    """The representative IANA time zone of a country code, or None."""
    if code is None:
        return None
    c = code.upper()
    return REPRESENTATIVE.get(c) or _zone_tab().get(c)
