"""Country enricher: cached lookups give the database's answer, chunk after chunk."""

from __future__ import annotations

import ipaddress

import iptocc
import numpy as np
import pyarrow as pa
import pytest

from teiten.ingest.enrich import EnrichContext
from teiten.ingest.enrich import country as country_mod
from teiten.ingest.enrich.country import CountryEnricher


def _chunk(src: np.ndarray) -> pa.Table:
    n = len(src)
    return pa.table({"ip_version": pa.array(np.full(n, 4), pa.uint8()),
                     "src": pa.array(src, pa.uint32()),
                     "src6": pa.nulls(n, pa.binary(16))})  # fmt: skip


def _expected(src: np.ndarray) -> list[str | None]:
    return list(iptocc.country_code([str(ipaddress.IPv4Address(int(a))) for a in src]))


@pytest.mark.parametrize("max_cached", [50, 1 << 21])
def test_chunks_agree_with_the_database(monkeypatch: pytest.MonkeyPatch,
                                        max_cached: int) -> None:
    monkeypatch.setattr(country_mod, "MAX_CACHED", max_cached)
    rng = np.random.default_rng(11)
    pool = rng.integers(0x01000000, 0xDF000000, 3000, dtype=np.uint32)
    enrich = CountryEnricher(EnrichContext())
    for _ in range(6):  # repeated and new sources; the table grows (and, capped, empties)
        src = pool[rng.integers(0, len(pool), 2500)]
        assert enrich(_chunk(src)).to_pylist() == _expected(src)


def test_cache_is_emptied_past_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(country_mod, "MAX_CACHED", 100)
    enrich = CountryEnricher(EnrichContext())
    enrich(_chunk(np.arange(0x08000000, 0x08000000 + 500, dtype=np.uint32)))
    enrich(_chunk(np.array([0x08080808], np.uint32)))
    assert enrich._v4cache.count == 1


def test_dotted_quads_are_ipaddress_text() -> None:
    rng = np.random.default_rng(5)
    edges = [0, 1, 9, 10, 99, 100, 255, 256, 0x0A000001, 0x7F000001, 0xC0A80001, 0xFFFFFFFF]
    addrs = np.r_[np.array(edges, np.uint32), rng.integers(0, 2**32, 5000, dtype=np.uint32)]
    assert country_mod.v4_strings(addrs) == [str(ipaddress.IPv4Address(int(a))) for a in addrs]
    assert country_mod.v4_strings(np.zeros(0, np.uint32)) == []


def test_table_fills_to_three_quarters_before_it_grows() -> None:
    enrich = CountryEnricher(EnrichContext())
    table = enrich._v4cache
    size = len(table.table)
    rng = np.random.default_rng(3)
    fill = (3 * size) // 4 - 1  # every address new: the call may take the table to 3/4
    src = rng.choice(np.arange(0x01000000, 0xDF000000, 997, dtype=np.uint32), fill,
                     replace=False)
    assert enrich(_chunk(src)).to_pylist() == _expected(src)
    assert len(table.table) == size and table.count == fill
    more = np.r_[src[:100], np.arange(0x05000000, 0x05000000 + 5000, dtype=np.uint32)]
    assert enrich(_chunk(more)).to_pylist() == _expected(more)  # grows: a rehash, then finds
    assert len(table.table) > size and table.count == fill + 5000
    assert 4 * table.count <= 3 * len(table.table)
