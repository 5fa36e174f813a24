"""Source country at ingest: the bundled offline database, or a MaxMind-format ``.mmdb``.

The bundled database is the ``iptocc`` package (RIR delegation data compiled into the wheel;
no download at run time). ``--mmdb FILE`` uses any MaxMind-format country or city database
instead (GeoLite2, DB-IP, IPinfo lite…). Lookups run once per distinct source address and are
cached for the whole ingest run.

Examples
--------
>>> import pyarrow as pa
>>> enrich = CountryEnricher(EnrichContext())
>>> t = pa.table({"ip_version": pa.array([4], pa.uint8()),
...               "src": pa.array([0x08080808], pa.uint32()),
...               "src6": pa.array([None], pa.binary(16))})
>>> enrich(t).to_pylist()
['US']
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture.arrow import from_numpy
from teiten.core.errors import InputError
from teiten.ingest.enrich import EnrichContext
from teiten.ingest.enrich.kernels import FREE_ENTRY, addr_slots, dotted_quads, rehash_addrs


def v4_strings(addrs: npt.NDArray[np.integer[Any]]) -> list[str]:
    """Dotted quads for an array of IPv4 integers (one compiled pass writes their text, one
    ``split`` makes the strings: a quarter of the time of building them with Arrow).

    >>> v4_strings(np.array([0x08080808, 0xC0000201], np.uint32))
    ['8.8.8.8', '192.0.2.1']
    """
    if not len(addrs):
        return []
    buf = np.empty(16 * len(addrs), np.uint8)
    n = dotted_quads(np.ascontiguousarray(addrs, np.uint32), buf)
    return buf[: n - 1].tobytes().decode("ascii").split("\n")


def _bundled_lookup() -> Callable[[Sequence[str]], list[str | None]]:
    import iptocc

    def lookup(addrs: Sequence[str]) -> list[str | None]:
        return list(iptocc.country_code(list(addrs)))

    return lookup


def _mmdb_lookup(path: Path) -> Callable[[Sequence[str]], list[str | None]]:
    import maxminddb

    try:
        reader = maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise InputError(f"{path}: cannot open MaxMind database: {exc}") from exc

    def code(rec: Any) -> str | None:
        if not isinstance(rec, dict):
            return None
        # GeoLite2/DB-IP: {"country": {"iso_code": ..}}; IPinfo lite: {"country_code": ..}
        c = rec.get("country") or rec.get("registered_country")
        if isinstance(c, dict) and isinstance(c.get("iso_code"), str):
            return str(c["iso_code"])
        for key in ("country_code", "country"):
            if isinstance(rec.get(key), str) and len(rec[key]) == 2:
                return str(rec[key])
        return None

    def lookup(addrs: Sequence[str]) -> list[str | None]:
        return [code(reader.get(a)) for a in addrs]

    return lookup


#: Most IPv4 sources whose country is cached (emptied past this; the table then holds at most
#: 8 Mi slots of 8 bytes, 64 MiB, with the largest chunks).
MAX_CACHED = 1 << 21


class _AddressTable:
    """IPv4 sources seen this run and their vocabulary indices (a compiled hash table, one
    word a slot: ``address << 32 | index``).

    A cache only: past :data:`MAX_CACHED` addresses it starts afresh, so its memory stays
    bounded (8 bytes a slot, at most three quarters of them used) however many sources a run
    sees.
    """

    def __init__(self, size: int = 1 << 16) -> None:
        self._set(np.full(size, FREE_ENTRY, np.uint64))
        self.count = 0

    def _set(self, table: npt.NDArray[np.uint64]) -> None:
        self.table = table
        lo, hi = (0, 1) if sys.byteorder == "little" else (1, 0)
        # views of each slot's address (high half) and value (low half)
        self.keys = table.view(np.uint32)[hi::2]
        self.vals = table.view(np.int32)[lo::2]

    def find(self, addrs: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.int64],
                                                           npt.NDArray[np.int64]]:
        """Values of ``addrs`` where known, else ``-1 - slot`` (inserting the unknown ones),
        and the slots inserted now (see :func:`~teiten.ingest.enrich.kernels.addr_slots`)."""
        if self.count > MAX_CACHED:
            self.table.fill(FREE_ENTRY)
            self.count = 0
        # room for every address of the call being new at a load of at most 3/4 (sizing for
        # half would double the table on most chunks of a run with many sources: 16 MiB more
        # to fill for 250k sources, where the smaller table also stays in cache better)
        need = (4 * (self.count + len(addrs))) // 3 + 1
        if need > len(self.table):
            size = 1 << (need - 1).bit_length()
            table = np.full(size, FREE_ENTRY, np.uint64)
            rehash_addrs(self.table, table)
            self._set(table)
        slots = np.empty(len(addrs), np.int64)
        fresh = np.empty(len(addrs), np.int64)
        n_new = addr_slots(self.table, np.ascontiguousarray(addrs, np.uint32), slots, fresh)
        self.count += n_new
        return slots, fresh[:n_new]


class CountryEnricher:
    """Fills ``country`` (ISO 3166 alpha-2, null when unknown) from the source address."""

    column = "country"

    def __init__(self, ctx: EnrichContext) -> None:
        self._lookup = _mmdb_lookup(ctx.mmdb) if ctx.mmdb else _bundled_lookup()
        # every code seen this run; index 0 is "unknown" (null)
        self._vocab: list[str | None] = [None]
        self._index: dict[str | None, int] = {None: 0}
        self._v4cache = _AddressTable()
        self._v6: dict[bytes, int] = {}

    def _encode(self, codes: list[str | None]) -> npt.NDArray[np.int32]:
        """Vocabulary indices of ``codes`` (a dictionary lookup each, in C: ``map`` over
        the index; Arrow's dictionary encoding is no faster here and would import its
        compute functions, ~40 ms of every ingest's start-up)."""
        index = self._index
        for w in set(codes).difference(index):
            index[w] = len(self._vocab)
            self._vocab.append(w)
        return np.fromiter(map(index.__getitem__, codes), np.int32, len(codes))

    def _v4(self, src: npt.NDArray[np.uint32]) -> npt.NDArray[np.int32]:
        found, fresh = self._v4cache.find(src)
        if len(fresh):
            new = self._v4cache.keys[fresh]
            self._v4cache.vals[fresh] = self._encode(self._lookup(v4_strings(new)))
        out = found.astype(np.int32)
        miss = np.flatnonzero(found < 0)  # first seen in this chunk: read once resolved
        if len(miss):
            out[miss] = self._v4cache.vals[-1 - found[miss]]
        return out

    def _v6codes(self, src6: list[bytes | None]) -> npt.NDArray[np.int32]:
        missing = [a for a in set(src6) if a is not None and a not in self._v6]
        if missing:
            texts = [str(ipaddress.IPv6Address(a)) for a in missing]
            self._v6.update(zip(missing, self._encode(self._lookup(texts)).tolist(), strict=True))
        return np.array([self._v6.get(a, 0) if a is not None else 0 for a in src6], np.int32)

    def __call__(self, packets: pa.Table) -> pa.Array:
        """Country codes for the packets' sources, dictionary-encoded."""
        idx = np.zeros(packets.num_rows, dtype=np.int32)
        version = packets.column("ip_version").to_numpy(zero_copy_only=False)
        is4 = version == 4
        if is4.all():
            idx = self._v4(packets.column("src").to_numpy(zero_copy_only=False))
        elif is4.any():
            src = packets.column("src").filter(from_numpy(is4)).to_numpy(zero_copy_only=False)
            idx[is4] = self._v4(src)
        is6 = version == 6
        if is6.any():
            idx[is6] = self._v6codes(packets.column("src6").filter(from_numpy(is6)).to_pylist())
        dictionary = pa.array(self._vocab[1:], pa.string())
        # vocabulary index 0 is null: shift indices and mask the unknowns
        indices = from_numpy(idx - 1, null=idx == 0)
        return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)  # (indices < len)
