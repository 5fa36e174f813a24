"""Gather a period's :class:`~teiten.report.facts.ReportFacts` from the analysis APIs.

Each section's numbers come from one analysis: the statistics (:mod:`teiten.analyses`), the
detections (:mod:`teiten.detections`; stored results are read when ``teiten detect`` has run,
else they are computed), the signature counts (:mod:`teiten.signatures`) and the responsive
sensors' payloads (:mod:`teiten.sensors.payloads`). A part whose module is missing, or that
fails, leaves its facts ``None`` with the reason in ``facts.reasons`` — the report then says
"not analysed" there instead of stopping.

Examples
--------
>>> from teiten.analyses import context
>>> from teiten.core.periods import parse_period
>>> facts = collect(context.empty_packets(), parse_period("2026-10"), detections=False)
>>> facts.headline.accesses, facts.reasons["signatures"]
(0, 'needs a store')
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from teiten import __version__
from teiten.core.errors import TeitenError
from teiten.core.periods import Period, parse_period
from teiten.report.compose import TOP_N
from teiten.report.facts import (
    Attack,
    CmpRow,
    DetectedEvent,
    Diurnal,
    Headline,
    PayloadRow,
    ReportFacts,
    Scan,
    SensorCoverage,
    Series,
    TrendPoint,
)

_PROTO = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


@dataclass(frozen=True, slots=True)
class Params:
    """What the report gathers.

    Parameters
    ----------
    trend_periods : int
        Periods in the trend figure (the seeds show six).
    sport_min_share : float
        A source-port profile is shown when its top source port holds at least this share
        ("where one is notable").
    max_sport_profiles : int
        At most this many source-port profiles.
    sport_min_row_share : float
        Source ports below this share of a profile are summed into "other".
    port_segments : int
        Ports shown per bar in the share figures; the rest is "other".
    """

    trend_periods: int = 6
    sport_min_share: float = 0.5
    max_sport_profiles: int = 3
    sport_min_row_share: float = 0.01
    port_segments: int = 8


def _is_store(obj: Any) -> bool:
    return hasattr(obj, "read_result") and hasattr(obj, "registry")


def _rows(t: pa.Table) -> list[dict[str, Any]]:
    return list(t.to_pylist())


def _cmp_rows(t: pa.Table, key: Callable[[dict[str, Any]], str]) -> tuple[CmpRow, ...]:
    out = []
    for r in _rows(t):
        if not ((r["rank_now"] is not None and r["rank_now"] <= TOP_N)
                or r["increase_rank"] is not None or r["decrease_rank"] is not None):
            continue
        out.append(CmpRow(key(r), r["rank_now"], r["rank_before"], float(r["value_now"]),
                          float(r["value_before"]), r["change_pct"],
                          None if r["change"] is None else float(r["change"]),
                          r["increase_rank"], r["decrease_rank"]))
    return tuple(out)


def _country_key(code: str | None) -> str:
    return code or "??"


def _params_rows(name: str, table: pa.Table) -> list[tuple[str, str, str]]:
    md = table.schema.metadata or {}
    raw = md.get(b"teiten.params")
    if not raw:
        return []
    return [(name, k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in sorted(json.loads(raw).items())]


class _Collector:
    def __init__(self, source: Any, period: Period, registry: Any, params: Params,
                 detections: bool) -> None:
        self.source = source
        self.store = source if _is_store(source) else None
        self.period = period
        self.registry = registry
        self.params = params
        self.run_detections = detections
        self.facts = ReportFacts(period)
        self.timings: dict[str, float] = {}
        self.facts.meta["version"] = __version__

    def part(self, keys: tuple[str, ...], fn: Callable[[], None]) -> None:
        """Run one part; on failure record the reason for each section it feeds."""
        t0 = time.perf_counter()
        try:
            fn()
        except _NotRunError as exc:
            for k in keys:
                self.facts.reasons.setdefault(k, str(exc))
        except ImportError as exc:
            # an optional analysis package left out of this installation; any other failed
            # import (a bug, a broken dependency) is reported as the error it is
            optional = exc.name in _OPTIONAL_MODULES
            for k in keys:
                self.facts.reasons.setdefault(k, f"module not available: {exc.name}" if optional
                                              else f"{type(exc).__name__}: {exc}")  # fmt: skip
        except Exception as exc:  # one failing analysis must not take the report down
            for k in keys:
                self.facts.reasons.setdefault(k, f"{type(exc).__name__}: {exc}")
        finally:
            self.timings[fn.__name__] = time.perf_counter() - t0

    # -- statistics ------------------------------------------------------------------------
    def statistics(self) -> None:
        from teiten.analyses import CompareParams, analysis, compare_periods, labels, make_context

        f = self.facts
        ctx = make_context(self.source, self.period, registry=self.registry)
        self.ctx = ctx
        reg = ctx.registry
        homes = [s.country for s in reg.values() if s.country]
        if homes:
            f.home_country = max(set(homes), key=homes.count)
        cp = CompareParams()
        f.display_floor = cp.display_floor

        def run(name: str, c: Any = ctx, p: Any = None) -> pa.Table:
            t: pa.Table = analysis(name)(c, p)
            if c is ctx:
                f.params += tuple(_params_rows(name, t))
            return t

        cov = run("coverage")
        f.headline = self._headline(run("totals"), cov)
        prev = ctx.for_period(self.period.previous())
        ph = self._headline(run("totals", prev), run("coverage", prev))
        f.prev_headline = ph if ph.sensor_days else None
        f.coverage = self._coverage(cov, reg)

        ports_cmp = compare_periods(ctx, "ports", cp)
        f.ports = _cmp_rows(ports_cmp, lambda r: str(r["label"]))
        countries_cmp = compare_periods(ctx, "countries", cp)
        f.countries = _cmp_rows(countries_cmp, lambda r: _country_key(r["country"]))
        for r in _rows(countries_cmp):
            f.country_names[_country_key(r["country"])] = {
                "ja": r["name_ja"] or _country_key(r["country"]),
                "en": r["name_en"] or _country_key(r["country"])}
        f.params += tuple(("comparison", k, str(v)) for k, v in
                          sorted(dataclasses.asdict(cp).items()))

        trend = run("trend", p=analysis("trend").params(periods=self.params.trend_periods))
        f.trend = tuple(TrendPoint(parse_period(r["period"], tz=self.period.tz),
                                   float(r["accesses_per_point_day"] or 0.0),
                                   float(r["sources_per_point_day"] or 0.0))
                        for r in _rows(trend) if r["sensor_days"])
        f.daily_ports = self._series(run("daily_ports"), lambda r: str(r["label"]))
        f.daily_countries = self._series(run("daily_countries"),
                                         lambda r: _country_key(r["country"]))
        countries = run("countries")
        f.country_shares = self._shares(
            [(_country_key(r["country"]), float(r["access_share"])) for r in _rows(countries)],
            10)
        hw = _rows(run("home_world"))
        world = [(str(r["label"]), float(r["access_share"])) for r in hw if r["scope"] == "world"]
        home = [(str(r["label"]), float(r["access_share"])) for r in hw if r["scope"] == "home"]
        f.port_shares_world = self._shares(world, self.params.port_segments) if world else None
        f.port_shares_home = self._shares(home, self.params.port_segments) if home else None
        f.port_by_country = self._port_by_country(run("port_country"))
        f.sport_profiles = self._sport_profiles(run("sport_profile"))
        f.hourly = self._hourly(run("hourly"))
        for lab in {r.key for r in f.ports} | {p for p, _ in f.sport_profiles or ()}:
            texts = {lang: labels.glossary(lab, lang) for lang in ("ja", "en")}
            if texts["ja"] or texts["en"]:
                f.glossary[lab] = {k: v for k, v in texts.items() if v}

    def _headline(self, totals: pa.Table, cov: pa.Table) -> Headline:
        r = _rows(totals)[0] if totals.num_rows else {}
        covered = [c for c in _rows(cov) if c["covered"]]
        addrs: dict[str, int] = {}
        for c in covered:
            addrs[c["sensor"]] = max(addrs.get(c["sensor"], 0), int(c["addresses"] or 0))
        return Headline(accesses=int(r.get("accesses") or 0),
                        sources=int(r.get("source_count") or 0),
                        distinct_sources=int(r.get("distinct_sources") or 0),
                        sensor_days=float(r.get("sensor_days") or 0),
                        address_days=float(r.get("address_days") or 0),
                        points=int(r.get("sensors") or 0), addresses=sum(addrs.values()))

    def _coverage(self, cov: pa.Table, reg: Any) -> tuple[SensorCoverage, ...]:
        per: dict[str, dict[str, Any]] = {}
        for c in _rows(cov):
            d = per.setdefault(c["sensor"], {"covered": 0, "days": 0, "packets": 0,
                                             "addresses": 0, "missing": []})
            d["days"] += 1
            d["packets"] += int(c["packets"] or 0) if c["covered"] else 0
            d["addresses"] = max(d["addresses"], int(c["addresses"] or 0))
            if c["covered"]:
                d["covered"] += 1
            else:
                d["missing"].append(c["day"])
        out = []
        for sid, d in sorted(per.items()):
            s = reg.get(sid)
            out.append(SensorCoverage(sid, s.display_name if s else sid,
                                      s.kind if s else "passive", d["addresses"], d["covered"],
                                      d["days"], d["packets"], tuple(d["missing"])))
        return tuple(out)

    def _series(self, t: pa.Table, key: Callable[[dict[str, Any]], str]) -> Series | None:
        days = self.period.days()
        index = {d: i for i, d in enumerate(days)}
        lines: dict[str, list[float]] = {}
        for r in _rows(t):
            if r["other"]:
                continue
            vals = lines.setdefault(key(r), [0.0] * len(days))
            if r["day"] in index:
                vals[index[r["day"]]] = float(r["accesses_per_address"] or 0.0)
        if not lines:
            return None
        return Series(tuple(days), tuple((k, tuple(v)) for k, v in lines.items()))

    @staticmethod
    def _shares(items: list[tuple[str, float]], n: int) -> tuple[tuple[str, float], ...]:
        top = items[:n]
        rest = 1.0 - sum(v for _, v in top)
        if len(items) > n and rest > 1e-9:
            top.append(("other", rest))
        return tuple(top)

    def _port_by_country(self, t: pa.Table) -> tuple[tuple[str, tuple[tuple[str, float], ...]],
                                                       ...] | None:
        per: dict[str, list[tuple[int, str, float]]] = {}
        order: dict[str, int] = {}
        for r in _rows(t):
            if r["country_rank"] is None or r["country_rank"] > 5:
                continue
            cc = _country_key(r["country"])
            order[cc] = r["country_rank"]
            if r["port_rank"] is not None and r["port_rank"] <= self.params.port_segments:
                per.setdefault(cc, []).append((r["port_rank"], str(r["label"]),
                                               float(r["share_of_country"])))
        if not per:
            return None
        out = []
        for cc in sorted(per, key=lambda c: order[c]):
            segs = [(lab, v) for _, lab, v in sorted(per[cc])]
            rest = 1.0 - sum(v for _, v in segs)
            if rest > 1e-9:
                segs.append(("other", rest))
            out.append((cc, tuple(segs)))
        return tuple(out)

    def _sport_profiles(self, t: pa.Table) -> tuple[tuple[str, tuple[tuple[str, float], ...]],
                                                      ...] | None:
        per: dict[str, list[tuple[int, str, float]]] = {}
        for r in _rows(t):
            sport = str(r["sport"]) if r["sport"] is not None else "other"
            per.setdefault(str(r["label"]), []).append(
                (r["rank"] if r["rank"] is not None else 10**6, sport, float(r["share"])))
        out = []
        for port, rows in per.items():
            rows.sort()
            if rows and rows[0][1] != "other" and rows[0][2] >= self.params.sport_min_share:
                shown = [(s, v) for _, s, v in rows
                         if s != "other" and v >= self.params.sport_min_row_share]
                rest = 1.0 - sum(v for _, v in shown)
                if rest > 1e-9:
                    shown.append(("other", rest))
                out.append((port, tuple(shown)))
        out.sort(key=lambda x: -x[1][0][1])
        return tuple(out[: self.params.max_sport_profiles])

    @staticmethod
    def _hourly(t: pa.Table) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        utc, local = [0.0] * 24, [0.0] * 24
        seen = False
        for r in _rows(t):
            if r["scope"] != "all":
                continue
            seen = True
            (utc if r["clock"] == "utc" else local)[int(r["hour"])] = float(r["accesses"])
        return (tuple(utc), tuple(local)) if seen else None

    # -- detections ------------------------------------------------------------------------
    def detection(self, name: str) -> pa.Table:
        from teiten.detections import make_params
        from teiten.detections import run as run_detection

        if self.store is not None:
            got = self.store.read_result(name, self.period.label)
            if got is not None:
                table: pa.Table = got[0]
                self.facts.params += tuple((name, k, json.dumps(v)) for k, v in
                                           sorted((got[1].get("params") or {}).items()))
                return table
        if not self.run_detections:
            raise _NotRunError("detection not run")
        packets = self.store.duckdb() if self.store is not None else self.source
        monitored = sum(s.addresses for s in self.facts.coverage or ()) or None
        params = make_params(name, monitored_addresses=monitored)
        self.facts.params += tuple((name, k, json.dumps(v)) for k, v in
                                   sorted(dataclasses.asdict(params).items()))
        result: pa.Table = run_detection(name, packets, self.period, params, store=self.store)
        return result

    def backscatter(self) -> None:
        rows = _rows(self.detection("backscatter"))
        self.facts.attacks = tuple(Attack(
            r["victim_ip"], _PROTO.get(r["protocol"], str(r["protocol"])),
            (r["victim_ports"] or [None])[0], r["start"], float(r["duration_s"]),
            int(r["packets"]), float(r["est_peak_pps"]), r["attack_type"],
            r.get("monitored_addresses")) for r in rows)

    def scans(self) -> None:
        rows = _rows(self.detection("scans"))
        self.facts.scans = tuple(Scan(
            r["src_ip"], r["kind"], r["tool"],
            f"{(r['ports'] or ['?'])[0]}/{_PROTO.get(r['proto'], str(r['proto']))}",
            int(r["n_destinations"]), int(r["packets"]), r["country"]) for r in rows)

    def tools(self) -> None:
        per: dict[str, int] = {}
        for r in _rows(self.detection("tools")):
            if r["tool"] is not None:
                fam = str(r["family"] or r["tool"])
                per[fam] = per.get(fam, 0) + int(r["packets"])
        self.facts.tools = tuple(sorted(per.items(), key=lambda kv: (-kv[1], kv[0])))

    def events(self) -> None:
        rows = _rows(self.detection("events"))
        self.facts.detected_events = tuple(DetectedEvent(
            r["kind"], r["dimension"], str(r["key"]), float(r["value"] or 0),
            float(r["previous"] or 0), r["change_pct"], r["day"], r["subject"], r["share"],
            float(r["score"] or 0)) for r in rows)

    def diurnal(self) -> None:
        rows = _rows(self.detection("diurnal"))
        self.facts.diurnal = tuple(Diurnal(r["level"], str(r["entity"]), int(r["packets"]),
                                           r["peak_local_hour"], float(r["p_value"]))
                                   for r in rows if r["label"] == "diurnal")

    # -- signatures and payloads --------------------------------------------------------------
    def signatures(self) -> None:
        if self.store is None:
            raise _NotRunError("needs a store")
        from teiten.signatures.run import stored_or_run
        from teiten.signatures.tables import category_table, comparison_table

        if self.store.read_result("signatures", self.period.label) is None \
                and not self.run_detections:
            raise _NotRunError("teiten signatures has not run for this period")
        now = category_table(*stored_or_run(self.store, self.period))
        before = category_table(*stored_or_run(self.store, self.period.previous()))
        cmp = comparison_table(now, before, ["category"])
        self.facts.signatures = _cmp_rows(cmp, lambda r: str(r["category"]))
        total = sum(float(v or 0) for v in now.column("per_address_day").to_pylist())
        self.facts.signatures_pad = total

    def payloads(self) -> None:
        if self.store is None:
            raise _NotRunError("needs a store")
        import duckdb

        from teiten.sensors.payloads import read_payloads

        t = read_payloads(self.store)
        con = duckdb.connect()
        con.register("p", t)
        res = con.sql(
            "select dport, cast(classification as varchar) as protocol, count(*) as n, "
            "count(distinct coalesce(cast(src as varchar), hex(src6))) as sources, "
            "arg_min(bytes, ts) as sample from p where epoch_ns(ts) >= ? and epoch_ns(ts) < ? "
            "group by 1, 2 order by n desc, dport limit 20",
            params=[self.period.start_ns, self.period.end_ns]).to_arrow_table()
        rows = _rows(res)
        if not rows and not any(s.kind == "responsive" for s in self.facts.coverage or ()):
            raise _NotRunError("no responsive sensor in this period")
        self.facts.payloads = tuple(PayloadRow(
            f"{r['dport']}/TCP", str(r["protocol"]),
            (r["sample"] or b"").decode("latin-1"), int(r["n"]), int(r["sources"]))
            for r in rows)


class _NotRunError(TeitenError):
    """A part that has nothing to show for this source or period."""


def collect(source: Any, period: Period, *, registry: Any = None, params: Params = Params(),
            detections: bool = True) -> ReportFacts:
    """Gather the facts of ``period`` from a store (or a packet table) through the analyses.

    Parameters
    ----------
    source : teiten.store.Store, pyarrow.Table or ibis.Table
        A store (statistics from its rollups; stored detection and signature results are
        used when present) or a packet table in ``PACKET_SCHEMA`` (tests, notebooks).
    period : Period
        The report period; its time zone decides the observation days.
    registry : Registry, optional
        Sensors, for packet-table sources (a store brings its own).
    params : Params
        What to gather (trend length, profile thresholds).
    detections : bool
        Compute detections (and signatures) that have no stored result. False renders those
        sections as not analysed.
    """
    c = _Collector(source, period, registry, params, detections)
    stat_keys = ("summary", "trend", "ports", "countries", "coverage", "glossary", "events")
    c.part(stat_keys, c.statistics)
    c.part(("backscatter",), c.backscatter)
    c.part(("scans",), c.scans)
    c.part(("scans",), c.tools)
    c.part(("events",), c.events)
    c.part(("scans",), c.diurnal)
    c.part(("signatures",), c.signatures)
    c.part(("payloads",), c.payloads)
    f = c.facts
    f.meta["timings"] = json.dumps({k: round(v, 2) for k, v in c.timings.items()})
    if c.store is not None:
        f.meta["store"] = str(getattr(c.store, "root", getattr(c.store, "path", "store")))
        try:
            f.meta["inputs"] = str(len(c.store.catalog.records()))
        except (AttributeError, TeitenError):
            f.meta["inputs"] = "-"
        f.meta["country_source"] = "teiten ingest"
    return f


#: The analysis packages a report can go without (its sections then say so).
_OPTIONAL_MODULES: Final = ("teiten.analyses", "teiten.detections", "teiten.signatures",
                            "teiten.sensors.payloads")


def available_modules() -> dict[str, bool]:
    """Which analysis packages this installation has (for the methodology and the demo)."""
    out = {}
    for name in _OPTIONAL_MODULES:
        try:
            importlib.import_module(name)
            out[name] = True
        except ImportError:
            out[name] = False
    return out


__all__ = ["Params", "available_modules", "collect"]
