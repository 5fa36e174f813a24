"""DDoS backscatter inference: victims of randomly-spoofed floods seen through their replies.

Method (``specs/detections.md`` §1): backscatter packets are corsaro's (TCP SYN+ACK or RST; ICMP
types 0, 3, 4, 5, 11, 12, 14, 16, 18 — the rules of the ``traffic_class`` enricher, applied
here on the raw fields so that unenriched tables work too). The victim is the outer source, or
for ICMP errors the quoted (inner) destination, whose protocol is then the attack protocol.
Packets are grouped per (victim, attack protocol) into vectors closed after ``idle_timeout_s``
without a packet; a vector is an attack iff it has at least ``min_packets`` packets, lasts at
least ``min_duration_s`` and has at least ``min_window_packets`` packets in some
``window_s``-second window (buckets of ``slide_s`` seconds aligned to the epoch, corsaro3).
Rates extrapolate to the whole IPv4 space by ``2^32 / monitored_addresses`` (§1.1; assumes
uniform random spoofing, one reply per attack packet, no loss).

IPv6 backscatter is read the same way: TCP SYN/ACK and RST over IPv6, ICMPv6 echo replies
(129), and ICMPv6 errors (1 unreachable, 2 packet too big, 3 time exceeded, 4 parameter
problem) whose quoted IPv6 header — the start of the error's payload, as the packet table
keeps only IPv4 quotes in ``inner_*`` — names the victim (quoted destination), the attack
protocol (quoted next header) and the victim port. IPv6 attacks carry no extrapolation
(``est_*`` null): spoofed sources drawn from 2^128 addresses would almost never hit a sensor,
so the factor's assumptions do not hold.

Attack types use the seed report's terms: SYN/ACK and RST answers ⇒ ``SYN flood``; echo
replies ⇒ ``PING flood``; ICMP errors quoting UDP ⇒ ``UDP flood``, quoting TCP ⇒ ``SYN
flood``, quoting ICMP ⇒ ``PING flood``; other ICMP replies ⇒ ``ICMP flood``.

Examples
--------
>>> import numpy as np
>>> from teiten.detections._common import packets_from_columns
>>> n = 40  # one SYN/ACK every 2 s from 192.0.2.7:80 to 40 monitored addresses
>>> t = packets_from_columns({"ts": np.arange(n) * 2 * 10**9, "ip_version": [4] * n,
...   "src": [0xC0000207] * n, "dst": np.arange(n) + 100, "proto": [6] * n,
...   "sport": [80] * n, "tcp_flags": [0x12] * n})
>>> r = detect(t, None, Params(monitored_addresses=256))
>>> r.column("victim_ip").to_pylist(), r.column("attack_type").to_pylist()
(['192.0.2.7'], ['SYN flood'])
>>> r.column("packets")[0].as_py(), r.column("max_window_packets")[0].as_py()
(40, 30)
>>> r.column("est_peak_pps")[0].as_py() == 30 / 60 * 2**32 / 256
True
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
from teiten.detections._columns import (
    Batch,
    Extract,
    arrow_route,
    extract,
    ints,
    read_columns,
)
from teiten.detections._common import (
    IPV4_SPACE,
    NS,
    V6_KEY,
    PacketSource,
    check_schema,
    dense_ids,
    distinct_per_group,
    ip6_text,
    ip_text,
    max_window_count,
    schema,
    sessionise,
    top_values_per_group,
)
from teiten.ingest.enrich import traffic_class as tc

NAME: Final = "backscatter"


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the DoS inference (defaults: corsaro v2 / corsaro3, spec §1.4).

    Attributes
    ----------
    min_packets : int
        An attack has at least this many backscatter packets (corsaro ``min_attack_packets``).
    min_duration_s : float
        Last packet minus first packet is at least this long (``min_attack_duration``).
    min_window_packets : int
        Some ``window_s`` window holds at least this many packets (``min_attack_packet_rate``).
    window_s : int
        Length of the rate window (``rate_window_size``).
    slide_s : int
        Step of the rate window; bucket width (``rate_window_slide``).
    idle_timeout_s : float
        A vector ends after this long without a packet (corsaro v2 300 s).
    monitored_addresses : int or None
        Addresses the sensors cover (n in 2^32/n). None: count distinct destinations seen in
        the period (a lower bound; the CLI passes the registry's count).
    max_ports : int
        Victim ports listed per attack (most packets first).
    """

    min_packets: int = 25
    min_duration_s: float = 60.0
    min_window_packets: int = 30
    window_s: int = 60
    slide_s: int = 10
    idle_timeout_s: float = 300.0
    monitored_addresses: int | None = None
    max_ports: int = 10


#: One row per inferred attack.
SCHEMA: Final[pa.Schema] = schema([
    ("victim", pa.uint32(), "victim IPv4 address (outer source, or quoted destination); null IPv6"),
    ("victim_ip", pa.string(), "victim address as text (IPv4 or IPv6)"),
    ("protocol", pa.uint8(), "attack protocol (the quoted protocol for ICMP errors)"),
    ("attack_type", pa.string(), "SYN flood, PING flood, UDP flood or ICMP flood"),
    ("backscatter_class", pa.string(), "the most frequent traffic class of the replies"),
    ("victim_ports", pa.list_(pa.uint16()), "victim (service) ports, most packets first"),
    ("n_victim_ports", pa.int64(), "distinct victim ports"),
    ("start", pa.timestamp("ns", tz="UTC"), "first backscatter packet"),
    ("end", pa.timestamp("ns", tz="UTC"), "last backscatter packet"),
    ("duration_s", pa.float64(), "end - start in seconds"),
    ("packets", pa.int64(), "backscatter packets observed"),
    ("max_window_packets", pa.int64(), "most packets in one rate window (corsaro max ppm)"),
    ("peak_pps", pa.float64(), "observed peak rate: max_window_packets / window_s"),
    ("mean_pps", pa.float64(), "observed mean rate: packets / duration"),
    ("spoofed_addresses", pa.int64(), "distinct monitored (spoofed) addresses hit"),
    ("est_peak_pps", pa.float64(), "peak rate extrapolated to all IPv4: peak_pps * 2^32 / n"),
    ("est_mean_pps", pa.float64(), "mean rate extrapolated to all IPv4"),
    ("est_packets", pa.float64(), "attack packets extrapolated to all IPv4"),
    ("mismatches", pa.int64(), "ICMP errors whose quoted source is not the outer destination"),
    ("monitored_addresses", pa.int64(), "n used for the extrapolation (null for IPv6)"),
    ("ip_version", pa.uint8(), "4 or 6"),
])  # fmt: skip

_BACKSCATTER_SQL: Final = (
    "((proto = 6 AND ((tcp_flags & 4) <> 0 OR (tcp_flags & 18) = 18))"
    " OR (proto = 1 AND icmp_type IN (0, 3, 4, 5, 11, 12, 14, 16, 18)))"
)
_INNER: Final = "inner_proto, inner_src, inner_dst, inner_sport, inner_dport"
_BACKSCATTER6_SQL: Final = (
    "((proto = 6 AND ((tcp_flags & 4) <> 0 OR (tcp_flags & 18) = 18))"
    " OR (proto = 58 AND icmp_type IN (1, 2, 3, 4, 129)))"
)
#: ICMPv6 error types that quote the offending packet (RFC 4443).
ICMP6_ERROR_TYPES: Final = (1, 2, 3, 4)
IPPROTO_ICMPV6: Final = 58


def _attack_type(cls: str, proto: int) -> str:
    if cls in (tc.SYNACK, tc.RST):
        return "SYN flood"
    if cls == tc.ECHO_REPLY:
        return "PING flood"
    if cls in tc.QUOTING:
        return {6: "SYN flood", 17: "UDP flood", 1: "PING flood", 58: "PING flood"}.get(
            proto, "ICMP flood"
        )
    return "ICMP flood"


def monitored_count(packets: PacketSource, period: Period | None, store: Any = None) -> int:
    """Distinct IPv4 destinations seen in the period (the fallback for ``n``)."""
    t = read_columns(packets, period, ["dst"], store=store, where="dst IS NOT NULL",
                     filter=ds.field("dst").is_valid())  # fmt: skip
    return max(len(dense_ids(ints(t, "dst", 0, np.uint64))[1]), 1)


def _fixed(
    values: pa.Array | pa.ChunkedArray, width: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The first ``width`` bytes of each binary value as a matrix, and which rows had them."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    n = len(arr)
    ok = np.asarray(pc.fill_null(pc.greater_equal(pc.binary_length(arr), width), False)
                    .to_numpy(zero_copy_only=False), dtype=bool)  # fmt: skip
    out = np.zeros((n, width), dtype=np.uint8)
    if ok.any():
        heads = pc.binary_slice(arr.filter(pa.array(ok)), 0, width).cast(pa.binary(width))
        buf = np.frombuffer(heads.buffers()[1], dtype=np.uint8)
        out[ok] = buf[heads.offset * width : (heads.offset + len(heads)) * width].reshape(-1, width)
    return out, ok


def _is_backscatter(version: int) -> ds.Expression:
    """``_BACKSCATTER_SQL`` (IPv4) or ``_BACKSCATTER6_SQL`` (IPv6) with the IP version, as an
    Arrow expression."""
    flags = ds.field("tcp_flags")
    tcp = (ds.field("proto") == 6) & ((pc.bit_wise_and(flags, 4) != 0)
                                      | (pc.bit_wise_and(flags, 18) == 18))  # fmt: skip
    types = (0, 3, 4, 5, 11, 12, 14, 16, 18) if version == 4 else (1, 2, 3, 4, 129)
    icmp = (ds.field("proto") == (1 if version == 4 else IPPROTO_ICMPV6)) & ds.field(
        "icmp_type").isin(pa.array(types, pa.uint8()))
    return (ds.field("ip_version") == version) & (tcp | icmp)


_ICMP4_TYPES: Final = (0, 3, 4, 5, 11, 12, 14, 16, 18)
_ICMP4_LUT: Final = np.isin(np.arange(256), _ICMP4_TYPES)


def take_rows(b: Batch) -> dict[str, pa.Table]:
    """The IPv4 backscatter rows of a batch (``_BACKSCATTER_SQL`` in NumPy; part
    ``backscatter4`` of the shared pass, :data:`teiten.detections._columns.PARTS`)."""
    proto = b.int("proto", 0, np.uint8)
    flags = b.int("tcp_flags", 0, np.uint8)
    icmp = (proto == 1) & _ICMP4_LUT[b.int("icmp_type", 0, np.uint8)] & b.valid("icmp_type")
    back = (proto == 6) & (((flags & 4) != 0) | ((flags & 18) == 18)) | icmp
    back &= b.int("ip_version", 0, np.uint8) == 4
    names = ["ts", "src", "dst", "proto", "sport", "tcp_flags", "icmp_type"]
    return {"table": pa.Table.from_batches([b.rb.select(names).filter(pa.array(back))])}


def _with_quotes(t: pa.Table, ex: Extract) -> pa.Table:
    """The backscatter rows ``t`` with the quoted fields (``inner_*``) of the ICMP ones, read
    on their own for those rows only (other rows: null)."""
    icmp = ((tc.column(t, "proto", 0) == 1)
            & _ICMP4_LUT[np.maximum(tc.column(t, "icmp_type", -1), 0)]
            & (tc.column(t, "icmp_type", -1) >= 0))  # fmt: skip
    expr = ((ds.field("ip_version") == 4) & (ds.field("proto") == 1)
            & ds.field("icmp_type").isin(pa.array(_ICMP4_TYPES, pa.uint8())))  # fmt: skip
    q = ex.rows_where(_INNER.split(", "), expr,
                      f"ip_version = 4 AND proto = 1 AND icmp_type IN {_ICMP4_TYPES}")
    at = np.flatnonzero(icmp)
    if q.num_rows != len(at):
        raise RuntimeError("quoted fields do not line up with the ICMP backscatter rows")
    for n in q.column_names:
        vals = np.zeros(t.num_rows, dtype=np.int64)
        valid = np.zeros(t.num_rows, dtype=bool)
        vals[at] = ints(q, n, 0)
        valid[at] = q.column(n).is_valid().to_numpy(zero_copy_only=False)
        t = t.append_column(n, pa.array(vals, pa.int64(), mask=~valid))
    return t


def _v4_rows(
    packets: PacketSource, period: Period | None, store: Any = None
) -> dict[str, npt.NDArray[np.int64]]:
    """IPv4 backscatter: time, victim, attack protocol, victim port, spoofed address, class,
    ICMP mismatch (victim from the outer source or the quoted destination)."""
    where = f"ip_version = 4 AND {_BACKSCATTER_SQL}"
    if arrow_route(packets, store):
        ex = extract(packets, period, "backscatter4", store=store)
        t = _with_quotes(ex.part("backscatter4")["table"], ex)
    else:  # one query: two would not return the rows in the same order
        t = read_columns(packets, period, ["ts", "src", "dst", "proto", "sport", "tcp_flags",
                                           "icmp_type", *_INNER.split(", ")], where=where)

    def col(name: str, fill: int) -> npt.NDArray[np.int64]:
        return tc.column(t, name, fill)

    src, dst, proto = col("src", 0), col("dst", 0), col("proto", 0)
    itype, inner_dst = col("icmp_type", -1), col("inner_dst", -1)
    quoting = (proto == tc.IPPROTO_ICMP) & np.isin(itype, tc.ICMP_ERROR_TYPES) & (inner_dst >= 0)
    return {
        "ts": col("ts", 0), "victim": np.where(quoting, inner_dst, src),
        "aproto": np.where(quoting, col("inner_proto", 0), proto),
        "vport": np.where(quoting, col("inner_dport", -1),
                          np.where(proto == 6, col("sport", -1), -1)),
        "spoofed": dst, "cls": tc.class_codes(t).astype(np.int64),
        "mismatch": (quoting & (col("inner_src", -1) != dst)).astype(np.int64),
    }  # fmt: skip


def _v6_rows(
    packets: PacketSource, period: Period | None, store: Any = None
) -> tuple[dict[str, npt.NDArray[np.int64]], pa.Array]:
    """IPv6 backscatter as :func:`_v4_rows`; ``victim`` indexes the returned array of 16-byte
    victims and ``spoofed`` numbers the monitored addresses hit. The quoted IPv6 header of an
    ICMPv6 error starts the payload: next header at byte 6, source at 8, destination at 24,
    then the quoted ports (no extension headers)."""
    t = extract(packets, period, None, store=store).rows_where(
        ["ts", "src6", "dst6", "proto", "sport", "tcp_flags", "icmp_type", "payload"],
        _is_backscatter(6), f"ip_version = 6 AND {_BACKSCATTER6_SQL}")  # fmt: skip
    n = t.num_rows
    src_m, _ = _fixed(t.column("src6"), 16)
    dst_m, _ = _fixed(t.column("dst6"), 16)
    quote, has_ports = _fixed(t.column("payload"), 44)
    head, has_addr = _fixed(t.column("payload"), 40)
    quote[:, :40] = head
    proto, itype = tc.column(t, "proto", 0), tc.column(t, "icmp_type", -1)
    quoting = (proto == IPPROTO_ICMPV6) & np.isin(itype, ICMP6_ERROR_TYPES) & has_addr
    quoting &= (quote[:, 0] >> 4) == 6
    victim_m = np.ascontiguousarray(np.where(quoting[:, None], quote[:, 24:40], src_m))
    victims = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), n, [None, pa.py_buffer(victim_m.tobytes())]
    )
    enc = pc.dictionary_encode(victims)
    inner_proto = quote[:, 6].astype(np.int64)
    inner_dport = quote[:, 42].astype(np.int64) << 8 | quote[:, 43].astype(np.int64)
    vport = np.where(quoting, np.where(has_ports & np.isin(inner_proto, (6, 17)), inner_dport, -1),
                     np.where(proto == 6, tc.column(t, "sport", -1), -1))  # fmt: skip
    _, spoofed = np.unique(dst_m.view(np.dtype((np.void, 16))).ravel(), return_inverse=True)
    return {
        "ts": tc.column(t, "ts", 0),
        "victim": np.asarray(enc.indices.to_numpy(), dtype=np.int64),
        "aproto": np.where(quoting, inner_proto, proto),
        "vport": vport,
        "spoofed": spoofed.astype(np.int64).ravel(),
        "cls": tc.class_codes(t).astype(np.int64),
        "mismatch": (quoting & (quote[:, 8:24] != dst_m).any(axis=1)).astype(np.int64),
    }, enc.dictionary


def detect(packets: PacketSource, period: Period | None, params: Params = Params(),
           store: Any = None) -> pa.Table:  # fmt: skip
    """Infer DDoS attacks from backscatter.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table (:data:`teiten.core.schema.PACKET_SCHEMA` columns).
    period : teiten.core.periods.Period or None
        Only packets inside the period (UTC bounds of its observation days); None: all.
    params : Params
        Thresholds.
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is: its files are then read directly with
        Arrow (see :func:`~teiten.detections._common.read_columns`).

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, one row per attack, sorted by start.
    """
    r4 = _v4_rows(packets, period, store)
    r6, victims6 = _v6_rows(packets, period, store)
    n_mon = params.monitored_addresses or monitored_count(packets, period, store)
    cols = {k: np.r_[r4[k], r6[k]] for k in r4}
    if len(cols["ts"]) == 0:
        return SCHEMA.empty_table()
    is6 = np.r_[np.zeros(len(r4["ts"]), bool), np.ones(len(r6["ts"]), bool)]
    key = (cols["victim"].astype(np.uint64) << np.uint64(8)) | cols["aproto"].astype(np.uint64)
    key[is6] |= V6_KEY
    ids, uniq = dense_ids(key)
    sess = sessionise(ids, cols["ts"], len(uniq), int(params.idle_timeout_s * NS),
                      max(params.min_packets, 1))  # fmt: skip
    if len(sess) == 0:
        return SCHEMA.empty_table()
    sid, rows = sess.session_of_rows(), sess.rows
    ts = cols["ts"][rows]
    first, last = sess.bounds[:-1], sess.bounds[1:] - 1
    npk = last - first + 1
    duration = (ts[last] - ts[first]) / NS
    maxw = max_window_count(sid, ts, params.slide_s * NS, params.window_s // params.slide_s)
    ok = (npk >= params.min_packets) & (duration >= params.min_duration_s)
    ok &= maxw >= params.min_window_packets
    if not ok.any():
        return SCHEMA.empty_table()
    # per-attack figures over the rows of the attacks only
    keep_rows = ok[sid]
    idx = np.flatnonzero(ok)
    n_s = len(idx)
    sid_k = np.cumsum(ok)[sid[keep_rows]] - 1
    rows_k = rows[keep_rows]
    first_k = np.r_[0, np.cumsum(npk[idx])[:-1]]
    spoofed = distinct_per_group(sid_k, cols["spoofed"][rows_k], n_s)
    mism = np.add.reduceat(cols["mismatch"][rows_k], first_k)
    vport = np.maximum(cols["vport"][rows_k], -1)
    has_none = np.add.reduceat((vport < 0).astype(np.int64), first_k) > 0
    nports = distinct_per_group(sid_k, vport, n_s) - has_none
    offs, pvals, _ = top_values_per_group(sid_k, vport, n_s, params.max_ports)
    _, top_cls, _ = top_values_per_group(sid_k, cols["cls"][rows_k], n_s, 1)

    skey = uniq[sess.group[idx]]
    v6 = (skey & V6_KEY) != 0
    victim = ((skey >> np.uint64(8)) & np.uint64(0xFFFFFFFF)).astype(np.int64)
    aproto = (skey & np.uint64(0xFF)).astype(np.int64)
    text = ip_text(victim)
    if v6.any():
        for i, t6 in zip(np.flatnonzero(v6).tolist(),
                         ip6_text(victims6.take(pa.array(victim[v6]))), strict=True):  # fmt: skip
            text[i] = t6
    peak = maxw[idx] / params.window_s
    dur = duration[idx]
    mean = npk[idx] / np.maximum(dur, 1e-9)
    factor = IPV4_SPACE / n_mon
    cls_name = [tc.VOCABULARY[int(c)] for c in top_cls]
    ports = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), pa.array(pvals, pa.uint16()))

    def est(x: npt.NDArray[np.float64]) -> pa.Array:
        return pa.array(x * factor, pa.float64(), mask=v6)

    out = pa.table({
        "victim": pa.array(victim, pa.uint32(), mask=v6),
        "victim_ip": pa.array(text, pa.string()),
        "protocol": pa.array(aproto, pa.uint8()),
        "attack_type": [_attack_type(c, int(p)) for c, p in zip(cls_name, aproto, strict=True)],
        "backscatter_class": cls_name,
        "victim_ports": ports,
        "n_victim_ports": nports,
        "start": pa.array(ts[first][idx], pa.timestamp("ns", "UTC")),
        "end": pa.array(ts[last][idx], pa.timestamp("ns", "UTC")),
        "duration_s": dur,
        "packets": npk[idx],
        "max_window_packets": maxw[idx],
        "peak_pps": peak,
        "mean_pps": mean,
        "spoofed_addresses": spoofed,
        "est_peak_pps": est(peak),
        "est_mean_pps": est(mean),
        "est_packets": est(npk[idx].astype(np.float64)),
        "mismatches": mism,
        "monitored_addresses": pa.array(np.full(n_s, n_mon), pa.int64(), mask=v6),
        "ip_version": pa.array(np.where(v6, 6, 4), pa.uint8()),
    })  # fmt: skip
    return check_schema(out, SCHEMA).sort_by([("start", "ascending"), ("victim", "ascending")])
