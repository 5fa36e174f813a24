"""Scenario files: the sensors of a simulated world and the actor populations that hit them.

A scenario is a TOML file (the presets live in ``teiten/simulate/scenarios/``, documented in
``docs/scenarios.md``)::

    [scenario]
    name = "npa"
    per_country = 3000          # size of each country's source-address pool

    [sensors]
    count = 24                  # sensors
    addresses = 4               # addresses per sensor (a power of two: one aligned block)
    networks = ["192.0.2.0/24"] # where sensor blocks are carved from
    # block = "100.127.0.0/16"  # instead: one sensor monitoring this whole block (telescope)
    responsive_share = 0.25     # share of sensors of kind "responsive"
    country = "JP"
    timezone = "Asia/Tokyo"
    outages = 2                 # undeclared outages (no packets, nothing in the registry)
    maintenance = 1             # declared maintenance windows (in the registry)
    address_changes = 1         # sensors whose address changes mid-period

    [[actor]]                   # one table per actor population or event generator
    kind = "background"
    name = "bg-445"
    ...

Actor keys are documented in ``docs/scenarios.md``; unknown keys are errors.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from teiten.core.errors import ConfigError

#: Actor kinds with a packet rate (packets per monitored address per day).
RATE_KINDS = ("background", "conficker", "mirai", "slammer", "nachi", "messenger", "dns-any")
#: Actor kinds that generate discrete events.
EVENT_KINDS = ("scan", "ddos", "smurf")

_ACTOR_KEYS = {
    "kind", "name", "rate", "sources", "countries", "os", "diurnal", "start", "end", "ramp",
    "proto", "ports", "port_weights", "sport", "tool", "expected", "tail", "skew",
    # events
    "count", "shape", "ports_per_scan", "addresses_per_scan", "duration", "coverage",
    "attacks", "below_share", "pps", "amplifiers",
}
_SENSOR_KEYS = {
    "count", "addresses", "networks", "block", "responsive_share", "country", "timezone",
    "outages", "maintenance", "address_changes", "id_prefix", "name_prefix",
}


@dataclass(frozen=True)
class SensorPlan:
    """How many sensors, with which addresses, and which sensor troubles to inject."""

    count: int = 10
    addresses: int = 1
    networks: tuple[str, ...] = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
    block: str | None = None
    responsive_share: float = 0.0
    country: str = "JP"
    timezone: str = "Asia/Tokyo"
    outages: int = 1
    maintenance: int = 1
    address_changes: int = 1
    id_prefix: str = "s"
    name_prefix: str = "sensor"


@dataclass(frozen=True)
class ActorSpec:
    """One actor population or event generator (see ``docs/scenarios.md``)."""

    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A parameter, or ``default``."""
        return self.params.get(key, default)


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario."""

    name: str
    description: str
    sensors: SensorPlan
    actors: tuple[ActorSpec, ...]
    per_country: int = 3000
    source: str = ""


def preset_names() -> list[str]:
    """Names of the bundled scenario presets."""
    files = resources.files("teiten.simulate").joinpath("scenarios").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a preset by name (``talot2``, ``npa``, ``telescope``) or a scenario TOML file.

    Examples
    --------
    >>> sc = load_scenario("talot2")
    >>> sc.sensors.count
    10
    """
    text: str
    where = str(name_or_path)
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read scenario: {exc.strerror}") from exc
    else:
        res = resources.files("teiten.simulate").joinpath("scenarios", f"{name_or_path}.toml")
        if not res.is_file():
            raise ConfigError(
                f"unknown scenario {name_or_path!r} (presets: {', '.join(preset_names())})")
        text = res.read_text(encoding="utf-8")
        where = f"preset {name_or_path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return scenario_from_dict(data, where)


def scenario_from_dict(data: dict[str, Any], where: str = "<scenario>") -> Scenario:
    """Validate and build a :class:`Scenario` from parsed TOML."""
    head = data.get("scenario", {})
    sens = dict(data.get("sensors", {}))
    unknown = set(sens) - _SENSOR_KEYS
    if unknown:
        raise ConfigError(f"{where}: [sensors]: unknown keys {sorted(unknown)}")
    if "networks" in sens:
        sens["networks"] = tuple(sens["networks"])
    plan = SensorPlan(**sens)
    if plan.addresses & (plan.addresses - 1) or plan.addresses < 1:
        raise ConfigError(f"{where}: [sensors] addresses must be a power of two")
    actors = []
    names: set[str] = set()
    for i, a in enumerate(data.get("actor", [])):
        loc = f"{where}: actor #{i + 1}"
        kind = a.get("kind")
        if kind not in RATE_KINDS + EVENT_KINDS:
            raise ConfigError(f"{loc}: unknown kind {kind!r}")
        name = a.get("name", f"{kind}-{i + 1}")
        if name in names:
            raise ConfigError(f"{loc}: duplicate actor name {name!r}")
        names.add(name)
        bad = set(a) - _ACTOR_KEYS
        if bad:
            raise ConfigError(f"{loc} ({name}): unknown keys {sorted(bad)}")
        if kind in RATE_KINDS and not isinstance(a.get("rate"), int | float):
            raise ConfigError(f"{loc} ({name}): 'rate' (packets per address per day) needed")
        actors.append(ActorSpec(kind, name, {k: v for k, v in a.items()
                                             if k not in ("kind", "name")}))
    return Scenario(
        name=str(head.get("name", Path(where).stem)),
        description=str(head.get("description", "")),
        sensors=plan, actors=tuple(actors), per_country=int(head.get("per_country", 3000)),
        source=where,
    )
