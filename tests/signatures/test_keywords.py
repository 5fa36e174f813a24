"""Integer keywords, flags and ip_proto (Suricata's integer grammar and tcp.flags)."""

from __future__ import annotations

import numpy as np
import pytest

from teiten.signatures.errors import RuleSyntaxError
from teiten.signatures.keywords import FlagsTest, FragbitsTest, IntTest, parse_ip_proto

X = np.arange(0, 12)


def hits(expr: str) -> list[int]:
    return X[IntTest.parse(expr).test(X)].tolist()


@pytest.mark.parametrize(("expr", "want"), [
    ("5", [5]), ("=5", [5]), ("!5", [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]),
    ("!=5", [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]), ("<3", [0, 1, 2]), ("<=3", [0, 1, 2, 3]),
    (">9", [10, 11]), (">=9", [9, 10, 11]), ("0x0a", [10]),
])
def test_comparisons(expr: str, want: list[int]) -> None:
    assert hits(expr) == want


def test_range_is_exclusive() -> None:
    assert hits("3-6") == [4, 5]
    assert hits("3<>6") == [4, 5]


def test_negated_range() -> None:
    assert hits("!3-6") == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11]


def test_bitmask() -> None:
    assert hits("&0x3=1") == [1, 5, 9]
    assert hits("&0x3!=0") == [1, 2, 3, 5, 6, 7, 9, 10, 11]


@pytest.mark.parametrize("bad", ["6-3", "abc", "<", "300"])
def test_bad_values_rejected(bad: str) -> None:
    with pytest.raises(RuleSyntaxError):
        IntTest.parse(bad, bits=8)


F, S, R, P, A, U, E, C = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FLAGS = np.array([S, S | A, S | E | C, A, R, R | A, 0, F | P | U, S | F])


def fl(expr: str) -> list[int]:
    return FLAGS[FlagsTest.parse(expr).test(FLAGS)].tolist()


def test_flags_exact() -> None:
    assert fl("S") == [S]


def test_flags_ignore_mask() -> None:
    assert fl("S,12") == [S, S | E | C]
    assert fl("S,CE") == [S, S | E | C]


def test_flags_plus_all_listed() -> None:
    assert fl("S+") == [S, S | A, S | E | C, S | F]
    assert fl("+SA") == [S | A]


def test_flags_star_any_listed() -> None:
    assert fl("*SR") == [S, S | A, S | E | C, R, R | A, S | F]


def test_flags_not() -> None:
    assert fl("!S") == [A, R, R | A, 0, F | P | U]
    assert fl("!SA") == [S, S | E | C, A, R, R | A, 0, F | P | U, S | F]


def test_flags_zero() -> None:
    assert fl("0") == [0]
    assert fl("!0") == [S, S | A, S | E | C, A, R, R | A, F | P | U, S | F]


def test_flags_zero_ignores_the_mask() -> None:
    # Suricata tests flags:0 on the raw flags, before removing ignored bits
    assert FlagsTest.parse("0,12").test(np.array([0, E | C])).tolist() == [True, False]


def test_flags_unknown_letter() -> None:
    with pytest.raises(RuleSyntaxError):
        FlagsTest.parse("SX")


def test_ip_proto_by_name_and_operator() -> None:
    p = np.array([1, 6, 17, 47])
    assert p[parse_ip_proto("gre").test(p)].tolist() == [47]
    assert p[parse_ip_proto("!tcp").test(p)].tolist() == [1, 17, 47]
    assert p[parse_ip_proto("<7").test(p)].tolist() == [1, 6]


IPF = np.array([0x0, 0x1, 0x2, 0x3, 0x4, 0x6])  # -, M, D, MD, R, DR


def fb(expr: str) -> list[int]:
    return IPF[FragbitsTest.parse(expr).test(IPF)].tolist()


def test_fragbits_modifiers() -> None:
    assert fb("D") == [0x2]
    assert fb("!D") == [0x0, 0x1, 0x4]
    assert fb("*MR") == [0x1, 0x3, 0x4, 0x6]
    assert fb("+D") == [0x3, 0x6]  # Suricata: D set and another bit too


def test_fragbits_bad_letter() -> None:
    with pytest.raises(RuleSyntaxError):
        FragbitsTest.parse("X")
