"""The spool follower: which files are closed, ingest once, resume, keep/delete/archive."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from teiten.core.errors import UsageError
from teiten.sensors.health import append_rows
from teiten.sensors.spool import Params, SpoolFollower, capture_prefix, closed_files
from teiten.store import open_store

from .pcaps import syn_pcap

OLD = time.time() - 3600


def _file(spool: Path, name: str, mtime: float, n: int = 3, seed: int = 1) -> Path:
    p = syn_pcap(spool / name, n, seed=seed)
    os.utime(p, (mtime, mtime))
    return p


def test_prefix_of_rotated_names() -> None:
    assert capture_prefix("tk-01-20261122T050000Z.pcap") == "tk-01"
    assert capture_prefix("tk-01-20261122T050000Z.pcap3") == "tk-01"
    assert capture_prefix("other.pcap") == "other.pcap"


def test_newest_file_is_open_until_quiet(tmp_path: Path) -> None:
    a = _file(tmp_path, "s1-20261122T040000Z.pcap", time.time() - 20)
    _file(tmp_path, "s1-20261122T050000Z.pcap", time.time() - 10)
    assert closed_files(tmp_path, Params(quiet_seconds=60)) == [a]


def test_quiet_newest_file_is_closed(tmp_path: Path) -> None:
    b = _file(tmp_path, "s1-20261122T050000Z.pcap", OLD)
    assert closed_files(tmp_path, Params(quiet_seconds=60)) == [b]


def test_file_held_open_for_writing_is_not_closed(tmp_path: Path) -> None:
    b = _file(tmp_path, "s1-20261122T050000Z.pcap", OLD)
    with open(b, "ab"):
        os.utime(b, (OLD, OLD))
        assert closed_files(tmp_path, Params(quiet_seconds=60)) == []


def test_hidden_and_foreign_files_are_ignored(tmp_path: Path) -> None:
    _file(tmp_path, ".s1-20261122T050000Z.pcap", OLD)
    (tmp_path / "notes.txt").write_text("x")
    assert closed_files(tmp_path, Params(quiet_seconds=0)) == []


def test_ingests_each_closed_file_once(tmp_path: Path) -> None:
    spool, store = tmp_path / "spool", tmp_path / "store"
    spool.mkdir()
    _file(spool, "s1-20261122T040000Z.pcap", OLD - 10, n=4, seed=1)
    _file(spool, "s1-20261122T050000Z.pcap", OLD, n=5, seed=2)
    f = SpoolFollower(spool, store, params=Params(quiet_seconds=60))
    first = f.pass_once()
    second = f.pass_once()
    assert (first.ingested, first.packets, second.ingested) == (2, 9, 0)
    assert open_store(store).packets().count_rows() == 9
    assert open_store(store).registry().keys() >= {"s1"}


def test_resume_after_lost_state_adds_nothing(tmp_path: Path) -> None:
    spool, store = tmp_path / "spool", tmp_path / "store"
    spool.mkdir()
    _file(spool, "s1-20261122T050000Z.pcap", OLD, n=6)
    SpoolFollower(spool, store, params=Params(quiet_seconds=60)).pass_once()
    (spool / ".teiten-spool-state.json").unlink()  # as if the follower crashed before saving
    again = SpoolFollower(spool, store, params=Params(quiet_seconds=60)).pass_once()
    assert (again.ingested, again.duplicates) == (0, 1)
    assert open_store(store).packets().count_rows() == 6


def test_delete_policy(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    _file(spool, "s1-20261122T050000Z.pcap", OLD)
    SpoolFollower(spool, tmp_path / "store",
                  params=Params(quiet_seconds=60, after="delete")).pass_once()
    assert not list(spool.glob("*.pcap"))


def test_archive_policy(tmp_path: Path) -> None:
    spool, arch = tmp_path / "spool", tmp_path / "archive"
    spool.mkdir()
    _file(spool, "s1-20261122T050000Z.pcap", OLD)
    SpoolFollower(spool, tmp_path / "store",
                  params=Params(quiet_seconds=60, after="archive", archive_dir=arch)).pass_once()
    assert [p.name for p in arch.iterdir()] == ["s1-20261122T050000Z.pcap"]


def test_archive_needs_a_directory() -> None:
    with pytest.raises(UsageError):
        Params(after="archive")


def test_damaged_file_is_not_deleted(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    bad = spool / "s1-20261122T050000Z.pcap"
    bad.write_bytes(b"not a capture at all")
    os.utime(bad, (OLD, OLD))
    s = SpoolFollower(spool, tmp_path / "store",
                      params=Params(quiet_seconds=60, after="delete")).pass_once()
    assert s.failed == 1 and bad.exists()


def test_health_rows_reach_the_store_once(tmp_path: Path) -> None:
    spool, store = tmp_path / "spool", tmp_path / "store"
    spool.mkdir()
    row = {"ts": 1_790_000_000_000_000_000, "sensor": "s1", "interface": "eth1",
           "event": "stats", "run": 1, "captured": 10, "received": 12, "dropped": 2}
    append_rows(spool / ".teiten-health-s1.jsonl", [row])
    f = SpoolFollower(spool, store)
    assert (f.pass_once().health_rows, f.pass_once().health_rows) == (1, 0)
    t = open_store(store).read_table("sensor_health")
    assert t is not None and t.column("dropped").to_pylist() == [2]
