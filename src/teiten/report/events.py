"""Notable events as sentences: rules over comparison tables, rendered from templates.

An event is a template key plus the numbers that fill it (:class:`~teiten.report.facts.Event`).
The rules here only look at rows of the report's own tables, so every sentence can be traced to
a table; events detected elsewhere (teiten.detections) arrive as ready :class:`Event` values.

Examples
--------
>>> from teiten.report.facts import CmpRow
>>> rows = (CmpRow("8909/TCP", 4, None, 2.5, 0.0, None, 2.5, 1, None),)
>>> [e.kind for e in port_events(rows, "tbl-ports")]
['new_top10']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from teiten.report.facts import Attack, CmpRow, Event
from teiten.report.i18n import Catalog, fmt_num, fmt_pct, fmt_share, fmt_signed


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the event rules.

    Parameters
    ----------
    top_n : int
        A key "enters the top" when it ranks within ``top_n`` now and did not before (10, as
        the IPA/NPA reports' top-10 tables).
    surge_pct : float
        A change of at least this many percent (and a rise/fall rank) is a surge or a drop.
    rank_jump : int
        A rise of at least this many places inside the top ``top_n`` is reported.
    single_source_share : float
        A source-port profile whose top source port holds at least this share is reported
        (the NPA's 1521/TCP case had 99% from source port 6000).
    max_events : int
        At most this many sentences from these rules, highest score first (events detected
        by teiten.detections are told separately).
    """

    top_n: int = 10
    surge_pct: float = 50.0
    rank_jump: int = 3
    single_source_share: float = 0.9
    max_events: int = 5


def port_events(rows: Sequence[CmpRow], table: str, params: Params = Params(),
                kind_prefix: str = "") -> list[Event]:
    """Events from a comparison table (ports by default; ``country_`` for countries)."""
    out: list[Event] = []
    for r in rows:
        if r.change_abs is None:  # the previous period was not observed: nothing changed
            continue
        base: dict[str, float | int | str] = {
            "label": r.key, "rank": r.rank or 0, "prev_rank": r.prev_rank or 0,
            "value": r.value, "prev_value": r.prev_value, "delta": r.change_abs,
            "pct": r.change_pct if r.change_pct is not None else 0.0,
        }
        if kind_prefix:
            if r.inc_rank is not None and r.change_pct is not None \
                    and r.change_pct >= params.surge_pct and r.inc_rank <= 2:
                out.append(Event(f"{kind_prefix}surge", base, table, 50 - r.inc_rank))
            continue
        if r.rank is not None and r.rank <= params.top_n and (
                r.prev_rank is None or r.prev_rank > params.top_n):
            out.append(Event("new_top10", base, table, 100 - r.rank))
        elif (r.rank is not None and r.prev_rank is not None and r.rank <= params.top_n
              and r.prev_rank - r.rank >= params.rank_jump):
            out.append(Event("rank_jump", base, table, 60 + r.prev_rank - r.rank))
        if r.value == 0 and r.prev_rank is not None and r.prev_rank <= params.top_n:
            out.append(Event("vanished", base, table, 80 - r.prev_rank))
        elif r.change_pct is not None and r.inc_rank is not None \
                and r.change_pct >= params.surge_pct:
            out.append(Event("surge", base, table, 70 - r.inc_rank))
        elif r.change_pct is not None and r.dec_rank is not None \
                and r.change_pct <= -params.surge_pct and r.value > 0:
            out.append(Event("drop", base, table, 65 - r.dec_rank))
    return out


def sport_events(profiles: Sequence[tuple[str, Sequence[tuple[str, float]]]],
                 tables: dict[str, str], params: Params = Params()) -> list[Event]:
    """A port whose accesses come mostly from one source port (the 1521/TCP ← 6000 case)."""
    out = []
    for port, shares in profiles:
        if shares and shares[0][1] >= params.single_source_share and port in tables:
            out.append(Event("single_source",
                             {"label": port, "sport": shares[0][0], "share": shares[0][1]},
                             tables[port], 75 + shares[0][1]))
    return out


def attack_events(attacks: Sequence[Attack], table: str, limit: int = 2) -> list[Event]:
    """The largest backscatter attacks (by estimated rate)."""
    top = sorted(attacks, key=lambda a: -a.est_pps)[:limit]
    return [Event("backscatter_attack",
                  {"victim": a.victim,
                   "target": f"{a.port}/{a.proto}" if a.port is not None else a.proto,
                   "start": a.start.isoformat(), "duration_s": a.duration_s,
                   "rate": a.est_pps}, table, 55 + i) for i, a in enumerate(top)]


def select(events: Sequence[Event], params: Params = Params()) -> list[Event]:
    """At most ``max_events``, highest score first, one per (kind, label)."""
    seen: set[tuple[str, str]] = set()
    out: list[Event] = []
    for e in sorted(events, key=lambda e: -e.score):
        k = (e.kind, str(e.fields.get("label", e.fields.get("victim", ""))))
        if k in seen:
            continue
        seen.add(k)
        out.append(e)
    return out[: params.max_events]


def sentence(event: Event, cat: Catalog, label: Callable[[str], str],
             ref: str, when: Callable[[str], str], duration: Callable[[float], str]) -> str:
    """The event's template filled with its formatted numbers (and nothing else)."""
    f = event.fields
    lang = cat.lang
    values: dict[str, object] = {"ref": ref}
    for k, v in f.items():
        if k == "label":
            values[k] = label(str(v))
        elif k in ("value", "prev_value"):
            values[k] = fmt_num(float(v))
        elif k == "delta":
            values[k] = fmt_signed(float(v), lang)
            values["delta_abs"] = fmt_num(abs(float(v)))
        elif k == "pct":
            values[k] = fmt_pct(float(v), lang)
            values["pct_abs"] = f"{abs(float(v)):,.1f}%"
        elif k == "share":
            values[k] = fmt_share(float(v))
        elif k == "rate":
            values[k] = f"{float(v):,.0f}"
        elif k == "start":
            values[k] = when(str(v))
        elif k == "duration_s":
            values["duration"] = duration(float(v))
        else:
            values[k] = v
    return cat.t(f"event.{event.kind}", **values)


__all__ = ["Params", "attack_events", "port_events", "select", "sentence", "sport_events"]
