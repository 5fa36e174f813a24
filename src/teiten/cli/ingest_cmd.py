"""``teiten ingest``: captures into the packet store.

Start-up counts in an ingest's time, so this command lists its inputs and starts hashing them
(in a thread) before it loads the decoder, keeps the garbage collector out of the imports, and
keeps pyarrow from importing pandas, which ingest never uses.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from teiten.core import content
from teiten.ingest.inputs import Prehasher, expand_inputs

if TYPE_CHECKING:
    from teiten.core.sensors import Registry
    from teiten.ingest.pipeline import IngestSummary


def register(sub: Any) -> None:
    """Add the ``ingest`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="decode captures into the packet store",
        description="Decode pcap/pcapng captures (optionally gzip/xz/zstd) into the store. "
        "Inputs already ingested (same content) are skipped unless --force. Exit codes: 0 ok, "
        "2 usage/config, 3 an input unusable, 4 damage under --strict, 5 store error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or - for stdin")
    p.add_argument("--store", required=True, type=Path, help="store directory (created if new)")
    p.add_argument("--sensor", help="sensor id for every input")
    p.add_argument("--registry", type=Path, help="sensor registry TOML")
    p.add_argument("--force", action="store_true", help="re-ingest inputs already ingested")
    p.add_argument("--strict", action="store_true", help="fail on any damaged or skipped record")
    p.add_argument("--payload-cap", type=int, default=512, help="payload bytes kept (512)")
    p.add_argument("--mmdb", type=Path, help="MaxMind-format country database to use")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


#: Top-level packages an ingest process does without: pyarrow imports pandas on first use
#: (~0.3 s) and ``dateutil.relativedelta`` on its first conversion of Python objects (~20 ms,
#: to recognise relativedelta values, which ingest never converts); when the import fails, it
#: skips both for good.
_NOT_NEEDED: Final = ("pandas", "dateutil")


class _NotNeeded:
    """Makes the imports of ``names`` (top-level packages) fail.

    (A meta path finder needs only ``find_spec``; subclassing ``importlib.abc.MetaPathFinder``
    would import ``importlib.resources`` and ``tempfile``, ~10 ms of start-up.)"""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name.partition(".")[0] in self._names:
            raise ModuleNotFoundError(f"No module named {name!r} (not needed by ingest)")
        return None


@contextlib.contextmanager
def _lean_process() -> Iterator[None]:
    """No pandas or dateutil (:data:`_NOT_NEEDED`), no collections during imports
    (the objects they create are then frozen out of later collections), and one OpenBLAS
    thread: ingest does no linear algebra, and NumPy's import otherwise starts a BLAS thread
    per core that spins for ~0.1 CPU-s, on the core the input is being hashed on."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    blocker = None
    names = tuple(m for m in _NOT_NEEDED if m not in sys.modules)
    if names:
        blocker = _NotNeeded(names)
        sys.meta_path.insert(0, blocker)
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        if blocker is not None:
            sys.meta_path.remove(blocker)


def run(args: argparse.Namespace) -> int:
    """Run the ingest and print its summary."""
    with _lean_process():
        inputs = expand_inputs(args.paths)
        algorithm = content.store_algorithm(args.store)
        with Prehasher(inputs, algorithm) as hashes:  # hashing overlaps the imports below
            from teiten.core.sensors import Registry
            from teiten.ingest import pipeline

            gc.freeze()
            gc.enable()
            registry = Registry.load(args.registry) if args.registry else None
            show = sys.stderr.isatty() and not args.quiet
            if show:
                summary = _with_progress(args, registry, inputs, hashes)
            else:
                summary = pipeline.ingest(
                    inputs, args.store, sensor=args.sensor, registry=registry, force=args.force,
                    strict=args.strict, payload_cap=args.payload_cap, mmdb=args.mmdb,
                    hashes=hashes,
                )
    if not args.quiet:
        print_summary(summary)
    return 3 if summary.failed else 0


def _with_progress(args: argparse.Namespace, registry: Registry | None,
                   inputs: list[str], hashes: Prehasher) -> IngestSummary:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    total = sum(os.path.getsize(p) for p in inputs if p != "-" and os.path.isfile(p)) or None
    with Progress(
        TextColumn("ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[packets]:,} packets, {task.fields[pps]:,.0f}/s"),
        TimeRemainingColumn(), transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=total, packets=0, pps=0.0)
        count = [0]

        def on_progress(nbytes: int, npackets: int) -> None:
            count[0] += npackets
            elapsed = progress.tasks[0].elapsed or 1e-9
            progress.update(task, advance=nbytes, packets=count[0], pps=count[0] / elapsed)

        from teiten.ingest.pipeline import ingest

        return ingest(inputs, args.store, sensor=args.sensor, registry=registry,
                      force=args.force, strict=args.strict, payload_cap=args.payload_cap,
                      mmdb=args.mmdb, on_progress=on_progress, hashes=hashes)


def print_summary(summary: IngestSummary) -> None:
    """The final lines: stored, skipped by reason, duplicates, failures, elapsed, rate."""
    ingested = sum(i.status == "ingested" for i in summary.inputs)
    print(f"inputs: {ingested} ingested, {summary.duplicates} already in the store, "
          f"{summary.failed} failed")
    unmonitored = sum(i.unmonitored for i in summary.inputs)
    print(f"packets stored: {summary.packets:,} of {summary.records:,} records"
          + (f" ({unmonitored:,} to unmonitored addresses left out)" if unmonitored else ""))
    skipped = summary.skipped_by_reason
    if skipped:
        print("skipped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items())))
    for i in summary.inputs:
        if i.status == "failed":
            print(f"failed: {i.message}", file=sys.stderr)
    print(f"elapsed: {summary.elapsed:.2f} s ({summary.rate:,.0f} records/s)")
