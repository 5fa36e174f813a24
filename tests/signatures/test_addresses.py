"""Address/port expressions and rule variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import numpy as np
import pytest

from teiten.core.errors import ConfigError
from teiten.signatures.addresses import Variables, parse_addresses, parse_ports
from teiten.signatures.errors import RuleSyntaxError, UnsupportedRuleError

V = Variables.defaults(["192.0.2.0/24"])


def a4(*addrs: str) -> np.ndarray:
    return np.array([int(ipaddress.ip_address(x)) for x in addrs], dtype=np.uint32)


def test_group_with_exclusion() -> None:
    s = parse_addresses("[10.0.0.0/8, !10.1.0.0/16]", V)
    assert s.test_v4(a4("10.2.3.4", "10.1.2.3", "11.0.0.1")).tolist() == [True, False, False]


def test_only_negations_mean_any_except() -> None:
    s = parse_addresses("[!10.0.0.0/8]", V)
    assert s.test_v4(a4("10.0.0.1", "8.8.8.8")).tolist() == [False, True]


def test_external_net_defaults_to_not_home() -> None:
    s = parse_addresses("$EXTERNAL_NET", V)
    assert s.test_v4(a4("192.0.2.5", "198.51.100.1")).tolist() == [False, True]


def test_nested_groups_and_negated_group() -> None:
    s = parse_addresses("![1.1.1.1, [2.2.2.0/24, !2.2.2.2]]", V)
    assert s.test_v4(a4("1.1.1.1", "2.2.2.3", "2.2.2.2", "3.3.3.3")).tolist() == [
        False, False, True, True]


def test_ipv6_ranges() -> None:
    s = parse_addresses("2001:db8::/32", V)
    rows = np.array([list(ipaddress.ip_address(x).packed) for x in ("2001:db8::1", "2001:db9::1")],
                    dtype=np.uint8)
    assert s.test_v6(rows).tolist() == [True, False]
    assert not s.test_v4(a4("1.2.3.4")).any()


def test_ports() -> None:
    p = parse_ports("[80:100,!99]", V)
    assert p.test(np.array([79, 80, 98, 99, 100, 101])).tolist() == [False, True, True, False,
                                                                     True, False]
    assert parse_ports("1024:", V).test(np.array([1023, 1024, 65535])).tolist() == [False, True,
                                                                                   True]
    assert parse_ports("!$HTTP_PORTS", V).test(np.array([80, 81])).tolist() == [False, True]


@pytest.mark.parametrize("bad", ["[1.2.3.4", "999.1.1.1", "[]"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(RuleSyntaxError):
        parse_addresses(bad, V)


def test_undefined_variable() -> None:
    with pytest.raises(UnsupportedRuleError, match="NOPE"):
        parse_addresses("$NOPE", V)


def test_self_referencing_variable() -> None:
    v = Variables({"A": "$A"}, {})
    with pytest.raises(RuleSyntaxError):
        parse_addresses("$A", v)


def test_variables_from_toml(tmp_path: Path) -> None:
    f = tmp_path / "vars.toml"
    f.write_text('[address-groups]\nHOME_NET = "[203.0.113.0/24]"\n'
                 '[port-groups]\nHTTP_PORTS = "[80,8080]"\n')
    v = Variables.defaults(["192.0.2.0/24"]).merged(Variables.load(f))
    assert parse_addresses("$HOME_NET", v).test_v4(a4("203.0.113.1", "192.0.2.1")).tolist() == [
        True, False]
    assert parse_ports("$HTTP_PORTS", v).test(np.array([8080])).tolist() == [True]


def test_variables_unknown_section(tmp_path: Path) -> None:
    f = tmp_path / "vars.toml"
    f.write_text('[address_groups]\nHOME_NET = "any"\n')
    with pytest.raises(ConfigError, match="unknown sections"):
        Variables.load(f)


def test_home_net_any_without_addresses() -> None:
    assert parse_addresses("$HOME_NET", Variables.defaults()).is_any
