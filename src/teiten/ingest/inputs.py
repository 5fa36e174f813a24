"""The inputs of an ingest run: paths expanded to files, and their content hashes.

An input's identity in the catalog is a hash of its bytes (as stored: compressed inputs are
hashed compressed), in the store's algorithm (:mod:`teiten.core.content`: BLAKE3, or sha256
in older stores). Regular files are hashed before they are decoded, so that an input already
in the store is skipped without decoding it; the hashing runs in its own thread (both hashes
release the GIL), ahead of the decoder, so it overlaps start-up and the decoding
of the previous input instead of adding to them. Anything else (standard input, a pipe) is
hashed while it is read (``None`` here).

This module imports nothing heavy, so the command line can list the inputs and start hashing
them before it loads the decoder.

Examples
--------
>>> import tempfile, os
>>> fd, path = tempfile.mkstemp()
>>> os.write(fd, b"abc"), os.close(fd)
(3, None)
>>> with Prehasher([path, "-"], "sha256") as h:
...     h.get(path)[:16], h.get("-")
('ba7816bf8f01cfea', None)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Final

from teiten.core import content
from teiten.core.errors import InputError

_READ = 1 << 22


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given, directories walked recursively (sorted, hidden entries skipped)."""
    out: list[str] = []
    for p in paths:
        s = os.fspath(p)
        if s == "-":
            out.append(s)
            continue
        path = Path(s)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(str(Path(root) / f) for f in sorted(files) if not f.startswith("."))
        elif path.exists():
            out.append(s)
        else:
            raise InputError(f"{s}: no such file or directory")
    return out



def is_regular_file(path: str) -> bool:
    """Whether ``path`` names a regular file (not ``-``, a pipe or a device)."""
    if path == "-":
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def file_digest(path: str, algorithm: str = content.DEFAULT) -> str:
    """Content hash (hex) of a file's bytes; :class:`InputError` when it cannot be read."""
    h = content.new_hash(algorithm)
    buf = bytearray(_READ)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    return h.hexdigest()


#: Regular files hashed ahead of the one being decoded (more would read files into the page
#: cache long before the decoder reads them again: twice the disk reads for large input sets).
LOOKAHEAD: Final = 1


class Prehasher:
    """Hashes the regular files among ``paths``, in order, in one background thread.

    The file being decoded and the next :data:`LOOKAHEAD` ones are hashed; asking for a
    file's hash moves the window on.

    Parameters
    ----------
    paths : iterable of str
        Inputs as the pipeline will take them (``-`` and non-regular files are not hashed).
    algorithm : str
        The content hash of the store they go to (:func:`teiten.core.content.store_algorithm`).
    """

    def __init__(self, paths: Iterable[str], algorithm: str = content.DEFAULT) -> None:
        self.algorithm = algorithm
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teiten-hash")
        self._paths = [p for p in dict.fromkeys(paths) if is_regular_file(p)]
        self._index = {p: i for i, p in enumerate(self._paths)}
        self._futures: dict[str, Future[str]] = {}
        self._submit_until(1 + LOOKAHEAD)

    def _submit_until(self, stop: int) -> None:
        for p in self._paths[len(self._futures) : stop]:
            self._futures[p] = self._pool.submit(file_digest, p, self.algorithm)

    def future(self, path: str) -> Future[str] | None:
        """The pending hash of a regular file (started now if it was not started yet), or
        None when ``path`` is hashed while read."""
        i = self._index.get(path)
        if i is None:
            if not is_regular_file(path):
                return None
            return self._pool.submit(file_digest, path, self.algorithm)
        self._submit_until(i + 1 + LOOKAHEAD)
        return self._futures[path]

    def get(self, path: str) -> str | None:
        """The file's content hash (waiting for it), or None when it is hashed while read."""
        fut = self.future(path)
        return None if fut is None else fut.result()

    def close(self) -> None:
        """Stop hashing files not started yet."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Prehasher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
