"""The compiled traffic-class and tool passes agree with the NumPy reference, row for row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import reference_enrich as ref

from teiten.core.schema import PACKET_SCHEMA
from teiten.ingest.enrich import kernels
from teiten.ingest.enrich.tool import VOCABULARY as TOOLS
from teiten.ingest.enrich.tool import Scratch, tool_codes
from teiten.ingest.enrich.traffic_class import class_codes

WIN_OPTS = bytes([2, 1, 3, 1, 1, 4])
OPTS = [b"", bytes([2]), WIN_OPTS, bytes([2, 4, 8, 1, 3]), bytes([2, 1]), None]


def _pick(rng: np.random.Generator, values: list[Any], n: int) -> list[Any]:
    return [values[i] for i in rng.integers(0, len(values), n)]


def random_packets(seed: int, n: int = 20_000, null_share: float = 0.05) -> pa.Table:
    """Rows drawn from the values the rules test (and near misses), nulls in every column."""
    rng = np.random.default_rng(seed)
    dst = rng.choice([0xC0000201, 0x01020304, 7, 0xFFFFFFFF], n).astype(np.int64)
    seq = rng.integers(0, 2**32, n)
    seq = np.where(rng.random(n) < 0.1, dst, seq)  # mirai
    dport = rng.choice([0, 22, 80, 3389], n)
    ip_id = rng.integers(0, 65536, n)
    ip_id = np.where(rng.random(n) < 0.2, 54321, ip_id)
    ip_id = np.where(rng.random(n) < 0.2, (dst ^ dport ^ seq) & 0xFFFF, ip_id)  # masscan
    cols: dict[str, Any] = {
        "ip_version": rng.choice([4, 4, 4, 6], n),
        "proto": rng.choice([1, 6, 6, 6, 17, 58, 47], n),
        "tcp_flags": rng.choice([0x02, 0x02, 0x12, 0x04, 0x14, 0x10, 0x06, 0], n),
        "icmp_type": rng.choice([0, 3, 4, 5, 8, 11, 12, 14, 128, 129, 1, 2, 200], n),
        "sport": rng.choice([53, 40000, 5000], n),
        "fragment": rng.choice([0, 0, 0, 1, 2], n),
        "src": rng.choice([1, 2, 0x0B000001], n),
        "dst": dst, "dport": dport, "tcp_seq": seq, "ip_id": ip_id,
        "tcp_ack": rng.choice([0, 0, 5], n),
        "tcp_win": rng.choice([1024, 0, 65535, 4128, 64240], n),
        "ttl": rng.choice([30, 45, 59, 60, 64, 65, 128, 199, 200, 250], n),
        "ip_len": rng.choice([40, 44, 52, 60], n),
        "tcp_mss": rng.choice([1460, 536], n),
        "tcp_wscale": rng.choice([8, 7], n),
        "tcp_opts": _pick(rng, OPTS, n),
    }  # fmt: skip
    arrays = {}
    for name, values in cols.items():
        typ = PACKET_SCHEMA.field(name).type
        mask = rng.random(n) < null_share
        arrays[name] = pa.array(values, typ, mask=mask if name != "tcp_opts" else None)
    return pa.table(arrays)


def unicornscan_packets(seed: int, groups: int = 300) -> pa.Table:
    """Sources sending 1-4 probes with one key (dst in either byte order), some repeats."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[int]] = {k: [] for k in ("src", "dst", "dport", "sport", "tcp_seq",
                                                  "tcp_win")}  # fmt: skip
    for g in range(groups):
        key = int(rng.integers(0, 2**32))
        sport = int(rng.integers(1024, 65535))
        win = int(rng.choice([4128, 1024]))
        swap = bool(rng.integers(0, 2))
        for _ in range(int(rng.integers(1, 5))):
            dst = int(rng.choice([0xC0000201, 0xC0000202, 0xC0000203]))
            dport = int(rng.choice([80, 443]))
            d = int.from_bytes(dst.to_bytes(4, "big"), "little") if swap else dst
            rows["src"].append(g + 1)
            rows["dst"].append(dst)
            rows["dport"].append(dport)
            rows["sport"].append(sport)
            rows["tcp_seq"].append((key ^ d ^ ((dport << 16) + sport)) & 0xFFFFFFFF)
            rows["tcp_win"].append(win)
    n = len(rows["src"])
    arrays = {name: pa.array(v, PACKET_SCHEMA.field(name).type) for name, v in rows.items()}
    arrays["ip_version"] = pa.array([4] * n, pa.uint8())
    arrays["proto"] = pa.array([6] * n, pa.uint8())
    arrays["tcp_flags"] = pa.array([2] * n, pa.uint8())
    arrays["ttl"] = pa.array([250] * n, pa.uint8())
    return pa.table(arrays)


def test_tool_codes_match_their_kernel_constants() -> None:
    names = ["ZMAP_OLD", "MASSCAN", "MIRAI", "UNICORNSCAN", "NMAP", "ZMAP", "GENERIC"]
    assert [getattr(kernels, f"T_{n}") for n in names] == list(range(len(TOOLS)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_traffic_class_matches_reference(seed: int) -> None:
    t = random_packets(seed)
    np.testing.assert_array_equal(class_codes(t), ref.class_codes(t))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tool_matches_reference(seed: int) -> None:
    t = random_packets(seed)
    got = tool_codes(t)
    np.testing.assert_array_equal(got, ref.tool_codes(t))
    assert len(set(got.tolist())) >= 6  # the data reaches most rules


def test_unicornscan_matches_reference() -> None:
    t = unicornscan_packets(4)
    got = tool_codes(t)
    np.testing.assert_array_equal(got, ref.tool_codes(t))
    assert 0 < (got == kernels.T_UNICORNSCAN).sum() < len(got)


def test_scratch_table_reused_over_chunks_and_generations() -> None:
    """One table for chunk after chunk (larger and smaller), across the generation wrap: the
    rows an earlier chunk left in it never count for the next."""
    scratch = Scratch()
    chunks = [unicornscan_packets(s) for s in (4, 4, 9, 11)] + [random_packets(12, n=500)]
    for start in (0, kernels._GENERATIONS - 3):
        scratch.epoch[0] = start
        for t in chunks:
            got = tool_codes(t, scratch)
            np.testing.assert_array_equal(got, ref.tool_codes(t))
    assert 0 < int(scratch.epoch[0]) < 20  # it wrapped (two generations a chunk)


def test_sliced_and_chunked_columns_match_reference() -> None:
    t = random_packets(5, n=6000)
    odd = pa.concat_tables([t.slice(3, 2000), t.slice(2500, 3001)])  # offsets, two chunks
    np.testing.assert_array_equal(tool_codes(odd), ref.tool_codes(odd))
    np.testing.assert_array_equal(class_codes(odd), ref.class_codes(odd))


def test_missing_and_all_null_columns_match_reference() -> None:
    t = random_packets(6, n=3000).drop_columns(["tcp_opts", "fragment", "tcp_mss"])
    t = t.set_column(t.schema.get_field_index("ttl"), "ttl", pa.nulls(3000, pa.uint8()))
    np.testing.assert_array_equal(tool_codes(t), ref.tool_codes(t))
    np.testing.assert_array_equal(class_codes(t), ref.class_codes(t))


def test_other_integer_types_match_reference() -> None:
    t = random_packets(7, n=3000)
    t = t.set_column(t.schema.get_field_index("dport"), "dport",
                     t.column("dport").cast(pa.int64()))  # fmt: skip
    np.testing.assert_array_equal(tool_codes(t), ref.tool_codes(t))


def test_empty_table() -> None:
    t = random_packets(8, n=10).slice(0, 0)
    assert len(tool_codes(t)) == 0
    assert len(class_codes(t)) == 0
