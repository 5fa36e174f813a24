"""Content hashes: an ingested input's identity in a store's catalog.

A store names its inputs by a hash of their bytes, so that the same capture ingested twice is
recognised whatever its name. Stores made since 2026-12 use BLAKE3 (a cryptographic hash, about
4 GB/s on one core here, where sha256 gives 1.7 GB/s: at ingest speed the difference is a
tenth of the run); stores made before keep sha256, so that their catalog ids stay valid. The
store's marker file says which (``"content_hash"``; absent means sha256).

This module imports nothing heavy: the command line reads a store's algorithm and starts
hashing its inputs before it loads the decoder.

Examples
--------
>>> h = new_hash("blake3")
>>> _ = h.update(b"abc")
>>> h.hexdigest()[:16]
'6437b3ac38465133'
>>> new_hash("sha256").hexdigest()[:16]
'e3b0c44298fc1c14'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Protocol

#: A store's marker file (format version, content hash) at the top of its directory.
STORE_MARKER: Final = "teiten-store.json"
#: The content hash of stores created now.
DEFAULT: Final = "blake3"
#: The content hash of stores whose marker names none (made before BLAKE3 was the default).
LEGACY: Final = "sha256"
ALGORITHMS: Final = ("blake3", "sha256")


class Hasher(Protocol):
    """What ingest needs of a hash object (``hashlib``'s and ``blake3``'s have it)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_hash(algorithm: str) -> Hasher:
    """A fresh hash object of ``algorithm`` (one of :data:`ALGORITHMS`).

    Both release the GIL while they hash large buffers, so a hashing thread runs beside the
    decoder.
    """
    if algorithm == "blake3":
        from blake3 import blake3

        return blake3()
    if algorithm == "sha256":
        import hashlib  # (OpenSSL: ~8 ms of a start-up that hashes with BLAKE3)

        return hashlib.sha256()
    raise ValueError(f"unknown content hash {algorithm!r}: not one of {', '.join(ALGORITHMS)}")


def store_algorithm(store: str | os.PathLike[str]) -> str:
    """The content hash of the store at ``store``: its marker's, :data:`LEGACY` for a marker
    naming none, :data:`DEFAULT` where no store exists yet (or its marker is unreadable: the
    store itself reports that when opened)."""
    try:
        meta = json.loads((Path(store) / STORE_MARKER).read_text())
    except (OSError, ValueError):
        return DEFAULT
    if not isinstance(meta, dict):
        return DEFAULT
    algorithm = meta.get("content_hash", LEGACY)
    return algorithm if algorithm in ALGORITHMS else DEFAULT
