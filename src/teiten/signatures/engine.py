"""Evaluate compiled rules over packet tables, vectorised, and produce the alerts table.

Per batch (:meth:`Engine.match`):

1. rules without payload contents: header tests as column predicates over the rows of the
   rule's protocol only (rows are partitioned by protocol once per batch);
2. rules with contents: rows whose protocol some content rule accepts and that carry payload
   are reduced to their *distinct* payloads (``dictionary_encode``); one Aho-Corasick pass
   (pyahocorasick, ASCII-lower-cased so ``nocase`` patterns are covered) over those distinct
   payloads finds, for every rule, the payloads containing its fast pattern (its longest
   positive content); the rule's header tests run on only those rows, and the exact Suricata
   content inspection (:mod:`teiten.signatures.content`) runs once per distinct payload left.

The cost of step 2 grows with the number of automaton hits, not with the number of rules.
Thresholds and detection filters need time order across batches, so :meth:`Engine.finish`
applies them to all matches at the end (memory is bounded by matches, not packets).

A content match is decided on the stored payload prefix only (``payload``, capped at ingest,
512 bytes by default): a pattern beyond the prefix is not seen, and a negated content beyond it
cannot be excluded. Alerts from content rules on truncated payloads carry
``payload_truncated = true``; :meth:`CompiledRule.cap_sensitive` names the rules concerned.

Examples
--------
>>> import pyarrow as pa
>>> from teiten.signatures.loader import load_rules_text
>>> rs = load_rules_text('alert icmp any any -> any any (msg:"echo"; itype:8; sid:7;)')
>>> t = pa.table({"ts": pa.array([0, 1], pa.timestamp("ns", tz="UTC")),
...               "ip_version": pa.array([4, 4], pa.uint8()), "proto": pa.array([1, 1], pa.uint8()),
...               "icmp_type": pa.array([8, 0], pa.uint8())})
>>> evaluate(t, rs).column("sid").to_pylist()
[7]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from teiten.signatures.categories import CategoryMap
from teiten.signatures.compiler import DEFAULT_PAYLOAD_CAP, Columns, CompiledRule
from teiten.signatures.content import inspect
from teiten.signatures.loader import RuleSet
from teiten.signatures.threshold import TRACK_COLUMNS, factorize_rows, keep_mask

IntArray = npt.NDArray[np.int64]

#: Packet-table columns copied into each alert.
ALERT_PACKET_COLUMNS: tuple[str, ...] = (
    "ts", "sensor", "ip_version", "src", "dst", "src6", "dst6", "proto", "sport", "dport",
    "icmp_type", "icmp_code", "country")

#: The alerts table: one row per alert (after thresholds).
ALERT_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("ns", tz="UTC"), metadata={"doc": "packet capture time"}),
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("sid", pa.int64(), metadata={"doc": "signature id"}),
    pa.field("gid", pa.int32(), metadata={"doc": "generator id (1)"}),
    pa.field("rev", pa.int32(), metadata={"doc": "rule revision"}),
    pa.field("msg", pa.string(), metadata={"doc": "rule message"}),
    pa.field("classtype", pa.string(), metadata={"doc": "rule classtype (null if none)"}),
    pa.field("category", pa.string(), metadata={"doc": "NPA category"}),
    pa.field("ip_version", pa.uint8(), metadata={"doc": "4 or 6"}),
    pa.field("src", pa.uint32(), metadata={"doc": "IPv4 source"}),
    pa.field("dst", pa.uint32(), metadata={"doc": "IPv4 destination"}),
    pa.field("src6", pa.binary(16), metadata={"doc": "IPv6 source"}),
    pa.field("dst6", pa.binary(16), metadata={"doc": "IPv6 destination"}),
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol"}),
    pa.field("sport", pa.uint16(), metadata={"doc": "source port"}),
    pa.field("dport", pa.uint16(), metadata={"doc": "destination port"}),
    pa.field("icmp_type", pa.uint8(), metadata={"doc": "ICMP type"}),
    pa.field("icmp_code", pa.uint8(), metadata={"doc": "ICMP code"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("payload_truncated", pa.bool_(),
             metadata={"doc": "content rule decided on a payload prefix shorter than the wire"}),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Evaluation parameters.

    Parameters
    ----------
    payload_cap : int
        The ingest payload cap in bytes (512); only used to report cap-sensitive rules.
    """

    payload_cap: int = DEFAULT_PAYLOAD_CAP


@dataclass
class Stats:
    """What one evaluation did (echoed into result metadata)."""

    packets: int = 0
    payload_rows: int = 0
    distinct_payloads: int = 0
    prefilter_hits: int = 0
    verified: int = 0
    matches: int = 0
    alerts: int = 0
    truncated_alerts: int = 0
    per_rule_matches: dict[int, int] = field(default_factory=dict)


class _Prefilter:
    """One Aho-Corasick automaton over the lower-cased fast patterns of all content rules."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.keys: list[str] = []
        self.rules_of: list[list[int]] = []
        index: dict[str, int] = {}
        self.negated_only: list[int] = []
        for i, r in enumerate(rules):
            if r.fast_pattern is None:
                self.negated_only.append(i)
                continue
            key = r.fast_pattern.pattern.lower().decode("latin-1")
            if key not in index:
                index[key] = len(self.keys)
                self.keys.append(key)
                self.rules_of.append([])
            self.rules_of[index[key]].append(i)
        self.lengths = np.array([len(k) for k in self.keys], dtype=np.int64)
        self.automaton = ahocorasick.Automaton()
        for k, key in enumerate(self.keys):
            self.automaton.add_word(key, k)
        if self.keys:
            self.automaton.make_automaton()

    def scan(self, payloads: pa.Array) -> tuple[IntArray, IntArray]:
        """Distinct (payload index, pattern index) pairs where the pattern occurs."""
        if not self.keys or len(payloads) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        arr = payloads.cast(pa.large_binary())
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
            arr.offset:arr.offset + len(arr) + 1]
        data = arr.buffers()[2]
        lo, hi = int(offsets[0]), int(offsets[-1])
        text = (data.to_pybytes()[lo:hi] if data is not None else b"").lower().decode("latin-1")
        rel = offsets - lo
        found = list(self.automaton.iter(text))
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ends = np.fromiter((e for e, _ in found), dtype=np.int64, count=len(found))
        pats = np.fromiter((k for _, k in found), dtype=np.int64, count=len(found))
        starts = ends - self.lengths[pats] + 1
        pid = np.searchsorted(rel, ends, side="right") - 1
        inside = starts >= rel[pid]
        pairs = np.unique(pid[inside] * len(self.keys) + pats[inside])
        return pairs // len(self.keys), pairs % len(self.keys)


class Engine:
    """Evaluate a :class:`RuleSet` over packet batches.

    Parameters
    ----------
    ruleset : RuleSet
        Compiled rules.
    categories : CategoryMap, optional
        Category mapping (the bundled one by default).
    params : Params, optional
        Evaluation parameters.
    """

    def __init__(self, ruleset: RuleSet, categories: CategoryMap | None = None,
                 params: Params | None = None) -> None:
        self.rules = ruleset.rules
        self.params = params or Params()
        self.categories = categories or CategoryMap.bundled()
        self.header_rules = [i for i, r in enumerate(self.rules) if not r.rule.contents]
        self.content_rules = [i for i, r in enumerate(self.rules) if r.rule.contents]
        crules = [self.rules[i] for i in self.content_rules]
        self.prefilter = _Prefilter(crules)
        protos: set[int] = set()
        self.content_any_proto = False
        for r in crules:
            if r.protos is None:
                self.content_any_proto = True
            else:
                protos |= set(r.protos)
        self.content_protos = tuple(sorted(protos))
        self.stats = Stats()
        self._tables: list[pa.Table] = []  # per batch: the rows any rule matched
        self._matches: list[tuple[IntArray, IntArray]] = []  # (rule index, row in _tables)
        self._offset = 0

    # -- matching -----------------------------------------------------------------------
    def match(self, table: pa.Table) -> None:
        """Find the rule matches of one batch (thresholds are applied in :meth:`finish`)."""
        self.stats.packets += table.num_rows
        if table.num_rows == 0 or not self.rules:
            return
        cols = Columns(table)
        found: list[tuple[int, IntArray]] = []
        parts: dict[tuple[int, ...] | None, Columns] = {}

        def part(protos: tuple[int, ...] | None) -> Columns:
            if protos not in parts:
                if protos is None:
                    parts[protos] = cols
                else:
                    rows = np.flatnonzero(np.isin(cols.get("proto"), protos)
                                          & cols.valid("proto"))
                    parts[protos] = cols.take(rows)
            return parts[protos]

        for i in self.header_rules:
            sub = part(self.rules[i].protos)
            if sub.n:
                m = self.rules[i].header_mask(sub)
                if m.any():
                    found.append((i, sub.root_rows()[m]))
        if self.content_rules:
            found += self._match_contents(table, cols)
        if not found:
            return
        mark = np.zeros(table.num_rows, dtype=bool)
        for _, rows in found:
            mark[rows] = True
        union = np.flatnonzero(mark)
        for i, rows in found:
            self.stats.matches += len(rows)
            sid = self.rules[i].rule.sid
            self.stats.per_rule_matches[sid] = self.stats.per_rule_matches.get(sid, 0) + len(rows)
            self._matches.append((np.full(len(rows), i, dtype=np.int64),
                                  np.searchsorted(union, rows) + self._offset))
        self._tables.append(self._rows_table(table, union))
        self._offset += len(union)

    def _match_contents(self, table: pa.Table, cols: Columns) -> list[tuple[int, IntArray]]:
        plen = cols.get("payload_len")
        has = cols.valid("payload") & cols.valid("payload_len") & (plen > 0)
        if not self.content_any_proto:
            has &= np.isin(cols.get("proto"), self.content_protos)
        prow = np.flatnonzero(has)
        if not len(prow):
            return []
        self.stats.payload_rows += len(prow)
        enc = pc.dictionary_encode(table.column("payload").take(pa.array(prow)).combine_chunks())
        codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        dictionary: pa.Array = enc.dictionary
        nd = len(dictionary)
        self.stats.distinct_payloads += nd
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=nd)
        indptr = np.concatenate(([0], np.cumsum(counts)))
        pids, pats = self.prefilter.scan(dictionary)
        self.stats.prefilter_hits += len(pids)
        sub = cols.take(prow)
        by_rule: dict[int, list[IntArray]] = defaultdict(list)
        if len(pats):
            sort = np.argsort(pats, kind="stable")
            pats_s, pids_s = pats[sort], pids[sort]
            bounds = np.flatnonzero(np.diff(pats_s)) + 1
            for grp_p, grp_ids in zip(np.split(pats_s, bounds), np.split(pids_s, bounds),
                                      strict=True):
                for j in self.prefilter.rules_of[int(grp_p[0])]:
                    by_rule[j].append(grp_ids)
        for j in self.prefilter.negated_only:
            by_rule[j].append(np.arange(nd, dtype=np.int64))
        payload_cache: dict[int, bytes] = {}
        out: list[tuple[int, IntArray]] = []
        for j, id_lists in by_rule.items():
            ids = np.concatenate(id_lists)
            starts, lens = indptr[ids], counts[ids]
            total = int(lens.sum())
            if not total:
                continue
            idx = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
            local = order[idx]
            rule = self.rules[self.content_rules[j]]
            m = rule.header_mask(sub.take(local))
            if not m.any():
                continue
            local = local[m]
            seen = np.zeros(nd, dtype=bool)
            seen[codes[local]] = True
            cand = np.flatnonzero(seen)
            ok = np.zeros(nd, dtype=bool)
            for pid in cand.tolist():
                if pid not in payload_cache:
                    payload_cache[pid] = dictionary[pid].as_py()
                ok[pid] = inspect(rule.rule.contents, payload_cache[pid])
            self.stats.verified += len(cand)
            hit = local[ok[codes[local]]]
            if len(hit):
                out.append((self.content_rules[j], prow[np.sort(hit)]))
        return out

    def _rows_table(self, table: pa.Table, rows: IntArray) -> pa.Table:
        """The alert columns of the matched rows (taken once per batch for all rules)."""
        take = pa.array(rows)
        data: dict[str, pa.Array | pa.ChunkedArray] = {}
        for name in ALERT_PACKET_COLUMNS:
            field_type = ALERT_SCHEMA.field(name).type
            if name in table.column_names:
                col = table.column(name).take(take)
                data[name] = col.cast(field_type) if col.type != field_type else col
            else:
                data[name] = pa.nulls(len(rows), field_type)
        if "payload" in table.column_names and "payload_len" in table.column_names:
            stored = pc.binary_length(table.column("payload").take(take)).fill_null(0)
            wire = table.column("payload_len").take(take).cast(pa.int64()).fill_null(0)
            data["_trunc"] = pc.less(stored.cast(pa.int64()), wire)
        else:
            data["_trunc"] = pa.array(np.zeros(len(rows), dtype=bool))
        return pa.table(data)

    # -- thresholds and output ----------------------------------------------------------
    def finish(self) -> pa.Table:
        """Apply thresholds in time order and return the alerts table (sorted by time)."""
        if not self._tables:
            return ALERT_SCHEMA.empty_table()
        rows_t = pa.concat_tables(self._tables)
        rule_idx = np.concatenate([r for r, _ in self._matches])
        row_idx = np.concatenate([m for _, m in self._matches])
        self._tables, self._matches, self._offset = [], [], 0
        keep = np.ones(len(rule_idx), dtype=bool)
        cols = Columns(rows_t)
        codes_cache: dict[str, IntArray] = {}
        thr_rules = [i for i, r in enumerate(self.rules) if r.rule.threshold is not None]
        if thr_rules:
            by_rule = np.argsort(rule_idx, kind="stable")
            bounds = np.searchsorted(rule_idx[by_rule], np.arange(len(self.rules) + 1))
            ts_all = cols.get("ts").astype(np.int64)
            for i in thr_rules:
                sel = by_rule[bounds[i]:bounds[i + 1]]
                if not len(sel):
                    continue
                thr = self.rules[i].rule.threshold
                assert thr is not None
                if thr.track not in codes_cache:
                    codes_cache[thr.track] = factorize_rows(
                        _track_key(cols, TRACK_COLUMNS[thr.track]))
                r = row_idx[sel]
                ports = (cols.get("dport" if thr.unique_on == "dst_port" else "sport")[r]
                         .astype(np.int64) if thr.unique_on else np.zeros(len(r), np.int64))
                keep[sel] = keep_mask(thr, codes_cache[thr.track][r].reshape(-1, 1), ts_all[r],
                                      ports)
        rule_idx, row_idx = rule_idx[keep], row_idx[keep]
        base = rows_t.take(pa.array(row_idx))
        meta = [r.rule for r in self.rules]
        has_contents = np.array([bool(m.contents) for m in meta])
        trunc = np.asarray(base.column("_trunc").to_numpy(zero_copy_only=False), dtype=bool)
        idx = pa.array(rule_idx.astype(np.int32))
        out: dict[str, pa.Array | pa.ChunkedArray] = {
            "sid": pa.array(np.array([m.sid for m in meta], np.int64)[rule_idx]),
            "gid": pa.array(np.array([m.gid for m in meta], np.int32)[rule_idx]),
            "rev": pa.array(np.array([m.rev for m in meta], np.int32)[rule_idx]),
            "msg": _labels(idx, [m.msg for m in meta]),
            "classtype": _labels(idx, [m.classtype for m in meta]),
            "category": _labels(idx, [self.categories.category(m) for m in meta]),
            "payload_truncated": pa.array(trunc & has_contents[rule_idx]),
        }
        for name in ALERT_SCHEMA.names:
            if name not in out:
                out[name] = base.column(name)
        alerts = pa.table({n: out[n] for n in ALERT_SCHEMA.names}).cast(ALERT_SCHEMA)
        alerts = alerts.sort_by([("ts", "ascending"), ("sid", "ascending")])
        self.stats.alerts = alerts.num_rows
        self.stats.truncated_alerts = int(pc.sum(alerts.column("payload_truncated")).as_py() or 0)
        return alerts


def _labels(idx: pa.Array, values: list[str | None]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string())).cast(pa.string())


def _track_key(cols: Columns, names: tuple[str, ...]) -> IntArray:
    parts: list[np.ndarray] = []
    for n in names:
        v = cols.get(n)
        if v.ndim == 2:  # IPv6 bytes → two 64-bit words
            w = np.ascontiguousarray(v).view(">u8").astype(np.int64)
            parts += [w[:, 0], w[:, 1]]
        else:
            parts.append(v.astype(np.int64))
    if not parts:
        return np.zeros((cols.n, 0), dtype=np.int64)
    key = np.stack(parts, axis=1)
    if names == TRACK_COLUMNS["by_both"]:
        # Suricata keys by_both on the pair with the lower address first (either direction)
        src, dst = key[:, 1:4], key[:, 4:7]
        swap = np.zeros(len(key), dtype=bool)
        undecided = np.ones(len(key), dtype=bool)
        for j in range(3):
            swap |= undecided & (dst[:, j] < src[:, j])
            undecided &= dst[:, j] == src[:, j]
        key[swap, 1:4], key[swap, 4:7] = dst[swap], src[swap].copy()
    return key


def evaluate(packets: pa.Table | Iterable[pa.Table | pa.RecordBatch], ruleset: RuleSet, *,
             categories: CategoryMap | None = None, params: Params | None = None) -> pa.Table:
    """Run ``ruleset`` over a packet table (or an iterable of batches in time order).

    Returns the alerts table (:data:`ALERT_SCHEMA`). Columns missing from the input are
    treated as null, so tests can pass narrow tables.
    """
    eng = Engine(ruleset, categories, params)
    batches = [packets] if isinstance(packets, pa.Table) else packets
    for b in batches:
        eng.match(b if isinstance(b, pa.Table) else pa.Table.from_batches([b]))
    return eng.finish()


__all__ = ["ALERT_PACKET_COLUMNS", "ALERT_SCHEMA", "Engine", "Params", "Stats", "evaluate"]
