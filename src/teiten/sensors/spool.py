"""Follow a spool directory: ingest each closed capture file once, then keep, delete or archive.

A file is *closed* when

- a newer file of the same capture (same ``<sensor>-`` prefix) exists — tcpdump closes a file
  before it opens the next — or it has not been modified for ``Params.quiet_seconds``; and
- no process holds it open for writing (checked through ``/proc/*/fd`` when readable).

Each closed file goes through :func:`teiten.ingest.pipeline.ingest`; the store's catalog makes
a second ingest of the same content a no-op, so a follower killed at any moment simply resumes
(its small state file only saves re-hashing). Health rows the capture driver wrote into the
spool are merged into the store's ``sensor_health`` table on every pass.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from teiten.core.errors import TeitenError, UsageError
from teiten.core.sensors import Registry
from teiten.ingest.pipeline import ingest
from teiten.sensors.health import read_rows, store_health
from teiten.store import create_store

log = logging.getLogger("teiten.sensors.spool")

STATE_FILE: Final = ".teiten-spool-state.json"
_ROTATED: Final = re.compile(r"^(?P<prefix>.+)-\d{8}T\d{6}Z\.pcap(?:ng)?\d*(?:\.(?:gz|xz|zst))?$")
AFTER_POLICIES: Final = ("keep", "delete", "archive")


@dataclass(frozen=True, slots=True)
class Params:
    """Spool-follower settings.

    Parameters
    ----------
    quiet_seconds : float
        The newest file of a capture counts as closed after this long without writes. 120.
    poll_seconds : float
        Time between passes over the spool. 10.
    after : str
        What to do with an ingested file: ``keep``, ``delete`` or ``archive``. ``keep``.
    archive_dir : Path or None
        Where ``archive`` moves files (required for it).
    pattern : str
        Glob of capture files in the spool. ``*.pcap*``.
    check_open : bool
        Skip files some process holds open (``/proc/*/fd``). True.
    """

    quiet_seconds: float = 120.0
    poll_seconds: float = 10.0
    after: str = "keep"
    archive_dir: Path | None = None
    pattern: str = "*.pcap*"
    check_open: bool = True

    def __post_init__(self) -> None:
        if self.after not in AFTER_POLICIES:
            raise UsageError(f"--after must be one of {', '.join(AFTER_POLICIES)}")
        if self.after == "archive" and self.archive_dir is None:
            raise UsageError("--after archive needs --archive DIR")


@dataclass
class FollowSummary:
    """Counters over a follower's passes."""

    ingested: int = 0
    duplicates: int = 0
    failed: int = 0
    packets: int = 0
    health_rows: int = 0
    files: list[str] = field(default_factory=list)


def capture_prefix(name: str) -> str:
    """The capture a rotated file belongs to (``tk-01-20261122T050000Z.pcap`` → ``tk-01``)."""
    m = _ROTATED.match(name)
    return m.group("prefix") if m else name


def files_open_for_writing() -> set[str] | None:
    """Real paths some process has open for writing, or None when ``/proc`` is unreadable."""
    out: set[str] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if not target.startswith("/"):
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
                    flags = _flags(fh.read())
            except (OSError, ValueError):
                continue
            if flags & (os.O_WRONLY | os.O_RDWR):
                out.add(target)
    return out


def _flags(fdinfo: str) -> int:
    for line in fdinfo.splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    return 0


def closed_files(spool: Path, params: Params, now: float | None = None) -> list[Path]:
    """The spool's capture files that are complete, oldest first."""
    now = time.time() if now is None else now
    groups: dict[str, list[tuple[float, str, Path]]] = {}
    for p in Path(spool).iterdir():
        if p.name.startswith(".") or not fnmatch.fnmatch(p.name, params.pattern):
            continue
        try:
            st = p.stat()
        except OSError:
            continue
        groups.setdefault(capture_prefix(p.name), []).append((st.st_mtime, p.name, p))
    candidates: list[tuple[float, str, Path]] = []
    for items in groups.values():
        items.sort()
        candidates.extend(items[:-1])
        if now - items[-1][0] >= params.quiet_seconds:
            candidates.append(items[-1])
    if params.check_open and candidates:
        busy = files_open_for_writing()
        if busy is not None:
            candidates = [c for c in candidates if os.path.realpath(c[2]) not in busy]
    return [c[2] for c in sorted(candidates)]


class SpoolFollower:
    """Ingest a spool directory's closed files into a store.

    Parameters
    ----------
    spool : Path
        The directory tcpdump writes into.
    store_path : Path
        The store (created if missing).
    sensor : str or None
        Sensor id for every file; default: the registry's match, else the file-name prefix.
    registry : Registry or None
        Sensor registry passed to ingest.
    params : Params
        Settings.
    """

    def __init__(self, spool: Path, store_path: Path, *, sensor: str | None = None,
                 registry: Registry | None = None, params: Params | None = None) -> None:
        self.spool = Path(spool)
        if not self.spool.is_dir():
            raise UsageError(f"{self.spool}: spool directory does not exist")
        self.store_path = Path(store_path)
        self.sensor = sensor
        self.registry = registry
        self.params = params or Params()
        self.state_path = self.spool / STATE_FILE
        self.state: dict[str, Any] = self._load_state()
        self._stop = threading.Event()

    def _load_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_state(self) -> None:
        tmp = self.state_path.with_name(f".tmp-{os.getpid()}-{STATE_FILE}")
        tmp.write_text(json.dumps(self.state, sort_keys=True))
        os.replace(tmp, self.state_path)

    def stop(self) -> None:
        """Make :meth:`follow` return after the current pass."""
        self._stop.set()

    def _sensor_for(self, path: Path) -> str | None:
        if self.sensor is not None:
            return self.sensor
        if self.registry is not None and self.registry.for_path(str(path)) is not None:
            return None  # ingest matches it through the registry
        prefix = capture_prefix(path.name)
        return prefix if prefix != path.name else None

    def _after(self, path: Path) -> None:
        if self.params.after == "delete":
            path.unlink(missing_ok=True)
        elif self.params.after == "archive":
            assert self.params.archive_dir is not None
            self.params.archive_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), self.params.archive_dir / path.name)

    def pass_once(self, summary: FollowSummary | None = None) -> FollowSummary:
        """One pass: ingest every closed, not yet ingested file; load health rows."""
        summary = summary or FollowSummary()
        for path in closed_files(self.spool, self.params):
            st = path.stat()
            key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            prev = self.state.get(path.name)
            if prev is not None and {k: prev.get(k) for k in key} == key:
                if prev.get("status") == "done":
                    self._after(path)  # a crash between ingest and the policy: finish it
                continue  # failed before and unchanged since
            try:
                result = ingest([path], self.store_path, sensor=self._sensor_for(path),
                                registry=self.registry)
            except TeitenError as exc:
                log.error("%s: %s", path, exc)
                self.state[path.name] = {**key, "status": "failed", "message": str(exc)}
                summary.failed += 1
                self._save_state()
                continue
            item = result.inputs[0] if result.inputs else None
            status = item.status if item is not None else "failed"
            if status == "failed":
                summary.failed += 1
                self.state[path.name] = {**key, "status": "failed",
                                         "message": item.message if item else ""}
                self._save_state()
                log.error("%s: not ingested: %s", path, item.message if item else "")
                continue
            summary.ingested += status == "ingested"
            summary.duplicates += status == "duplicate"
            summary.packets += item.packets if item is not None else 0
            summary.files.append(path.name)
            self.state[path.name] = {**key, "status": "done"}
            self._save_state()
            log.info("%s: %s, %d packets", path.name, status, item.packets if item else 0)
            self._after(path)
        summary.health_rows += self.load_health()
        return summary

    def load_health(self) -> int:
        """Merge the spool's health files into the store; returns the new rows."""
        files = sorted(self.spool.glob(".teiten-health-*.jsonl"))
        if not files:
            return 0
        store = create_store(self.store_path)
        return sum(store_health(store, read_rows(f)) for f in files)

    def follow(self, once: bool = False) -> FollowSummary:
        """Pass over the spool every ``poll_seconds`` until :meth:`stop` (or once)."""
        summary = FollowSummary()
        while True:
            self.pass_once(summary)
            if once or self._stop.wait(self.params.poll_seconds):
                return summary
