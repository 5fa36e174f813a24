"""Ground truth of a simulation: what was injected, counted from what was actually written.

Files (all in the output directory):

``truth.parquet``
    One row per actor (rate population, scan campaign, DDoS attack, smurf burst) and per
    sensor event (outage, maintenance, address change); schema :data:`TRUTH_SCHEMA`.
``truth_sources.parquet``
    One row per source host: address, country, actor, tool, OS, primary port, packets.
``truth_counts.parquet``
    Packets per (actor, sensor, UTC date) — the captures hold exactly these.
``truth.json``
    The same actor and sensor-event rows as JSON, plus the run's parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from teiten.ingest.enrich.country import v4_strings
from teiten.simulate.world import NS, World

if TYPE_CHECKING:
    from teiten.simulate.engine import Params, _Acc

TRUTH_FILES: Final = ("truth.parquet", "truth_sources.parquet", "truth_counts.parquet",
                      "truth.json")

#: corsaro's DoS thresholds (``specs/detections.md`` §1.4).
MIN_PACKETS: Final = 25
MIN_DURATION_S: Final = 60
MIN_PPM: Final = 30

_TS = pa.timestamp("ns", tz="UTC")

#: Schema of ``truth.parquet``.
TRUTH_SCHEMA: Final = pa.schema([
    ("actor_id", pa.int32()), ("name", pa.string()),
    ("category", pa.string()),  # population | scan | ddos | smurf | sensor
    ("kind", pa.string()), ("tool", pa.string()), ("proto", pa.uint8()),
    ("dports", pa.list_(pa.uint16())), ("sport", pa.uint16()),
    ("src", pa.uint32()), ("sources", pa.int64()), ("countries", pa.list_(pa.string())),
    ("start", _TS), ("end", _TS), ("packets", pa.int64()), ("rate_pps", pa.float64()),
    ("distinct_dsts", pa.int64()), ("diurnal", pa.bool_()),
    ("expected", pa.list_(pa.string())), ("sensor", pa.string()),
    ("victim_port", pa.uint16()), ("attack", pa.string()), ("max_ppm", pa.int64()),
    ("max_ppm_exact", pa.int64()), ("above_threshold", pa.bool_()),
    ("est_victim_pps", pa.float64()), ("detail", pa.string()),
])


def corsaro_max_ppm(ts: npt.NDArray[np.int64]) -> int:
    """Max packets in a 60-s window stepped by 10 s from the first packet (corsaro v2)."""
    if not len(ts):
        return 0
    b = np.bincount((ts - ts.min()) // (10 * NS))
    if len(b) < 6:
        return int(b.sum())
    c = np.convolve(b, np.ones(6, dtype=np.int64), mode="valid")
    return int(c.max())


def exact_max_ppm(ts: npt.NDArray[np.int64]) -> int:
    """Max packets in any 60-s window (sliding continuously)."""
    if not len(ts):
        return 0
    s = np.sort(ts)
    return int((np.searchsorted(s, s + 60 * NS) - np.arange(len(s))).max())


def _row(**kw: Any) -> dict[str, Any]:
    return {f.name: kw.get(f.name) for f in TRUTH_SCHEMA}


def build_truth(world: World, acc: _Acc, params: Params, out: Path,
                payloads: dict[str, Any] | None = None) -> None:
    """Write the truth files for a finished run (``payloads``: the responder's summary)."""
    rows: list[dict[str, Any]] = []
    S = world.sources
    naddr = world.n_addresses_at_start
    for a in world.actors:
        n = int(acc.packets[a.id])
        first = int(acc.first[a.id]) if n else None
        last = int(acc.last[a.id]) if n else None
        dur = (last - first) / NS if n and last is not None and first is not None else 0.0
        base: dict[str, Any] = {
            "actor_id": a.id, "name": a.name, "kind": a.kind, "tool": a.tool,
            "proto": a.proto, "dports": [int(p) for p in a.ports][:1024], "start": first,
            "end": last, "packets": n, "rate_pps": n / dur if dur > 0 else None,
            "expected": list(a.expected),
        }
        ev = a.event
        if ev is None:
            rows_ = a.sources
            sport = int(a.spec.get("sport", 0)) or None
            single = len(rows_) == 1
            rows.append(_row(
                **base, category="population", sport=sport,
                src=int(S.addr[rows_[0]]) if single else None, sources=len(rows_),
                countries=sorted(set(S.country[rows_].tolist())),
                diurnal=bool(a.spec.get("diurnal", False)),
                detail=json.dumps({"rate_per_address_day": a.spec.get("rate"),
                                   "ramp": a.spec.get("ramp", 1.0),
                                   "start": a.spec.get("start", 0.0),
                                   "end": a.spec.get("end", 1.0)}, sort_keys=True)))
            continue
        distinct = int(np.count_nonzero(acc.seen[a.id])) if a.id in acc.seen else 0
        ts = (np.sort(np.concatenate(acc.event_ts[a.id])) if a.id in acc.event_ts
              else np.zeros(0, np.int64))
        extra: dict[str, Any] = {}
        if ev.kind == "ddos":
            mp = corsaro_max_ppm(ts)
            above = n >= MIN_PACKETS and dur >= MIN_DURATION_S and mp >= MIN_PPM
            extra = dict(victim_port=ev.detail["victim_port"], attack=ev.detail["attack"],
                         max_ppm=mp, max_ppm_exact=exact_max_ppm(ts), above_threshold=above,
                         est_victim_pps=(n / dur) * 2**32 / naddr if dur > 0 else None,
                         expected=[*a.expected, "ddos" if above else "below-threshold"])
        elif ev.kind == "smurf":
            extra = dict(max_ppm=corsaro_max_ppm(ts), max_ppm_exact=exact_max_ppm(ts))
        base.update(extra)
        rows.append(_row(
            **base, category=ev.kind, src=int(ev.src[0]) if ev.kind != "smurf" else None,
            sources=len(ev.src), countries=ev.country, distinct_dsts=distinct,
            diurnal=False if ev.kind == "scan" else None,
            detail=json.dumps({k: v for k, v in ev.detail.items()}, sort_keys=True,
                              default=int)))
    next_id = len(world.actors)
    for st in world.sensors:
        sid = st.sensor.id
        for kind, wins in (("outage", st.outages), ("maintenance", st.maintenance)):
            for t0, t1 in wins:
                rows.append(_row(actor_id=next_id, name=f"{sid}-{kind}", category="sensor",
                                 kind=kind, sensor=sid, start=t0, end=t1, packets=0,
                                 expected=[kind, "declared" if kind == "maintenance"
                                           else "undeclared"], detail="{}"))
                next_id += 1
        if st.address_change:
            at, old, new = st.address_change
            rows.append(_row(actor_id=next_id, name=f"{sid}-address-change", category="sensor",
                             kind="address-change", sensor=sid, start=at, end=at, packets=0,
                             expected=["address-change"],
                             detail=json.dumps({"old": old, "new": new}, sort_keys=True)))
            next_id += 1
    table = pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)
    pq.write_table(table, out / "truth.parquet")
    _sources(world, acc, out)
    _counts(world, acc, out)
    doc = {
        "scenario": world.scenario.name, "seed": params.seed, "scale": params.scale,
        "period": {"start": _iso(world.start), "end": _iso(world.end)},
        "format": params.fmt, "rotate": params.rotate, "compression": params.compression,
        "monitored_addresses": naddr,
        "thresholds": {"min_packets": MIN_PACKETS, "min_duration_s": MIN_DURATION_S,
                       "min_ppm": MIN_PPM},
        "actors": [_json_row(r) for r in rows],
    }
    if payloads is not None and payloads.get("records"):
        doc["payload_records"] = payloads
    (out / "truth.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n",
                                    encoding="utf-8")


def _iso(ns: int) -> str:
    return str(np.datetime64(ns, "ns").astype("datetime64[s]")) + "Z"


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    for k in ("start", "end"):
        if out[k] is not None:
            out[k] = _iso(int(out[k]))
    if out.get("src") is not None:
        out["src"] = v4_strings(np.array([out["src"]], dtype=np.uint32))[0]
    if out.get("detail"):
        out["detail"] = json.loads(out["detail"])
    return out


def _sources(world: World, acc: _Acc, out: Path) -> None:
    S = world.sources
    names = [a.name for a in world.actors]
    tools = [a.tool for a in world.actors]
    addr = [S.addr]
    ctry = [S.country.astype(object)]
    act = [S.actor.astype(np.int32)]
    osn = [np.array(world.stack_names, dtype=object)[S.stack]]
    port = [S.port]
    pk = [acc.per_source]
    diu = [S.diurnal]
    for a in world.actors:
        ev = a.event
        if ev is None:
            continue
        m = len(ev.src)
        addr.append(ev.src.astype(np.uint32))
        c: list[str | None] = (list(ev.country) if len(ev.country) == m
                               else [ev.country[0]] * m)
        if ev.kind == "smurf":
            c = [None] * m
        ctry.append(np.array(c, dtype=object))
        act.append(np.full(m, a.id, np.int32))
        osn.append(np.full(m, None, dtype=object))
        port.append(np.full(m, a.ports[0] if a.ports else 0, np.uint16))
        pk.append(acc.amp_packets.get(a.id, np.full(m, acc.packets[a.id], np.int64)))
        diu.append(np.zeros(m, bool))
    act_all = np.concatenate(act)
    t = pa.table({
        "src": pa.array(np.concatenate(addr).astype(np.uint32)),
        "country": pa.array(np.concatenate(ctry), type=pa.string()),
        "actor_id": pa.array(act_all),
        "actor": pa.array([names[i] for i in act_all.tolist()], type=pa.string()),
        "tool": pa.array([tools[i] for i in act_all.tolist()], type=pa.string()),
        "os": pa.array(np.concatenate(osn), type=pa.string()),
        "port": pa.array(np.concatenate(port).astype(np.uint16)),
        "packets": pa.array(np.concatenate(pk).astype(np.int64)),
        "diurnal": pa.array(np.concatenate(diu).astype(bool)),
    })
    pq.write_table(t, out / "truth_sources.parquet")


def _counts(world: World, acc: _Acc, out: Path) -> None:
    keys = sorted(acc.counts)
    sid = [st.sensor.id for st in world.sensors]
    t = pa.table({
        "actor_id": pa.array([k[0] for k in keys], pa.int32()),
        "actor": pa.array([world.actors[k[0]].name for k in keys], pa.string()),
        "sensor": pa.array([sid[k[1]] for k in keys], pa.string()),
        "date": pa.array(np.array([k[2] for k in keys], dtype="datetime64[D]")),
        "packets": pa.array([acc.counts[k] for k in keys], pa.int64()),
    })
    pq.write_table(t, out / "truth_counts.parquet")
