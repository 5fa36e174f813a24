"""``teiten stats``: observation statistics of a period, on the terminal or for machines.

Examples::

    teiten stats --store st --period 2026-10
    teiten stats --store st --period 2026-Q3 --by port --compare --top 20
    teiten stats --store st --period 2026-10 --by sport --ports 1521/TCP
    teiten stats --store st --period 2026-10 --by port,country --format csv > oct.csv
    teiten stats --store st --period 2026-10 --format parquet --output out/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from teiten.core.errors import UsageError
from teiten.core.periods import DEFAULT_TZ, parse_period

#: ``--by`` aliases → registry names.
ALIASES: dict[str, str] = {
    "port": "ports", "country": "countries", "protocol": "protocols", "home": "home_world",
    "port-country": "port_country", "sport": "sport_profile", "daily-port": "daily_ports",
    "daily-country": "daily_countries", "hour": "hourly", "total": "totals",
}
_DEFAULT_BY = ["totals", "ports", "countries"]
_COMPARABLE = ("ports", "countries", "protocols")


def register(sub: Any) -> None:
    """Add the ``stats`` sub-command."""
    from teiten.analyses import names

    p: argparse.ArgumentParser = sub.add_parser(
        "stats", help="observation statistics of a period (totals, ports, countries, …)",
        description="Statistics of a period. --by takes analysis names or aliases: "
        + ", ".join(names()) + "; aliases " + ", ".join(f"{k}={v}" for k, v in ALIASES.items()),
    )
    p.add_argument("--store", required=True, type=Path, help="the packet store")
    p.add_argument("--period", required=True,
                   help="2026-10, 2026-Q4, 2026-H2, 2026, 2026-10-05 or 2026-10-01..2026-10-15")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"report time zone (default {DEFAULT_TZ})")
    p.add_argument("--sensors", help="comma-separated sensor ids (default: all)")
    p.add_argument("--by", default=",".join(_DEFAULT_BY),
                   help="comma-separated analyses (default: totals,ports,countries); 'all'")
    p.add_argument("--compare", action="store_true",
                   help="for ports/countries/protocols: compare with the previous period")
    p.add_argument("--top", type=int, default=10, help="rows shown on the terminal (default 10)")
    p.add_argument("--ports", help="port labels for --by sport, e.g. 1521/TCP,445/TCP")
    p.add_argument("--lang", choices=["ja", "en"], default="en", help="names on the terminal")
    p.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    p.add_argument("--output", type=Path, help="directory for --format parquet (one file each)")
    p.add_argument("--save", action="store_true",
                   help="also store each result in the store (what reports read)")
    p.add_argument("--outage-min-daily", type=int, default=None,
                   help="a packet-less day is an outage when the sensor's median day has at "
                   "least this many packets (default 100)")
    p.add_argument("--no-materialise", action="store_true",
                   help="compute from raw packets; do not write rollups into the store")
    p.set_defaults(func=run)


def _chosen(by: str) -> list[str]:
    from teiten.analyses import names

    if by.strip() == "all":
        return names()
    out = []
    for item in by.split(","):
        name = ALIASES.get(item.strip(), item.strip())
        if name not in names():
            raise UsageError(f"--by: unknown analysis {item!r}; known: {', '.join(names())}")
        out.append(name)
    return out


def compute(args: argparse.Namespace) -> dict[str, pa.Table]:
    """Run what the arguments ask for and return the tables by name."""
    from teiten.analyses import analysis, compare_periods, context
    from teiten.store import open_store

    store = open_store(args.store)
    period = parse_period(args.period, args.tz)
    sensors = [s for s in (args.sensors or "").split(",") if s] or None
    from teiten.analyses import CoverageParams

    cov = CoverageParams() if args.outage_min_daily is None else CoverageParams(
        outage_min_daily=args.outage_min_daily)
    ctx = context.from_store(store, period, sensors=sensors, coverage_params=cov,
                             materialise=not args.no_materialise)
    out: dict[str, pa.Table] = {}
    for name in _chosen(args.by):
        spec = analysis(name)
        params = spec.params()
        if name == "sport_profile" and args.ports:
            params = dataclasses.replace(params, ports=tuple(args.ports.split(",")))
        if args.compare and name in _COMPARABLE:
            out[f"{name}_compare"] = compare_periods(ctx, name, analysis_params=params)
        else:
            out[name] = spec(ctx, params)
        if args.save:
            key = f"{name}_compare" if f"{name}_compare" in out else name
            store.write_result(key, period.label, out[key], {"period": period.label,
                                                            "tz": period.tz,
                                                            "sensors": sensors})
    return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``teiten stats``."""
    results = compute(args)
    if args.format == "table":
        _print_tables(results, args)
    elif args.format == "csv":
        _print_csv(results)
    elif args.format == "json":
        print(json.dumps({k: v.to_pylist() for k, v in results.items()}, default=_json,
                         ensure_ascii=False, indent=1))
    else:
        if args.output is None:
            raise UsageError("--format parquet needs --output DIR")
        import pyarrow.parquet as pq

        args.output.mkdir(parents=True, exist_ok=True)
        for name, tab in results.items():
            pq.write_table(tab, args.output / f"{name}.parquet")
            print(args.output / f"{name}.parquet")
    return 0


def _json(v: object) -> object:
    if isinstance(v, date | datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _print_csv(results: dict[str, pa.Table]) -> None:
    import pyarrow.csv as pcsv

    for i, (name, tab) in enumerate(results.items()):
        if len(results) > 1:
            sys.stdout.write(("\n" if i else "") + f"# {name}\n")
        sys.stdout.flush()
        sink = pa.BufferOutputStream()
        pcsv.write_csv(tab.replace_schema_metadata(None), sink)
        sys.stdout.write(sink.getvalue().to_pybytes().decode())


_HIDE = {"name_ja", "name_en", "src6", "proto", "port"}
_PCT = ("share", "access_share", "source_share", "share_of_port", "share_of_country")
_MEASURES = [("accesses", "accesses"), ("access_share", "share"),
             ("source_count", "sources*"), ("distinct_sources", "distinct"),
             ("accesses_per_point_day", "acc/pt/day"), ("sources_per_point_day", "src/pt/day"),
             ("accesses_per_address_day", "acc/IP/day")]
_COMPARE = [("rank_now", "rank"), ("rank_before", "before"), ("value_now", "value"),
            ("change_pct", "change %"), ("change", "change"), ("increase_rank", "incr."),
            ("decrease_rank", "decr.")]
#: Columns (and headers) shown on the terminal; other tables show every column but ids.
DISPLAY: dict[str, list[tuple[str, str]]] = {
    "ports": [("rank", "rank"), ("label", "port"), *_MEASURES],
    "countries": [("rank", "rank"), ("country", "country"), *_MEASURES],
    "protocols": [("rank", "rank"), ("name", "protocol"), *_MEASURES],
    "home_world": [("scope", "scope"), ("rank", "rank"), ("label", "port"), ("accesses",
                   "accesses"), ("access_share", "share"), ("source_count", "sources*")],
    "port_country": [("label", "port"), ("country", "country"), ("accesses", "accesses"),
                     ("share_of_port", "of port"), ("share_of_country", "of country")],
    "sport_profile": [("label", "port"), ("rank", "rank"), ("sport", "sport"),
                      ("accesses", "accesses"), ("share", "share")],
    "ports_compare": [("label", "port"), *_COMPARE],
    "countries_compare": [("country", "country"), *_COMPARE],
    "protocols_compare": [("name", "protocol"), *_COMPARE],
    "trend": [("period", "period"), ("sensor_days", "sensor-days"), ("accesses", "accesses"),
              ("source_count", "sources*"), ("accesses_per_point_day", "acc/pt/day"),
              ("sources_per_point_day", "src/pt/day"), ("accesses_per_address_day",
                                                        "acc/IP/day")],
    "daily_ports": [("day", "day"), ("label", "port"), ("accesses", "accesses"),
                    ("source_count", "sources*"), ("accesses_per_address", "acc/IP")],
    "daily_countries": [("day", "day"), ("country", "country"), ("accesses", "accesses"),
                        ("source_count", "sources*"), ("accesses_per_address", "acc/IP")],
}


def _cell(col: str, v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        if col in _PCT:
            return f"{100 * v:.1f}%"
        if col == "change_pct":
            return f"{v:+.1f}%"
        if col == "change":
            return f"{v:+.2f}"
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _display_table(name: str, tab: pa.Table, lang: str) -> tuple[list[tuple[str, str]],
                                                                 list[dict[str, Any]]]:
    """Columns and rows to print for one result."""
    from teiten.analyses.labels import status_text

    if "name_en" in tab.column_names and "country" in tab.column_names:
        i = tab.column_names.index("country")
        tab = tab.set_column(i, "country", tab[f"name_{lang}"])
    rows = tab.to_pylist()
    if name == "totals":  # one row: print it as metric / value
        return [("metric", "metric"), ("value", "value")], [
            {"metric": k, "value": v} for k, v in rows[0].items()] if rows else []
    if name == "coverage":  # per sensor: covered days and why the others are not
        per: dict[str, dict[str, Any]] = {}
        for r in rows:
            d = per.setdefault(r["sensor"], {"sensor": r["sensor"], "days": 0, "covered": 0,
                                             "addresses": 0, "not covered": []})
            d["days"] += 1
            if r["covered"]:
                d["covered"] += 1
                d["addresses"] += r["addresses"]
            else:
                d["not covered"].append(f"{r['day']:%m-%d} {r['reason']}")
        for d in per.values():
            d["not covered"] = ", ".join(d["not covered"]) or "-"
        cols = [("sensor", "sensor"), ("days", "days"), ("covered", "covered"),
                ("addresses", "address-days"), ("not covered", "not covered")]
        return cols, list(per.values())
    cols = DISPLAY.get(name) or [(c, c) for c in tab.column_names if c not in _HIDE]
    for r in rows:
        if r.get("status_now", "value") != "value":
            r["value_now"] = status_text(r["status_now"], "ja" if lang == "ja" else "en")
    return cols, rows


def _print_tables(results: dict[str, pa.Table], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, tab in results.items():
        cols, rows = _display_table(name, tab, args.lang)
        t = Table(title=f"{name} — {args.period} ({args.tz})", title_justify="left")
        for c, header in cols:
            numeric = c in tab.column_names and (
                pa.types.is_integer(tab.schema.field(c).type)
                or pa.types.is_floating(tab.schema.field(c).type))
            t.add_column(header, justify="right" if numeric or c == "value" else "left")
        limit = args.top if name not in ("totals", "trend", "coverage", "hourly",
                                         "daily_ports", "daily_countries") else None
        for r in rows[:limit]:
            t.add_row(*[_cell(c, r.get(c)) for c, _ in cols])
        console.print(t)
        if limit is not None and len(rows) > limit:
            console.print(f"… {len(rows) - limit:,} more rows (--top N, or --format csv)")
        if rows and all(r.get("status_before") == "not_observed" for r in rows):
            console.print("[dim]" + ("前期は観測データなし: 前期順位・前期比・増減順位なし"
                                     if args.lang == "ja" else
                                     "previous period not observed: no previous rank, change "
                                     "or rise/fall rank") + "[/dim]")
        if any(r.get("pct_note") for r in rows[:limit]):
            note = ("前期が少数または検知なし、もしくは今期検知なしのため前期比率は記載していない"
                    if args.lang == "ja" else
                    "no change % where the previous value was tiny or zero, or now is zero")
            console.print(f"[dim]change % '-': {note}[/dim]")
        if any(c == "source_count" for c, _ in cols):
            console.print("[dim]sources*: a source counts once per sensor, observation day "
                          "and destination port (延べ発信元数)[/dim]")
