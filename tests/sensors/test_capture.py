"""The capture driver: filter, command line, restarts with backoff, drop counts (fake tcpdump)."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest

from teiten.core.errors import UsageError
from teiten.core.sensors import Registry
from teiten.sensors.capture import CaptureDriver, Params, bpf_filter, tcpdump_argv

REG = Registry.from_toml_text("""
[[sensor]]
id = "p1"
addresses = ["192.0.2.0/28", "2001:db8::/64"]
[[sensor]]
id = "r1"
kind = "responsive"
addresses = ["198.51.100.9/32"]
[[sensor]]
id = "any"
""")


def test_filter_covers_every_block() -> None:
    assert bpf_filter(REG["p1"]) == "dst net 192.0.2.0/28 or dst net 2001:db8::/64"


def test_filter_of_sensor_without_addresses() -> None:
    assert bpf_filter(REG["any"]) == "ip or ip6"


def test_responsive_sensor_captures_both_directions() -> None:
    argv = tcpdump_argv("eth1", REG["r1"], Path("/spool"), Params())
    assert argv[-1] == "net 198.51.100.9/32"


def test_argv_rotation_and_user() -> None:
    argv = tcpdump_argv("eth1", REG["p1"], Path("/spool"),
                        Params(rotate_seconds=600, rotate_megabytes=100))
    assert argv[argv.index("-G") + 1] == "600" and argv[argv.index("-C") + 1] == "100"
    assert argv[argv.index("-Z") + 1] == "root"
    assert argv[argv.index("-w") + 1] == "/spool/p1-%Y%m%dT%H%M%SZ.pcap"


def test_interface_name_is_checked() -> None:
    with pytest.raises(UsageError):
        tcpdump_argv("eth1; rm -rf /", REG["p1"], Path("/s"), Params())


FAKE = """#!/bin/sh
# a tcpdump that reports counters on SIGUSR1 and dies after a moment
S="tcpdump: 7 packets captured, 9 packets received by filter, 2 packets dropped by kernel"
trap 'echo "$S" >&2' USR1
echo "tcpdump: listening on fake" >&2
i=0
while [ $i -lt 6 ]; do sleep 0.1; i=$((i+1)); done
echo "5 packets captured" >&2
echo "6 packets received by filter" >&2
echo "1 packet dropped by kernel" >&2
echo "tcpdump: fake device went away" >&2
exit 1
"""


def _health(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_restarts_after_death_and_records_drops(tmp_path: Path) -> None:
    fake = tmp_path / "tcpdump"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    params = Params(tcpdump=str(fake), stats_seconds=0.25, backoff_initial=0.05)
    d = CaptureDriver("eth1", REG["p1"], tmp_path / "spool", params)
    assert d.run(max_runs=3) == 2
    rows = _health(d.health_path)
    events = [r["event"] for r in rows]
    assert events.count("start") == 3 and events.count("exit") == 3
    final = [r for r in rows if r["event"] == "stats" and r["captured"] == 5]
    assert len(final) == 3 and all(r["dropped"] == 1 for r in final)
    assert any(r["event"] == "stats" and r["dropped"] == 2 for r in rows)  # from SIGUSR1
    assert rows[-1]["exit_code"] == 1 and rows[-1]["message"] == "tcpdump: fake device went away"


def test_backoff_grows_on_quick_deaths(tmp_path: Path) -> None:
    fake = tmp_path / "tcpdump"
    fake.write_text("#!/bin/sh\nexit 2\n")
    fake.chmod(0o755)
    params = Params(tcpdump=str(fake), backoff_initial=0.1, backoff_max=0.4)
    d = CaptureDriver("eth1", REG["p1"], tmp_path, params)
    d.run(max_runs=4)
    starts = [int(str(r["ts"])) for r in _health(d.health_path) if r["event"] == "start"]
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4 and gaps[2] < 1.5


def test_stop_ends_the_run(tmp_path: Path) -> None:
    fake = tmp_path / "tcpdump"
    fake.write_text("#!/bin/sh\ntrap 'exit 0' TERM\nwhile true; do sleep 0.05; done\n")
    fake.chmod(0o755)
    d = CaptureDriver("eth1", REG["p1"], tmp_path, Params(tcpdump=str(fake)))
    threading.Timer(0.5, d.stop).start()
    assert d.run() == 0
    assert _health(d.health_path)[-1]["event"] == "stop"
