"""Network namespaces for the live tests: a scanner and a sensor joined by a veth pair.

Addresses are from 10.77.0.0/24 and exist only inside the two namespaces; nothing is routed
anywhere else, so no test traffic can leave the machine. The namespaces (and with them the veth
pair and any nftables rules) are deleted when the fixture ends, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNER_IP, SENSOR_IP, SCANNER_IP2 = "10.77.0.1", "10.77.0.2", "10.77.0.3"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def netns_unavailable() -> str | None:
    """Why live namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    probe = f"ttprobe{os.getpid()}"
    r = _ip("netns", "add", probe)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@dataclass
class Pair:
    """The two namespaces and the sensor-side interface name."""

    scanner: str
    sensor: str
    sensor_if: str

    def run(self, ns: str, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        """Run a command inside a namespace and wait for it."""
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                              text=True, check=False, **kw)  # type: ignore[call-overload]

    def popen(self, ns: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running command inside a namespace (``ip netns exec`` execs it)."""
        with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=fh,
                                    stderr=subprocess.STDOUT, env=env())

    def teiten(self, *args: str) -> list[str]:
        """argv for ``python -m teiten ...`` from this checkout."""
        return [sys.executable, "-m", "teiten", *args]

    def scanner_script(self, *args: str) -> list[str]:
        """argv for the scanner script."""
        return [sys.executable, str(Path(__file__).with_name("scanner.py")), *args]


def env() -> dict[str, str]:
    """Environment for child processes: this checkout's sources first."""
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{os.environ.get('PYTHONPATH', '')}"}


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A scanner and a sensor namespace joined by a veth pair; removed afterwards."""
    with make_pair("f") as p:
        yield p


@contextlib.contextmanager
def make_pair(suffix: str) -> Iterator[Pair]:
    """Create the namespace pair (skips the test when the machine cannot); always removed."""
    why = netns_unavailable()
    if why is not None:
        pytest.skip(why)
    tag = f"{os.getpid() % 100000}{suffix}"
    p = Pair(scanner=f"ttscan{tag}", sensor=f"ttsens{tag}", sensor_if=f"tvn{tag}")
    scan_if = f"tvs{tag}"
    try:
        for cmd in (
            ["netns", "add", p.scanner], ["netns", "add", p.sensor],
            ["link", "add", scan_if, "type", "veth", "peer", "name", p.sensor_if],
            ["link", "set", scan_if, "netns", p.scanner],
            ["link", "set", p.sensor_if, "netns", p.sensor],
            ["-n", p.scanner, "addr", "add", f"{SCANNER_IP}/24", "dev", scan_if],
            ["-n", p.scanner, "addr", "add", f"{SCANNER_IP2}/24", "dev", scan_if],
            ["-n", p.sensor, "addr", "add", f"{SENSOR_IP}/24", "dev", p.sensor_if],
            ["-n", p.scanner, "link", "set", "lo", "up"],
            ["-n", p.sensor, "link", "set", "lo", "up"],
            ["-n", p.scanner, "link", "set", scan_if, "up"],
            ["-n", p.sensor, "link", "set", p.sensor_if, "up"],
        ):
            r = _ip(*cmd)
            if r.returncode != 0:
                raise RuntimeError(f"ip {' '.join(cmd)}: {r.stderr.strip()}")
        yield p
    finally:
        _ip("netns", "del", p.scanner)
        _ip("netns", "del", p.sensor)
        _ip("link", "del", scan_if)  # only if it never moved into a namespace
