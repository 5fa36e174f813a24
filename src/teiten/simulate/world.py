"""Building a simulated world from a scenario: sensors, their troubles, sources and events.

Everything here is planned up front from the seed (no packets yet): the sensor address table
(with validity windows for the sensor whose address changes), outages and maintenance windows,
the source table (one row per simulated source host: address, country, OS stack, ports) and
the discrete events (scan campaigns, DDoS attacks, smurf bursts). :mod:`.engine` then turns
the plan into packets chunk by chunk.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from teiten.core.errors import ConfigError
from teiten.core.sensors import AddressBlock, Sensor, Window
from teiten.simulate.pools import CountryPools
from teiten.simulate.scenario import RATE_KINDS, ActorSpec, Scenario
from teiten.simulate.stacks import STACKS

NS = 1_000_000_000
HOUR = 3600 * NS
DAY = 24 * HOUR

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

#: Representative UTC offsets (hours) for the local-time (diurnal) model of each country.
UTC_OFFSET: dict[str, float] = {
    "JP": 9, "KR": 9, "CN": 8, "TW": 8, "HK": 8, "SG": 8, "PH": 8, "MY": 8, "VN": 7, "TH": 7,
    "ID": 7, "IN": 5.5, "PK": 5, "IR": 3.5, "RU": 3, "TR": 3, "UA": 2, "IL": 2, "EG": 2,
    "ZA": 2, "DE": 1, "NL": 1, "FR": 1, "IT": 1, "ES": 1, "PL": 1, "SE": 1, "GB": 0,
    "BR": -3, "AR": -3, "CL": -4, "VE": -4, "CO": -5, "PE": -5, "MX": -6, "US": -6,
    "CA": -5, "AU": 10,
}

#: Default source-country mix (NPA seed: China, Japan, US, Russia, Taiwan, Korea, Brazil...).
DEFAULT_COUNTRIES: dict[str, float] = {
    "CN": 30, "JP": 18, "US": 12, "RU": 8, "TW": 7, "KR": 6, "BR": 6, "AR": 3, "IN": 3,
    "TR": 1.5, "DE": 1.5, "VN": 1.5, "IL": 0.6, "PE": 0.4, "CO": 0.8, "VE": 0.7,
}

DEFAULT_OS: dict[str, float] = {"windows-xp": 0.45, "windows": 0.35, "linux": 0.15,
                                "embedded": 0.05}


def diurnal_profile(local_hour: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Relative activity of home machines by local hour (mean 1 over a day).

    Low from 01:00 to 08:00, rising through the day, peak in the evening.
    """
    h = np.mod(local_hour, 24.0)
    day = np.clip(np.sin(np.pi * (h - 7.0) / 18.0), 0.0, None)  # 07:00 .. 01:00
    raw = 0.08 + day
    return np.asarray(raw / 0.6546, dtype=np.float64)  # mean of raw over 24 h


@dataclass
class SensorState:
    """One simulated sensor and its troubles."""

    sensor: Sensor
    outages: list[tuple[int, int]] = field(default_factory=list)
    maintenance: list[tuple[int, int]] = field(default_factory=list)
    address_change: tuple[int, str, str] | None = None  # (at_ns, old cidr, new cidr)


@dataclass
class Sources:
    """The source table: one row per simulated host (all arrays the same length)."""

    addr: U32
    country: npt.NDArray[np.str_]
    actor: npt.NDArray[np.int32]
    stack: npt.NDArray[np.int8]
    ttl: npt.NDArray[np.uint8]
    win: npt.NDArray[np.uint16]
    sport: npt.NDArray[np.uint16]  # fixed source port, 0 = ephemeral per packet
    port: npt.NDArray[np.uint16]  # primary destination port
    weight: npt.NDArray[np.float64]
    diurnal: npt.NDArray[np.bool_]
    ipid: npt.NDArray[np.uint16]
    eph_lo: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    eph_span: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    counter: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    df: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

    def derive(self, stack_names: list[str]) -> None:
        """Fill the per-source columns that follow from the OS stack."""
        n = len(self.addr)
        self.eph_lo = np.full(n, 49152, np.int64)
        self.eph_span = np.full(n, 65536 - 49152, np.int64)
        self.counter = np.zeros(n, bool)
        self.df = np.zeros(n, bool)
        for k, nm in enumerate(stack_names):
            sel = self.stack == k
            st = STACKS[nm]
            if nm == "windows-xp":  # ephemeral ports 1025-4999
                self.eph_lo[sel], self.eph_span[sel] = 1025, 5000 - 1025
            elif nm in ("linux", "embedded"):  # 32768-60999
                self.eph_lo[sel], self.eph_span[sel] = 32768, 61000 - 32768
            self.counter[sel] = st.ip_id == "counter"
            self.df[sel] = st.df


@dataclass
class Event:
    """A discrete event: a scan campaign, a DDoS attack (backscatter) or a smurf burst."""

    actor: int
    kind: str  # scan | ddos | smurf
    start: int
    end: int
    src: U32  # scanner / victim / amplifiers
    country: list[str]
    tool: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # planned packets: target address-table index, port, time (computed lazily, kept small)
    t_addr: I64 | None = None
    t_port: npt.NDArray[np.uint16] | None = None
    t_ts: I64 | None = None


@dataclass
class Actor:
    """An actor row of the truth: a rate population or one event."""

    id: int
    name: str
    kind: str
    spec: ActorSpec
    tool: str | None
    proto: int | None
    ports: list[int]
    expected: list[str]
    sources: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    event: Event | None = None


@dataclass
class World:
    """The planned world (see module docs)."""

    scenario: Scenario
    seed: int
    scale: float
    start: int
    end: int
    sensors: list[SensorState]
    addr: U32  # address table
    addr_sensor: npt.NDArray[np.int32]
    addr_from: I64
    addr_until: I64
    sources: Sources
    actors: list[Actor]
    stack_names: list[str]

    @property
    def n_addresses_at_start(self) -> int:
        """Monitored addresses valid at the start of the period."""
        valid = (self.addr_from <= self.start) & (self.addr_until > self.start)
        return int(np.count_nonzero(valid))

    def period_fraction(self, ts: I64) -> npt.NDArray[np.float64]:
        """Where ``ts`` falls in the period, 0 at its start and 1 at its end."""
        return np.asarray((ts - self.start) / (self.end - self.start), dtype=np.float64)

    def when(self, value: Any, default: float) -> int:
        """A time parameter: a fraction of the period (0..1) or an ISO date/date-time."""
        if value is None:
            value = default
        if isinstance(value, int | float):
            return int(self.start + float(value) * (self.end - self.start))
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            v = value if value.tzinfo else value.replace(tzinfo=UTC)
            return int(v.timestamp()) * NS
        raise ConfigError(f"not a time: {value!r}")


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _weights(table: dict[str, float] | None, default: dict[str, float]) -> tuple[list[str],
                                                                               np.ndarray]:
    t = table or default
    keys = sorted(t)
    w = np.array([float(t[k]) for k in keys])
    return keys, w / w.sum()


# ----------------------------------------------------------------------------------- sensors


def _plan_sensors(sc: Scenario, seed: int, start: int, end: int) -> tuple[
        list[SensorState], U32, npt.NDArray[np.int32], I64, I64]:
    plan = sc.sensors
    rng = _rng(seed, 1)
    width = max(2, len(str(plan.count)))
    ids = [f"{plan.id_prefix}-{i + 1:0{width}d}" for i in range(plan.count)]
    if plan.block:
        blocks: list[Any] = [ipaddress.ip_network(plan.block)]
        if plan.count != 1:
            raise ConfigError(f"{sc.source}: [sensors] block needs count = 1")
        spare: list[Any] = []
    else:
        plen = 32 - int(np.log2(plan.addresses))
        cands: list[ipaddress.IPv4Network] = []
        for net in plan.networks:
            n4 = ipaddress.ip_network(net)
            assert isinstance(n4, ipaddress.IPv4Network)
            cands.extend(b for b in n4.subnets(new_prefix=plen)
                         if int(b.network_address) & 0xFF not in (0,)
                         and int(b.broadcast_address) & 0xFF != 255)
        need = plan.count + plan.address_changes
        if len(cands) < need:
            raise ConfigError(f"{sc.source}: [sensors] networks too small for {need} blocks")
        pick = rng.choice(len(cands), need, replace=False)
        chosen = [cands[i] for i in pick]
        blocks, spare = list(chosen[: plan.count]), list(chosen[plan.count:])
    days = max(1, (end - start) // DAY)
    kinds = np.where(rng.random(plan.count) < plan.responsive_share, "responsive", "passive")
    states: list[SensorState] = []
    addr, a_sensor, a_from, a_until = [], [], [], []
    from teiten.core.sensors import MAX_NS, MIN_NS

    change_at = start + (days // 2) * DAY
    changers = set(rng.choice(plan.count, min(plan.address_changes, plan.count, len(spare)),
                              replace=False).tolist()) if spare else set()
    for i, sid in enumerate(ids):
        blk = blocks[i]
        st = SensorState(Sensor(
            id=sid, name=f"{plan.name_prefix} {i + 1}", kind=str(kinds[i]),
            country=plan.country, timezone=plan.timezone,
            match=(f"*captures/{sid}/*",), interfaces=(sid,),
        ))
        ab: tuple[AddressBlock, ...]
        ranges: list[tuple[Any, int, int]]
        if i in changers:
            new = spare.pop()
            ch_ns = change_at
            st.address_change = (ch_ns, str(blk), str(new))
            ab = (AddressBlock(blk, start, ch_ns), AddressBlock(new, ch_ns, MAX_NS))
            ranges = [(blk, start, ch_ns), (new, ch_ns, MAX_NS)]
        else:
            ab = (AddressBlock(blk),)
            ranges = [(blk, MIN_NS, MAX_NS)]
        st.sensor = _replace(st.sensor, addresses=ab)
        for net, f, u in ranges:
            lo = int(net.network_address)
            a = np.arange(lo, lo + net.num_addresses, dtype=np.uint32)
            addr.append(a)
            a_sensor.append(np.full(len(a), i, dtype=np.int32))
            a_from.append(np.full(len(a), f, dtype=np.int64))
            a_until.append(np.full(len(a), u, dtype=np.int64))
        states.append(st)
    # troubles: undeclared outages (hours), declared maintenance (whole local days)
    hours = max(1, (end - start) // HOUR)
    for _ in range(plan.outages):  # at most a tenth of the period each
        s = states[int(rng.integers(plan.count))]
        length = min(int(rng.integers(6, 49)), max(1, hours // 10))
        t0 = start + int(rng.integers(0, max(1, hours - length))) * HOUR
        s.outages.append((t0, min(end, t0 + length * HOUR)))
    tz_off = int(UTC_OFFSET.get(plan.country, 0) * HOUR)
    for _ in range(plan.maintenance if days >= 7 else 0):
        s = states[int(rng.integers(plan.count))]
        d0 = int(rng.integers(1, max(2, days - 3)))
        t0 = start + d0 * DAY - tz_off
        t1 = t0 + int(rng.integers(1, 4)) * DAY
        s.maintenance.append((t0, t1))
        win = Window(_dt(t0), _dt(t1), "declared maintenance (simulated)")
        s.sensor = _replace(s.sensor, maintenance=(*s.sensor.maintenance, win))
    return (states, np.concatenate(addr), np.concatenate(a_sensor), np.concatenate(a_from),
            np.concatenate(a_until))


def _replace(s: Sensor, **kw: Any) -> Sensor:
    from dataclasses import replace

    return replace(s, **kw)


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // NS, tz=UTC)


# ----------------------------------------------------------------------------------- sources


def _source_count(spec: ActorSpec, scale: float) -> int:
    n = int(spec.get("sources", 100))
    if n <= 3:
        return n
    return max(1, int(round(n * min(1.0, max(scale, 0.05)) ** 0.5)))  # noqa: RUF046


def plan_world(sc: Scenario, seed: int, scale: float, start_dt: datetime,
               end_dt: datetime) -> World:
    """Plan the whole world for a period ``[start_dt, end_dt)``."""
    start = int(start_dt.timestamp()) * NS
    end = int(end_dt.timestamp()) * NS
    states, addr, a_sensor, a_from, a_until = _plan_sensors(sc, seed, start, end)
    stack_names = sorted(STACKS)
    # how many sources of each country every actor needs
    plans: list[tuple[ActorSpec, list[str], np.ndarray, int]] = []
    need: dict[str, int] = {}
    for i, spec in enumerate(sc.actors):
        default = {"CN": 1.0} if spec.kind == "messenger" else DEFAULT_COUNTRIES
        keys, w = _weights(spec.get("countries"), default)
        if spec.kind in RATE_KINDS:
            n = _source_count(spec, scale)
        elif spec.kind == "smurf":
            n = int(spec.get("count", 1)) * int(spec.get("amplifiers", 40))
        elif spec.kind == "ddos":
            n = max(1, round(int(spec.get("attacks", 10)) * max(scale, 0.2)))
        else:
            n = int(spec.get("count", 1))
        counts = _rng(seed, 2, i).multinomial(n, w)
        for k, c in zip(keys, counts.tolist(), strict=True):
            need[k] = need.get(k, 0) + c
        plans.append((spec, keys, counts, n))
    pools = CountryPools(seed, need, max([*need.values(), 10]) + 8, exclude=addr.tolist())
    used: dict[str, int] = dict.fromkeys(need, 0)

    def draw(country: str, n: int) -> U32:
        pool = pools.pools[country]
        k = used[country]
        if k + n > len(pool):
            raise ConfigError(f"not enough {country} addresses for the scenario's sources")
        used[country] = k + n
        return pool[k: k + n]

    cols: dict[str, list[Any]] = {k: [] for k in (
        "addr", "country", "actor", "stack", "ttl", "win", "sport", "port", "weight", "diurnal",
        "ipid")}
    actors: list[Actor] = []
    n_src = 0
    for i, (spec, keys, counts, _n) in enumerate(plans):
        rng = _rng(seed, 3, i)
        src = np.concatenate([draw(k, c) for k, c in zip(keys, counts.tolist(), strict=True)])
        ctry = np.repeat(np.array(keys), counts)
        actor = _make_actor(len(actors), spec)
        if spec.kind in RATE_KINDS:
            m = len(src)
            os_keys, os_w = _weights(spec.get("os"), _default_os(spec.kind))
            stack_i = np.array([stack_names.index(k) for k in os_keys])[
                rng.choice(len(os_keys), m, p=os_w)].astype(np.int8)
            ttl0 = np.zeros(m, dtype=np.int64)
            wins = np.zeros(m, dtype=np.int64)
            for si, nm in enumerate(stack_names):
                sel = stack_i == si
                ttl0[sel] = STACKS[nm].ttl
                wins[sel] = rng.choice(np.array(STACKS[nm].windows), int(sel.sum()))
            hops = rng.integers(6, 24, m)
            ports, pw = _actor_ports(spec)
            if spec.get("tail", False):
                port = _tail_ports(rng, m)
            else:
                port = np.array(ports, dtype=np.uint16)[rng.choice(len(ports), m, p=pw)]
            sport = np.full(m, int(spec.get("sport", 0)), dtype=np.uint16)
            if spec.kind in ("mirai", "slammer", "nachi"):
                sport = rng.integers(1024, 65536, m).astype(np.uint16)
                if spec.kind == "mirai":
                    wins = rng.integers(1000, 65535, m)
            skew = float(spec.get("skew", 1.0))
            weight = rng.lognormal(0.0, skew, m)
            cols["addr"].append(src)
            cols["country"].append(ctry)
            cols["actor"].append(np.full(m, actor.id, dtype=np.int32))
            cols["stack"].append(stack_i)
            cols["ttl"].append((ttl0 - hops).astype(np.uint8))
            cols["win"].append(wins.astype(np.uint16))
            cols["sport"].append(sport)
            cols["port"].append(port.astype(np.uint16))
            cols["weight"].append(weight)
            cols["diurnal"].append(np.full(m, bool(spec.get("diurnal", False))))
            cols["ipid"].append(rng.integers(0, 65536, m).astype(np.uint16))
            actor.sources = np.arange(n_src, n_src + m, dtype=np.int64)
            n_src += m
            actors.append(actor)
        else:
            from teiten.simulate.events import plan_events

            actors.extend(plan_events(actor, src, ctry, _rng(seed, 4, i), start, end, addr,
                                      a_from, a_until))
    dtypes = {"addr": np.uint32, "country": str, "actor": np.int32, "stack": np.int8,
              "ttl": np.uint8, "win": np.uint16, "sport": np.uint16, "port": np.uint16,
              "weight": np.float64, "diurnal": bool, "ipid": np.uint16}
    srcs = Sources(**{k: (np.concatenate(v) if v else np.zeros(0, dtype=dtypes[k]))
                      for k, v in cols.items()})
    srcs.addr = srcs.addr.astype(np.uint32)
    srcs.derive(stack_names)
    srcs.country = srcs.country.astype(str)
    return World(sc, seed, scale, start, end, states, addr, a_sensor, a_from, a_until, srcs,
                 actors, stack_names)


def _default_os(kind: str) -> dict[str, float]:
    if kind in ("conficker", "slammer", "nachi", "messenger"):
        return {"windows-xp": 1.0}
    if kind == "mirai":
        return {"embedded": 1.0}
    if kind == "dns-any":
        return {"linux": 1.0}
    return DEFAULT_OS


def _actor_ports(spec: ActorSpec) -> tuple[list[int], np.ndarray]:
    defaults = {"conficker": [445], "mirai": [23], "slammer": [1434], "nachi": [0],
                "messenger": [1026, 1027, 1028, 1029], "dns-any": [53]}
    ports = list(spec.get("ports", defaults.get(spec.kind, [445])))
    w = np.array(spec.get("port_weights", [1.0] * len(ports)), dtype=float)
    if len(w) != len(ports):
        raise ConfigError(f"actor {spec.name}: port_weights and ports differ in length")
    return ports, w / w.sum()


def _tail_ports(rng: np.random.Generator, m: int) -> npt.NDArray[np.uint16]:
    """A long tail of ports: Zipf-like ranks over a shuffled port list, mostly below 10000."""
    perm = _rng(7, 7).permutation(np.arange(1, 65536))
    low = perm[perm < 10000]
    rank = np.minimum(rng.zipf(1.15, m) - 1, len(low) - 1)
    return low[rank].astype(np.uint16)


_TOOLS = {"conficker": "conficker", "mirai": "mirai", "slammer": "slammer", "nachi": "nachi",
          "messenger": "messenger-spam", "dns-any": "dns-any"}
_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


def _make_actor(i: int, spec: ActorSpec) -> Actor:
    kind = spec.kind
    proto: int | None
    if kind == "background":
        proto = _PROTO[str(spec.get("proto", "tcp"))]
    elif kind in ("conficker", "mirai"):
        proto = 6
    elif kind in ("slammer", "messenger", "dns-any"):
        proto = 17
    elif kind in ("nachi", "smurf"):
        proto = 1
    else:
        proto = None
    ports = list(spec.get("ports", []))
    if not ports and kind in RATE_KINDS:
        ports = _actor_ports(spec)[0]
    expected = list(spec.get("expected", []))
    if kind in RATE_KINDS:
        expected.append("diurnal" if spec.get("diurnal", False) else "flat")
    return Actor(i, spec.name, kind, spec, spec.get("tool", _TOOLS.get(kind)), proto, ports,
                 expected)


def duration_days(world: World) -> float:
    """Length of the period in days."""
    return (world.end - world.start) / DAY


__all__ = ["DAY", "HOUR", "NS", "Actor", "Event", "SensorState", "Sources", "World",
           "diurnal_profile", "duration_days", "plan_world"]
