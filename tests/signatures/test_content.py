"""content and its modifiers, with Suricata's documented semantics."""

from __future__ import annotations

from teiten.signatures.content import Content, IsDataAt, inspect, link


def m(payload: bytes, *cs: Content) -> bool:
    return inspect(link(cs), payload)


def test_plain_content_anywhere() -> None:
    assert m(b"xxabcxx", Content(b"abc"))
    assert not m(b"xxabxcx", Content(b"abc"))


def test_offset_is_start_of_search() -> None:
    assert m(b"abcabc", Content(b"abc", offset=3))
    assert not m(b"abcab", Content(b"abc", offset=1))


def test_depth_counts_from_offset() -> None:
    # offset 2, depth 4: window [2, 6); "cdef" at 2..5 fits, "def" at 3..5 fits, "efg" does not
    assert m(b"abcdefg", Content(b"cdef", offset=2, depth=4))
    assert not m(b"abcdefg", Content(b"efg", offset=2, depth=4))


def test_depth_shorter_than_content_is_raised_by_the_parser() -> None:
    from teiten.signatures.rule import parse_rule
    r = parse_rule('alert tcp any any -> any any (content:"abcd"; depth:2; sid:1;)')
    assert r.contents[0].depth == 4


def test_distance_window_starts_after_previous_match() -> None:
    assert m(b"ab__cd", Content(b"ab"), Content(b"cd", distance=2))
    assert not m(b"ab_cd", Content(b"ab"), Content(b"cd", distance=2))


def test_within_bounds_the_window_end() -> None:
    assert m(b"ab_cd", Content(b"ab"), Content(b"cd", within=3))
    assert not m(b"ab__cd", Content(b"ab"), Content(b"cd", within=3))


def test_distance_plus_within() -> None:
    # window [prev_end + 1, prev_end + 1 + 3)
    assert m(b"ab_cd", Content(b"ab"), Content(b"cd", distance=1, within=3))
    assert not m(b"abcd", Content(b"ab"), Content(b"cd", distance=1, within=3))


def test_negative_distance_looks_back() -> None:
    assert m(b"abcd", Content(b"cd"), Content(b"bc", distance=-3, within=2))
    assert not m(b"abcd", Content(b"cd"), Content(b"ab", distance=-1, within=2))


def test_negative_distance_clamps_at_buffer_start() -> None:
    assert m(b"abcd", Content(b"b"), Content(b"a", distance=-10))


def test_relative_match_backtracks_to_next_occurrence_when_within() -> None:
    # first "ab" is followed by "xx", the second by "cd": needs a retry of "ab"
    assert m(b"abxxxabcd", Content(b"ab"), Content(b"cd", distance=0, within=2))


def test_backtracking_over_three_contents() -> None:
    cs = (Content(b"a"), Content(b"b", within=1), Content(b"c", within=1))
    assert m(b"ab_abc", *cs)
    assert not m(b"ab_ab_c", *cs)


def test_no_backtracking_for_distance_only_negation() -> None:
    # Suricata retries the previous content only when the next one has `within`; with a
    # distance-only negated content, the first "a" decides.
    assert not m(b"a b a", Content(b"a"), Content(b"b", negated=True, distance=0))


def test_negated_relative_with_within_backtracks() -> None:
    # first "a" is followed by "b" (negation fails), the second "a" by "c": match
    assert m(b"ab ac", Content(b"a"), Content(b"b", negated=True, distance=0, within=1))
    assert not m(b"ab ab", Content(b"a"), Content(b"b", negated=True, distance=0, within=1))


def test_negated_content_alone() -> None:
    assert m(b"hello", Content(b"xyz", negated=True))
    assert not m(b"hexyzllo", Content(b"xyz", negated=True))


def test_negated_content_with_offset_depth() -> None:
    assert m(b"xyzab", Content(b"xyz", negated=True, offset=1))
    assert not m(b"axyzb", Content(b"xyz", negated=True, offset=1, depth=3))


def test_negated_window_beyond_payload_matches() -> None:
    assert m(b"ab", Content(b"ab"), Content(b"zz", negated=True, distance=5))


def test_nocase_is_ascii_only_and_per_content() -> None:
    assert m(b"GeT /", Content(b"get", nocase=True))
    assert not m(b"GeT /", Content(b"get"))
    assert not m(b"\xc9", Content(b"\xe9", nocase=True))


def test_relative_to_last_positive_match_skips_negated() -> None:
    # "cd" is relative to "ab", not to the negated "zz"
    assert m(b"abcd", Content(b"ab"), Content(b"zz", negated=True), Content(b"cd", within=2))


def test_independent_failure_is_final() -> None:
    assert not m(b"abcd", Content(b"ab"), Content(b"q"))


def test_content_longer_than_window_fails() -> None:
    assert not m(b"abc", Content(b"abcd"))


def test_isdataat_absolute() -> None:
    assert m(b"abcdef", IsDataAt(5))
    assert not m(b"abcde", IsDataAt(5))
    assert m(b"abcde", IsDataAt(5, negated=True))


def test_isdataat_relative_to_last_match() -> None:
    assert m(b"abcd", Content(b"ab"), IsDataAt(2, relative=True))
    assert not m(b"abc", Content(b"ab"), IsDataAt(2, relative=True))


def test_negated_relative_isdataat_does_not_backtrack() -> None:
    # "nothing after ab": the first "ab" has data after it; Suricata does not retry "ab"
    # because isdataat carries no `within`
    assert m(b"xxab", Content(b"ab"), IsDataAt(1, relative=True, negated=True))
    assert not m(b"abxab", Content(b"ab"), IsDataAt(1, relative=True, negated=True))


def test_isdataat_parsed_in_rule() -> None:
    from teiten.signatures.rule import parse_rule
    r = parse_rule('alert tcp any any -> any any (content:"a"; isdataat:!3,relative; nocase; '
                   "sid:1;)")
    a, d = r.contents
    assert isinstance(a, Content) and a.nocase and a.relative_next
    assert d == IsDataAt(3, relative=True, negated=True)
