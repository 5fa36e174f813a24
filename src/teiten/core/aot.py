"""Ahead-of-time compiled kernels for the ingest path.

Every ``teiten ingest`` process used to spend about half a second before decoding its first
packet: importing Numba (~0.3 s), setting up its compiler and loading each cached kernel from
the JIT cache (~0.25 s), even when the kernels were compiled long ago. The kernels of the
ingest path (capture framing and decoding, the enrichment kernels, the Parquet encoder) are
therefore also compiled ahead of time into one extension module, ``teiten._kernels_aot``, by
``python -m teiten.core.aot build`` (``make`` runs it after installing). When that module is
present and was built from the current kernel sources, the kernel modules use it and Numba is
never imported; otherwise (no C compiler, sources edited since, ``TEITEN_AOT=0``) they are
Numba JIT kernels exactly as before. Both run the same Python source.

Kernel modules decorate with :func:`njit` from here instead of Numba's. An entry kernel (one
called from Python) needs its argument types in :data:`SIGNATURES`, one compiled variant per
entry. Each call checks its arguments against the variants (a compiled kernel given an array
of another type would read the wrong memory); a call no variant takes runs the Numba JIT
kernel instead, as before. Inline helpers and kernels called only by other kernels
(:data:`INTERNAL`) need nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from hashlib import sha256 as _sha256
else:
    try:  # the built-in SHA-256 (Python 3.11): no OpenSSL to load, ~4 ms of every start-up
        from _sha256 import sha256 as _sha256
    except ImportError:  # pragma: no cover
        from hashlib import sha256 as _sha256

#: The compiled module and the file that says which sources it was built from.
MODULE: Final = "teiten._kernels_aot"
_PACKAGE = Path(__file__).resolve().parent.parent
MANIFEST: Final = _PACKAGE / "_kernels_aot.json"
#: Sources compiled into the module; editing any of them makes it stale.
SOURCES: Final = ("capture/framing.py", "capture/decode.py", "capture/linktypes.py",
                  "capture/damage.py", "ingest/enrich/kernels.py", "store/_pqkernels.py",
                  "core/aot.py")

_A = "[::1]"
_M = "[:, ::1]"


def _sig(ret: str, *args: str) -> str:
    return f"{ret}({', '.join(args)})"


_I8x8 = ("i8" + _A,) * 8
_INTS = ("u1", "u2", "u4", "i1", "i2", "i4")
#: tool_fingerprints: the value and validity arrays of the packet fields it reads
_TOOL_ARGS = ("u1 u1 u1 u1 u1 u1 u2 u1 u4 u1 u4 u1 u2 u1 u2 u1 u4 u1 u4 u1 u2 u1 u1 u1 u2 u1 "
              "u2 u1 u1 u1 u1 u1 i4 u1 u1 i4")
#: Argument types of each entry kernel, in Numba's signature syntax: one compiled variant each.
SIGNATURES: Final[dict[str, tuple[str, ...]]] = {
    "teiten.capture.framing.frame_pcap": (_sig(
        "UniTuple(i8, 7)", "u1" + _A, "i8", "i8", "b1", "b1", "i8", "i8", "i8", "i8", "i8",
        "i8", *_I8x8, "u1" + _A),),
    "teiten.capture.framing.frame_pcapng": (_sig(
        "UniTuple(i8, 6)", "u1" + _A, "i8", "i8", "b1", "b1", "i8", "i8", "i8", "i8",
        *("i8" + _A,) * 5, *("i8" + _A,) * 9, "u1" + _A),),
    "teiten.capture.decode.decode": (_sig(
        "i8", "u1" + _A, *("i8" + _A,) * 6, "i8", "u1" + _M, "u2" + _M, "u4" + _M, "u1" + _M,
        "i8" + _A, "u1" + _M, "u1" + _M, "u1" + _A, "i4" + _A, "u1" + _A, "i4" + _A,
        "u1" + _A),),
    "teiten.ingest.enrich.kernels.traffic_classes": (_sig(
        "none", *("u1" + _A,) * 6, "u2" + _A, *("u1" + _A,) * 3, "i4" + _A, "i4" + _A,
        *("i8",) * 7, "i4" + _A),),
    "teiten.ingest.enrich.kernels.tool_fingerprints": (_sig(
        "none", *(t + _A for t in _TOOL_ARGS.split()[:-1]), "u8" + _M, "u8" + _A,
        "u8" + _A, "i4" + _A),),
    "teiten.ingest.enrich.kernels.dotted_quads": (_sig("i8", "u4" + _A, "u1" + _A),),
    "teiten.ingest.enrich.kernels.addr_slots": (_sig(
        "i8", "u8" + _A, "u4" + _A, "i8" + _A, "i8" + _A),),
    "teiten.ingest.enrich.kernels.rehash_addrs": (_sig("none", "u8" + _A, "u8" + _A),),
    "teiten.store._pqkernels.compact": tuple(
        _sig("i8", v + _A, "u1" + _A, "i8", "i8", "b1", o + _A)
        for v, o in [*((t, "i4") for t in _INTS), ("u8", "i8"), ("i8", "i8")]),
    "teiten.store._pqkernels.fixed_bytes": (_sig(
        "u1" + _A, "u1" + _A, "i8", "u1" + _A, "i8", "i8", "b1"),),
    "teiten.store._pqkernels.byte_array": (_sig(
        "u1" + _A, "i4" + _A, "u1" + _A, "u1" + _A, "i8", "i8", "b1"),),
    "teiten.store._pqkernels.dict_small": tuple(
        _sig("Tuple((i8[::1], i4[::1]))", t + _A, "i8", "u1" + _A, "i8", "i8", "b1")
        for t in ("u1", "u2")),
    "teiten.store._pqkernels.dict_hash": tuple(
        _sig("Tuple((i8[::1], i4[::1], i8))", t + _A, "u1" + _A, "i8", "i8", "b1", "i8")
        for t in (*_INTS, "u8", "i8")),
    "teiten.store._pqkernels.dict_bytes": (_sig(
        "Tuple((u1[::1], i8, i4[::1]))", "i4" + _A, "u1" + _A, "u1" + _A, "i8", "i8", "b1"),),
    "teiten.store._pqkernels.compact_indices": (_sig(
        "i4" + _A, "i4" + _A, "u1" + _A, "i8", "i8", "b1"),),
    "teiten.store._pqkernels.bit_packed": (_sig("u1" + _A, "i4" + _A, "i8", "b1"),),
    "teiten.store._pqkernels.def_levels": (_sig("u1" + _A, "u1" + _A, "i8", "i8"),),
    "teiten.store._pqkernels.delta_binary_packed": tuple(
        _sig("Tuple((u1[::1], i8, i8))", t + _A, "u1" + _A, "i8", "i8", "b1")
        for t in ("i8", "u2", "u1")),
}
#: Kernels that only other kernels call: compiled into their callers, never called from Python.
INTERNAL: Final = frozenset({
    "teiten.capture.linktypes.l3_starts",
    "teiten.ingest.enrich.kernels._distinct_targets",
    "teiten.ingest.enrich.kernels._unicornscan",
})


def source_digest() -> str:
    """SHA-256 of the kernel sources, the numpy version and the Python version."""
    h = _sha256(f"{sys.version}\0{np.__version__}\0".encode())
    for rel in SOURCES:
        h.update(rel.encode() + b"\0" + (_PACKAGE / rel).read_bytes() + b"\0")
    return h.hexdigest()


def host_cpu() -> str:
    """What the compiled code depends on in the CPU: the machine and its feature flags.

    The module is compiled for the host CPU (``-march=native``, in effect: AVX2 and the like
    where present), so a checkout copied to a machine with other features must not load it.
    """
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = " ".join(sorted(line.partition(":")[2].split()))
                    break
    except OSError:
        flags = platform.processor()
    return _sha256(f"{platform.machine()}\0{flags}".encode()).hexdigest()[:16]


def _export_name(qualname: str, i: int) -> str:
    mod, _, fn = qualname.removeprefix("teiten.").rpartition(".")
    return f"{mod.replace('.', '_')}__{fn}__{i}"


def _load(path: Path = MANIFEST) -> tuple[Any, dict[str, Any]] | None:
    """The compiled module and its manifest, if present, wanted and built from these sources."""
    if os.environ.get("TEITEN_AOT", "1") == "0":
        return None
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("digest") != source_digest() or manifest.get("cpu") != host_cpu():
            return None
        return importlib.import_module(MODULE), manifest
    except (OSError, ValueError, ImportError):
        return None


_COMPILED = _load()
#: Whether the ingest kernels run compiled ahead of time in this process.
ACTIVE: Final = _COMPILED is not None

#: The kernel modules, each after those it imports kernels from.
_KERNEL_MODULES: Final = ("teiten.capture.linktypes", "teiten.capture.framing",
                          "teiten.capture.decode", "teiten.ingest.enrich.kernels",
                          "teiten.store._pqkernels")
_twins: dict[str, Any] = {}
_twins_lock = threading.Lock()
_jit_only = False


def _jit_twins() -> dict[str, Any]:
    """The kernel modules loaded a second time with Numba JIT kernels, for calls that no
    compiled variant takes (another integer type, say): Numba specialises them as it always
    did. Loaded once, on the first such call."""
    global _jit_only
    with _twins_lock:
        if not _twins:
            saved = {m: sys.modules.get(m) for m in _KERNEL_MODULES}
            _jit_only = True
            try:
                for name in _KERNEL_MODULES:
                    spec = importlib.util.find_spec(name)
                    assert spec is not None and spec.loader is not None
                    twin = importlib.util.module_from_spec(spec)
                    sys.modules[name] = twin  # the next twins import their kernels from it
                    spec.loader.exec_module(twin)
                    _twins[name] = twin
            finally:
                _jit_only = False
                for name, mod in saved.items():
                    if mod is None:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = mod
    return _twins


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, np.integer))


def _is_bool(a: Any) -> bool:
    return isinstance(a, (bool, np.bool_))


def _is_array(dtype: np.dtype[Any], ndim: int) -> Callable[[Any], bool]:
    def check(a: Any) -> bool:
        return (type(a) is np.ndarray and a.dtype == dtype and a.ndim == ndim
                and a.flags.c_contiguous)
    return check


def _matcher(spec: list[Any]) -> Callable[[tuple[Any, ...]], bool]:
    """A test that arguments have exactly the types a compiled variant was built for."""
    checks = [_is_int if s == "int" else _is_bool if s == "bool" else
              _is_array(np.dtype(s[0]), s[1]) for s in spec]
    n = len(checks)

    def matches(args: tuple[Any, ...]) -> bool:
        return len(args) == n and all(c(a) for c, a in zip(checks, args, strict=True))
    return matches


def _compiled(qualname: str, module: Any, variants: list[tuple[str, list[Any]]]) -> Any:
    """A Python callable running the compiled variant that fits its arguments (or else the
    Numba JIT kernel)."""
    options = [(getattr(module, name), _matcher(spec)) for name, spec in variants]
    modname, _, fn_name = qualname.rpartition(".")

    def call(*args: Any) -> Any:
        for fn, fits in options:
            if fits(args):
                return fn(*args)
        return getattr(_jit_twins()[modname], fn_name)(*args)
    call.__name__ = call.__qualname__ = fn_name
    call.__doc__ = f"{qualname}, compiled ahead of time (teiten.core.aot)."
    return call


def njit(*args: Any, **options: Any) -> Any:
    """Numba's ``njit`` for the ingest kernels: the ahead-of-time compiled kernel when
    :data:`ACTIVE`, else a Numba JIT kernel with ``options``."""
    def decorate(f: Callable[..., Any]) -> Any:
        qualname = f"{f.__module__}.{f.__qualname__}"
        if _COMPILED is None or _jit_only:
            from numba import njit as numba_njit
            return numba_njit(**options)(f)
        if options.get("inline") == "always" or qualname in INTERNAL:
            return f  # compiled into the kernels that call it
        module, manifest = _COMPILED
        variants = manifest["exports"].get(qualname)
        if variants is None:
            raise RuntimeError(f"{qualname} is a kernel without a compiled variant: add it to "
                               "teiten.core.aot.SIGNATURES (or INTERNAL) and rebuild")
        return _compiled(qualname, module, variants)
    if len(args) == 1 and callable(args[0]) and not options:
        return decorate(args[0])
    return decorate


def _spec(t: Any) -> Any:
    from numba import types
    from numba.np.numpy_support import as_dtype
    if isinstance(t, types.Array):
        return [as_dtype(t.dtype).str, t.ndim]
    if isinstance(t, types.Boolean):
        return "bool"
    if isinstance(t, types.Integer):
        return "int"
    raise TypeError(f"no argument check for {t}")


def build(out_dir: Path = _PACKAGE) -> Path:
    """Compile every kernel of :data:`SIGNATURES` into ``teiten._kernels_aot`` (needs a C
    compiler and the Python headers); returns the manifest written last."""
    if os.environ.get("TEITEN_AOT") != "0":
        raise RuntimeError("build in a process started with TEITEN_AOT=0 (the kernels must "
                           "be Numba's): python -m teiten.core.aot build")
    pycc_compiler: Any = importlib.import_module("numba.pycc.compiler")
    sigutils: Any = importlib.import_module("numba.core.sigutils")
    cc_class: Any = importlib.import_module("numba.pycc").CC

    class _Flags(pycc_compiler.Flags):  # type: ignore[misc]
        """Compiled calls release the GIL, as the JIT kernels' ``nogil=True`` does: the
        Parquet encoder threads and the decoder run side by side."""

        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.release_gil = True
            self.nopython = True

    pycc_compiler.Flags = _Flags
    manifest = out_dir / MANIFEST.name
    manifest.unlink(missing_ok=True)
    cc = cc_class(MODULE.rpartition(".")[2])
    cc.output_dir = str(out_dir)
    cc.verbose = False
    cc.target_cpu = "host"  # pycc's default, generic x86-64, made tool_fingerprints 2x slower
    exports: dict[str, list[tuple[str, list[Any]]]] = {}
    for qualname, sigs in SIGNATURES.items():
        modname, _, fn = qualname.rpartition(".")
        kernel = getattr(importlib.import_module(modname), fn)
        for i, sig in enumerate(sigs):
            name = _export_name(qualname, i)
            args, _ = sigutils.normalize_signature(sig)
            cc.export(name, sig)(kernel.py_func)
            exports.setdefault(qualname, []).append((name, [_spec(a) for a in args]))
    cc.compile()
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps({"digest": source_digest(), "cpu": host_cpu(),
                              "exports": exports}, indent=1))
    os.replace(tmp, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m teiten.core.aot build|status``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["status"]:
        print("compiled ahead of time" if ACTIVE else "Numba JIT (no current compiled module)")
        return 0
    if argv != ["build"]:
        print("usage: python -m teiten.core.aot build|status", file=sys.stderr)
        return 2
    if os.environ.get("TEITEN_AOT") != "0":  # the build needs the JIT kernels: start afresh
        import subprocess
        env = {**os.environ, "TEITEN_AOT": "0"}
        return subprocess.call([sys.executable, "-m", "teiten.core.aot", "build"], env=env)
    print(f"compiled {build()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
