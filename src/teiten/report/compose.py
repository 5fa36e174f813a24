"""Compose a report in one language from :class:`~teiten.report.facts.ReportFacts`.

The layout follows the seed reports: 概説 (summary with the citizen-facing sentence), 注目すべき
アクセス (events), the trend (図5-1 of the IPA report), destination ports and source countries
with the NPA's period-comparison tables, signatures, backscatter, scans, first payloads, 補足説明
(port glossary), coverage and 集計方法 (methodology). A section whose facts are missing is kept
with a "not analysed" note and listed in the methodology.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from teiten.report import charts
from teiten.report import events as ev
from teiten.report.facts import CmpRow, DetectedEvent, Event, ReportFacts, Scan
from teiten.report.i18n import (
    Catalog,
    date_label,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_share,
    fmt_signed,
    range_label,
)
from teiten.report.model import (
    Block,
    Cell,
    Figure,
    Paragraph,
    ReportData,
    Section,
    Table,
    finalize,
    ref,
)

#: Section keys in reading order.
SECTION_ORDER = ("summary", "events", "trend", "ports", "countries", "signatures", "backscatter",
                 "scans", "payloads", "glossary", "coverage", "methodology")
TOP_N = 10
#: Detected events told in prose (and listed in the events table), highest score first.
MAX_DETECTED = 6
#: Below this many monitored IPv4 addresses (a /24) the backscatter rate extrapolation
#: (× 2^32 / n) is footnoted as an order-of-magnitude guess.
ROUGH_EXTRAPOLATION_BELOW = 256


class _Ctx:
    def __init__(self, facts: ReportFacts, lang: str) -> None:
        self.f = facts
        self.lang = lang
        self.cat = Catalog(lang)
        self.tz = facts.period.tz
        p = facts.period
        self.cur = range_label(p.start, p.days()[-1], lang)
        pp = p.previous()
        self.prev = range_label(pp.start, pp.days()[-1], lang)

    def t(self, key: str, **kw: object) -> str:
        return self.cat.t(key, **kw)

    def country(self, code: str) -> str:
        names = self.f.country_names.get(code)
        if names and names.get(self.lang):
            return names[self.lang]
        if code in ("", "??", "ZZ", "-"):
            return self.t("unit.unknown_country")
        return code

    def label(self, key: str) -> str:
        """A port label is language-neutral; anything else is looked up as a country."""
        if "/" in key or key in ("other", "Other"):
            return self.t("unit.other") if key in ("other", "Other") else key
        return self.country(key)

    def count(self, v: float) -> str:
        if v == 0:
            return self.t("unit.not_detected")
        if v < self.f.display_floor:
            return self.t("unit.very_few")
        return self.t("unit.count", n=fmt_num(v))

    def rank(self, r: int | None) -> str:
        return self.t("unit.rank", n=r) if r else self.t("unit.none")

    def when(self, iso: str) -> str:
        dt = datetime.fromisoformat(iso).astimezone(ZoneInfo(self.tz))
        return (f"{dt.month}月{dt.day}日 {dt:%H:%M}" if self.lang == "ja"
                else f"{dt:%d %b %H:%M}")

    def duration(self, s: float) -> str:
        m = round(s / 60)
        h, m = divmod(m, 60)
        if self.lang == "ja":
            return f"{h}時間{m}分" if h else f"{m}分"
        return f"{h} h {m} min" if h else f"{m} min"


def _unavailable(c: _Ctx, key: str) -> Section:
    reason = c.f.reasons.get(key, "no result")
    return Section(key, c.t(f"section.{key}"), False, (), reason)


def _no_data(c: _Ctx, key: str) -> Section:
    return Section(key, c.t(f"section.{key}"), True, (Paragraph(c.t("doc.no_data")),))


def _cmp_table(c: _Ctx, tid: str, caption: str, key_col: str, rows: Sequence[CmpRow],
               source: str, label_fn: object = None) -> Table:
    """The NPA comparison table: top 10 plus rows outside it that hold a rise/fall rank."""
    top = [r for r in rows if r.rank is not None and r.rank <= TOP_N]
    extra = [r for r in rows if r not in top and (r.inc_rank or r.dec_rank)]
    body: list[tuple[Cell, ...]] = []
    no_pct: list[str] = []
    unobserved = bool(rows) and all(r.change_abs is None for r in rows)
    gap = tuple(Cell("…" if i in (0, 2) else "", cls="gap") for i in range(8))
    last_rank = 0
    for r in [*top, *sorted(extra, key=lambda r: (r.rank or 10**9, r.prev_rank or 10**9))]:
        if body and (r.rank or 10**9) > last_rank + 1:
            body.append(gap)
        last_rank = r.rank or 10**9
        name = c.label(r.key)
        if r.change_abs is None:  # the previous period was not observed
            pct = Cell(c.t("unit.none"), None, True, "muted")
        elif r.change_pct is None:
            pct = Cell(c.t("unit.none") + "※", None, True, "muted")
            no_pct.append(name)
        else:
            pct = Cell(fmt_pct(r.change_pct, c.lang), r.change_pct, True,
                       "up" if r.change_pct > 0 else "down" if r.change_pct < 0 else "")
        body.append((
            Cell(c.rank(r.rank), r.rank, True),
            Cell(c.rank(r.prev_rank), r.prev_rank, True),
            Cell(name, r.key),
            Cell(c.count(r.value), r.value, True),
            pct,
            Cell("" if r.change_abs is None
                 else f"（{fmt_signed(r.change_abs, c.lang)}）" if c.lang == "ja"
                 else f"({fmt_signed(r.change_abs, c.lang)})", r.change_abs, True),
            Cell(c.rank(r.inc_rank) if r.inc_rank else "", r.inc_rank, True, "up"),
            Cell(c.rank(r.dec_rank) if r.dec_rank else "", r.dec_rank, True, "down"),
        ))
    notes = [c.t("cmp.footnote_unit")]
    if no_pct:
        notes.append("※ " + c.t("cmp.footnote_no_pct", items=", ".join(no_pct)))
    if unobserved:
        notes.append(c.t("cmp.footnote_not_observed"))
    cols = (c.t("cmp.rank"), c.t("cmp.prev_rank"), key_col, c.t("cmp.value"), c.t("cmp.change"),
            c.t("cmp.delta"), c.t("cmp.inc_rank"), c.t("cmp.dec_rank"))
    return Table(tid, caption, cols, tuple(body), tuple(notes), source)


def _shares_table(c: _Ctx, tid: str, caption: str, key_col: str,
                  shares: Sequence[tuple[str, float]], source: str) -> Table:
    rows = tuple((Cell(c.label(k), k), Cell(fmt_share(v), v, True)) for k, v in shares)
    return Table(tid, caption, (key_col, c.t("ports.col_share")), rows,
                 (c.t("cmp.footnote_rounding"),), source)


# --- sections -------------------------------------------------------------------------------

def _summary(c: _Ctx) -> Section:
    h, f = c.f.headline, c.f
    if h is None:
        return _unavailable(c, "summary")
    blocks: list[Block] = [Paragraph(c.t(
        "summary.headline", period=c.cur, points=fmt_int(h.points), accesses=fmt_int(h.accesses),
        sources=fmt_int(h.sources), src_ppd=fmt_int(h.src_ppd), acc_ppd=fmt_int(h.acc_ppd),
        ref=ref("fig-trend") if f.trend else ref("tbl-headline")))]
    per_src = h.acc_ppd / h.src_ppd if h.src_ppd else 0.0
    blocks.append(Paragraph(c.t("summary.citizen", src_ppd=fmt_int(h.src_ppd),
                                per_src=fmt_int(per_src) if per_src >= 10
                                else fmt_num(per_src, 1)), "lead"))
    p = f.prev_headline
    if p is not None and p.acc_pad > 0:
        d = h.acc_pad - p.acc_pad
        blocks.append(Paragraph(c.t("summary.per_address", value=fmt_num(h.acc_pad, 1),
                                    delta=fmt_signed(d, c.lang, 1),
                                    pct=fmt_pct(100 * d / p.acc_pad, c.lang))))
    else:
        blocks.append(Paragraph(c.t("summary.per_address_nochange", value=fmt_num(h.acc_pad, 1))))
    if f.ports:
        top = [c.label(r.key) for r in f.ports if r.rank and r.rank <= 5]
        blocks.append(Paragraph(c.t("summary.top_ports", ports="、".join(top) if c.lang == "ja"
                                    else ", ".join(top), ref=ref("tbl-ports"))))
    if f.countries:
        top = [c.label(r.key) for r in f.countries if r.rank and r.rank <= 5]
        blocks.append(Paragraph(c.t("summary.top_countries",
                                    countries="、".join(top) if c.lang == "ja"
                                    else ", ".join(top), ref=ref("tbl-countries"))))
    metrics: list[tuple[str, float, float | None, bool]] = [
        ("metric.points", h.points, p.points if p else None, True),
        ("metric.sensor_days", h.sensor_days, p.sensor_days if p else None, True),
        ("metric.accesses", h.accesses, p.accesses if p else None, True),
        ("metric.sources", h.sources, p.sources if p else None, True),
        ("metric.distinct_sources", h.distinct_sources, p.distinct_sources if p else None, True),
        ("metric.acc_ppd", h.acc_ppd, p.acc_ppd if p else None, False),
        ("metric.src_ppd", h.src_ppd, p.src_ppd if p else None, False),
        ("metric.acc_pad", h.acc_pad, p.acc_pad if p else None, False),
    ]
    rows = []
    for key, now, before, integer in metrics:
        fmt = fmt_int if integer else fmt_num
        if before:
            pct = 100 * (now - before) / before
            chg = Cell(fmt_pct(pct, c.lang), pct, True,
                       "up" if pct > 0 else "down" if pct < 0 else "")
        else:
            chg = Cell(c.t("unit.none"), None, True, "muted")
        rows.append((Cell(c.t(key), key), Cell(fmt(now), now, True),
                     Cell(fmt(before) if before is not None else c.t("unit.none"), before, True),
                     chg))
    blocks.append(Table("tbl-headline", c.t("summary.table_caption"),
                        (c.t("summary.col_metric"), c.t("period.current"), c.t("period.previous"),
                         c.t("summary.col_change")), tuple(rows), (), "headline"))
    return Section("summary", c.t("section.summary"), True, tuple(blocks))


#: Table-rule event kinds that a detections event of the same key makes redundant.
_SAME_AS_DETECTED = {"new_top10": "new-entrant", "rank_jump": "rank-jump",
                     "single_source": "dominant-sport"}


def _events(c: _Ctx) -> Section:
    f = c.f
    found: list[Event] = []
    if f.ports:
        found += ev.port_events(f.ports, "tbl-ports")
    if f.countries:
        found += ev.port_events(f.countries, "tbl-countries", kind_prefix="country_")
    if f.sport_profiles:
        found += ev.sport_events(f.sport_profiles,
                                 {p: f"tbl-sport-{i}" for i, (p, _) in
                                  enumerate(f.sport_profiles)})
    if f.attacks:
        found += ev.attack_events(f.attacks, "tbl-attacks")
    if f.events:
        found += list(f.events)
    det = list(f.detected_events or ())
    covered = {(d.kind, d.key) for d in det}
    found = [e for e in found if (_SAME_AS_DETECTED.get(e.kind, ""),
                                  str(e.fields.get("label", ""))) not in covered]
    if f.ports is None and f.events is None and f.detected_events is None:
        return _unavailable(c, "events")
    chosen = ev.select(found)
    blocks: list[Block] = [Paragraph(c.t("events.intro"))]
    if not chosen and not det:
        blocks.append(Paragraph(c.t("events.none")))
    for e in chosen:
        blocks.append(Paragraph(ev.sentence(e, c.cat, c.label, ref(e.table), c.when,
                                            c.duration), "event"))
    top_det = sorted(det, key=lambda d: -d.score)[:MAX_DETECTED]
    for d in top_det:
        blocks.append(Paragraph(_detected_sentence(c, d), "event"))
    if top_det:
        blocks.append(_detected_table(c, top_det))
    return Section("events", c.t("section.events"), True, tuple(blocks))


def _detected_label(c: _Ctx, d: DetectedEvent) -> str:
    return c.country(d.key) if d.dimension == "country" else d.key


def _detected_sentence(c: _Ctx, d: DetectedEvent) -> str:
    key = f"det.{d.kind}" if c.cat.has(f"det.{d.kind}") else "det.other"
    if d.dimension == "country" and c.cat.has(f"{key}.country"):
        key = f"{key}.country"
    return c.t(key, label=_detected_label(c, d), kind=d.kind, count=fmt_int(d.value),
               prev_count=fmt_int(d.previous),
               day=date_label(d.day, c.lang) if d.day else c.t("unit.none"),
               subject=d.subject or c.t("unit.none"),
               share=fmt_share(d.share) if d.share is not None else c.t("unit.none"),
               ref=ref("tbl-events"))


def _detected_table(c: _Ctx, det: Sequence[DetectedEvent]) -> Table:
    rows = tuple((
        Cell(c.t(f"detkind.{d.kind}") if c.cat.has(f"detkind.{d.kind}") else d.kind, d.kind),
        Cell(_detected_label(c, d), d.key),
        Cell(fmt_int(d.value), d.value, True), Cell(fmt_int(d.previous), d.previous, True),
        Cell(fmt_pct(d.change_pct, c.lang) if d.change_pct is not None else c.t("unit.none"),
             d.change_pct, True),
        Cell(date_label(d.day, c.lang) if d.day else "", d.day.isoformat() if d.day else None),
        Cell(d.subject or "", d.subject, cls="mono"),
        Cell(fmt_share(d.share) if d.share is not None else "", d.share, True),
    ) for d in det)
    cols = tuple(c.t(k) for k in ("events.col_kind", "events.col_key", "events.col_value",
                                  "events.col_previous", "cmp.change", "events.col_day",
                                  "events.col_driver", "events.col_share"))
    return Table("tbl-events", c.t("events.table_caption"), cols, rows, (), "events")


def _trend(c: _Ctx) -> Section:
    f = c.f
    if f.trend is None and f.daily_ports is None:
        return _unavailable(c, "trend")
    blocks: list[Block] = []
    if f.trend:
        names = [range_label(tp.period.start, tp.period.days()[-1], c.lang) for tp in f.trend]
        blocks.append(Paragraph(c.t("trend.text", first=names[0], last=names[-1],
                                    ref=ref("fig-trend"))))
        blocks.append(Figure("fig-trend", c.t("trend.caption"), charts.trend(
            "fig-trend", names, [tp.acc_ppd for tp in f.trend], [tp.src_ppd for tp in f.trend],
            c.t("trend.accesses_axis"), c.t("trend.sources_axis")), "trend", "tbl-trend"))
        blocks.append(Table("tbl-trend", c.t("trend.table_caption"),
                            (c.t("trend.col_period"), c.t("metric.acc_ppd"),
                             c.t("metric.src_ppd")),
                            tuple((Cell(n, tp.period.label), Cell(fmt_num(tp.acc_ppd, 1),
                                                                  tp.acc_ppd, True),
                                   Cell(fmt_num(tp.src_ppd, 1), tp.src_ppd, True))
                                  for n, tp in zip(names, f.trend, strict=True)), (), "trend"))
    for key, series, cap in (("ports", f.daily_ports, "trend.daily_ports_caption"),
                             ("countries", f.daily_countries, "trend.daily_countries_caption")):
        if series is None or not series.lines:
            continue
        fid = f"fig-daily-{key}"
        blocks.append(Figure(fid, c.t(cap, n=len(series.lines)), charts.lines(
            fid, list(series.days), [(c.label(k), list(v)) for k, v in series.lines],
            c.t("metric.acc_pad")), f"daily_{key}"))
    if f.hourly:
        blocks.append(Figure("fig-hourly", c.t("trend.hourly_caption"), charts.hourly(
            "fig-hourly", [(c.t("trend.utc"), list(f.hourly[0])),
                           (c.t("trend.local"), list(f.hourly[1]))],
            c.t("trend.hour"), c.t("trend.accesses_axis")), "hourly"))
    return Section("trend", c.t("section.trend"), True, tuple(blocks))


def _ports(c: _Ctx) -> Section:
    f = c.f
    if f.ports is None:
        return _unavailable(c, "ports")
    if not f.ports:
        return _no_data(c, "ports")
    blocks: list[Block] = [Paragraph(c.t("ports.intro", ref=ref("tbl-ports")))]
    blocks.append(_cmp_table(c, "tbl-ports", c.t("ports.table_caption"), c.t("ports.col_port"),
                             f.ports, "ports"))
    top = [r for r in f.ports if r.rank and r.rank <= TOP_N]
    if top:
        blocks.append(Figure("fig-ports-compare", c.t("ports.compare_caption", prev=c.prev,
                                                      cur=c.cur),
                             charts.bar_compare("fig-ports-compare", [r.key for r in top],
                                                [r.value for r in top],
                                                [r.prev_value for r in top], (c.prev, c.cur)),
                             "ports", "tbl-ports"))
    home = c.country(f.home_country)
    if f.port_shares_world:
        rows = [(c.t("ports.world"), _named(c, f.port_shares_world))]
        if f.port_shares_home:
            rows.append((home, _named(c, f.port_shares_home)))
        blocks.append(Figure("fig-ports-world-home", c.t("ports.world_home_caption", home=home),
                             charts.stacked_shares("fig-ports-world-home", rows),
                             "port_shares"))
    if f.port_by_country:
        rows = [(c.country(cc), _named(c, shares)) for cc, shares in f.port_by_country]
        blocks.append(Figure("fig-ports-by-country", c.t("ports.by_country_caption"),
                             charts.stacked_shares("fig-ports-by-country", rows),
                             "port_country"))
    for i, (port, shares) in enumerate(f.sport_profiles or ()):
        tid, fid = f"tbl-sport-{i}", f"fig-sport-{i}"
        blocks.append(Figure(fid, c.t("ports.sport_caption", port=port), charts.hbars(
            fid, [c.label(s) for s, _ in shares], [100 * v for _, v in shares], "%"),
            "sport_profile", tid))
        blocks.append(_shares_table(c, tid, c.t("ports.sport_caption", port=port),
                                    c.t("ports.col_sport"), shares, "sport_profile"))
    return Section("ports", c.t("section.ports"), True, tuple(blocks))


def _named(c: _Ctx, shares: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(c.label(k), v) for k, v in shares]


def _countries(c: _Ctx) -> Section:
    f = c.f
    if f.countries is None:
        return _unavailable(c, "countries")
    if not f.countries:
        return _no_data(c, "countries")
    blocks: list[Block] = [Paragraph(c.t("countries.intro", ref=ref("tbl-countries")))]
    blocks.append(_cmp_table(c, "tbl-countries", c.t("countries.table_caption"),
                             c.t("countries.col_country"), f.countries, "countries"))
    if f.country_shares:
        blocks.append(Figure("fig-country-shares", c.t("countries.share_caption"), charts.hbars(
            "fig-country-shares", [c.label(k) for k, _ in f.country_shares],
            [100 * v for _, v in f.country_shares], "%"), "country_shares"))
    return Section("countries", c.t("section.countries"), True, tuple(blocks))


def _signatures(c: _Ctx) -> Section:
    f = c.f
    if f.signatures is None:
        return _unavailable(c, "signatures")
    if not f.signatures:
        return _no_data(c, "signatures")
    blocks: list[Block] = [Paragraph(c.t("signatures.intro",
                                         value=fmt_num(f.signatures_pad or 0.0, 1),
                                         ref=ref("tbl-signatures")))]
    blocks.append(_cmp_table(c, "tbl-signatures", c.t("signatures.table_caption"),
                             c.t("signatures.col_category"), f.signatures, "signatures"))
    total = sum(r.value for r in f.signatures) or 1.0
    shares = [(r.key, r.value / total) for r in f.signatures if r.value > 0]
    if shares:
        blocks.append(Figure("fig-signatures", c.t("signatures.share_caption"), charts.hbars(
            "fig-signatures", [k for k, _ in shares], [100 * v for _, v in shares], "%"),
            "signatures", "tbl-signatures"))
    return Section("signatures", c.t("section.signatures"), True, tuple(blocks))


def _backscatter(c: _Ctx) -> Section:
    f = c.f
    if f.attacks is None:
        return _unavailable(c, "backscatter")
    if not f.attacks:
        return Section("backscatter", c.t("section.backscatter"), True,
                       (Paragraph(c.t("backscatter.none")),))
    rows = tuple((Cell(a.victim, a.victim, cls="mono"), Cell(a.kind or a.proto, a.kind),
                  Cell(f"{a.port}/{a.proto}" if a.port is not None else a.proto, a.port),
                  Cell(c.when(a.start.isoformat()), a.start.isoformat()),
                  Cell(c.duration(a.duration_s), a.duration_s, True),
                  Cell(fmt_int(a.packets), a.packets, True),
                  Cell(fmt_int(a.est_pps), a.est_pps, True))
                 for a in sorted(f.attacks, key=lambda a: -a.est_pps)[:15])
    cols = tuple(c.t(f"backscatter.col_{k}") for k in ("victim", "type", "port", "start",
                                                      "duration", "packets", "rate"))
    # the extrapolation and its assumptions (specs/detections.md §1.1: state them)
    notes: list[str] = []
    n = max((a.monitored for a in f.attacks if a.monitored), default=0)
    if n:
        notes.append(c.t("backscatter.footnote_rate", n=fmt_int(n)))
        if n < ROUGH_EXTRAPOLATION_BELOW:
            notes.append(c.t("backscatter.footnote_rough", n=fmt_int(n),
                             factor=fmt_int(2**32 / n)))
    return Section("backscatter", c.t("section.backscatter"), True, (
        Paragraph(c.t("backscatter.intro", n=fmt_int(len(f.attacks)), ref=ref("tbl-attacks"))),
        Table("tbl-attacks", c.t("backscatter.table_caption"), cols, rows, tuple(notes),
              "backscatter")))


def _scans(c: _Ctx) -> Section:
    f = c.f
    if f.scans is None and f.tools is None and f.diurnal is None:
        return _unavailable(c, "scans")
    blocks: list[Block] = []
    if f.scans is not None and not f.scans and not f.tools and not f.diurnal:
        return _no_data(c, "scans")
    if f.scans:
        blocks.append(Paragraph(c.t("scans.intro", n=fmt_int(len(f.scans)), ref=ref("tbl-scans"))))
        groups: dict[tuple[str, str, str | None, str], list[Scan]] = {}
        for sc in f.scans:
            groups.setdefault((sc.source, sc.kind, sc.tool, sc.port), []).append(sc)
        merged = sorted(groups.items(), key=lambda kv: -sum(x.packets for x in kv[1]))[:15]
        rows = tuple((Cell(src, src, cls="mono"),
                      Cell(c.t(f"scankind.{kind}") if c.cat.has(f"scankind.{kind}") else kind,
                           kind),
                      Cell(tool or c.t("scans.unidentified"), tool), Cell(port, port),
                      Cell(fmt_int(len(g)), len(g), True),
                      Cell(fmt_int(max(x.targets for x in g)), max(x.targets for x in g), True),
                      Cell(fmt_int(sum(x.packets for x in g)), sum(x.packets for x in g), True))
                     for (src, kind, tool, port), g in merged)
        cols = (c.t("scans.col_source"), c.t("scans.col_kind"), c.t("scans.col_tool"),
                c.t("ports.col_port"), c.t("scans.col_campaigns"), c.t("scans.col_targets"),
                c.t("scans.col_packets"))
        blocks.append(Table("tbl-scans", c.t("scans.table_caption"), cols, rows, (), "scans"))
    if f.tools:
        total = sum(n for _, n in f.tools) or 1
        blocks.append(Figure("fig-tools", c.t("scans.tools_caption"), charts.hbars(
            "fig-tools", [t for t, _ in f.tools], [100 * n / total for _, n in f.tools], "%"),
            "tools", "tbl-tools"))
        blocks.append(Table("tbl-tools", c.t("scans.tools_table_caption"),
                            (c.t("scans.col_tool"), c.t("scans.col_packets"),
                             c.t("ports.col_share")),
                            tuple((Cell(t, t), Cell(fmt_int(n), n, True),
                                   Cell(fmt_share(n / total), n / total, True))
                                  for t, n in f.tools), (), "tools"))
    if f.diurnal:
        blocks.append(Paragraph(c.t("diurnal.intro", n=fmt_int(len(f.diurnal)),
                                    ref=ref("tbl-diurnal"))))
        drows = tuple((Cell(c.t(f"level.{d.level}") if c.cat.has(f"level.{d.level}")
                            else d.level, d.level),
                      Cell(c.country(d.entity) if d.level == "country" else d.entity, d.entity,
                           cls="" if d.level == "country" else "mono"),
                      Cell(fmt_int(d.packets), d.packets, True),
                      Cell(f"{d.peak_local_hour}:00" if d.peak_local_hour is not None else "",
                           d.peak_local_hour, True),
                      Cell(f"{d.p_value:.1e}", d.p_value, True))
                     for d in sorted(f.diurnal, key=lambda d: -d.packets)[:10])
        dcols = (c.t("diurnal.col_level"), c.t("diurnal.col_entity"), c.t("scans.col_packets"),
                 c.t("diurnal.col_peak"), c.t("diurnal.col_p"))
        blocks.append(Table("tbl-diurnal", c.t("diurnal.table_caption"), dcols, drows, (),
                            "diurnal"))
    return Section("scans", c.t("section.scans"), True, tuple(blocks))


def _payloads(c: _Ctx) -> Section:
    f = c.f
    if f.payloads is None:
        return _unavailable(c, "payloads")
    if not f.payloads:
        return Section("payloads", c.t("section.payloads"), True,
                       (Paragraph(c.t("payloads.none")),))
    rows = tuple((Cell(p.port, p.port), Cell(p.protocol, p.protocol),
                  Cell(_printable(p.sample), p.sample, cls="mono"),
                  Cell(fmt_int(p.count), p.count, True), Cell(fmt_int(p.sources), p.sources, True))
                 for p in f.payloads[:20])
    cols = tuple(c.t(f"payloads.col_{k}") for k in ("port", "protocol", "sample", "count",
                                                   "sources"))
    return Section("payloads", c.t("section.payloads"), True, (
        Paragraph(c.t("payloads.intro", ref=ref("tbl-payloads"))),
        Table("tbl-payloads", c.t("payloads.table_caption"), cols, rows, (), "payloads")))


def _printable(s: str, limit: int = 80) -> str:
    """Wire text as printable characters only (escaping for HTML happens in the template)."""
    out = "".join(ch if ch.isprintable() else "·" for ch in s[:limit])
    return out + ("…" if len(s) > limit else "")


def _glossary(c: _Ctx, ports: list[str]) -> Section:
    if c.f.ports is None:
        return _unavailable(c, "glossary")
    if not ports:
        return _no_data(c, "glossary")
    rows = []
    for p in ports:
        text = c.f.glossary.get(p, {}).get(c.lang) or c.t("glossary.unknown")
        rows.append((Cell(p, p), Cell(text)))
    return Section("glossary", c.t("section.glossary"), True, (
        Paragraph(c.t("glossary.intro")),
        Table("tbl-glossary", c.t("glossary.table_caption"),
              (c.t("glossary.col_port"), c.t("glossary.col_text")), tuple(rows), (),
              "glossary")))


def _coverage(c: _Ctx) -> Section:
    f = c.f
    if f.coverage is None:
        return _unavailable(c, "coverage")
    if not f.coverage:
        return _no_data(c, "coverage")
    cov = f.coverage
    covered = sum(s.covered_days for s in cov)
    calendar = sum(s.calendar_days for s in cov)
    rows = tuple((Cell(s.name or s.sensor, s.sensor), Cell(c.t(f"coverage.kind_{s.kind}")
                                                           if s.kind in ("passive", "responsive")
                                                           else s.kind, s.kind),
                  Cell(fmt_int(s.addresses), s.addresses, True),
                  Cell(f"{s.covered_days}/{s.calendar_days}", s.covered_days, True),
                  Cell(fmt_int(s.accesses), s.accesses, True),
                  Cell(", ".join(f"{d.month}/{d.day}" for d in s.missing[:10])
                       + ("…" if len(s.missing) > 10 else ""), len(s.missing)))
                 for s in cov)
    cols = tuple(c.t(f"coverage.col_{k}") for k in ("sensor", "kind", "addresses", "days",
                                                   "accesses", "missing"))
    return Section("coverage", c.t("section.coverage"), True, (
        Paragraph(c.t("coverage.intro", points=len(cov),
                      addresses=fmt_int(sum(s.addresses for s in cov)), covered=fmt_int(covered),
                      calendar=fmt_int(calendar))),
        Table("tbl-coverage", c.t("coverage.table_caption"), cols, rows, (), "coverage")))


def _methodology(c: _Ctx, omitted: list[str]) -> Section:
    f = c.f
    blocks: list[Block] = [
        Paragraph(c.t("method.access")), Paragraph(c.t("method.sources")),
        Paragraph(c.t("method.per_day")), Paragraph(c.t("method.timezone", tz=c.tz)),
        Paragraph(c.t("method.comparison", prev=c.prev, floor=fmt_num(f.display_floor))),
    ]
    if f.meta.get("country_source"):
        blocks.append(Paragraph(c.t("method.country", source=f.meta["country_source"])))
    blocks.append(Paragraph(c.t("method.traceability")))
    blocks.append(Paragraph(c.t("method.safety")))
    if omitted:
        blocks.append(Paragraph(c.t("doc.omitted_sections", names=", ".join(omitted)), "note"))
    params = [*f.params, *(("report.events", k, str(v)) for k, v in
                           sorted(dataclasses.asdict(ev.Params()).items()))]
    grouped: dict[str, list[str]] = {}
    for a, p, v in params:
        grouped.setdefault(a, []).append(f"{p}={v}")
    if grouped:
        blocks.append(Table("tbl-params", c.t("method.params_caption"),
                            (c.t("method.col_analysis"), c.t("method.col_param")),
                            tuple((Cell(a, a), Cell(", ".join(ps), ", ".join(ps), cls="mono"))
                                  for a, ps in grouped.items()), (), "params"))
    blocks.append(Paragraph(c.t("method.software", version=f.meta.get("version", "?"),
                                store=f.meta.get("store", "-"),
                                inputs=f.meta.get("inputs", "-")), "note"))
    return Section("methodology", c.t("section.methodology"), True, tuple(blocks))


def glossary_ports(facts: ReportFacts) -> list[str]:
    """The ports that appear in the report's port tables, in order of first appearance."""
    seen: list[str] = []
    for r in facts.ports or ():
        if r.key not in seen and ((r.rank is not None and r.rank <= TOP_N)
                                  or r.inc_rank or r.dec_rank):
            seen.append(r.key)
    for port, _ in facts.sport_profiles or ():
        if port not in seen:
            seen.append(port)
    return seen


def compose(facts: ReportFacts, lang: str, generated_at: str = "") -> ReportData:
    """Compose the report for ``facts`` in ``lang`` (``ja`` or ``en``), numbered and resolved.

    Parameters
    ----------
    facts : ReportFacts
        Analysis results for one period.
    lang : str
        ``ja`` or ``en``.
    generated_at : str
        Timestamp text to print (empty in tests for stable snapshots).
    """
    c = _Ctx(facts, lang)
    body = {
        "summary": _summary(c), "events": _events(c), "trend": _trend(c),
        "ports": _ports(c), "countries": _countries(c), "signatures": _signatures(c),
        "backscatter": _backscatter(c), "scans": _scans(c), "payloads": _payloads(c),
        "glossary": _glossary(c, glossary_ports(facts)), "coverage": _coverage(c),
    }
    omitted = [s.title for s in body.values() if not s.available]
    body["methodology"] = _methodology(c, omitted)
    sections = tuple(body[k] for k in SECTION_ORDER)
    highlights = tuple(b.text for b in body["events"].blocks
                       if isinstance(b, Paragraph) and b.style == "event")[:3]
    report = ReportData(
        lang=lang, title=c.t("doc.title"), period_label=c.cur, prev_label=c.prev,
        period_id=facts.period.label, generated_at=generated_at,
        version=facts.meta.get("version", ""), highlights=highlights, sections=sections,
        meta={"tz": c.tz, "store": facts.meta.get("store", "")},
    )
    return finalize(report)


__all__ = ["SECTION_ORDER", "compose", "glossary_ports"]
