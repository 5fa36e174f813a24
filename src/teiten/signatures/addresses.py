"""Address and port expressions of a rule header, and the rule variables (``$HOME_NET``…).

Expressions follow Suricata: ``any``, an address or CIDR, ``$VAR``, ``!x``, and nestable groups
``[a, b, !c]`` in which negated items are exclusions (a group of only negations means "any
except"). Ports: ``any``, ``N``, ``lo:hi`` with open ends (``1024:``), ``!``, groups
(``[80:100,!99]``). Both resolve to sorted disjoint closed intervals, tested vectorised with
:func:`numpy.searchsorted`.

Variables come from a TOML file shaped like ``suricata.yaml``'s ``vars`` section::

    [address-groups]
    HOME_NET = "[192.0.2.0/24]"
    EXTERNAL_NET = "!$HOME_NET"

    [port-groups]
    HTTP_PORTS = "[80,8080]"

(YAML with the same shape is read too when PyYAML is installed.)

Examples
--------
>>> v = Variables.defaults(["192.0.2.0/24"])
>>> s = parse_addresses("[$HOME_NET, !192.0.2.7]", v)
>>> s.contains_v4(0xC0000205), s.contains_v4(0xC0000207)
(True, False)
>>> parse_ports("[80:100,!99]", v).intervals
((80, 98), (100, 100))
"""

from __future__ import annotations

import importlib
import ipaddress
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from teiten.core.errors import ConfigError
from teiten.signatures.errors import RuleSyntaxError, UnsupportedRuleError

V4_MAX = 2**32 - 1
V6_MAX = 2**128 - 1
PORT_MAX = 65535

Intervals = tuple[tuple[int, int], ...]


def _normalise(ivs: Iterable[tuple[int, int]]) -> Intervals:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ivs):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _complement(ivs: Intervals, top: int) -> Intervals:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in ivs:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= top:
        out.append((nxt, top))
    return tuple(out)


def _subtract(a: Intervals, b: Intervals, top: int) -> Intervals:
    nb = _complement(b, top)
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for lo2, hi2 in nb:
            s, e = max(lo, lo2), min(hi, hi2)
            if s <= e:
                out.append((s, e))
    return _normalise(out)


def _in_intervals(x: npt.NDArray[np.integer], ivs: Intervals) -> npt.NDArray[np.bool_]:
    if not ivs:
        return np.zeros(len(x), dtype=bool)
    if len(ivs) <= 4 and x.dtype.kind in "ui":  # a few comparisons in the column's own dtype
        info = np.iinfo(x.dtype)
        out = np.zeros(len(x), dtype=bool)
        for lo, hi in ivs:
            lo_c, hi_c = max(lo, int(info.min)), min(hi, int(info.max))
            if lo_c > hi_c:
                continue
            if lo_c == info.min and hi_c == info.max:
                return np.ones(len(x), dtype=bool)
            if lo_c == info.min:
                out |= x <= hi_c
            elif hi_c == info.max:
                out |= x >= lo_c
            else:
                out |= (x >= lo_c) & (x <= hi_c)
        return out
    los = np.array([lo for lo, _ in ivs], dtype=np.int64)
    his = np.array([hi for _, hi in ivs], dtype=np.int64)
    v = x.astype(np.int64, copy=False)
    k = np.searchsorted(los, v, side="right") - 1
    ok = k >= 0
    kk = np.where(ok, k, 0)
    return np.asarray(ok & (v <= his[kk]), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class AddressSet:
    """A resolved address expression: IPv4 and IPv6 interval lists."""

    v4: Intervals
    v6: Intervals

    @property
    def is_any(self) -> bool:
        """True when every address matches."""
        return self.v4 == ((0, V4_MAX),) and self.v6 == ((0, V6_MAX),)

    def contains_v4(self, addr: int) -> bool:
        """Scalar test (for tests and docs)."""
        return any(lo <= addr <= hi for lo, hi in self.v4)

    def test_v4(self, addr: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
        """Vectorised test over a ``src``/``dst`` column."""
        return _in_intervals(addr, self.v4)

    def test_v6(self, addr: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
        """Vectorised test over an (n, 16) byte array of IPv6 addresses."""
        out = np.zeros(len(addr), dtype=bool)
        if not len(addr) or not self.v6:
            return out
        hi64 = addr[:, :8].copy().view(">u8").ravel().astype(np.uint64)
        lo64 = addr[:, 8:].copy().view(">u8").ravel().astype(np.uint64)
        for lo, hi in self.v6:
            lh, ll = np.uint64(lo >> 64), np.uint64(lo & (2**64 - 1))
            hh, hl = np.uint64(hi >> 64), np.uint64(hi & (2**64 - 1))
            ge = (hi64 > lh) | ((hi64 == lh) & (lo64 >= ll))
            le = (hi64 < hh) | ((hi64 == hh) & (lo64 <= hl))
            out |= ge & le
        return out


ANY_ADDRESS = AddressSet(((0, V4_MAX),), ((0, V6_MAX),))


@dataclass(frozen=True, slots=True)
class PortSet:
    """A resolved port expression as closed intervals over 0..65535."""

    intervals: Intervals

    @property
    def is_any(self) -> bool:
        """True when every port matches."""
        return self.intervals == ((0, PORT_MAX),)

    def test(self, port: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        """Vectorised test over a ``sport``/``dport`` column."""
        return _in_intervals(port, self.intervals)


ANY_PORT = PortSet(((0, PORT_MAX),))


#: Suricata's default ``vars`` (suricata.yaml), with ``HOME_NET`` supplied by the caller.
_DEFAULT_ADDRESS_VARS = {
    "EXTERNAL_NET": "!$HOME_NET",
    **{name: "$HOME_NET" for name in (
        "HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS", "DNS_SERVERS", "TELNET_SERVERS",
        "AIM_SERVERS", "DC_SERVERS", "DNP3_SERVER", "DNP3_CLIENT", "MODBUS_CLIENT",
        "MODBUS_SERVER", "ENIP_CLIENT", "ENIP_SERVER")},
}
_DEFAULT_PORT_VARS = {
    "HTTP_PORTS": "80", "SHELLCODE_PORTS": "!80", "ORACLE_PORTS": "1521", "SSH_PORTS": "22",
    "DNP3_PORTS": "20000", "MODBUS_PORTS": "502", "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "FTP_PORTS": "21", "GENEVE_PORTS": "6081", "VXLAN_PORTS": "4789", "TEREDO_PORTS": "3544",
}


@dataclass(frozen=True)
class Variables:
    """Rule variables: address groups and port groups, by name without the ``$``."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def defaults(cls, home_net: Iterable[str] = ()) -> Variables:
        """Suricata's defaults with ``HOME_NET`` = the given CIDRs (``any`` when empty)."""
        nets = list(home_net)
        home = "[" + ",".join(nets) + "]" if nets else "any"
        return cls({"HOME_NET": home, **_DEFAULT_ADDRESS_VARS}, dict(_DEFAULT_PORT_VARS))

    def merged(self, other: Variables) -> Variables:
        """These variables overridden by ``other``."""
        return Variables({**self.addresses, **other.addresses}, {**self.ports, **other.ports})

    @classmethod
    def load(cls, path: str | Path) -> Variables:
        """Read a TOML (or, with PyYAML, YAML) variables file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read rule variables: {exc.strerror}") from exc
        data: Any
        if p.suffix.lower() in (".yaml", ".yml"):
            try:
                yaml = importlib.import_module("yaml")
            except ImportError as exc:
                raise ConfigError(f"{p}: YAML variables need PyYAML; use TOML") from exc
            data = yaml.safe_load(text) or {}
            data = data.get("vars", data)
        else:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{p}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected address-groups / port-groups tables")
        unknown = set(data) - {"address-groups", "port-groups"}
        if unknown:
            raise ConfigError(f"{p}: unknown sections {sorted(unknown)}")
        addr = {str(k): str(v) for k, v in (data.get("address-groups") or {}).items()}
        ports = {str(k): str(v) for k, v in (data.get("port-groups") or {}).items()}
        return cls(addr, ports)


def _split_group(text: str) -> list[str]:
    """Split the inside of ``[...]`` at top-level commas."""
    items: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise RuleSyntaxError(f"unbalanced ']' in {text!r}")
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise RuleSyntaxError(f"unbalanced '[' in {text!r}")
    items.append("".join(cur).strip())
    return [i for i in items if i]


def _resolve(text: str, table: Mapping[str, str], seen: frozenset[str], what: str) -> str:
    name = text[1:]
    if name in seen:
        raise RuleSyntaxError(f"{what} variable ${name} refers to itself")
    if name not in table:
        raise UnsupportedRuleError(f"undefined {what} variable ${name}")
    return table[name]


def parse_addresses(text: str, variables: Variables) -> AddressSet:
    """Resolve an address expression to an :class:`AddressSet`."""
    v4, v6 = _addr(text.strip(), variables, frozenset())
    return AddressSet(v4, v6)


def _addr(t: str, var: Variables, seen: frozenset[str]) -> tuple[Intervals, Intervals]:
    if not t:
        raise RuleSyntaxError("empty address")
    if t.startswith("!"):
        v4, v6 = _addr(t[1:].strip(), var, seen)
        return _complement(v4, V4_MAX), _complement(v6, V6_MAX)
    if t.startswith("$"):
        body = _resolve(t, var.addresses, seen, "address")
        return _addr(body.strip(), var, seen | {t[1:]})
    if t.lower() == "any":
        return ANY_ADDRESS.v4, ANY_ADDRESS.v6
    if t.startswith("["):
        if not t.endswith("]"):
            raise RuleSyntaxError(f"unbalanced group {t!r}")
        pos4: list[tuple[int, int]] = []
        pos6: list[tuple[int, int]] = []
        neg4: list[tuple[int, int]] = []
        neg6: list[tuple[int, int]] = []
        items = _split_group(t[1:-1])
        if not items:
            raise RuleSyntaxError("empty address group")
        for item in items:
            if item.startswith("!"):
                n4, n6 = _addr(item[1:].strip(), var, seen)
                neg4 += n4
                neg6 += n6
            else:
                p4, p6 = _addr(item, var, seen)
                pos4 += p4
                pos6 += p6
        if not pos4 and not pos6:
            pos4, pos6 = list(ANY_ADDRESS.v4), list(ANY_ADDRESS.v6)
        return (_subtract(_normalise(pos4), _normalise(neg4), V4_MAX),
                _subtract(_normalise(pos6), _normalise(neg6), V6_MAX))
    try:
        net = ipaddress.ip_network(t, strict=False)
    except ValueError as exc:
        raise RuleSyntaxError(f"bad address {t!r}") from exc
    lo = int(net.network_address)
    iv = ((lo, lo + net.num_addresses - 1),)
    return (iv, ()) if net.version == 4 else ((), iv)


def parse_ports(text: str, variables: Variables) -> PortSet:
    """Resolve a port expression to a :class:`PortSet`."""
    return PortSet(_ports(text.strip(), variables, frozenset()))


def _ports(t: str, var: Variables, seen: frozenset[str]) -> Intervals:
    if not t:
        raise RuleSyntaxError("empty port")
    if t.startswith("!"):
        return _complement(_ports(t[1:].strip(), var, seen), PORT_MAX)
    if t.startswith("$"):
        body = _resolve(t, var.ports, seen, "port")
        return _ports(body.strip(), var, seen | {t[1:]})
    if t.lower() == "any":
        return ANY_PORT.intervals
    if t.startswith("["):
        if not t.endswith("]"):
            raise RuleSyntaxError(f"unbalanced group {t!r}")
        pos: list[tuple[int, int]] = []
        neg: list[tuple[int, int]] = []
        items = _split_group(t[1:-1])
        if not items:
            raise RuleSyntaxError("empty port group")
        for item in items:
            if item.startswith("!"):
                neg += _ports(item[1:].strip(), var, seen)
            else:
                pos += _ports(item, var, seen)
        if not pos:
            pos = list(ANY_PORT.intervals)
        return _subtract(_normalise(pos), _normalise(neg), PORT_MAX)
    lo_s, colon, hi_s = t.partition(":")
    try:
        lo = int(lo_s) if lo_s.strip() else 0
        hi = (int(hi_s) if hi_s.strip() else PORT_MAX) if colon else lo
    except ValueError as exc:
        raise RuleSyntaxError(f"bad port {t!r}") from exc
    if not 0 <= lo <= hi <= PORT_MAX:
        raise RuleSyntaxError(f"bad port range {t!r}")
    return ((lo, hi),)


__all__ = ["ANY_ADDRESS", "ANY_PORT", "AddressSet", "PortSet", "Variables", "parse_addresses",
           "parse_ports"]
