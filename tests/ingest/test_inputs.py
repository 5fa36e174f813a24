"""Inputs of a run: hashed ahead when they are regular files, while read otherwise."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from blake3 import blake3
from ingest_captures import syn_capture

from teiten.cli.main import main
from teiten.core import content
from teiten.core.errors import InputError, StoreError
from teiten.ingest import inputs as inputs_mod
from teiten.ingest.inputs import Prehasher, file_digest
from teiten.ingest.pipeline import ingest
from teiten.store import create_store, open_store


def _b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def test_blake3_is_the_reference_function() -> None:
    # the BLAKE3 paper's test vector for "abc" (github.com/BLAKE3-team/BLAKE3, test_vectors)
    h = content.new_hash("blake3")
    h.update(b"abc")
    assert h.hexdigest() == "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"


def test_prehasher_hashes_regular_files_ahead(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 5_000_000)
    with Prehasher([str(tmp_path / "a"), "-"]) as h:
        assert h.get(str(tmp_path / "a")) == _b3(b"x" * 5_000_000)
        assert h.get("-") is None
    with Prehasher([str(tmp_path / "a")], "sha256") as h:
        assert h.get(str(tmp_path / "a")) == hashlib.sha256(b"x" * 5_000_000).hexdigest()


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        file_digest(str(tmp_path / "missing"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_hashed_while_read_not_consumed_twice(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 120)
    data = (tmp_path / "a.pcap").read_bytes()
    fifo = tmp_path / "pipe.pcap"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    summary = ingest([fifo], tmp_path / "store", sensor="s1")
    writer.join(timeout=30)
    assert summary.packets == 120
    record = next(iter(open_store(tmp_path / "store").catalog.records().values()))
    assert record.input_id == _b3(data)
    assert record.size == len(data)


def test_regular_file_catalog_row_has_content_hash_and_size(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 30)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    record = next(iter(open_store(tmp_path / "store").catalog.records().values()))
    data = (tmp_path / "a.pcap").read_bytes()
    assert (record.input_id, record.size) == (_b3(data), len(data))
    marker = json.loads((tmp_path / "store" / content.STORE_MARKER).read_text())
    assert marker == {"format": 1, "content_hash": "blake3"}


def _legacy_store(path: Path) -> None:
    """A store as made before BLAKE3: its marker names no content hash."""
    create_store(path)
    (path / content.STORE_MARKER).write_text(json.dumps({"format": 1}))


def test_store_made_before_blake3_keeps_sha256_ids(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 30)
    syn_capture(tmp_path / "b.pcap", 40, seed=2)
    _legacy_store(tmp_path / "store")
    assert content.store_algorithm(tmp_path / "store") == "sha256"
    # through the library (a Prehasher of the default algorithm is not used for it) ...
    with Prehasher([str(tmp_path / "a.pcap")]) as hashes:
        ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1", hashes=hashes)
    # ... and through the command line, which reads the store's algorithm first
    assert main(["ingest", "-q", str(tmp_path / "b.pcap"), "--store",
                 str(tmp_path / "store"), "--sensor", "s1"]) == 0  # fmt: skip
    ids = set(open_store(tmp_path / "store").catalog.records())
    assert ids == {hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()
                   for n in ("a.pcap", "b.pcap")}
    for run in (lambda: ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1"),
                lambda: main(["ingest", "-q", str(tmp_path / "b.pcap"), "--store",
                              str(tmp_path / "store"), "--sensor", "s1"])):
        run()  # the same inputs again: known by their sha256, nothing added
    store = open_store(tmp_path / "store")
    assert set(store.catalog.records()) == ids
    assert store.packets().count_rows() == 70


def test_store_with_an_unknown_content_hash_is_refused(tmp_path: Path) -> None:
    create_store(tmp_path / "store")
    (tmp_path / "store" / content.STORE_MARKER).write_text(
        json.dumps({"format": 1, "content_hash": "md5"}))
    with pytest.raises(StoreError, match="unknown content hash 'md5'"):
        open_store(tmp_path / "store")


def test_ingest_command_does_not_import_pandas_or_numpy_ma(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 30)
    code = (
        "import sys; from teiten.cli.main import main; "
        f"rc = main(['ingest', '-q', {str(tmp_path / 'a.pcap')!r}, '--store', "
        f"{str(tmp_path / 'store')!r}, '--sensor', 's1']); "
        "print(rc, 'pandas' in sys.modules, 'numpy.ma' in sys.modules, 'numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()  # fmt: skip
    assert out[:2] == ["0", "False"]
    if out[3] == "False":  # compiled kernels (numba itself imports numpy.ma)
        assert out[2] == "False"  # numpy.ma: ~20 ms of start-up (capture.arrow.from_numpy)


def test_stored_files_are_named_after_the_input_hash(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 30)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    digest = _b3((tmp_path / "a.pcap").read_bytes())
    files = list((tmp_path / "store" / "packets").rglob("*.parquet"))
    assert files and all(f.name.startswith(digest[:16] + "-") for f in files)
    assert not list((tmp_path / "store" / "staging").rglob("*.parquet"))


def test_known_input_found_while_decoding_is_a_duplicate(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    syn_capture(tmp_path / "a.pcap", 3000)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    before = sorted((tmp_path / "store" / "packets").rglob("*.parquet"))
    release = threading.Event()

    def slow_digest(path: str, algorithm: str) -> str:
        release.wait(30)  # decoding starts before the hash is known
        return file_digest(path, algorithm)

    monkeypatch.setattr(inputs_mod, "file_digest", slow_digest)
    progress: list[int] = []

    def on_progress(nbytes: int, npackets: int) -> None:
        progress.append(npackets)
        release.set()

    summary = ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1",
                     on_progress=on_progress)  # fmt: skip
    assert progress  # it did decode
    assert (summary.duplicates, summary.packets) == (1, 0)
    assert sorted((tmp_path / "store" / "packets").rglob("*.parquet")) == before


def test_prehasher_reads_only_one_file_ahead(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    paths = []
    for i in range(4):
        (tmp_path / f"{i}").write_bytes(bytes([i]) * 1000)
        paths.append(str(tmp_path / f"{i}"))
    hashed: list[str] = []

    def recording(path: str, algorithm: str) -> str:
        hashed.append(path)
        return file_digest(path, algorithm)

    monkeypatch.setattr(inputs_mod, "file_digest", recording)
    with Prehasher(paths) as h:
        h.get(paths[0])
        h.get(paths[1])
        assert list(h._futures) == paths[:3]  # submitted: up to one file ahead
        assert paths[3] not in hashed
        assert h.get(paths[3]) == _b3(bytes([3]) * 1000)
    assert hashed == paths
