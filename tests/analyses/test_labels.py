"""Port labels, glossary, service names and country names."""

from __future__ import annotations

import doctest

import pytest

from teiten.analyses import labels
from teiten.analyses.labels import (
    country_name,
    glossary,
    glossary_labels,
    parse_port_label,
    port_label,
    service_name,
)
from teiten.core.errors import UsageError


def test_doctests() -> None:
    assert doctest.testmod(labels).failed == 0


@pytest.mark.parametrize(("proto", "port", "label"), [
    (6, 445, "445/TCP"), (17, 1434, "1434/UDP"), (1, 8, "8/ICMP"), (1, 0, "0/ICMP"),
    (58, 128, "128/ICMPv6"), (47, None, "proto 47"), (6, None, "?/TCP"),
])
def test_port_label(proto: int, port: int | None, label: str) -> None:
    assert port_label(proto, port) == label
    assert parse_port_label(label) == (proto, port)


def test_parse_port_label_rejects_garbage() -> None:
    with pytest.raises(UsageError):
        parse_port_label("445/XYZ")


def test_glossary_is_bilingual_for_every_entry() -> None:
    assert len(glossary_labels()) >= 25
    for lab in glossary_labels():
        assert glossary(lab, "ja") and glossary(lab, "en")
        parse_port_label(lab)


def test_glossary_missing_port_is_none() -> None:
    assert glossary("31337/UDP") is None


def test_service_name_from_iana_list() -> None:
    assert service_name(6, 22) == "ssh"
    assert service_name(6, 65000) is None


@pytest.mark.parametrize(("code", "ja", "en"), [
    ("CN", "中国", "China"), ("JP", "日本", "Japan"), ("KR", "韓国", "South Korea"),
    ("US", "米国", "United States"), ("BR", "ブラジル", "Brazil"), (None, "不明", "unknown"),
])
def test_country_names(code: str | None, ja: str, en: str) -> None:
    assert country_name(code, "ja") == ja
    assert country_name(code, "en") == en


def test_unknown_country_code_reads_as_itself() -> None:
    assert country_name("XX", "en") == "XX"
