"""Period comparison: ranks, change %, increase/decrease ranks, very few / not detected."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from teiten.analyses import compare, compare_periods
from teiten.analyses.comparison import Params


def _t(vals: dict[str, float]) -> pa.Table:
    return pa.table({"k": list(vals), "v": pa.array(list(vals.values()), pa.float64())})


def _rows(now: dict[str, float], before: dict[str, float], **kw: Any) -> dict[str, dict[str, Any]]:
    tab = compare(_t(now), _t(before), ["k"], Params(value="v", **kw))
    return {r["k"]: r for r in tab.to_pylist()}


def test_change_and_percent() -> None:
    r = _rows({"445/TCP": 131.08}, {"445/TCP": 136.76})["445/TCP"]
    assert abs(r["change"] - (131.08 - 136.76)) < 1e-9
    assert abs(r["change_pct"] - 100 * (131.08 - 136.76) / 136.76) < 1e-9
    assert r["pct_note"] is False


def test_tiny_previous_value_withholds_percent_with_footnote() -> None:
    # NPA 表3-1: 1521/TCP rose from 0.07 to 2.03 — no %, footnote
    r = _rows({"1521/TCP": 2.03}, {"1521/TCP": 0.07})["1521/TCP"]
    assert r["change_pct"] is None and r["pct_note"] is True
    assert r["rank_before"] == 1


def test_zero_now_reads_not_detected_without_rank_or_percent() -> None:
    r = _rows({"a": 5.0}, {"a": 4.0, "1027/UDP": 2.08})["1027/UDP"]
    assert r["status_now"] == "not_detected"
    assert r["rank_now"] is None
    assert r["change_pct"] is None and r["pct_note"] is True
    assert abs(r["change"] + 2.08) < 1e-9


def test_below_display_floor_reads_very_few_but_keeps_percent() -> None:
    # NPA 表3-1: 1026/UDP ごく僅か −99.9 %
    r = _rows({"a": 5.0, "1026/UDP": 0.0028}, {"a": 5.0, "1026/UDP": 2.80})["1026/UDP"]
    assert r["status_now"] == "very_few" and r["rank_now"] is None
    assert r["change_pct"] is not None and round(r["change_pct"], 1) == -99.9


def test_increase_and_decrease_ranks_top_n() -> None:
    now = {k: 10.0 + i for i, k in enumerate("abcdefg")}
    before = {k: 10.0 for k in "abcdefg"}
    rows = _rows(now, before, top=3)
    assert [rows[k]["increase_rank"] for k in "gfedcba"] == [1, 2, 3, None, None, None, None]
    assert all(r["decrease_rank"] is None for r in rows.values())


def test_decrease_rank_orders_by_absolute_fall() -> None:
    rows = _rows({"x": 1.0, "y": 5.0}, {"x": 9.0, "y": 6.0})
    assert (rows["x"]["decrease_rank"], rows["y"]["decrease_rank"]) == (1, 2)


def test_ties_share_a_rank() -> None:
    rows = _rows({"a": 2.0, "b": 2.0, "c": 1.0}, {})
    assert (rows["a"]["rank_now"], rows["b"]["rank_now"], rows["c"]["rank_now"]) == (1, 1, 3)


def test_rows_sorted_by_rank_now_then_absent_ones() -> None:
    tab = compare(_t({"b": 1.0, "a": 3.0}), _t({"c": 9.0}), ["k"], Params(value="v"))
    assert tab["k"].to_pylist() == ["a", "b", "c"]


def test_compare_periods_on_ports(ctx: Any) -> None:
    tab = compare_periods(ctx, "ports")
    rows = tab.to_pylist()
    assert rows[0]["rank_now"] == 1
    assert "label" in tab.column_names
    assert all(r["rank_before"] is not None for r in rows if r["status_before"] == "value")


def test_unobserved_previous_period_compares_nothing() -> None:
    # the network's first month: no previous ranks, no changes, no rise ranks
    tab = compare(_t({"445/TCP": 400.0, "23/TCP": 40.0}), _t({}), ["k"], Params(value="v"),
                  before_observed=False)
    for r in tab.to_pylist():
        assert r["status_before"] == "not_observed"
        assert r["rank_before"] is None and r["change"] is None and r["change_pct"] is None
        assert r["increase_rank"] is None and r["decrease_rank"] is None
        assert r["pct_note"] is False and r["highlight"] is True
    assert tab.schema.metadata[b"teiten.previous_observed"] == b"false"
    seen = compare(_t({"445/TCP": 400.0}), _t({}), ["k"], Params(value="v"))
    assert seen["increase_rank"].to_pylist() == [1]  # observed but silent: a real rise


def test_compare_periods_knows_when_the_previous_period_was_observed(ctx: Any) -> None:
    from teiten.analyses import parse_period

    first = compare_periods(ctx.for_period(parse_period("2026-08", ctx.period.tz)), "ports")
    assert first.num_rows and set(first["status_before"].to_pylist()) == {"not_observed"}
    nxt = compare_periods(ctx.for_period(parse_period("2026-11", ctx.period.tz)), "ports")
    assert nxt.schema.metadata[b"teiten.previous_observed"] == b"true"
    assert "not_observed" not in nxt["status_before"].to_pylist()
