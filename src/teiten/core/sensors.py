"""The sensor registry: which sensors exist, what they monitor, and when they were down.

A registry is a TOML file with one ``[[sensor]]`` table per sensor::

    [[sensor]]
    id = "tk-01"                        # required, unique; [A-Za-z0-9_.-]
    name = "Tokyo consumer line 1"      # display name (defaults to id)
    addresses = ["203.0.113.5/32"]      # monitored CIDRs, IPv4 or IPv6
    kind = "passive"                    # or "responsive"
    country = "JP"                      # home country (ISO 3166 alpha-2)
    timezone = "Asia/Tokyo"             # the sensor's local time zone
    match = ["*/tk-01/*", "tk-01-*"]    # globs on input paths that belong to this sensor
    interfaces = ["eth1"]               # pcapng interface names that belong to this sensor

    [[sensor.address_history]]          # addresses valid only for a while (UTC, [from, until))
    cidr = "198.51.100.7/32"
    from = 2026-10-01T00:00:00Z
    until = 2026-10-15T00:00:00Z

    [[sensor.maintenance]]              # declared outages (count as not covered)
    start = 2026-10-05T00:00:00+09:00
    end = 2026-10-06T00:00:00+09:00
    reason = "line maintenance"

Examples
--------
>>> reg = Registry.from_toml_text('''
... [[sensor]]
... id = "a"
... addresses = ["192.0.2.0/31"]
... ''')
>>> reg["a"].address_count()
2
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from teiten.core.errors import ConfigError

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NS = 1_000_000_000
#: Far past and far future as ns since the epoch, for open-ended address validity.
MIN_NS = -(2**62)
MAX_NS = 2**62


@dataclass(frozen=True, slots=True)
class AddressBlock:
    """A monitored CIDR, valid in ``[valid_from_ns, valid_until_ns)`` (UTC nanoseconds)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    valid_from_ns: int = MIN_NS
    valid_until_ns: int = MAX_NS

    @property
    def version(self) -> int:
        """4 or 6."""
        return self.network.version


@dataclass(frozen=True, slots=True)
class Window:
    """A declared maintenance window, ``[start, end)`` in UTC."""

    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Sensor:
    """One observation point.

    ``addresses`` empty means the sensor monitors every address it sees (a sensor named only
    on the command line).
    """

    id: str
    name: str = ""
    addresses: tuple[AddressBlock, ...] = ()
    kind: str = "passive"
    country: str | None = None
    timezone: str = "UTC"
    match: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()
    maintenance: tuple[Window, ...] = ()

    @property
    def monitors_everything(self) -> bool:
        """True when no addresses are declared: every destination counts as monitored."""
        return not self.addresses

    @property
    def display_name(self) -> str:
        """The name to show, falling back to the id."""
        return self.name or self.id

    def address_count(self, at_ns: int | None = None) -> int:
        """Number of monitored addresses (valid at ``at_ns`` if given)."""
        return sum(
            b.network.num_addresses
            for b in self.addresses
            if at_ns is None or b.valid_from_ns <= at_ns < b.valid_until_ns
        )

    def monitored_v4(
        self, dst: npt.NDArray[np.uint32], ts_ns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Vectorised: which IPv4 destinations (at their capture times) this sensor monitors."""
        if self.monitors_everything:
            return np.ones(len(dst), dtype=bool)
        out = np.zeros(len(dst), dtype=bool)
        for b in self.addresses:
            if b.version != 4:
                continue
            lo = int(b.network.network_address)
            hi = lo + b.network.num_addresses - 1
            hit = (dst >= lo) & (dst <= hi)
            if b.valid_from_ns != MIN_NS or b.valid_until_ns != MAX_NS:
                hit &= (ts_ns >= b.valid_from_ns) & (ts_ns < b.valid_until_ns)
            out |= hit
        return out

    def monitored_v6(
        self, dst6: npt.NDArray[np.uint8], ts_ns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Vectorised over an (n, 16) byte array of IPv6 destinations."""
        if self.monitors_everything:
            return np.ones(len(dst6), dtype=bool)
        out = np.zeros(len(dst6), dtype=bool)
        if not len(dst6):
            return out
        hi64 = dst6[:, :8].copy().view(">u8").ravel().astype(np.uint64)
        lo64 = dst6[:, 8:].copy().view(">u8").ravel().astype(np.uint64)
        for b in self.addresses:
            if b.version != 6:
                continue
            net = int(b.network.network_address)
            mask = int(b.network.netmask)
            hit = ((hi64 & np.uint64(mask >> 64)) == np.uint64(net >> 64)) & (
                (lo64 & np.uint64(mask & (2**64 - 1))) == np.uint64(net & (2**64 - 1))
            )
            if b.valid_from_ns != MIN_NS or b.valid_until_ns != MAX_NS:
                hit &= (ts_ns >= b.valid_from_ns) & (ts_ns < b.valid_until_ns)
            out |= hit
        return out

    def claims_path(self, path: str) -> bool:
        """Whether an input path matches one of this sensor's ``match`` globs."""
        return any(fnmatch.fnmatch(path, pat) for pat in self.match)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-ready mapping of this sensor (inverse of :meth:`Registry.from_dict`)."""
        d: dict[str, Any] = {"id": self.id}
        if self.name:
            d["name"] = self.name
        static = [str(b.network) for b in self.addresses if b.valid_from_ns == MIN_NS
                  and b.valid_until_ns == MAX_NS]
        d["addresses"] = static
        d["kind"] = self.kind
        if self.country:
            d["country"] = self.country
        d["timezone"] = self.timezone
        if self.match:
            d["match"] = list(self.match)
        if self.interfaces:
            d["interfaces"] = list(self.interfaces)
        hist = [b for b in self.addresses
                if b.valid_from_ns != MIN_NS or b.valid_until_ns != MAX_NS]
        if hist:
            d["address_history"] = [_history_entry(b) for b in hist]
        if self.maintenance:
            d["maintenance"] = [
                {"start": w.start, "end": w.end, "reason": w.reason} for w in self.maintenance
            ]
        return d


def check_sensor_id(sensor_id: str) -> str:
    """Return ``sensor_id`` if it is a valid id (it becomes a directory name), else raise.

    >>> check_sensor_id("tk-01")
    'tk-01'
    """
    if not _ID_RE.match(sensor_id):
        raise ConfigError(f"invalid sensor id {sensor_id!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    return sensor_id


def _history_entry(block: AddressBlock) -> dict[str, Any]:
    """One ``[[sensor.address_history]]`` table; open ends are left out."""
    entry: dict[str, Any] = {"cidr": str(block.network)}
    if block.valid_from_ns != MIN_NS:
        entry["from"] = _ns_to_dt(block.valid_from_ns)
    if block.valid_until_ns != MAX_NS:
        entry["until"] = _ns_to_dt(block.valid_until_ns)
    return entry


def _ns_to_dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / _NS, tz=UTC)


def _to_utc(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _to_utc(datetime.fromisoformat(value), where)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected a date or date-time, got {value!r}")


def _to_ns(dt: datetime) -> int:
    return int(dt.timestamp()) * _NS + dt.microsecond * 1000


def _network(text: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError as exc:
        raise ConfigError(f"{where}: not a CIDR: {text!r}") from exc


class Registry(Mapping[str, Sensor]):
    """An ordered, read-only collection of :class:`Sensor` by id."""

    def __init__(self, sensors: list[Sensor] | tuple[Sensor, ...] = (), source: str = "") -> None:
        self._sensors: dict[str, Sensor] = {}
        self.source = source
        for s in sensors:
            if s.id in self._sensors:
                raise ConfigError(f"{source or 'registry'}: duplicate sensor id {s.id!r}")
            self._sensors[s.id] = s

    def __getitem__(self, key: str) -> Sensor:
        return self._sensors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sensors)

    def __len__(self) -> int:
        return len(self._sensors)

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        """Read a registry TOML file; errors name the file and the sensor."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read sensor registry: {exc.strerror}") from exc
        return cls.from_toml_text(text, source=str(p))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<registry>") -> Registry:
        """Parse registry TOML text."""
        import tomllib  # (~8 ms of the start-up of an ingest with no registry)

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<registry>") -> Registry:
        """Build a registry from the parsed TOML mapping."""
        raw = data.get("sensor", [])
        if not isinstance(raw, list):
            raise ConfigError(f"{source}: 'sensor' must be an array of tables ([[sensor]])")
        return cls([_sensor_from_dict(d, f"{source}: sensor #{i + 1}") for i, d in enumerate(raw)],
                   source)

    def to_toml(self) -> str:
        """Serialise to TOML (a small writer: registries hold only simple values)."""
        out: list[str] = []
        for s in self._sensors.values():
            d = s.to_dict()
            out.append("[[sensor]]")
            for k, v in d.items():
                if k in ("address_history", "maintenance"):
                    continue
                out.append(f"{k} = {_toml_value(v)}")
            for k in ("address_history", "maintenance"):
                for item in d.get(k, []):
                    out.append(f"[[sensor.{k}]]")
                    out.extend(f"{ik} = {_toml_value(iv)}" for ik, iv in item.items())
            out.append("")
        return "\n".join(out)

    def for_path(self, path: str) -> Sensor | None:
        """The sensor whose ``match`` globs claim ``path`` (first wins), or None."""
        for s in self._sensors.values():
            if s.claims_path(path):
                return s
        return None

    def for_interface(self, name: str) -> Sensor | None:
        """The sensor that owns a pcapng interface name, or None."""
        for s in self._sensors.values():
            if name in s.interfaces:
                return s
        return None


def _toml_value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def _sensor_from_dict(d: Mapping[str, Any], where: str) -> Sensor:
    known = {"id", "name", "addresses", "kind", "country", "timezone", "match", "interfaces",
             "address_history", "maintenance"}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    sid = d.get("id")
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise ConfigError(f"{where}: 'id' must be 1-64 characters of A-Z a-z 0-9 _ . -")
    where = f"{where} ({sid})"
    blocks = [AddressBlock(_network(a, where)) for a in d.get("addresses", [])]
    for h in d.get("address_history", []):
        blocks.append(AddressBlock(
            _network(h.get("cidr"), where),
            _to_ns(_to_utc(h["from"], where)) if "from" in h else MIN_NS,
            _to_ns(_to_utc(h["until"], where)) if "until" in h else MAX_NS,
        ))
    kind = d.get("kind", "passive")
    if kind not in ("passive", "responsive"):
        raise ConfigError(f"{where}: kind must be 'passive' or 'responsive', not {kind!r}")
    tz = d.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}: unknown time zone {tz!r}") from exc
    windows = []
    for w in d.get("maintenance", []):
        start, end = _to_utc(w.get("start"), where), _to_utc(w.get("end"), where)
        if end <= start:
            raise ConfigError(f"{where}: maintenance window ends before it starts")
        windows.append(Window(start, end, str(w.get("reason", ""))))
    country = d.get("country")
    return Sensor(
        id=sid,
        name=str(d.get("name", "")),
        addresses=tuple(blocks),
        kind=kind,
        country=country.upper() if isinstance(country, str) else None,
        timezone=tz,
        match=tuple(d.get("match", ())),
        interfaces=tuple(d.get("interfaces", ())),
        maintenance=tuple(windows),
    )


__all__ = ["MAX_NS", "MIN_NS", "AddressBlock", "Registry", "Sensor", "Window", "check_sensor_id"]
