"""Live capture: drive tcpdump with rotation into a spool directory, and keep it alive.

:func:`tcpdump_argv` builds the command line (``-G`` time rotation, optional ``-C`` size
rotation, a ``-w`` strftime pattern in UTC, ``-Z root`` so files stay writable by the spool
follower, and a BPF filter for the sensor's monitored addresses from :func:`bpf_filter`).
:class:`CaptureDriver` runs it, asks it for statistics every ``stats_seconds`` (tcpdump prints
its counters on SIGUSR1 and on exit), restarts it with exponential backoff when it dies, and
writes start/stats/exit/stop rows into the spool's health file (:mod:`teiten.sensors.health`).
Gaps between a run's exit and the next start are capture gaps: coverage reads them from the
``sensor_health`` table.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from teiten.core.errors import UsageError
from teiten.core.sensors import Sensor
from teiten.sensors.health import append_rows, health_file

log = logging.getLogger("teiten.sensors.capture")

_CAPTURED: Final = re.compile(r"(\d+) packets? captured")
_RECEIVED: Final = re.compile(r"(\d+) packets? received by filter")
_DROPPED: Final = re.compile(r"(\d+) packets? dropped by kernel")
#: How often the driver checks whether tcpdump is still alive.
_POLL_SECONDS: Final = 0.2
_IFACE_RE: Final = re.compile(r"^[A-Za-z0-9_.:@-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Params:
    """Capture settings.

    Parameters
    ----------
    rotate_seconds : int
        Start a new file every this many seconds (tcpdump ``-G``). 3600.
    rotate_megabytes : int or None
        Also start a new file past this size in MB (tcpdump ``-C``). None.
    snaplen : int
        Bytes kept per packet (``-s``; 0 = tcpdump's default). 0.
    buffer_kib : int
        Kernel capture buffer in KiB (``-B``). 32768.
    packet_buffered : bool
        Write every packet at once (``-U``); for low rates and tests. False.
    both_directions : bool or None
        Capture traffic from the monitored addresses too (``net`` instead of ``dst net``);
        None means: for responsive sensors only. None.
    stats_seconds : float
        How often to ask tcpdump for its counters (SIGUSR1). 60.
    backoff_initial, backoff_max : float
        Restart delay after tcpdump dies, doubled on each quick death up to the max. 1, 60.
    stable_seconds : float
        A run longer than this resets the backoff. 60.
    tcpdump : str
        The tcpdump program. ``"tcpdump"``.
    user : str
        Account tcpdump keeps after opening the device (``-Z``). ``"root"``.
    """

    rotate_seconds: int = 3600
    rotate_megabytes: int | None = None
    snaplen: int = 0
    buffer_kib: int = 32768
    packet_buffered: bool = False
    both_directions: bool | None = None
    stats_seconds: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    stable_seconds: float = 60.0
    tcpdump: str = "tcpdump"
    user: str = "root"


def bpf_filter(sensor: Sensor, *, both_directions: bool = False) -> str:
    """A BPF filter selecting traffic to (or also from) the sensor's monitored addresses.

    Every address block the sensor ever had is included (capture does not know the time
    windows; ingest applies them). A sensor without addresses gets ``ip or ip6``.

    Examples
    --------
    >>> from teiten.core.sensors import Registry
    >>> s = Registry.from_toml_text('[[sensor]]\\nid="a"\\naddresses=["192.0.2.0/24"]')["a"]
    >>> bpf_filter(s)
    'dst net 192.0.2.0/24'
    """
    if sensor.monitors_everything:
        return "ip or ip6"
    word = "net" if both_directions else "dst net"
    nets = dict.fromkeys(str(b.network) for b in sensor.addresses)
    return " or ".join(f"{word} {n}" for n in nets)


def file_pattern(spool: Path, sensor: str) -> str:
    """The ``-w`` pattern: ``<spool>/<sensor>-YYYYmmddTHHMMSSZ.pcap`` (UTC, strftime)."""
    return str(Path(spool) / f"{sensor}-%Y%m%dT%H%M%SZ.pcap")


def tcpdump_argv(interface: str, sensor: Sensor, spool: Path, params: Params) -> list[str]:
    """The tcpdump command line for a sensor's capture into ``spool``."""
    if not _IFACE_RE.match(interface):
        raise UsageError(f"not an interface name: {interface!r}")
    both = sensor.kind == "responsive" if params.both_directions is None else params.both_directions
    argv = [params.tcpdump, "-i", interface, "-n", "-w", file_pattern(spool, sensor.id),
            "-G", str(int(params.rotate_seconds)), "-Z", params.user,
            "-B", str(int(params.buffer_kib))]
    if params.rotate_megabytes:
        argv += ["-C", str(int(params.rotate_megabytes))]
    if params.snaplen:
        argv += ["-s", str(int(params.snaplen))]
    if params.packet_buffered:
        argv.append("-U")
    argv.append(bpf_filter(sensor, both_directions=both))
    return argv


class _StderrReader(threading.Thread):
    """Reads tcpdump's stderr: keeps the latest counters and the last diagnostic line."""

    def __init__(self, proc: subprocess.Popen[str], on_stats: Any) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.on_stats = on_stats
        self.last_line = ""
        self.counts: dict[str, int] = {}
        #: Set once tcpdump says it is listening: from then on SIGUSR1 is handled, not fatal.
        self.listening = threading.Event()

    def run(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.strip()
            found = False
            for key, rx in (("captured", _CAPTURED), ("received", _RECEIVED),
                            ("dropped", _DROPPED)):
                m = rx.search(line)
                if m:
                    self.counts[key] = int(m.group(1))
                    found = True
            if found and "dropped" in self.counts:
                self.on_stats(dict(self.counts))
                self.counts = {}
            elif not found and line:
                if "listening on" in line:
                    self.listening.set()
                self.last_line = line[:300]
                log.info("tcpdump: %s", line)


class CaptureDriver:
    """Run tcpdump for one sensor and keep it running until :meth:`stop`.

    Parameters
    ----------
    interface : str
        Capture interface.
    sensor : Sensor
        The sensor (its id names files; its addresses make the filter).
    spool : Path
        Spool directory for the rotated files and the health file (created).
    params : Params
        Settings.
    """

    def __init__(self, interface: str, sensor: Sensor, spool: Path,
                 params: Params | None = None) -> None:
        self.interface = interface
        self.sensor = sensor
        self.spool = Path(spool)
        self.params = params or Params()
        self.argv = tcpdump_argv(interface, sensor, self.spool, self.params)
        self.health_path = health_file(self.spool, sensor.id)
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def stop(self) -> None:
        """Ask the driver to stop tcpdump and return from :meth:`run`."""
        self._stop.set()

    def kill_tcpdump(self) -> None:
        """Kill the current tcpdump (tests and operators use it to check restarts)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()

    def _row(self, event: str, run: int, **kw: Any) -> None:
        row = {"ts": time.time_ns(), "sensor": self.sensor.id, "interface": self.interface,
               "event": event, "run": run, **kw}
        with self._lock:
            append_rows(self.health_path, [row])

    def run(self, max_runs: int | None = None) -> int:
        """Capture until stopped (or after ``max_runs`` tcpdump runs); returns the restarts."""
        self.spool.mkdir(parents=True, exist_ok=True)
        backoff = self.params.backoff_initial
        runs = 0
        env = {**os.environ, "TZ": "UTC"}
        while not self._stop.is_set():
            run = time.time_ns()
            started = time.monotonic()
            try:
                proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, env=env)
            except OSError as exc:
                raise UsageError(f"cannot run {self.argv[0]}: {exc.strerror}") from exc
            with self._lock:
                self._proc = proc
            reader = _StderrReader(proc, lambda c, run=run: self._row("stats", run, **c))
            reader.start()
            self._row("start", run)
            log.info("capture %s on %s started: %s", self.sensor.id, self.interface,
                     " ".join(self.argv))
            next_stats = started + self.params.stats_seconds
            while proc.poll() is None and not self._stop.wait(_POLL_SECONDS):
                if (time.monotonic() >= next_stats and reader.listening.is_set()
                        and proc.poll() is None):
                    proc.send_signal(signal.SIGUSR1)
                    next_stats += self.params.stats_seconds
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            rc = proc.wait()
            reader.join(5)
            if proc.stderr is not None:
                proc.stderr.close()
            runs += 1
            stopping = self._stop.is_set()
            self._row("stop" if stopping else "exit", run, exit_code=rc,
                      message=reader.last_line or None)
            if stopping or (max_runs is not None and runs >= max_runs):
                break
            self.restarts += 1
            lived = time.monotonic() - started
            backoff = (self.params.backoff_initial if lived > self.params.stable_seconds
                       else backoff)
            log.warning("tcpdump for %s exited with %s after %.1f s (%s); restarting in %.1f s",
                        self.sensor.id, rc, lived, reader.last_line or "no message", backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(self.params.backoff_max, backoff * 2)
        return self.restarts


def sensor_for(sensor_id: str, registry: Any = None) -> Sensor:
    """The registry's sensor, or a sensor that monitors everything when it is not listed."""
    if registry is not None and sensor_id in registry:
        s: Sensor = registry[sensor_id]
        return s
    if registry is not None:
        log.warning("sensor %s is not in the registry: capturing every IP packet", sensor_id)
    return Sensor(id=sensor_id)


__all__ = ["CaptureDriver", "Params", "bpf_filter", "file_pattern", "sensor_for",
           "tcpdump_argv"]
