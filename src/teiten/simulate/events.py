"""Discrete events: scan campaigns, DDoS attacks seen as backscatter, smurf bursts.

Each event becomes its own truth row (actor) and has its packets planned up front: the target
(address-table index), destination port and time of every packet that reaches the sensors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from teiten.core.errors import ConfigError
from teiten.simulate.world import NS, Actor, Event

I64 = npt.NDArray[np.int64]

#: Scanner tools and their variants (fingerprints in ``specs/detections.md`` §3).
SCAN_TOOLS = ("zmap-old", "zmap-new", "masscan", "masscan-old", "nmap", "unicornscan")
_TOOL_LABEL = {"zmap-old": "zmap", "zmap-new": "zmap", "masscan": "masscan",
               "masscan-old": "masscan", "nmap": "nmap", "unicornscan": "unicornscan"}
#: Common service ports scanners go for (vertical and box scans start here).
COMMON_PORTS = (22, 23, 80, 443, 445, 3389, 8080, 21, 25, 53, 110, 135, 139, 143, 1433,
                1521, 3306, 5432, 5900, 6379, 8443, 9200, 27017, 2323, 5555, 7547, 8888)


def _when(v: Any, default: float, start: int, end: int) -> int:
    if v is None:
        v = default
    if isinstance(v, int | float):
        return int(start + float(v) * (end - start))
    raise ConfigError(f"event time must be a fraction of the period, got {v!r}")


def _valid_at(t: int, a_from: I64, a_until: I64) -> I64:
    return np.flatnonzero((a_from <= t) & (a_until > t))


def plan_events(
    template: Actor, src: npt.NDArray[np.uint32], ctry: npt.NDArray[np.str_],
    rng: np.random.Generator, start: int, end: int, addr: npt.NDArray[np.uint32],
    a_from: I64, a_until: I64,
) -> list[Actor]:
    """Plan every event of one event actor spec; returns one :class:`Actor` per event."""
    spec = template.spec
    kind = spec.kind
    w0 = _when(spec.get("start"), 0.0, start, end)
    w1 = _when(spec.get("end"), 1.0, start, end)
    out: list[Actor] = []
    base_id = template.id
    if kind == "scan":
        tool = str(spec.get("tool", "zmap-old"))
        if tool not in SCAN_TOOLS:
            raise ConfigError(f"actor {spec.name}: tool must be one of {SCAN_TOOLS}")
        shape = str(spec.get("shape", "horizontal"))
        for k in range(len(src)):
            dur = int(float(spec.get("duration", 3600)) * rng.uniform(0.6, 1.4) * NS)
            t0 = int(rng.integers(w0, max(w0 + 1, w1 - dur)))
            valid = _valid_at(t0, a_from, a_until)
            ports = list(spec.get("ports", [80]))
            if shape == "horizontal":
                cov = float(spec.get("coverage", 1.0))
                tgt = valid[rng.random(len(valid)) < cov] if cov < 1 else valid
                port_list = [ports[k % len(ports)]]
            else:
                n_ports = int(spec.get("ports_per_scan", 100 if shape == "vertical" else 10))
                port_list = _scan_ports(ports, n_ports, rng)
                n_addr = 1 if shape == "vertical" else int(spec.get("addresses_per_scan", 16))
                tgt = rng.choice(valid, min(n_addr, len(valid)), replace=False)
            t_addr = np.repeat(tgt, len(port_list)).astype(np.int64)
            t_port = np.tile(np.array(port_list, dtype=np.uint16), len(tgt))
            t_ts = np.sort(t0 + rng.integers(0, dur, len(t_addr)))
            order = rng.permutation(len(t_addr))  # probes in pseudo-random target order
            t_addr, t_port = t_addr[order], t_port[order]
            detail: dict[str, Any] = {"variant": tool, "shape": shape, "planned": len(t_addr),
                                      "ports": port_list if len(port_list) <= 64 else
                                      f"{len(port_list)} ports",
                                      "sport_base": int(rng.integers(33000, 60000)),
                                      "syn_key": int(rng.integers(0, 2**32)),
                                      "seq_base": int(rng.integers(0, 2**32))}
            ev = Event(base_id + k, "scan", t0, t0 + dur, src[k: k + 1], [str(ctry[k])],
                       _TOOL_LABEL[tool], detail, t_addr, t_port, t_ts)
            out.append(replace(
                template, id=base_id + k, name=f"{spec.name}-{k + 1}", tool=_TOOL_LABEL[tool],
                proto=6, ports=port_list, event=ev,
                expected=[*template.expected, "scan", f"scan-{shape}"]))
    elif kind == "ddos":
        types, tw = _table(spec.get("shape"), {"syn": 0.45, "rst": 0.2, "ping": 0.15,
                                               "udp": 0.2})
        below = float(spec.get("below_share", 0.3))
        pps = float(spec.get("pps", 2.0))
        med = float(spec.get("duration", 1800))
        ports = list(spec.get("ports", [80, 443, 53, 22, 25, 8080]))
        for k in range(len(src)):
            atype = types[int(rng.choice(len(types), p=tw))]
            # every k-th attack stays below the thresholds (at least one when there are two)
            low = below > 0 and k % max(2, round(1 / below)) == 1
            if low:  # one of the three ways to miss corsaro's thresholds
                how = int(rng.integers(3))
                dur_s = float(rng.uniform(15, 50)) if how == 0 else float(rng.uniform(120, 900))
                rate = (float(rng.uniform(1.0, 3.0)) if how == 0 else
                        float(rng.uniform(0.05, 0.3)) if how == 1 else 20.0 / dur_s)
            else:
                dur_s = float(np.clip(rng.lognormal(np.log(med), 0.8), 120, 6 * 3600))
                rate = float(np.clip(rng.lognormal(np.log(pps), 0.7), 0.6, 200))
            dur = int(dur_s * NS)
            t0 = int(rng.integers(w0, max(w0 + 1, w1 - dur)))
            valid = _valid_at(t0, a_from, a_until)
            npk = max(1, int(rng.poisson(rate * dur_s)))
            t_ts = np.sort(t0 + rng.integers(0, dur, npk))
            t_addr = rng.choice(valid, npk).astype(np.int64)
            vport = int(ports[int(rng.integers(len(ports)))])
            t_port = rng.integers(1024, 65536, npk).astype(np.uint16)  # spoofed source ports
            detail = {"attack": atype, "victim_port": vport, "planned_rate_pps": rate,
                      "planned_duration_s": dur_s}
            ev = Event(base_id + k, "ddos", t0, t0 + dur, src[k: k + 1], [str(ctry[k])],
                       None, detail, t_addr, t_port, t_ts)
            out.append(replace(
                template, id=base_id + k, name=f"{spec.name}-{k + 1}", tool=None,
                proto=6 if atype in ("syn", "rst") else 1, ports=[vport], event=ev,
                expected=[*template.expected, "backscatter", f"backscatter-{atype}"]))
    elif kind == "smurf":
        n_amp = int(spec.get("amplifiers", 40))
        n_ev = len(src) // max(1, n_amp)
        pps = float(spec.get("pps", 3.0))
        for k in range(n_ev):
            amps = src[k * n_amp: (k + 1) * n_amp]
            dur_s = float(spec.get("duration", 900)) * rng.uniform(0.5, 1.5)
            dur = int(dur_s * NS)
            t0 = int(rng.integers(w0, max(w0 + 1, w1 - dur)))
            valid = _valid_at(t0, a_from, a_until)
            victim = int(rng.choice(valid))
            npk = max(1, int(rng.poisson(pps * dur_s)))
            t_ts = np.sort(t0 + rng.integers(0, dur, npk))
            t_addr = np.full(npk, victim, dtype=np.int64)
            t_port = rng.integers(0, len(amps), npk).astype(np.uint16)  # amplifier index
            detail = {"target": int(addr[victim]), "amplifiers": len(amps),
                      "icmp_id": int(rng.integers(0, 65536))}
            ev = Event(base_id + k, "smurf", t0, t0 + dur, amps,
                       sorted(set(ctry[k * n_amp: (k + 1) * n_amp].tolist())), None, detail,
                       t_addr, t_port, t_ts)
            out.append(replace(template, id=base_id + k, name=f"{spec.name}-{k + 1}",
                               proto=1, ports=[0], event=ev,
                               expected=[*template.expected, "smurf", "backscatter-echo-reply"]))
    return out


def _table(t: dict[str, float] | None, default: dict[str, float]) -> tuple[list[str],
                                                                         np.ndarray]:
    t = t or default
    keys = sorted(t)
    w = np.array([float(t[k]) for k in keys])
    return keys, w / w.sum()


def _scan_ports(ports: list[int], n: int, rng: np.random.Generator) -> list[int]:
    out = list(dict.fromkeys([*ports, *COMMON_PORTS]))[:n]
    if len(out) < n:
        cand = np.setdiff1d(np.arange(1, 10001), np.array(out))
        out.extend(int(p) for p in rng.choice(cand, n - len(out), replace=False))
    return sorted(out)
