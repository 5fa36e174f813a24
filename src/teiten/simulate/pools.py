"""Per-country pools of public source addresses, consistent with teiten's country enrichment.

Addresses are sampled at random from the public IPv4 space and looked up in bulk with the
``iptocc`` package (the database teiten's ingest enriches with), so every simulated source is
attributed to the country the scenario intended. Deterministic for a seed (and iptocc version).
"""

from __future__ import annotations

from collections.abc import Iterable

import iptocc
import numpy as np
import numpy.typing as npt

from teiten.ingest.enrich.country import v4_strings

U32 = npt.NDArray[np.uint32]


def lookup(addrs: npt.NDArray[np.uint32]) -> list[str | None]:
    """Country codes of IPv4 integers (``None`` when unallocated or reserved)."""
    return list(iptocc.country_code(v4_strings(addrs)))


def _public(rng: np.random.Generator, n: int) -> U32:
    # 1.0.0.0 .. 223.255.255.255; iptocc answers None for private/reserved space
    return rng.integers(1 << 24, 224 << 24, n, dtype=np.uint32)


class CountryPools:
    """Random public addresses grouped by the country iptocc assigns them.

    Parameters
    ----------
    seed : int
        Random seed.
    countries : iterable of str
        ISO 3166 alpha-2 codes needed.
    per_country : int
        Addresses wanted per country (fewer when a country's space is tiny).
    exclude : iterable of int
        Addresses never to hand out (the sensors' own addresses).

    Examples
    --------
    >>> pools = CountryPools(1, ["JP", "CN"], 50)
    >>> a = pools.take("JP", 3, np.random.default_rng(0))
    >>> lookup(a) == ["JP"] * 3
    True
    """

    def __init__(self, seed: int, countries: Iterable[str], per_country: int,
                 exclude: Iterable[int] = ()) -> None:
        rng = np.random.default_rng([seed, 0x9001])
        wanted = sorted(set(countries))
        excl = np.array(sorted(set(exclude)), dtype=np.uint32)
        found: dict[str, list[npt.NDArray[np.uint32]]] = {c: [] for c in wanted}
        count = dict.fromkeys(wanted, 0)
        prefixes: dict[str, set[int]] = {c: set() for c in wanted}
        sample = _public(rng, 200_000)
        self._absorb(sample, found, count, prefixes, excl)
        # countries with few hits: sample inside the /16s already seen for them
        for _round in range(4):
            short = [c for c in wanted if count[c] < per_country and prefixes[c]]
            if not short:
                break
            cand = []
            for c in short:
                pre = np.array(sorted(prefixes[c]), dtype=np.uint32)
                k = 4 * (per_country - count[c]) + 64
                cand.append((pre[rng.integers(0, len(pre), k)] << np.uint32(16))
                            | rng.integers(0, 1 << 16, k, dtype=np.uint32))
            self._absorb(np.concatenate(cand), found, count, prefixes, excl)
        self.pools: dict[str, U32] = {}
        for c in wanted:
            a = np.unique(np.concatenate(found[c])) if found[c] else np.zeros(0, np.uint32)
            rng.shuffle(a)
            self.pools[c] = a[:per_country]

    @staticmethod
    def _absorb(sample: U32, found: dict[str, list[U32]], count: dict[str, int],
                prefixes: dict[str, set[int]], excl: U32) -> None:
        sample = sample[~np.isin(sample, excl)]
        cc = np.array([c or "" for c in lookup(sample)])
        for c in found:
            hit = sample[cc == c]
            if len(hit):
                found[c].append(hit)
                count[c] += len(hit)
                prefixes[c].update((hit >> 16).tolist())

    def take(self, country: str, n: int, rng: np.random.Generator) -> U32:
        """``n`` addresses of ``country`` (with repetition only if the pool is too small)."""
        pool = self.pools.get(country)
        if pool is None or not len(pool):
            raise KeyError(f"no addresses for country {country!r}")
        if n <= len(pool):
            return pool[rng.choice(len(pool), n, replace=False)]
        return pool[rng.integers(0, len(pool), n)]
