"""Compile a parsed rule into column predicates over the packet table.

:class:`Columns` is a lazily converted, optionally row-subset view of a packet table as NumPy
arrays (nulls filled with 0 plus a validity mask); :meth:`CompiledRule.header_mask` evaluates
every header test of a rule over it in one vectorised pass.

Keyword to column: ``dsize``→``payload_len`` (the wire length), ``ttl``, ``id``→``ip_id``,
``seq``/``ack``/``window``→``tcp_seq``/``tcp_ack``/``tcp_win``, ``itype``/``icode``→
``icmp_type``/``icmp_code``, ``icmp_id``, ``icmp_seq``, ``ip_proto``→``proto``,
``flags``→``tcp_flags``. A null column value (e.g. ``tcp_flags`` of a UDP packet) never matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from teiten.core.schema import PACKET_SCHEMA
from teiten.signatures.addresses import (
    AddressSet,
    PortSet,
    Variables,
    parse_addresses,
    parse_ports,
)
from teiten.signatures.content import Content
from teiten.signatures.errors import UnsupportedRuleError
from teiten.signatures.rule import Rule

#: Default payload prefix stored by ingest (bytes).
DEFAULT_PAYLOAD_CAP = 512

#: IP protocol numbers a header protocol can match (None: any).
PROTO_NUMBERS: dict[str, tuple[int, ...] | None] = {
    "tcp": (6,), "udp": (17,), "icmp": (1, 58), "icmpv4": (1,), "icmpv6": (58,),
    "ip": None, "pkthdr": None, "ipv4": None, "ip4": None, "ipv6": None, "ip6": None,
}

BoolArray = npt.NDArray[np.bool_]


class Columns:
    """NumPy views of packet-table columns, converted on first use, optionally a row subset.

    Examples
    --------
    >>> t = pa.table({"dport": pa.array([80, None], pa.uint16())})
    >>> c = Columns(t)
    >>> c.get("dport").tolist(), c.valid("dport").tolist()
    ([80, 0], [True, False])
    """

    def __init__(self, table: pa.Table | None = None, *, parent: Columns | None = None,
                 rows: npt.NDArray[np.int64] | None = None) -> None:
        self._table = table
        self._parent = parent
        self._rows = rows
        self._cache: dict[str, np.ndarray] = {}
        self._valid: dict[str, BoolArray] = {}
        if table is not None:
            self.n = table.num_rows
        else:
            assert rows is not None
            self.n = len(rows)

    def take(self, rows: npt.NDArray[np.int64]) -> Columns:
        """A view of the given rows (indices into this view)."""
        return Columns(parent=self, rows=rows)

    def _convert(self, name: str) -> tuple[np.ndarray, BoolArray]:
        assert self._table is not None
        if name not in self._table.column_names:  # absent column: all null
            typ = PACKET_SCHEMA.field(name).type if name in PACKET_SCHEMA.names else pa.int64()
            shape: tuple[int, ...] = ((self.n, typ.byte_width)
                                      if pa.types.is_fixed_size_binary(typ) else (self.n,))
            dtype = np.uint8 if len(shape) == 2 else np.int64
            return np.zeros(shape, dtype=dtype), np.zeros(self.n, dtype=bool)
        col = self._table.column(name)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        valid = (np.ones(len(arr), dtype=bool) if arr.null_count == 0
                 else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
        if pa.types.is_fixed_size_binary(arr.type):
            w = arr.type.byte_width
            buf = arr.buffers()[1]
            data = (np.zeros((len(arr), w), dtype=np.uint8) if buf is None else
                    np.frombuffer(buf, dtype=np.uint8)[arr.offset * w:(arr.offset + len(arr)) * w]
                    .reshape(-1, w).copy())
            data[~valid] = 0
            return data, valid
        if pa.types.is_timestamp(arr.type):
            return arr.cast(pa.int64()).fill_null(0).to_numpy(), valid
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        if pa.types.is_integer(arr.type):
            return np.asarray(pc.fill_null(arr, 0).to_numpy()), valid
        return np.asarray(arr.to_numpy(zero_copy_only=False)), valid

    def get(self, name: str) -> np.ndarray:
        """The column as a NumPy array (nulls as 0)."""
        if name not in self._cache:
            if self._parent is not None:
                assert self._rows is not None
                self._cache[name] = self._parent.get(name)[self._rows]
            else:
                self._cache[name], self._valid[name] = self._convert(name)
        return self._cache[name]

    def valid(self, name: str) -> BoolArray:
        """Which rows hold a non-null value."""
        if name not in self._valid:
            if self._parent is not None:
                assert self._rows is not None
                self._valid[name] = self._parent.valid(name)[self._rows]
            else:
                self.get(name)
        return self._valid[name]

    def root_rows(self) -> npt.NDArray[np.int64]:
        """Row indices of this view in the underlying table."""
        if self._parent is None:
            return np.arange(self.n, dtype=np.int64)
        assert self._rows is not None
        return self._parent.root_rows()[self._rows]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with variables resolved, ready to evaluate."""

    rule: Rule
    src: AddressSet
    dst: AddressSet
    sport: PortSet
    dport: PortSet
    protos: tuple[int, ...] | None
    fast_pattern: Content | None
    source: str = ""
    line: int = 0

    @property
    def max_reach(self) -> int | None:
        """Largest payload offset any content can need (None: unbounded or relative)."""
        reach = 0
        for c in self.rule.contents:
            r = c.reach()
            if r is None:
                return None
            reach = max(reach, r)
        return reach

    def cap_sensitive(self, cap: int = DEFAULT_PAYLOAD_CAP) -> bool:
        """True when a content could need payload bytes beyond the stored prefix."""
        if not self.rule.contents:
            return False
        for col, test in self.rule.tests:  # dsize bounded by the cap: the prefix is all of it
            bound = {"=": test.a, "<": test.a - 1, "<=": test.a, "range": test.b - 1}.get(test.op)
            if col == "payload_len" and bound is not None and bound <= cap:
                return False
        reach = self.max_reach
        return reach is None or reach > cap

    def header_mask(self, cols: Columns) -> BoolArray:
        """Vectorised: which rows pass every header test of the rule."""
        r = self.rule
        m = np.ones(cols.n, dtype=bool)
        if self.protos is not None:
            p = cols.get("proto")
            m &= np.isin(p, self.protos) if len(self.protos) > 1 else p == self.protos[0]
        if r.proto in ("ipv4", "ip4"):
            m &= cols.get("ip_version") == 4
        elif r.proto in ("ipv6", "ip6"):
            m &= cols.get("ip_version") == 6
        if r.ip_proto is not None:
            m &= r.ip_proto.test(cols.get("proto"))
        for col, test in r.tests:
            m &= cols.valid(col) & test.test(cols.get(col))
        if r.flags is not None:
            m &= cols.valid("tcp_flags") & r.flags.test(cols.get("tcp_flags"))
        if r.fragbits is not None:
            m &= cols.valid("ip_flags") & r.fragbits.test(cols.get("ip_flags"))
        if r.sameip:
            v4 = cols.get("ip_version") == 4
            same6 = np.all(cols.get("src6") == cols.get("dst6"), axis=1)
            m &= np.where(v4, cols.get("src") == cols.get("dst"), same6)
        if not m.any():
            return m
        fwd = self._ends(cols, "src", "sport", "dst", "dport")
        if r.direction == "<>":
            fwd |= self._ends(cols, "dst", "dport", "src", "sport")
        return np.asarray(m & fwd, dtype=np.bool_)

    def _ends(self, cols: Columns, a: str, ap: str, b: str, bp: str) -> BoolArray:
        m = np.ones(cols.n, dtype=bool)
        for aset, col in ((self.src, a), (self.dst, b)):
            if not aset.is_any:
                m &= _addr_test(aset, cols, col)
        for pset, col in ((self.sport, ap), (self.dport, bp)):
            if not pset.is_any:
                m &= cols.valid(col) & pset.test(cols.get(col))
        return m


def _addr_test(aset: AddressSet, cols: Columns, col: str) -> BoolArray:
    ver = cols.get("ip_version")
    out: BoolArray = np.asarray((ver == 4) & aset.test_v4(cols.get(col)), dtype=np.bool_)
    v6 = ver == 6
    if v6.any():
        idx = np.flatnonzero(v6)
        out[idx] = aset.test_v6(cols.get(col + "6")[idx])
    return out


def compile_rule(rule: Rule, variables: Variables, *, source: str = "",
                 line: int = 0) -> CompiledRule:
    """Resolve the header of ``rule`` with ``variables``.

    Raises
    ------
    UnsupportedRuleError
        An undefined variable; RuleSyntaxError for a bad expression.
    """
    protos = PROTO_NUMBERS[rule.proto]
    needs_ports = rule.sport.strip() != "any" or rule.dport.strip() != "any"
    if needs_ports and protos is not None and not set(protos) <= {6, 17, 132}:
        raise UnsupportedRuleError(f"port test on protocol {rule.proto}")
    positive = [c for c in rule.contents if isinstance(c, Content) and not c.negated]
    fast = max(positive, key=lambda c: len(c.pattern)) if positive else None
    return CompiledRule(
        rule=rule,
        src=parse_addresses(rule.src, variables), dst=parse_addresses(rule.dst, variables),
        sport=parse_ports(rule.sport, variables), dport=parse_ports(rule.dport, variables),
        protos=protos, fast_pattern=fast, source=source, line=line,
    )


__all__ = ["DEFAULT_PAYLOAD_CAP", "PROTO_NUMBERS", "Columns", "CompiledRule", "compile_rule"]
