"""The ingest kernels compiled ahead of time (`teiten.core.aot`) against Numba's JIT.

``make test`` builds the compiled module first, so the rest of the suite runs the compiled
kernels, as ``teiten ingest`` does after ``make``; here the same captures are also ingested by
the JIT kernels (``TEITEN_AOT=0``) and every stored value must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from build import epb, idb, pcap, shb
from corpus import frames, ipv4_packets, ipv6_packets

from teiten.core import aot
from teiten.store import _pqkernels, open_store


def _require_compiled() -> None:
    assert aot.ACTIVE, ("the compiled kernels are missing or stale: `make aot` (or "
                        "`python -m teiten.core.aot build`) builds them")


def _captures(tmp_path: Path) -> list[Path]:
    """A pcap per link type and a two-interface pcapng, with every protocol quirk."""
    packets = ipv4_packets() + ipv6_packets()
    out = []
    for lt in (1, 101, 113, 276, 0):
        p = tmp_path / "in" / f"lt{lt}.pcap"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(pcap(frames(lt, packets) * 20, lt))
        out.append(p)
    ng = shb() + idb(1) + idb(101)
    ts = 1_700_000_000 * 10**6
    for i, f in enumerate(frames(1, packets) * 10):
        ng += epb(f, ts + i * 1000, iface=0)
    for i, raw in enumerate(packets * 10):
        ng += epb(raw, ts + i * 1000 + 1, iface=1)
    ng_path = tmp_path / "in" / "two-ifaces.pcapng"
    ng_path.write_bytes(ng)
    out.append(ng_path)
    return out


def _ingest(captures: list[Path], store: Path, jit: bool) -> str:
    env = {**os.environ, "TEITEN_AOT": "0" if jit else "1"}
    code = ("import sys; from teiten.cli.main import main; rc = main(sys.argv[1:]); "
            "print('NUMBA' if 'numba' in sys.modules else 'NO-NUMBA'); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, "ingest", *map(str, captures), "--store",
                        str(store), "--sensor", "s1"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def _packets(store: Path) -> list[str]:
    """Every stored row, in a canonical order."""
    t = open_store(store).packets().to_table().drop_columns(["sensor", "date"])
    return sorted(repr(row) for row in t.to_pylist())


def test_compiled_and_jit_kernels_store_the_same_packets(tmp_path: Path) -> None:
    _require_compiled()
    caps = _captures(tmp_path)
    assert _ingest(caps, tmp_path / "aot", jit=False) == "NO-NUMBA"
    assert _ingest(caps, tmp_path / "jit", jit=True) == "NUMBA"
    a, j = _packets(tmp_path / "aot"), _packets(tmp_path / "jit")
    assert len(a) > 1000
    assert a == j


def test_every_entry_kernel_has_a_compiled_variant() -> None:
    """Under the JIT, list the Numba kernels of the compiled modules that Python calls: each
    must be in SIGNATURES (else the compiled build leaves it out and importing fails)."""
    code = """
import importlib, sys
from numba.core.registry import CPUDispatcher
from teiten.core import aot
missing = []
for rel in aot.SOURCES:
    mod = importlib.import_module("teiten." + rel[:-3].replace("/", "."))
    for name, v in vars(mod).items():
        q = f"{mod.__name__}.{name}"
        if (isinstance(v, CPUDispatcher) and v.__module__ == mod.__name__
                and v.targetoptions.get("inline") != "always" and q not in aot.INTERNAL
                and q not in aot.SIGNATURES):
            missing.append(q)
print(missing)
"""
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TEITEN_AOT": "0"},
                       capture_output=True, text=True, timeout=120, check=True)
    assert r.stdout.strip() == "[]"


def test_arguments_no_compiled_variant_takes_run_the_jit_kernel() -> None:
    """A compiled kernel given another array type would read the wrong memory: the call is
    checked, and arguments that fit no compiled variant go to the Numba JIT kernel."""
    _require_compiled()
    want = bytes([1, 3, 0b101])
    assert bytes(_pqkernels.bit_packed(np.array([1, 0, 1], np.int32), 1, True)) == want
    assert bytes(_pqkernels.bit_packed(np.array([1, 0, 1], np.int64), 1, True)) == want
    assert bytes(_pqkernels.bit_packed(np.array([1, 9, 0, 9, 1], np.int32)[::2], 1,
                                       True)) == want
    assert "teiten.store._pqkernels" in aot._twins
    # the decoder's twin compiled against the twin of the module it imports kernels from
    twins = aot._jit_twins()
    assert twins["teiten.capture.decode"].l3_starts is twins["teiten.capture.linktypes"].l3_starts


def test_stale_or_disabled_module_is_not_used(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _require_compiled()
    manifest = json.loads(aot.MANIFEST.read_text())
    assert aot._load(aot.MANIFEST) is not None
    stale = tmp_path / "m.json"
    stale.write_text(json.dumps({**manifest, "digest": "0" * 64}))
    assert aot._load(stale) is None  # sources edited since the build: the JIT kernels run
    other_cpu = tmp_path / "cpu.json"
    other_cpu.write_text(json.dumps({**manifest, "cpu": "another machine"}))
    assert aot._load(other_cpu) is None  # built for other CPU features: it could fault here
    assert aot._load(tmp_path / "absent.json") is None
    monkeypatch.setenv("TEITEN_AOT", "0")
    assert aot._load(aot.MANIFEST) is None


def test_compiled_kernels_release_the_gil() -> None:
    """The Parquet encoder threads and the decoder rely on it, as with Numba's nogil=True."""
    _require_compiled()
    values = np.random.default_rng(1).integers(0, 2**31, 3_000_000).astype(np.uint32)
    bitmap = np.zeros(1, np.uint8)

    def work() -> None:
        _pqkernels.dict_hash(values, bitmap, 0, len(values), False, len(values))

    t = threading.Thread(target=work)
    start = time.perf_counter()
    t.start()
    n = 0
    while t.is_alive():
        n += 1
    took = time.perf_counter() - start
    # with the GIL held, this loop would not run at all while the kernel does (~0.2 s)
    assert took > 0.05 and n > 10_000, (took, n)
