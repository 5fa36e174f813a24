"""The message catalog and number formats."""

from __future__ import annotations

import pytest

from teiten.core.errors import ConfigError
from teiten.report.i18n import (
    LANGS,
    Catalog,
    fmt_pct,
    fmt_signed,
    load_messages,
    placeholders,
    range_label,
)


def test_every_message_has_both_languages() -> None:
    missing = [k for k, v in load_messages().items() if set(v) != set(LANGS)]
    assert missing == []


def test_both_languages_use_the_same_placeholders() -> None:
    # Only the month label differs on purpose: 10月 against October.
    diff = [k for k, v in load_messages().items()
            if placeholders(v["ja"]) != placeholders(v["en"]) and k != "period.month"]
    assert diff == []


def test_unknown_language_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Catalog("fr")


def test_japanese_signs_are_full_width_as_in_the_npa_tables() -> None:
    assert fmt_pct(-14.04, "ja") == "－14.0%"
    assert fmt_signed(1.07, "ja") == "＋1.07"
    assert fmt_pct(11.9, "en") == "+11.9%"


def test_whole_month_range_reads_as_the_month() -> None:
    from datetime import date

    assert range_label(date(2026, 10, 1), date(2026, 10, 31), "ja") == "2026年10月"
    assert range_label(date(2026, 10, 1), date(2026, 10, 31), "en") == "October 2026"
    assert range_label(date(2026, 10, 1), date(2026, 10, 15), "en") == "1 Oct 2026 to 15 Oct 2026"
