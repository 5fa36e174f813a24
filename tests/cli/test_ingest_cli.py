"""`teiten ingest` and `teiten store` as a user runs them: real processes, exit codes, output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from teiten.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_captures import syn_capture

TEITEN = [sys.executable, "-m", "teiten"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*TEITEN, *args], input=stdin, capture_output=True, timeout=300,
                          check=False)


def test_ingest_from_stdin_and_store_info(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 120)
    r = run("ingest", "-", "--store", str(tmp_path / "s"), "--sensor", "tk-01",
            stdin=(tmp_path / "a.pcap").read_bytes())
    assert r.returncode == 0, r.stderr
    assert b"packets stored: 120 of 120" in r.stdout
    info = run("store", "info", "--store", str(tmp_path / "s"))
    assert info.returncode == 0 and b"tk-01" in info.stdout and b"120" in info.stdout
    # the same bytes again from stdin are recognised after reading
    again = run("ingest", "-", "--store", str(tmp_path / "s"), "--sensor", "tk-01",
                stdin=(tmp_path / "a.pcap").read_bytes())
    assert b"1 already in the store" in again.stdout
    assert open_store(tmp_path / "s").packets().count_rows() == 120


def test_exit_codes_and_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.bin").write_bytes(b"\x00garbage" * 50)
    r = run("ingest", str(tmp_path / "junk.bin"), "--store", str(tmp_path / "s"),
            "--sensor", "x")
    assert r.returncode == 3
    assert b"Traceback" not in r.stderr and b"junk.bin" in r.stderr
    missing = run("ingest", str(tmp_path / "nope.pcap"), "--store", str(tmp_path / "s"),
                  "--sensor", "x")
    assert missing.returncode == 3 and missing.stderr.count(b"\n") == 1
    syn_capture(tmp_path / "a.pcap", 10)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((tmp_path / "a.pcap").read_bytes()[:-5])
    strict = run("ingest", str(cut), "--store", str(tmp_path / "s"), "--sensor", "x", "--strict")
    assert strict.returncode == 4 and b"record 9" in strict.stderr
    bad_reg = tmp_path / "r.toml"
    bad_reg.write_text("[[sensor]]\nid = 'a b'\n")
    cfg = run("ingest", str(cut), "--store", str(tmp_path / "s"), "--registry", str(bad_reg))
    assert cfg.returncode == 2 and b"r.toml" in cfg.stderr
    info = run("store", "info", "--store", str(tmp_path / "nostore"))
    assert info.returncode == 5 and b"not a teiten store" in info.stderr


@pytest.mark.slow
def test_a_killed_ingest_leaves_a_consistent_store_and_rerun_completes(tmp_path: Path) -> None:
    caps = tmp_path / "caps"
    caps.mkdir()
    for i in range(6):
        syn_capture(caps / f"c{i}.pcap", 60_000, seed=i)
    store = tmp_path / "s"
    for delay in (0.8, 1.6, 2.4):
        p = subprocess.Popen([*TEITEN, "ingest", "-q", str(caps), "--store", str(store),
                              "--sensor", "x"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        if (store / "teiten-store.json").exists():
            s = open_store(store)
            done = sum(r.packets for r in s.catalog.records().values())
            assert s.packets().count_rows() == done  # whole inputs only
            assert done % 60_000 == 0
    r = run("ingest", "-q", str(caps), "--store", str(store), "--sensor", "x")
    assert r.returncode == 0
    s = open_store(store)
    assert s.packets().count_rows() == 360_000 and len(s.catalog.records()) == 6
    leftovers = [p for p in (store / "packets").rglob("*.parquet")
                 if p.relative_to(store).as_posix() not in s.catalog.listed_files()]
    assert leftovers == []


def test_version_imports_no_command() -> None:
    code = ("import sys; from teiten.cli.main import main; rc = main(['--version']); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('teiten.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.splitlines()
    assert out[0].startswith("teiten ") and out[1] == "0 ['teiten.cli.main']"
