"""Event rules over comparison rows."""

from __future__ import annotations

from teiten.report import events as ev
from teiten.report.facts import CmpRow
from teiten.report.i18n import Catalog


def _row(key: str, rank: int | None, prev: int | None, pct: float | None = 10.0,
         inc: int | None = None, dec: int | None = None, value: float = 5.0) -> CmpRow:
    return CmpRow(key, rank, prev, value, 1.0, pct, value - 1.0, inc, dec)


def test_new_entrant_to_the_top_10() -> None:
    kinds = [e.kind for e in ev.port_events([_row("8909/TCP", 7, 25)], "t")]
    assert kinds == ["new_top10"]


def test_steady_port_is_not_an_event() -> None:
    assert ev.port_events([_row("445/TCP", 1, 1)], "t") == []


def test_surge_needs_a_rise_rank_and_the_threshold() -> None:
    assert [e.kind for e in ev.port_events([_row("1433/TCP", 4, 4, 80.0, inc=1)], "t")] == [
        "surge"]
    assert ev.port_events([_row("1433/TCP", 4, 4, 40.0, inc=1)], "t") == []


def test_vanished_top_port() -> None:
    kinds = [e.kind for e in ev.port_events([_row("1027/UDP", None, 5, None, dec=1,
                                                   value=0.0)], "t")]
    assert kinds == ["vanished"]


def test_single_source_port_profile() -> None:
    e = ev.sport_events([("1521/TCP", [("6000", 0.99), ("1", 0.01)])], {"1521/TCP": "tbl-s"})
    assert [x.table for x in e] == ["tbl-s"]
    assert ev.sport_events([("1521/TCP", [("6000", 0.5)])], {"1521/TCP": "tbl-s"}) == []


def test_sentence_is_filled_only_from_the_event_numbers() -> None:
    e = ev.port_events([_row("8909/TCP", 7, 25)], "t")[0]
    s = ev.sentence(e, Catalog("en"), str, "Table 4-1", str, str)
    assert s == ("8909/TCP entered the top 10 at rank 7 (5.00 per address per day, 1.00 in the "
                 "previous period) (Table 4-1).")


def test_selection_keeps_the_highest_scores() -> None:
    rows = [_row(f"{p}/TCP", i + 1, 30 + i) for i, p in enumerate(range(10))]
    chosen = ev.select(ev.port_events(rows, "t"), ev.Params(max_events=3))
    assert [e.fields["rank"] for e in chosen] == [1, 2, 3]


def test_nothing_is_new_when_the_previous_period_was_not_observed() -> None:
    first = CmpRow("445/TCP", 1, None, 400.0, 0.0, None, None, None, None)
    assert ev.port_events([first], "t") == []
    assert ev.port_events([first], "t", kind_prefix="country_") == []
