"""Per-source scanner-tool verdicts: the ``tool`` fingerprints of a source's packets, by majority.

A source gets a tool when one fingerprint (:mod:`teiten.ingest.enrich.tool`) labels at least
``min_packets`` of its packets and at least ``min_share`` of all its packets in the period; the
evidence (packets with the label, all packets, the runner-up) is kept so a report can say how
sure the verdict is. Sources whose labelled packets are a minority get a null tool (a stray
per-packet match on an ordinary host never decides).

Examples
--------
>>> from teiten.detections._common import packets_from_columns
>>> t = packets_from_columns({"ip_version": [4] * 4, "src": [1, 1, 1, 2],
...     "tool": ["masscan", "masscan", None, "mirai"]})
>>> r = detect(t, None)
>>> r.column("tool").to_pylist(), r.column("tool_packets").to_pylist()
(['masscan', 'mirai'], [2, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from teiten.core.periods import Period
from teiten.detections._columns import Batch, extract, string_codes, vocabulary_codes
from teiten.detections._common import (
    PacketSource,
    check_schema,
    dense_ids,
    ip6_text,
    ip_text,
    period_where,
    query,
    schema,
)
from teiten.ingest.enrich.tool import FAMILY

NAME: Final = "tools"


@dataclass(frozen=True, slots=True)
class Params:
    """Roll-up thresholds.

    Attributes
    ----------
    min_share : float
        The winning fingerprint must label at least this share of the source's packets (0.5:
        a majority).
    min_packets : int
        ... and at least this many packets (1: the per-packet rules are strict).
    """

    min_share: float = 0.5
    min_packets: int = 1


#: One row per source (IPv4 or IPv6) with at least one fingerprinted packet.
SCHEMA: Final[pa.Schema] = schema([
    ("src", pa.uint32(), "source address"),
    ("src_ip", pa.string(), "source address as text"),
    ("tool", pa.string(), "verdict (null when no fingerprint has a majority)"),
    ("family", pa.string(), "tool family for reports (zmap-old and zmap are both zmap)"),
    ("tool_packets", pa.int64(), "packets carrying the most frequent fingerprint"),
    ("packets", pa.int64(), "all packets of the source in the period"),
    ("share", pa.float64(), "tool_packets / packets"),
    ("candidate", pa.string(), "the most frequent fingerprint, verdict or not"),
    ("runner_up", pa.string(), "the second most frequent fingerprint (null if none)"),
    ("runner_up_packets", pa.int64(), "its packet count"),
    ("ip_version", pa.uint8(), "4 or 6"),
])  # fmt: skip


def _counts(packets: PacketSource, where: str, args: list[Any], version: int) -> pa.Table:
    """Per source of IP version ``version`` with a fingerprinted packet: all its packets, the
    most frequent fingerprint and the runner-up with their counts."""
    col = "src" if version == 4 else "src6"
    return query(
        packets,
        f"""WITH per AS (
              SELECT {col} AS s, tool::VARCHAR AS tool, count(*) AS n FROM packets
              WHERE {where} AND ip_version = {version} GROUP BY ALL),
            tot AS (SELECT s, sum(n)::BIGINT AS packets FROM per GROUP BY s
                    HAVING count(tool) > 0),
            ranked AS (
              SELECT s, tool, n, row_number() OVER (PARTITION BY s ORDER BY n DESC, tool)
                AS r FROM per WHERE tool IS NOT NULL)
            SELECT {"tot.s" if version == 4 else "NULL::UINTEGER"} AS src,
                   {"NULL::BLOB" if version == 4 else "tot.s"} AS src6,
                   {version}::UTINYINT AS ip_version, tot.packets,
                   a.tool AS candidate, a.n::BIGINT AS tool_packets,
                   b.tool AS runner_up, b.n::BIGINT AS runner_up_packets
            FROM tot JOIN ranked a ON a.s = tot.s AND a.r = 1
            LEFT JOIN ranked b ON b.s = tot.s AND b.r = 2
            ORDER BY tot.s""",
        args,
    )


def _tally(
    ids: npt.NDArray[np.int64], n_src: int, tool: npt.NDArray[Any], vocab: list[str]
) -> tuple[npt.NDArray[np.int64], ...]:
    """Per source (``ids`` numbers them): all packets, and per fingerprint (columns in name
    order) the packets carrying it; sources without a fingerprinted packet dropped."""
    names = sorted(vocab)
    rank = np.zeros(max(len(vocab), 1), dtype=np.int64)  # tool code -> position by name
    rank[[vocab.index(n) for n in names]] = np.arange(len(names))
    n_tool = max(len(names), 1)
    has = tool >= 0
    per = np.bincount(ids[has].astype(np.int64) * n_tool + rank[tool[has]],
                      minlength=n_src * n_tool)  # fmt: skip
    per = per.reshape(n_src, n_tool)
    keep = np.flatnonzero(per.sum(axis=1) > 0)
    return keep, np.bincount(ids, minlength=n_src)[keep], per[keep]


def _verdict_table(
    per: npt.NDArray[np.int64], packets: npt.NDArray[np.int64], names: list[str],
    src: pa.Array, src6: pa.Array, version: int,
) -> pa.Table:  # fmt: skip
    """The rows of :func:`_counts` from the tallies (rows already in output order)."""
    n_tool = per.shape[1]
    order = np.argsort(-per, axis=1, kind="stable")  # most packets first, ties by name
    top = np.take_along_axis(per, order, axis=1)
    second = top[:, 1] if n_tool > 1 else np.zeros(len(per), dtype=np.int64)
    name_arr = np.array(names or [""], dtype=object)
    return pa.table({
        "src": src, "src6": src6,
        "ip_version": pa.array(np.full(len(per), version), pa.uint8()),
        "packets": packets.astype(np.int64),
        "candidate": pa.array(name_arr[order[:, 0]].tolist(), pa.string()),
        "tool_packets": top[:, 0].astype(np.int64),
        "runner_up": pa.array(name_arr[order[:, min(1, n_tool - 1)]].tolist(), pa.string(),
                              mask=second == 0),
        "runner_up_packets": pa.array(second, pa.int64(), mask=second == 0),
    })  # fmt: skip


#: One hour in nanoseconds (the hour numbers of part ``sources4``).
HOUR_NS: Final = 3600 * 10**9


def take_rows(b: Batch) -> dict[str, npt.NDArray[Any]]:
    """The IPv4 packets with a source of a batch: source, hour since the epoch, tool and
    country codes (part ``sources4`` of the shared pass, read by tools and diurnal)."""
    rows = b.int("ip_version", 0, np.uint8) == 4
    if b.has("src"):
        rows &= b.valid("src")
    keep = None if rows.all() else np.flatnonzero(rows)

    def sub(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return x if keep is None else x[keep]

    return {"src": sub(b.int("src", 0, np.uint32)),
            "h": sub(b.int("ts", 0) // HOUR_NS).astype(np.int32),
            "tool": sub(b.codes("tool")), "country": sub(b.codes("country"))}  # fmt: skip


def sources(packets: PacketSource, period: Period | None, store: Any) -> dict[str, Any]:
    """Part ``sources4`` with the source numbers (a hashed pass, memoised with the part) and
    the tool and country vocabularies."""
    ex = extract(packets, period, "sources4", store=store)
    part = ex.part("sources4")
    if "ids" not in part:
        part["ids"], part["uniq"] = dense_ids(part["src"].astype(np.uint64))
        part["vocab"] = {n: ex.vocabulary(n) for n in ("tool", "country")}
    return part


def _arrow_counts(packets: PacketSource, period: Period | None, store: Any) -> list[pa.Table]:
    """:func:`_counts` for both IP versions over the shared pass (the Arrow route): counts by
    ``bincount`` over the source numbers."""
    part = sources(packets, period, store)
    ids, uniq = part["ids"], part["uniq"]
    vocab = part["vocab"]["tool"]
    keep, npk, per = _tally(ids, len(uniq), part["tool"], vocab)
    srt = np.argsort(uniq[keep], kind="stable")
    t4 = _verdict_table(per[srt], npk[srt], sorted(vocab), pa.array(uniq[keep][srt], pa.uint32()),
                        pa.nulls(len(keep), pa.binary()), 4)  # fmt: skip
    ex = extract(packets, period, None, store=store)
    t = ex.rows_where(["src6", "tool"], ds.field("ip_version") == 6, "ip_version = 6")
    vocab6, code = vocabulary_codes()
    tool6 = string_codes(t.column("tool"), code, -1)
    enc = pc.dictionary_encode(t.column("src6")).combine_chunks()
    idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    values = enc.dictionary
    n6 = len(values) + 1  # the last number: rows without a source
    keep, npk, per = _tally(np.where(idx >= 0, idx, n6 - 1), n6, tool6,
                            sorted(vocab6, key=vocab6.__getitem__))  # fmt: skip
    keep, npk, per = keep[keep < n6 - 1], npk[keep < n6 - 1], per[keep < n6 - 1]
    raw = np.frombuffer(values.buffers()[1], dtype=">u8")[values.offset * 2 :] if len(
        values) else np.zeros(0, ">u8")  # fmt: skip
    raw = raw[: 2 * len(values)].reshape(-1, 2)[keep]
    srt = np.lexsort((raw[:, 1], raw[:, 0]))  # by address bytes, as SQL orders a BLOB
    t6 = _verdict_table(per[srt], npk[srt], sorted(vocab6), pa.nulls(len(keep), pa.uint32()),
                        values.take(pa.array(keep[srt])).cast(pa.binary()), 6)  # fmt: skip
    return [t4, t6]


def detect(packets: PacketSource, period: Period | None, params: Params = Params(),
           store: Any = None) -> pa.Table:  # fmt: skip
    """Per-source tool verdicts by majority with evidence counts.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table with the ``tool`` column.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds.
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is: its files are then read directly with
        Arrow (see :func:`~teiten.detections._common.read_columns`).

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, sorted by source.
    """
    if store is not None or isinstance(packets, pa.Table | ds.Dataset):
        parts = _arrow_counts(packets, period, store)
    else:
        where, args = period_where(period)
        parts = [_counts(packets, where, args, version) for version in (4, 6)]
    t = pa.concat_tables([p for p in parts if p.num_rows] or parts[:1])
    if t.num_rows == 0:
        return SCHEMA.empty_table()
    npk = np.asarray(t.column("packets").to_numpy(), dtype=np.int64)
    ntool = np.asarray(t.column("tool_packets").to_numpy(), dtype=np.int64)
    share = ntool / npk
    ok = (share >= params.min_share) & (ntool >= params.min_packets)
    cand = t.column("candidate").to_pylist()
    tool = [c if k else None for c, k in zip(cand, ok.tolist(), strict=True)]
    v6 = np.asarray(t.column("ip_version").to_numpy(), dtype=np.int64) == 6
    text = ip_text(t.column("src"))
    if v6.any():
        for i, t6 in zip(np.flatnonzero(v6).tolist(), ip6_text(t.column("src6").filter(v6)),
                         strict=True):  # fmt: skip
            text[i] = t6
    out = pa.table({
        "src": t.column("src"),
        "src_ip": pa.array(text, pa.string()),
        "tool": pa.array(tool, pa.string()),
        "family": pa.array([FAMILY.get(x, x) if x else None for x in tool], pa.string()),
        "tool_packets": ntool,
        "packets": npk,
        "share": share,
        "candidate": t.column("candidate"),
        "runner_up": t.column("runner_up"),
        "runner_up_packets": t.column("runner_up_packets"),
        "ip_version": t.column("ip_version"),
    })  # fmt: skip
    return check_schema(out, SCHEMA)
