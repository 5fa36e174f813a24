"""Live tests: real tcpdump, responder and scanner processes in network namespaces.

One end-to-end run covers capture → spool ingest → store, the responder (configured ports and
an nftables redirect of every other port), classification, and the rule that nothing but
handshakes and closes goes back. The flood test checks the limits under 20,000 connections.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dpkt
import pyarrow.parquet as pq
import pytest

from teiten.sensors.payloads import read_payloads
from teiten.sensors.respond import SEGMENT_GLOB
from teiten.store import open_store

from .netns import SCANNER_IP, SCANNER_IP2, SENSOR_IP, Pair, make_pair

pytestmark = pytest.mark.needs_root

REDIRECT_PORT = 9999
NFT = f"""
table ip teiten_test {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport != {{ 80, 443, 1521, 8080, {REDIRECT_PORT} }} redirect to :{REDIRECT_PORT}
  }}
}}
"""
REGISTRY = f"""
[[sensor]]
id = "r1"
kind = "responsive"
addresses = ["{SENSOR_IP}/32"]
"""


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _listening(pair: Pair, port: int) -> bool:
    r = pair.run(pair.sensor, ["ss", "-Hltn", f"sport = :{port}"])
    return bool(r.stdout.strip())


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tcp_from(pcaps: list[Path], src: str) -> list[dpkt.tcp.TCP]:
    out = []
    want = socket.inet_aton(src)
    for f in pcaps:
        with open(f, "rb") as fh:
            for _ts, buf in dpkt.pcap.Reader(fh):
                ip = dpkt.ethernet.Ethernet(buf).data
                if isinstance(ip, dpkt.ip.IP) and ip.src == want and isinstance(ip.data,
                                                                                 dpkt.tcp.TCP):
                    out.append(ip.data)
    return out


@pytest.fixture(scope="module")
def sensor_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Capture + responder in the sensor namespace, two probe rounds with a tcpdump kill."""
    for tool in ("tcpdump", "nft", "ss"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (Debian packages tcpdump, nftables, iproute2)")
    with make_pair("m") as pair:
        yield _sensor_run(pair, tmp_path_factory.mktemp("live"))


def _sensor_run(pair: Pair, tmp_path: Path) -> dict[str, object]:
    spool, seg, store = tmp_path / "spool", tmp_path / "seg", tmp_path / "store"
    (tmp_path / "registry.toml").write_text(REGISTRY)
    nft = pair.run(pair.sensor, ["nft", "-f", "-"], input=NFT)
    assert nft.returncode == 0, nft.stderr
    cap = pair.popen(pair.sensor, pair.teiten(
        "sensor", "capture", "-i", pair.sensor_if, "--sensor", "r1", "--spool", str(spool),
        "--registry", str(tmp_path / "registry.toml"), "--rotate", "3600", "--packet-buffered",
        "--stats-seconds", "0.5"), tmp_path / "capture.log")
    resp = pair.popen(pair.sensor, pair.teiten(
        "sensor", "respond", "--sensor", "r1", "--out", str(seg), "--redirect",
        "--listen", f"{SENSOR_IP}:80", "--listen", f"{SENSOR_IP}:443",
        "--listen", f"{SENSOR_IP}:1521", "--listen", f"0.0.0.0:{REDIRECT_PORT}",
        "--wait", "1", "--flush-seconds", "0.5"), tmp_path / "respond.log")
    try:
        _wait(lambda: _listening(pair, REDIRECT_PORT), 20, "the responder")
        _wait(lambda: any(spool.glob("*.pcap")) and b"listening on"
              in (tmp_path / "capture.log").read_bytes(), 20, "tcpdump")
        first = json.loads(pair.run(pair.scanner, pair.scanner_script(
            "probes", SENSOR_IP)).stdout)
        # kill tcpdump (our own child process, by pid): the driver must restart it
        tcpdumps = _children(cap.pid)
        assert len(tcpdumps) == 1
        os.kill(tcpdumps[0], signal.SIGKILL)
        _wait(lambda: len(_children(cap.pid)) == 1 and _children(cap.pid) != tcpdumps, 20,
              "the tcpdump restart")
        time.sleep(1.5)  # one second per file name: let the new tcpdump open its own file
        second = json.loads(pair.run(pair.scanner, pair.scanner_script(
            "probes", SENSOR_IP)).stdout)
        time.sleep(1.0)
        # while tcpdump still writes its current file, only the finished one may be ingested
        mid = subprocess.run(pair.teiten("sensor", "ingest", "--spool", str(spool), "--store",
                                         str(store), "--once", "--quiet-seconds", "0"),
                             capture_output=True, text=True, env=_env(), check=False)
    finally:
        _stop(resp)
        _stop(cap)
    ing = subprocess.run(pair.teiten("sensor", "ingest", "--spool", str(spool), "--store",
                                     str(store), "--once", "--quiet-seconds", "0"),
                         capture_output=True, text=True, env=_env(), check=False)
    pay = subprocess.run(pair.teiten("sensor", "payloads", "--store", str(store),
                                     "--segments", str(seg)),
                         capture_output=True, text=True, env=_env(), check=False)
    return {"first": first, "second": second, "spool": spool, "store": store,
            "ingest": ing, "mid_ingest": mid, "payloads": pay, "capture_rc": cap.returncode,
            "respond_rc": resp.returncode}


def _env() -> dict[str, str]:
    from .netns import env
    return env()


def test_processes_stop_cleanly(sensor_run: dict[str, object]) -> None:
    assert (sensor_run["capture_rc"], sensor_run["respond_rc"]) == (0, 0)


def test_scanner_sees_only_closes(sensor_run: dict[str, object]) -> None:
    for rnd in ("first", "second"):
        got = sensor_run[rnd]
        assert isinstance(got, dict)
        assert got["closed"] == "refused"
        assert {k: v for k, v in got.items() if k != "closed"} == dict.fromkeys(
            ("http", "tns", "tls", "garbage", "silent", "rdp", "redis"), "closed")


def test_sensor_sends_no_payload(sensor_run: dict[str, object]) -> None:
    pcaps = sorted(Path(str(sensor_run["spool"])).glob("*.pcap"))
    back = _tcp_from(pcaps, SENSOR_IP)
    synacks = [t for t in back if t.flags & dpkt.tcp.TH_SYN and t.flags & dpkt.tcp.TH_ACK]
    assert len(synacks) >= 14  # 7 answered probes per round, two rounds
    assert all(len(t.data) == 0 for t in back)


def test_capture_restarted_into_a_new_file(sensor_run: dict[str, object]) -> None:
    assert len(list(Path(str(sensor_run["spool"])).glob("r1-*.pcap"))) >= 2


def test_packets_land_in_the_store(sensor_run: dict[str, object]) -> None:
    ing = sensor_run["ingest"]
    assert isinstance(ing, subprocess.CompletedProcess) and ing.returncode == 0, ing.stderr
    con = open_store(str(sensor_run["store"])).duckdb()
    rows = dict(con.sql(
        f"select dport, count(*) from packets where sensor = 'r1' and tcp_flags = 2 "
        f"and src = {int.from_bytes(socket.inet_aton(SCANNER_IP), 'big')} group by 1").fetchall())
    assert {p: rows.get(p, 0) for p in (80, 443, 1521, 8080, 3389)} == {
        80: 6, 443: 2, 1521: 2, 8080: 2, 3389: 2}


def test_file_being_written_is_not_ingested(sensor_run: dict[str, object]) -> None:
    mid, end = sensor_run["mid_ingest"], sensor_run["ingest"]
    assert isinstance(mid, subprocess.CompletedProcess)
    assert isinstance(end, subprocess.CompletedProcess)
    assert "spool: 1 ingested, 0 already stored" in mid.stdout, mid.stdout + mid.stderr
    assert "spool: 1 ingested, 0 already stored" in end.stdout, end.stdout + end.stderr


def test_health_rows_record_start_exit_stop(sensor_run: dict[str, object]) -> None:
    t = open_store(str(sensor_run["store"])).read_table("sensor_health")
    assert t is not None
    events = t.column("event").cast("string").to_pylist()
    assert events.count("start") == 2 and "exit" in events and "stop" in events
    stats = [r for r in t.to_pylist() if r["event"] == "stats"]
    assert stats and all(r["dropped"] is not None for r in stats)


def test_payloads_recorded_and_classified(sensor_run: dict[str, object]) -> None:
    pay = sensor_run["payloads"]
    assert isinstance(pay, subprocess.CompletedProcess) and pay.returncode == 0, pay.stderr
    rows = read_payloads(open_store(str(sensor_run["store"]))).to_pylist()
    got = sorted((r["dport"], r["classification"]) for r in rows)
    assert got == sorted(2 * [(80, "http"), (80, "raw"), (80, "empty"), (1521, "tns"),
                              (443, "tls"), (3389, "rdp"), (6379, "redis")])
    tns = next(r for r in rows if r["classification"] == "tns")
    assert dict(tns["fields"])["program"] == "sqlmap"
    tls = next(r for r in rows if r["classification"] == "tls")
    assert dict(tls["fields"])["sni"] == "probe.example"
    silent = next(r for r in rows if r["classification"] == "empty")
    assert silent["end"] == "timeout"
    assert "sqlmap" in pay.stdout


@pytest.mark.slow
def test_flood_is_survived_with_bounded_memory(pair: Pair, tmp_path: Path) -> None:
    seg = tmp_path / "seg"
    resp = pair.popen(pair.sensor, pair.teiten(
        "sensor", "respond", "--sensor", "r1", "--out", str(seg), "--listen", f"{SENSOR_IP}:80",
        "--wait", "1", "--flush-seconds", "0.5"), tmp_path / "respond.log")
    try:
        _wait(lambda: _listening(pair, 80), 20, "the responder")
        rss0 = _rss(resp.pid)
        r = pair.run(pair.scanner, pair.scanner_script("flood", SENSOR_IP, "80", "20000", "10"),
                     timeout=60)
        flood = json.loads(r.stdout)
        rss1 = _rss(resp.pid)
        # a second flood must not grow memory further: what the first one took is a plateau
        again = json.loads(pair.run(pair.scanner, pair.scanner_script(
            "flood", SENSOR_IP, "80", "10000", "10"), timeout=60).stdout)
        rss2 = _rss(resp.pid)
        assert resp.poll() is None, "responder died under the flood"
        # another source is still answered and recorded
        probe = pair.run(pair.scanner, [sys.executable, "-c", (
            "import socket; s = socket.socket(); "
            f"s.bind(('{SCANNER_IP2}', 0)); s.connect(('{SENSOR_IP}', 80)); "
            "s.sendall(b'GET /after HTTP/1.0\\r\\n\\r\\n'); s.shutdown(1); print(s.recv(9))")])
        assert probe.stdout.strip() == "b''"
        time.sleep(1.0)
    finally:
        _stop(resp)
    log = (tmp_path / "respond.log").read_text()
    # the scanner stops at 10 s; a loaded machine may not reach 20,000 in that time
    assert flood["attempted"] >= 5000, flood
    assert again["attempted"] >= 2500, again
    assert rss1 - rss0 < 128 << 20 and rss2 - rss1 < 16 << 20, (rss0, rss1, rss2)
    m = re.search(r"responder: (\d+) accepted, (\d+) recorded, (\d+) reset \(busy\), "
                  r"(\d+) reset \(rate\)", log)
    assert m is not None, log
    accepted, _, _, reset_rate = (int(x) for x in m.groups())
    assert flood["connected"] >= 0.95 * flood["attempted"], flood
    assert accepted <= 20 + 2 * 30 + 1, m.group(0)
    assert reset_rate >= 0.9 * (flood["attempted"] + again["attempted"]), m.group(0)
    tables = [pq.read_table(x) for x in sorted(seg.glob(SEGMENT_GLOB))]
    after = [r for t in tables for r in t.to_pylist()
             if r["src"] == int.from_bytes(socket.inet_aton(SCANNER_IP2), "big")]
    assert len(after) == 1 and after[0]["classification"] == "http"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
