"""Score the detections against a simulation's ground truth (``teiten simulate``).

``python -m teiten.detections.accuracy STORE SIMDIR --period 2026-10`` runs every detection on
the store (ingested from SIMDIR's captures) and compares with ``SIMDIR/truth*.parquet``:

- **ddos** — truth attacks starting in the period; a detected attack matches a truth attack
  with the same victim and overlapping time (±60 s). Precision over detected attacks, recall
  over above-threshold truth attacks, below-threshold attacks reported, start/end within 60 s.
- **scans** — truth scan campaigns with packets in the period; matched by source and time.
  Precision is over campaigns detected from sources that belong to injected scanners or to
  non-scanning populations (worm hosts — Conficker, Mirai — and the single-source population
  of the 1521/TCP case really scan: they are counted apart as ``population_campaigns``);
  the shape (horizontal/vertical/box) agreement is reported too, per injected scan (agreeing
  when one of the campaigns it was found as has its shape).
- **tools** — sources the truth gives a tool (zmap, masscan, mirai, nmap, unicornscan) and
  that sent packets in the period: share whose verdict (family) is right; and the number of
  Nmap or ordinary sources labelled Masscan/ZMap/Mirai (must be 0).
- **events** — every truth expectation (surge, single-source, fixed-source-port, new-entrant)
  found for its port; port events about ports with no expectation are counted as spurious.
- **diurnal** — tested sources whose label agrees with the truth's ``diurnal`` flag, and /24s
  whose label agrees with the packet-weighted majority of their sources' flags.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teiten.core.periods import Period, parse_period
from teiten.detections import get, make_params, monitored_v4, run

_NS = 10**9
_TOOLS = {"zmap", "masscan", "mirai", "nmap", "unicornscan"}
_WORMS = {"conficker", "mirai"}
_EXPECT = {"surge": {"surge"}, "single-source": {"single-source", "single-prefix"},
           "fixed-source-port": {"dominant-sport"}, "new-entrant": {"new-entrant"}}  # fmt: skip


def _ns(v: Any) -> int:
    return int(pa.scalar(v, pa.timestamp("ns", "UTC")).value) if v is not None else 0


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def score_ddos(truth: list[dict[str, Any]], found: pa.Table, period: Period) -> dict[str, Any]:
    """Precision/recall of the backscatter detection."""
    p0, p1 = period.start_ns, period.end_ns
    attacks = [r for r in truth if r["category"] == "ddos" and r["start"] is not None
               and p0 <= _ns(r["start"]) < p1]  # fmt: skip
    det = found.to_pylist()
    matched_truth: set[int] = set()
    true_pos = 0
    timing_ok = 0
    below_reported = 0
    for d in det:
        ds, de = _ns(d["start"]), _ns(d["end"])
        hit = [r for r in attacks if r["src"] == d["victim"]
               and ds <= _ns(r["end"]) + 60 * _NS and de >= _ns(r["start"]) - 60 * _NS]  # fmt: skip
        if not hit:
            continue
        r = hit[0]
        if r["above_threshold"]:
            true_pos += 1
            matched_truth.add(r["actor_id"])
            if abs(ds - _ns(r["start"])) <= 60 * _NS and abs(de - _ns(r["end"])) <= 60 * _NS:
                timing_ok += 1
        else:
            below_reported += 1
    above = [r for r in attacks if r["above_threshold"]]
    return {
        "truth_above": len(above), "truth_below": len(attacks) - len(above),
        "detected": len(det), "precision": _ratio(true_pos, len(det)),
        "recall": _ratio(len(matched_truth), len(above)), "below_reported": below_reported,
        "start_end_within_60s": _ratio(timing_ok, true_pos),
    }  # fmt: skip


def score_scans(truth: list[dict[str, Any]], actor_of: dict[int, str], found: pa.Table,
                period: Period) -> dict[str, Any]:  # fmt: skip
    """Precision/recall of scan campaigns against injected scanners."""
    p0, p1 = period.start_ns, period.end_ns
    scans = [r for r in truth if r["category"] == "scan" and r["packets"]
             and r["start"] is not None and p0 <= _ns(r["start"]) < p1]  # fmt: skip
    by_src = {r["src"]: r for r in scans}
    scan_srcs = {r["src"] for r in truth if r["category"] == "scan"}
    single = {r["src"] for r in truth if r["category"] == "population" and r["src"] is not None}
    det = found.to_pylist()
    matched: set[int] = set()
    shape_ok: set[int] = set()
    fp = 0
    worm = 0
    for d in det:
        r = by_src.get(d["src"])
        if r is not None and _ns(d["start"]) <= _ns(r["end"]) + 480 * _NS \
                and _ns(d["end"]) >= _ns(r["start"]) - 480 * _NS:
            matched.add(r["actor_id"])
            shape = json.loads(r["detail"] or "{}").get("shape")
            if shape == d["kind"]:
                shape_ok.add(r["actor_id"])
        elif d["src"] in scan_srcs:
            continue  # another campaign of an injected scanner (e.g. outside the truth window)
        elif actor_of.get(d["src"], "") in _WORMS or d["src"] in single:
            worm += 1
        else:
            fp += 1
    tp = len(matched)
    return {
        "truth": len(scans), "detected": len(det), "matched": tp,
        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, len(scans)),
        "false_positives": fp, "population_campaigns": worm,
        "shape_agreement": _ratio(len(shape_ok), tp),
    }  # fmt: skip


def score_tools(sources: pa.Table, found: pa.Table, seen: set[int]) -> dict[str, Any]:
    """Tool verdict accuracy per source and forbidden labels on Nmap/ordinary sources."""
    verdict = {r["src"]: r["family"] for r in found.to_pylist()}
    n = ok = forbidden = 0
    for r in sources.to_pylist():
        if r["src"] not in seen:
            continue
        got = verdict.get(r["src"])
        if r["tool"] in _TOOLS:
            n += 1
            ok += got == r["tool"]
        if (r["tool"] == "nmap" or r["tool"] not in _TOOLS) and got in {"masscan", "zmap", "mirai"}:
            forbidden += 1
    return {"sources_with_tool": n, "accuracy": _ratio(ok, n), "forbidden_labels": forbidden}


def score_events(truth: list[dict[str, Any]], found: pa.Table) -> dict[str, Any]:
    """Expectations found and spurious port events."""
    names = {1: "ICMP", 6: "TCP", 17: "UDP"}
    expected: list[tuple[str, str]] = []
    for r in truth:
        for e in r["expected"] or []:
            if e in _EXPECT and r["dports"]:
                expected.append((e, f"{r['dports'][0]}/{names.get(r['proto'], 'TCP')}"))
    got = {(e["kind"], e["key"]) for e in found.to_pylist()}
    hit = [x for x in expected if any((k, x[1]) in got for k in _EXPECT[x[0]])]
    keys = {k for _, k in expected}
    spurious = sorted({f"{k}:{key}" for k, key in got
                       if key not in keys and "/" in key and k != "signature-trend"})  # fmt: skip
    return {"expected": len(expected), "found": len(hit), "recall": _ratio(len(hit), len(expected)),
            "missed": sorted(set(expected) - set(hit)), "spurious_port_events": len(spurious),
            "spurious": spurious}  # fmt: skip


def score_diurnal(sources: pa.Table, found: pa.Table) -> dict[str, Any]:
    """Agreement of diurnal labels with the truth: per source, and per /24 (truly diurnal when
    most of its sources' packets come from diurnal sources). Countries and ASes mix
    populations, so the truth has no label for them."""
    truth = {r["src"]: bool(r["diurnal"]) for r in sources.to_pylist()}
    weight: dict[int, list[float]] = {}
    for r in sources.to_pylist():
        w = weight.setdefault(int(r["src"]) >> 8, [0.0, 0.0])
        w[bool(r["diurnal"])] += float(r["packets"] or 0)
    n = ok = pos = 0
    pn = pok = ppos = 0
    for r in found.to_pylist():
        if r["level"] not in ("source", "prefix24"):
            continue
        a, b, c, d = (int(x) for x in r["entity"].split("/")[0].split("."))
        addr = a << 24 | b << 16 | c << 8 | d
        if r["level"] == "source":
            if addr not in truth:
                continue
            n += 1
            pos += truth[addr]
            ok += truth[addr] == (r["label"] == "diurnal")
        elif (addr >> 8) in weight:
            flat_w, diurnal_w = weight[addr >> 8]
            want = diurnal_w > flat_w
            pn += 1
            ppos += want
            pok += want == (r["label"] == "diurnal")
    return {"tested_sources": n, "truly_diurnal": pos, "accuracy": _ratio(ok, n),
            "tested_prefixes": pn, "truly_diurnal_prefixes": ppos,
            "prefix_accuracy": _ratio(pok, pn)}  # fmt: skip


def score(store_path: str | Path, sim_dir: str | Path, period: Period,
          monitored: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Run the detections on a store and score them against ``sim_dir``'s truth."""
    from teiten.store import open_store

    store = open_store(store_path)
    sim = Path(sim_dir)
    truth = pq.read_table(sim / "truth.parquet").to_pylist()
    sources = pq.read_table(sim / "truth_sources.parquet")
    actor_of = dict(zip(sources.column("src").to_pylist(), sources.column("actor").to_pylist(),
                        strict=True))  # fmt: skip
    con = store.duckdb()
    if monitored is None:
        monitored = monitored_v4(store.registry(), period)
    res = {}
    for n in ("backscatter", "scans", "tools", "events", "diurnal"):
        kw = {"store": store} if "store" in inspect.signature(get(n).detect).parameters else {}
        res[n] = run(n, con, period, make_params(n, monitored_addresses=monitored), **kw)
    seen = set(np.asarray(con.sql(
        "SELECT DISTINCT src FROM packets WHERE ts >= ?::TIMESTAMPTZ_NS AND ts < ?::TIMESTAMPTZ_NS"
        " AND src IS NOT NULL", params=[period.start_utc, period.end_utc]
    ).to_arrow_table().column("src").to_numpy()).tolist())  # fmt: skip
    return {
        "period": period.label, "monitored_addresses": monitored,
        "ddos": score_ddos(truth, res["backscatter"], period),
        "scans": score_scans(truth, actor_of, res["scans"], period),
        "tools": score_tools(sources, res["tools"], seen),
        "events": score_events(truth, res["events"]),
        "diurnal": score_diurnal(sources, res["diurnal"]),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line: print the scores as JSON."""
    ap = argparse.ArgumentParser(prog="python -m teiten.detections.accuracy")
    ap.add_argument("store")
    ap.add_argument("simdir")
    ap.add_argument("--period", required=True)
    ap.add_argument("--tz", default="UTC")
    args = ap.parse_args(argv)
    out = score(args.store, args.simdir, parse_period(args.period, tz=args.tz))
    json.dump(out, sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
