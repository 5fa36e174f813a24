"""``threshold`` and ``detection_filter`` per track key, in time order (compiled kernel).

Semantics (Suricata ``src/detect-engine-threshold.c``, ``doc/userguide/rules/thresholding.rst``):
each (rule, track key) has a window that starts at its first match; a match later than
``t0 + seconds`` opens a new window at that match with the count restarted.

* ``limit`` — alert on the first ``count`` matches of each window;
* ``threshold`` — alert on every ``count``-th match of a window (counter back to 0 after it);
* ``both`` — alert once per window, at the ``count``-th match;
* ``backoff`` — alert at matches ``count``, ``count*m``, ``count*m^2`` … (no window);
* ``detection_filter`` — alert on every match once the window's count *exceeds* ``count``;
  with ``unique_on`` the count is the number of distinct ports seen in the window.

Track keys: ``by_src``, ``by_dst``, ``by_both`` (the address pair in either direction, as
Suricata orders it lower address first), ``by_rule`` (one key) and
``by_flow``, approximated offline by the 5-tuple (proto, addresses, ports) without a flow
timeout.

Examples
--------
>>> import numpy as np
>>> from teiten.signatures.rule import Threshold
>>> ts = np.arange(8, dtype=np.int64) * 1_000_000_000
>>> int(keep_mask(Threshold("detection", "by_src", 4, 60), np.zeros((8, 1), np.int64), ts,
...               np.zeros(8, np.int64)).sum())
4
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from teiten.signatures.rule import Threshold

_KINDS = {"limit": 0, "threshold": 1, "both": 2, "backoff": 3, "detection": 4}
_NS = 1_000_000_000
_FOREVER = np.int64(2**62)


@numba.njit(cache=True)
def _kernel(codes: np.ndarray, ts: np.ndarray, ports: np.ndarray, kind: int, count: int,
            window: np.int64, mult: int, unique: bool) -> np.ndarray:  # pragma: no cover - jit
    n = len(codes)
    keep = np.zeros(n, dtype=np.bool_)
    seen = np.zeros(65536, dtype=np.bool_)
    used = np.empty(n, dtype=np.int64)
    nused = 0
    cur = -1
    t0 = np.int64(0)
    c = 0
    nxt = count
    for i in range(n):
        fresh = codes[i] != cur or ts[i] > t0 + window
        if fresh:
            cur = codes[i]
            t0 = ts[i]
            c = 0
            nxt = count
            for j in range(nused):
                seen[used[j]] = False
            nused = 0
        if unique:
            p = ports[i]
            if not seen[p]:
                seen[p] = True
                used[nused] = p
                nused += 1
                c += 1
        else:
            c += 1
        if kind == 0:
            keep[i] = c <= count
        elif kind == 1:
            if c >= count:
                keep[i] = True
                c = 0
        elif kind == 2:
            keep[i] = c == count
        elif kind == 3:
            if c == nxt:
                keep[i] = True
                nxt = nxt * mult
        else:  # detection_filter: the first match of a window never alerts (as Suricata)
            keep[i] = c > count and not fresh
    return keep


def keep_mask(thr: Threshold, key: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
              ports: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which matches of one rule raise an alert.

    Parameters
    ----------
    thr : Threshold
        The rule's threshold or detection filter.
    key : ndarray of int64, shape (n, k)
        The track-key components of each match (any width; rows equal ⇔ same key).
    ts : ndarray of int64
        Match times in ns.
    ports : ndarray of int64
        The ``unique_on`` port of each match (ignored without ``unique_on``).
    """
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    codes = key[:, 0].astype(np.int64) if key.shape[1] == 1 else factorize_rows(key)
    t = ts.astype(np.int64, copy=False)
    if n > 1 and bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(codes, kind="stable")
    else:
        by_t = np.argsort(t, kind="stable")
        order = by_t[np.argsort(codes[by_t], kind="stable")]
    window = _FOREVER if thr.kind == "backoff" else np.int64(thr.seconds * _NS)
    keep_sorted = _kernel(codes[order], t[order],
                          np.clip(ports[order], 0, 65535).astype(np.int64), _KINDS[thr.kind],
                          thr.count, window, thr.multiplier, thr.unique_on is not None)
    keep = np.empty(n, dtype=bool)
    keep[order] = keep_sorted
    return keep


def factorize_rows(key: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Dense int64 codes of the rows of an (n, k) array (equal rows, equal codes).

    Each column is hash-encoded (Arrow ``dictionary_encode``) and combined with the codes so
    far; constant columns are skipped.
    """
    n = key.shape[0]
    codes = np.zeros(n, dtype=np.int64)
    first = True
    for j in range(key.shape[1]):
        col = key[:, j]
        if n == 0 or bool(np.all(col == col[0])):
            continue
        enc = pc.dictionary_encode(pa.array(col))
        c = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        if first:
            codes, first = c, False
            continue
        combined = codes * len(enc.dictionary) + c
        enc2 = pc.dictionary_encode(pa.array(combined))
        codes = np.asarray(enc2.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes


#: Packet-table columns that make up each track key.
TRACK_COLUMNS: dict[str, tuple[str, ...]] = {
    "by_src": ("ip_version", "src", "src6"),
    "by_dst": ("ip_version", "dst", "dst6"),
    "by_both": ("ip_version", "src", "src6", "dst", "dst6"),
    "by_rule": (),
    "by_flow": ("ip_version", "proto", "src", "src6", "dst", "dst6", "sport", "dport"),
}

__all__ = ["TRACK_COLUMNS", "factorize_rows", "keep_mask"]
