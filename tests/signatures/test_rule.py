"""Rule text parsing: header, options, content encoding and reasons for skipping."""

from __future__ import annotations

import pytest

from teiten.signatures.errors import RuleSyntaxError, UnsupportedRuleError
from teiten.signatures.rule import parse_content, parse_rule, split_options


def rule(opts: str, head: str = "alert tcp any any -> any any") -> str:
    return f"{head} ({opts})"


def test_header_fields() -> None:
    r = parse_rule(rule("sid:1;", "alert udp [1.2.3.0/24, !1.2.3.4] any <> $HOME_NET 1:1024"))
    assert (r.proto, r.src, r.direction, r.dport) == ("udp", "[1.2.3.0/24, !1.2.3.4]", "<>",
                                                      "1:1024")


def test_meta_options() -> None:
    r = parse_rule(rule('msg:"a \\"quoted\\"; msg"; sid:5; rev:3; gid:1; classtype:attempted-recon;'
                        ' priority:2; metadata: former_category SCAN, npa_category Scan;'
                        ' reference:url,example.org;'))
    assert (r.msg, r.sid, r.rev, r.classtype, r.priority) == ('a "quoted"; msg', 5, 3,
                                                              "attempted-recon", 2)
    assert r.meta_value("npa_category") == "Scan"
    assert r.references == ("url,example.org",)


def test_content_hex_and_escapes() -> None:
    assert parse_content('"A|42 43|D\\;\\"\\\\"') == (b'ABCD;"\\', False)
    assert parse_content('!"|00|"') == (b"\x00", True)


@pytest.mark.parametrize("bad", ['"|4|"', '"|zz|"', "abc", '"a;b"', '""'])
def test_bad_content(bad: str) -> None:
    with pytest.raises(RuleSyntaxError):
        parse_content(bad)


def test_split_options_semicolon_in_quotes() -> None:
    assert split_options('msg:"x;y"; nocase; sid:1;') == [("msg", '"x;y"'), ("nocase", None),
                                                         ("sid", "1")]


def test_modifiers_attach_to_previous_content() -> None:
    r = parse_rule(rule('content:"ab"; offset:1; depth:5; content:"cd"; distance:2; within:4;'
                        ' nocase; sid:1;'))
    a, b = r.contents
    assert (a.offset, a.depth, a.nocase) == (1, 5, False)
    assert (b.distance, b.within, b.nocase) == (2, 4, True)
    assert a.within_next and a.relative_next


def test_within_shorter_than_content_is_an_error() -> None:
    with pytest.raises(RuleSyntaxError, match="within"):
        parse_rule(rule('content:"a"; content:"bcd"; within:2; sid:1;'))


def test_missing_sid_is_an_error() -> None:
    with pytest.raises(RuleSyntaxError, match="sid"):
        parse_rule(rule('msg:"x";'))


def test_modifier_without_content_is_an_error() -> None:
    with pytest.raises(RuleSyntaxError):
        parse_rule(rule("nocase; sid:1;"))


def test_header_with_six_fields_is_an_error() -> None:
    with pytest.raises(RuleSyntaxError, match="7 fields"):
        parse_rule("alert tcp any any -> any (sid:1;)")


@pytest.mark.parametrize(("opts", "head", "reason"), [
    ("flow:established,to_server; sid:1;", "alert tcp any any -> any any", "stream state"),
    ('content:"/x"; http_uri; sid:1;', "alert tcp any any -> any any", "app-layer buffer"),
    ('http.uri; content:"/x"; sid:1;', "alert tcp any any -> any any", "app-layer buffer"),
    ('pcre:"/a+/"; sid:1;', "alert tcp any any -> any any", "pcre"),
    ("byte_test:1,>,2,0; sid:1;", "alert tcp any any -> any any", "unsupported keyword"),
    ("flowbits:set,x; sid:1;", "alert tcp any any -> any any", "flow state"),
    ("sid:1;", "alert http any any -> any any", "app-layer protocol"),
    ('content:"a"; offset:1; distance:2; sid:1;', "alert tcp any any -> any any", "mixed"),
])
def test_unsupported_with_reason(opts: str, head: str, reason: str) -> None:
    with pytest.raises(UnsupportedRuleError, match=reason):
        parse_rule(rule(opts, head))


def test_flow_stateless_is_accepted() -> None:
    assert parse_rule(rule("flow:stateless; sid:1;")).sid == 1


def test_threshold_and_detection_filter() -> None:
    t = parse_rule(rule("threshold: type both, track by_dst, count 3, seconds 60; sid:1;"))
    assert t.threshold is not None
    assert (t.threshold.kind, t.threshold.track, t.threshold.count) == ("both", "by_dst", 3)
    d = parse_rule(rule("detection_filter: track by_src, count 5, seconds 9, unique_on dst_port;"
                        " sid:1;"))
    assert d.threshold is not None
    assert (d.threshold.kind, d.threshold.unique_on) == ("detection", "dst_port")


def test_threshold_bad_track() -> None:
    with pytest.raises(RuleSyntaxError, match="track"):
        parse_rule(rule("threshold: type both, track by_nothing, count 3, seconds 60; sid:1;"))
