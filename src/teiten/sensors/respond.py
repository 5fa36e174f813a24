"""The responsive sensor: accept TCP, record the first payload, close. Never answer.

The responder completes the TCP handshake on its listening endpoints (a configured list of
``address:port``, or one port that an nftables ``redirect`` sends every port to — the original
destination is then recovered with ``SO_ORIGINAL_DST``), reads what the peer sends first — at most
``Params.max_bytes`` within ``Params.wait_seconds`` — and closes. It never writes a byte of
application data, so it cannot relay, reflect or amplify.

Limits, all in :class:`Params`: concurrent connections (over the cap, new ones are reset at
once), new connections per second per source (token bucket; the table of sources is bounded),
records held in memory (flushed to a segment file every ``flush_seconds`` or
``segment_records``), and a disk budget over the segment files (oldest segments are deleted
first). Segments are Parquet files of the ``payloads`` table (:mod:`teiten.sensors.payloads`),
loaded into a store with :func:`teiten.sensors.payloads.store_payloads` (``teiten sensor
payloads``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow.parquet as pq

from teiten.core.errors import UsageError
from teiten.sensors.payloads import PayloadRecord, records_to_table

log = logging.getLogger("teiten.sensors.respond")

#: getsockopt option that returns the pre-NAT destination (linux/netfilter_ipv4.h, ip6 too).
SO_ORIGINAL_DST: Final = 80
SEGMENT_GLOB: Final = "payloads-*.parquet"


@dataclass(frozen=True, slots=True)
class Params:
    """Responder limits.

    Parameters
    ----------
    max_bytes : int
        First-payload bytes kept per connection (the connection is closed once reached). 4096.
    wait_seconds : float
        How long to wait for the peer's first bytes before closing. 10 s.
    max_connections : int
        Concurrent connections; beyond it new connections are reset at once. 2048.
    per_source_rate : float
        Sustained new connections per second per source address. 2.
    per_source_burst : int
        Connections a source may open at once before the rate applies. 20.
    max_sources : int
        Sources tracked for rate limiting (least recently seen are forgotten). 100,000.
    segment_records : int
        Records per segment file; at most twice this many wait in memory (beyond, records
        are dropped and counted), so memory stays under ``2 * segment_records * max_bytes``.
        5,000.
    flush_seconds : float
        Longest time a record waits in memory before it is written. 30 s.
    budget_bytes : int
        Disk budget of the segment directory; oldest segments are deleted beyond it. 1 GiB.
    record_empty : bool
        Record connections that sent nothing (classification ``empty``). True.
    backlog : int
        Listen backlog (asyncio also accepts up to this many per wake-up, so it bounds the
        burst of objects created at once). 1024.
    """

    max_bytes: int = 4096
    wait_seconds: float = 10.0
    max_connections: int = 2048
    per_source_rate: float = 2.0
    per_source_burst: int = 20
    max_sources: int = 100_000
    segment_records: int = 5_000
    flush_seconds: float = 30.0
    budget_bytes: int = 1 << 30
    record_empty: bool = True
    backlog: int = 1024


@dataclass
class Stats:
    """Counters of a responder run."""

    accepted: int = 0
    recorded: int = 0
    reset_busy: int = 0
    reset_rate: int = 0
    dropped_records: int = 0
    segments_written: int = 0
    segments_deleted: int = 0
    active: int = 0


def parse_endpoint(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6]:PORT`` into (address, port); UsageError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"not an ADDRESS:PORT endpoint: {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def original_dst(sock: socket.socket) -> tuple[str, int] | None:
    """The pre-redirect destination of an accepted socket, or None if it was not NATed."""
    try:
        if sock.family == socket.AF_INET:
            raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            return socket.inet_ntop(socket.AF_INET, raw[4:8]), int.from_bytes(raw[2:4], "big")
        raw = sock.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), int.from_bytes(raw[2:4], "big")
    except OSError:
        return None


class _Connection(asyncio.Protocol):
    """One accepted connection: read up to the cap or the deadline, then close."""

    __slots__ = ("buf", "done", "dst", "first_ns", "r", "src", "t0", "timer", "transport")

    def __init__(self, responder: Responder) -> None:
        self.r = responder
        self.done = True
        self.buf = bytearray()
        self.first_ns = 0
        self.t0 = 0
        self.src: tuple[str, int] = ("", 0)
        self.dst: tuple[str, int] = ("", 0)
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if not self.r.admit(peer[0]):
            transport.abort()  # RST: no data, no state kept
            return
        self.done = False
        self.r.open_connections.add(self)
        self.t0 = time.time_ns()
        self.src = (peer[0], int(peer[1]))
        sock = transport.get_extra_info("socket")
        local = transport.get_extra_info("sockname")
        orig = original_dst(sock) if self.r.redirected and sock is not None else None
        self.dst = orig if orig is not None else (local[0], int(local[1]))
        self.timer = asyncio.get_running_loop().call_later(
            self.r.params.wait_seconds, self.finish, "timeout")

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        if not self.buf:
            self.first_ns = time.time_ns()
        room = self.r.params.max_bytes - len(self.buf)
        self.buf += data[:room]
        if len(self.buf) >= self.r.params.max_bytes:
            self.finish("cap")

    def eof_received(self) -> bool:
        self.finish("eof")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done:
            self.finish("error" if exc else "eof")
        if self.t0:
            self.r.stats.active -= 1
            self.r.open_connections.discard(self)
            self.t0 = 0

    def finish(self, end: str) -> None:
        """Record the connection (``end`` says why) and close it."""
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        wait = (self.first_ns - self.t0) // 1_000_000 if self.buf else None
        self.r.record(PayloadRecord(
            ts_ns=self.t0, sensor=self.r.sensor, src=self.src[0], sport=self.src[1],
            dst=self.dst[0], dport=self.dst[1], data=bytes(self.buf), length=len(self.buf),
            end=end, wait_ms=wait))
        if self.transport is not None:
            self.transport.close()


class Responder:
    """A responsive sensor writing payload segments into ``out_dir``.

    Parameters
    ----------
    sensor : str
        Sensor id written into every record.
    endpoints : list of (address, port)
        Where to listen.
    out_dir : Path
        Segment directory (created).
    params : Params
        Limits.
    redirected : bool
        Recover the original destination with ``SO_ORIGINAL_DST`` (nftables redirect mode).
    """

    def __init__(self, sensor: str, endpoints: list[tuple[str, int]], out_dir: Path,
                 params: Params | None = None, *, redirected: bool = False) -> None:
        if not endpoints:
            raise UsageError("the responder needs at least one ADDRESS:PORT to listen on")
        self.sensor = sensor
        self.endpoints = endpoints
        self.out_dir = Path(out_dir)
        self.params = params or Params()
        self.redirected = redirected
        self.stats = Stats()
        self._pending: list[PayloadRecord] = []
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._seq = 0
        self._flushing: asyncio.Task[None] | None = None
        #: The (address, port) pairs actually bound (port 0 in an endpoint picks one).
        self.bound: list[tuple[str, int]] = []
        #: Connections being read (at most ``max_connections``); finished on shutdown.
        self.open_connections: set[_Connection] = set()

    # -- limits ----------------------------------------------------------------------------

    def admit(self, src: str) -> bool:
        """Decide on a new connection from ``src`` (concurrency cap, per-source token bucket)."""
        p = self.params
        if self.stats.active >= p.max_connections:
            self.stats.reset_busy += 1
            return False
        now = time.monotonic()
        tokens, last = self._buckets.pop(src, (float(p.per_source_burst), now))
        tokens = min(float(p.per_source_burst), tokens + (now - last) * p.per_source_rate)
        ok = tokens >= 1.0
        self._buckets[src] = (tokens - 1.0 if ok else tokens, now)
        if len(self._buckets) > p.max_sources:
            self._buckets.popitem(last=False)
        if not ok:
            self.stats.reset_rate += 1
            return False
        self.stats.accepted += 1
        self.stats.active += 1
        return True

    def record(self, rec: PayloadRecord) -> None:
        """Keep a finished connection's record (bounded; flushed in segments)."""
        if not rec.data and not self.params.record_empty:
            return
        if len(self._pending) >= 2 * self.params.segment_records:
            self.stats.dropped_records += 1
            return
        self._pending.append(rec)
        self.stats.recorded += 1
        if len(self._pending) >= self.params.segment_records:
            self._schedule_flush()

    # -- segments --------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Write pending records to a new segment and enforce the disk budget."""
        while self._pending:
            batch = self._pending[: self.params.segment_records]
            del self._pending[: len(batch)]
            self._seq += 1
            name = f"payloads-{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.parquet"
            await asyncio.to_thread(self._write_segment, batch, self.out_dir / name)

    def _write_segment(self, batch: list[PayloadRecord], path: Path) -> None:
        table = records_to_table(batch)
        tmp = path.with_name(".tmp-" + path.name)
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        self.stats.segments_written += 1
        self.stats.segments_deleted += enforce_budget(self.out_dir, self.params.budget_bytes)

    # -- running ---------------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event) -> Stats:
        """Listen until ``stop`` is set; then close everything and write what is pending."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        _raise_fd_limit(self.params.max_connections + 2 * len(self.endpoints) + 256)
        loop = asyncio.get_running_loop()
        servers = []
        for host, port in self.endpoints:
            try:
                servers.append(await loop.create_server(
                    lambda: _Connection(self), host, port, backlog=self.params.backlog,
                    reuse_address=True))
            except OSError as exc:
                for s in servers:
                    s.close()
                raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        self.bound = [(str(k.getsockname()[0]), int(k.getsockname()[1]))
                      for s in servers for k in s.sockets]
        log.info("responder %s listening on %s", self.sensor,
                 ", ".join(f"{h}:{p}" for h, p in self.bound))
        ticker = loop.create_task(self._tick(stop))
        await stop.wait()
        for s in servers:
            s.close()
        for conn in list(self.open_connections):
            conn.finish("stop")  # record what they sent so far
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        if self._flushing is not None:
            await self._flushing
        await self.flush()
        return self.stats

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(min(1.0, self.params.flush_seconds))
            oldest = self._pending[0].ts_ns if self._pending else None
            if oldest is not None and time.time_ns() - oldest > self.params.flush_seconds * 1e9:
                self._schedule_flush()


def enforce_budget(out_dir: Path, budget_bytes: int) -> int:
    """Delete the oldest segments until the directory fits the budget; returns the count."""
    segs = sorted(out_dir.glob(SEGMENT_GLOB))
    sizes = [p.stat().st_size for p in segs]
    total, deleted = sum(sizes), 0
    for path, size in zip(segs[:-1], sizes[:-1], strict=True):  # always keep the newest
        if total <= budget_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        deleted += 1
    return deleted


def _raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run(responder: Responder, duration: float | None = None) -> Stats:
    """Run a responder until SIGINT/SIGTERM (or ``duration`` seconds); returns its counters."""

    async def main() -> Stats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        return await responder.serve(stop)

    return asyncio.run(main())
