"""Period comparison (今期/前期) of any keyed table, with the NPA tables' conventions.

For every key present now or before: rank now, rank before, value now and before, absolute
change, change %, and the increase and decrease ranks (top ``Params.top`` by absolute change).

Conventions (NPA 表3-1, 表3-2, 表4-1):

* a value below ``display_floor`` (but above zero) reads "very few" (ごく僅か) and gets no rank;
  zero reads "not detected" (検知なし) and gets no rank;
* change % is not shown — ``change_pct`` null and ``pct_note`` true, the table's footnote — when
  the previous value is below ``pct_min_previous`` (zero or tiny: "1521/TCP の前期検知件数は
  0.07 件") or the current value is zero;
* ranks are competition ranks (ties share the smaller rank);
* when the previous period was not observed at all (no covered sensor-day: the network's first
  month, or a gap in the store), nothing is compared: ``status_before`` reads "not observed"
  (前期観測なし), and the previous rank, the changes and the rise/fall ranks are null — a port
  is not "new in the top 10" because there was no previous table.

Examples
--------
>>> import pyarrow as pa
>>> now = pa.table({"k": ["a", "b"], "v": [3.0, 1.0]})
>>> before = pa.table({"k": ["a", "c"], "v": [2.0, 4.0]})
>>> t = compare(now, before, ["k"], Params(value="v"))
>>> t.column("k").to_pylist(), t.column("rank_before").to_pylist()
(['a', 'b', 'c'], [2, None, 1])
>>> t.column("status_now").to_pylist()
['value', 'value', 'not_detected']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses._common import f, rank_desc
from teiten.analyses.base import params_dict

#: Keys and label columns of the registered keyed analyses.
KEYS: Final[dict[str, tuple[list[str], list[str]]]] = {
    "ports": (["proto", "port"], ["label"]),
    "countries": (["country"], ["name_en", "name_ja"]),
    "protocols": (["proto"], ["name"]),
}

COMPARE_FIELDS: Final[list[pa.Field]] = [
    f("value_now", pa.float64(), "value this period (0 when absent)"),
    f("value_before", pa.float64(), "value in the previous period (0 when absent)"),
    f("rank_now", pa.int32(), "rank this period; null below the display floor or zero"),
    f("rank_before", pa.int32(), "rank in the previous period; null below the floor or zero"),
    f("status_now", pa.string(), "value, very_few (ごく僅か) or not_detected (検知なし)"),
    f("status_before", pa.string(),
      "same for the previous period, or not_observed (no covered sensor-day then)"),
    f("change", pa.float64(), "value_now - value_before; null when the previous period "
      "was not observed"),
    f("change_pct", pa.float64(), "100 * change / value_before; null when not shown"),
    f("pct_note", pa.bool_(), "change % withheld: previous tiny or zero, or now zero (footnote)"),
    f("increase_rank", pa.int32(), "rank among increases by absolute change (top N)"),
    f("decrease_rank", pa.int32(), "rank among decreases by absolute change (top N)"),
    f("highlight", pa.bool_(), "in the top N now, or has an increase/decrease rank"),
]


@dataclass(frozen=True, slots=True)
class Params:
    """Comparison settings (defaults reproduce the NPA tables, values per address per day).

    Parameters
    ----------
    value : str
        The compared column. Default ``accesses_per_address_day``.
    top : int
        Depth of the increase and decrease ranks, and of ``highlight``. Default 5.
    display_floor : float
        Values above zero but below this read "very few". Default 0.005 (shows as 0.00).
    pct_min_previous : float
        No change % when the previous value is below this. Default 0.1.
    """

    value: str = "accesses_per_address_day"
    top: int = 5
    display_floor: float = 0.005
    pct_min_previous: float = 0.1


def _align(now: pa.Table, before: pa.Table,
           keys: list[str]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Every key of either table, in the order: keys of ``now`` as they come, then keys only
    in ``before`` as they come there (null keys match each other).

    Returns the key columns (``now``'s types), the row of each key in ``now`` and in
    ``before`` (-1 where absent).
    """

    def side(tab: pa.Table, first: bool) -> pa.Table:
        n = tab.num_rows
        idx = pa.array(np.arange(n, dtype=np.int64))
        cols = {k: tab[k].cast(now.schema.field(k).type) for k in keys}
        cols["_in"] = idx if first else pa.nulls(n, pa.int64())
        cols["_ib"] = pa.nulls(n, pa.int64()) if first else idx
        return pa.table(cols)

    both = pa.concat_tables([side(now, True), side(before, False)])
    g = both.group_by(keys, use_threads=False).aggregate([("_in", "min"), ("_ib", "min")])
    i_now = pc.fill_null(g["_in_min"], -1).to_numpy(zero_copy_only=False)
    i_before = pc.fill_null(g["_ib_min"], -1).to_numpy(zero_copy_only=False)
    order = np.argsort(np.where(i_now >= 0, i_now, now.num_rows + i_before), kind="stable")
    take = pa.array(order)
    return g.select(keys).take(take), i_now[order], i_before[order]


def _pick(tab: pa.Table, col: str, rows: np.ndarray) -> pa.ChunkedArray:
    """``tab[col]`` at ``rows``; null where the row is -1."""
    return tab[col].take(pa.array(np.where(rows >= 0, rows, 0), mask=rows < 0))


def _values(tab: pa.Table, col: str, rows: np.ndarray) -> np.ndarray:
    """``tab[col]`` at ``rows`` as float64; 0 where absent or null."""
    v = pc.fill_null(pc.cast(_pick(tab, col, rows), pa.float64()), 0.0)
    out: np.ndarray = v.to_numpy()
    return out


def _status(v: np.ndarray, floor: float) -> np.ndarray:
    return np.where(v <= 0, "not_detected", np.where(v < floor, "very_few", "value"))


def _ranked(v: np.ndarray, status: np.ndarray) -> pa.Array:
    ranks = rank_desc(pa.array(np.where(status == "value", v, -np.inf))).to_numpy()
    return pa.array(ranks, pa.int32(), mask=status != "value")


def _move_rank(change: np.ndarray, sign: int, top: int) -> pa.Array:
    c = sign * change
    ranks = rank_desc(pa.array(np.where(c > 0, c, -np.inf))).to_numpy()
    return pa.array(ranks, pa.int32(), mask=(c <= 0) | (ranks > top))


def compare(now: pa.Table, before: pa.Table, keys: list[str], params: Params = Params(),
            labels: list[str] | None = None, before_observed: bool = True) -> pa.Table:
    """Compare two keyed tables (same key columns) on ``params.value``.

    Returns the key columns, the ``labels`` columns (taken from whichever side has the key),
    then :data:`COMPARE_FIELDS`; sorted by rank now, then value now, then rank before.
    ``before_observed=False`` says the previous period had no coverage at all: then nothing is
    compared (status ``not_observed``; previous rank, changes and rise/fall ranks null), and
    the schema metadata key ``teiten.previous_observed`` reads ``false``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = compare(pa.table({"k": ["a"], "v": [3.0]}), pa.table({"k": [], "v": []}), ["k"],
    ...             Params(value="v"), before_observed=False)
    >>> t.column("status_before").to_pylist(), t.column("increase_rank").to_pylist()
    (['not_observed'], [None])
    """
    labels = labels or []
    key_tab, i_now, i_before = _align(now, before, keys)
    value_now = _values(now, params.value, i_now)
    value_before = _values(before, params.value, i_before)
    st_now, st_before = (_status(value_now, params.display_floor),
                         _status(value_before, params.display_floor))
    if not before_observed:
        st_before = np.full(len(value_before), "not_observed")
    change = value_now - value_before
    show = (value_before >= params.pct_min_previous) & (value_before > 0) & (value_now > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(show, 100.0 * change / np.where(value_before > 0, value_before, 1), np.nan)
    cols: dict[str, Any] = {k: key_tab[k] for k in keys}
    for lab in labels:
        typ = now.schema.field(lab).type
        cols[lab] = pc.if_else(pa.array(i_now >= 0), _pick(now, lab, i_now).cast(typ),
                               _pick(before, lab, i_before).cast(typ))
    rank_now = _ranked(value_now, st_now)
    inc, dec = _move_rank(change, 1, params.top), _move_rank(change, -1, params.top)
    if not before_observed:  # nothing to compare with: no change, no rise or fall
        inc = dec = pa.nulls(len(change), pa.int32())
    rn = pc.fill_null(rank_now, 10**9).to_numpy()
    highlight = (rn <= params.top) | np.array(inc.is_valid()) | np.array(dec.is_valid())
    cols.update({
        "value_now": value_now, "value_before": value_before,
        "rank_now": rank_now, "rank_before": _ranked(value_before, st_before),
        "status_now": pa.array(st_now.tolist(), pa.string()),
        "status_before": pa.array(st_before.tolist(), pa.string()),
        "change": pa.array(change, pa.float64(), mask=np.full(len(change), not before_observed)),
        "change_pct": pa.array(pct, pa.float64(), from_pandas=True),
        "pct_note": pa.array(~show & before_observed), "increase_rank": inc, "decrease_rank": dec,
        "highlight": pa.array(highlight),
    })
    schema = pa.schema([now.schema.field(k) for k in keys + labels] + COMPARE_FIELDS)
    tab = pa.table(cols, schema=schema)
    order = np.lexsort((
        pc.fill_null(tab["rank_before"], 10**9).to_numpy(),
        -value_now, rn,
    ))
    tab = tab.take(pa.array(order))
    md = {b"teiten.compare": str(params_dict(params)).encode(),
          b"teiten.previous_observed": b"true" if before_observed else b"false"}
    return tab.replace_schema_metadata(md)


def compare_periods(ctx: Any, analysis: str, params: Params = Params(),
                    analysis_params: Any = None) -> pa.Table:
    """Run a keyed analysis on the context's period and the previous one, and compare.

    ``analysis`` is a registry name with known keys (:data:`KEYS`); the analysis runs with
    ``top=None`` semantics (every key) so ranks are over the whole table.
    """
    from teiten.analyses.registry import get

    spec = get(analysis)
    if analysis not in KEYS:
        from teiten.core.errors import UsageError

        raise UsageError(f"no comparison keys known for analysis {analysis!r}")
    keys, labels = KEYS[analysis]
    p = analysis_params if analysis_params is not None else spec.params()
    now = spec(ctx, p)
    prev = ctx.for_period(ctx.period.previous())
    before = spec(prev, p)
    return compare(now, before, keys, params, labels, before_observed=observed(prev))


def observed(ctx: Any) -> bool:
    """Whether the context's period has at least one covered sensor-day."""
    from teiten.analyses.registry import get

    cov = get("coverage")(ctx)
    return bool(cov.num_rows) and bool(pc.any(cov["covered"]).as_py())
