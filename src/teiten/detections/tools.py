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
import pyarrow as pa

from teiten.core.periods import Period
from teiten.detections._common import (
    PacketSource,
    check_schema,
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


def detect(packets: PacketSource, period: Period | None, params: Params = Params()) -> pa.Table:
    """Per-source tool verdicts by majority with evidence counts.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table with the ``tool`` column.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, sorted by source.
    """
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
