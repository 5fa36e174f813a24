"""tool enricher: single-packet scanner fingerprints (spec §3) and their false positives."""

from __future__ import annotations

from typing import Any

import numpy as np

from teiten.detections._common import packets_from_columns
from teiten.ingest.enrich import ENRICHERS, EnrichContext
from teiten.ingest.enrich.tool import ToolEnricher, fingerprint

WIN_OPTS = bytes([2, 1, 3, 1, 1, 4])  # Windows / ZMap 4.1 option kinds
LINUX_OPTS = bytes([2, 4, 8, 1, 3])  # MSS, SACK-permitted, timestamps, NOP, WS


def syn(n: int = 1, **cols: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ip_version": 4, "proto": 6, "tcp_flags": 0x02, "src": 0x0A000001,
        "dst": 0xC0000201, "sport": 40000, "dport": 80, "tcp_seq": 12345, "tcp_ack": 0,
        "ip_id": 7, "ttl": 50, "tcp_win": 29200, "tcp_opts": b"", "ip_len": 40,
    }  # fmt: skip
    base.update(cols)
    return {k: (v if isinstance(v, list | np.ndarray) else [v] * n) for k, v in base.items()}


def labels(cols: dict[str, Any]) -> list[str | None]:
    return fingerprint(packets_from_columns(cols)).to_pylist()


def test_zmap_old_ip_id_54321() -> None:
    assert labels(syn(ip_id=54321, tcp_win=65535, ttl=240)) == ["zmap-old"]


def test_zmap_old_icmp_echo() -> None:
    cols = {"ip_version": [4], "proto": [1], "icmp_type": [8], "ip_id": [54321], "dst": [5]}
    assert labels(cols) == ["zmap-old"]


def test_windows_syn_with_ip_id_54321_is_not_zmap() -> None:
    cols = syn(ip_id=54321, tcp_win=65535, ttl=120, tcp_opts=WIN_OPTS, tcp_mss=1460,
               tcp_wscale=8, ip_len=52)  # fmt: skip
    assert labels(cols) == [None]


def test_masscan_ip_id_formula() -> None:
    dst, dport, seq = 0xC0000201, 3389, 0xDEADBEEF
    ip_id = (dst ^ dport ^ seq) & 0xFFFF
    cols = syn(dst=dst, dport=dport, tcp_seq=seq, ip_id=ip_id, ttl=245, tcp_win=1024)
    assert labels(cols) == ["masscan"]


def test_masscan_formula_on_ordinary_linux_syn_is_not_masscan() -> None:
    dst, dport, seq = 0xC0000201, 22, 0x01020304
    cols = syn(dst=dst, dport=dport, tcp_seq=seq, ip_id=(dst ^ dport ^ seq) & 0xFFFF, ttl=60,
               tcp_win=64240, tcp_opts=LINUX_OPTS)  # fmt: skip
    assert labels(cols) == [None]


def test_mirai_seq_equals_destination() -> None:
    assert labels(syn(dst=0x01020304, tcp_seq=0x01020304, dport=23, ttl=60)) == ["mirai"]


def test_nmap_window_mss_ttl() -> None:
    cols = syn(tcp_win=1024, tcp_opts=bytes([2]), tcp_mss=1460, ttl=45, ip_len=44)
    assert labels(cols) == ["nmap"]


def test_unicornscan_constant_key_over_three_targets() -> None:
    key, src, sport = 0x5A5A5A5A, 0x0B000001, 5000
    dst = np.array([100, 200, 300], dtype=np.int64) + 0xC0000000
    dport = np.array([80, 443, 22])
    seq = (key ^ dst ^ ((dport << 16) + sport)) & 0xFFFFFFFF
    cols = syn(3, src=src, sport=sport, dst=dst, dport=dport, tcp_seq=seq, ttl=250,
               tcp_win=4128, tcp_opts=bytes([2]))  # fmt: skip
    assert labels(cols) == ["unicornscan"] * 3


def test_two_random_syns_are_not_unicornscan() -> None:
    cols = syn(2, dst=[10, 20], tcp_seq=[111, 999], ttl=60, tcp_win=64240, tcp_opts=LINUX_OPTS)
    assert labels(cols) == [None, None]


def test_zmap_new_defaults() -> None:
    cols = syn(tcp_win=65535, tcp_opts=WIN_OPTS, tcp_mss=1460, tcp_wscale=8, ip_len=52, ttl=58)
    assert labels(cols) == ["zmap-new"]


def test_generic_large_scale_scanner() -> None:
    assert labels(syn(tcp_win=1024, ttl=240, ip_id=999)) == ["generic-scanner"]


def test_backscatter_is_never_fingerprinted() -> None:
    cols = syn(tcp_flags=0x12, dst=0x01020304, tcp_seq=0x01020304, ip_id=54321, tcp_win=65535)
    assert labels(cols) == [None]


def _os_syns(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """Windows, Linux and macOS SYNs: sequential IP IDs (hitting 54321), random seq."""
    kind = rng.integers(0, 3, n)
    win = np.choose(kind, [np.full(n, 64240), np.full(n, 64240), np.full(n, 65535)])
    ttl = np.choose(kind, [128 - rng.integers(5, 20, n), 64 - rng.integers(5, 20, n),
                           64 - rng.integers(5, 20, n)])  # fmt: skip
    opts = [WIN_OPTS if k == 0 else LINUX_OPTS for k in kind]
    return syn(
        n, src=rng.integers(1, 2**32, n), dst=rng.integers(1, 2**32, n),
        dport=rng.choice([445, 22, 23, 80, 3389], n), sport=rng.integers(1024, 65535, n),
        tcp_seq=rng.integers(0, 2**32, n), ip_id=np.arange(n) % 65536, ttl=ttl, tcp_win=win,
        tcp_opts=opts, tcp_mss=1460, tcp_wscale=8, ip_len=52,
    )  # fmt: skip


def test_ordinary_os_traffic_never_masscan_zmap_mirai() -> None:
    rng = np.random.default_rng(5)
    out = labels(_os_syns(rng, 150_000))
    assert not {"masscan", "zmap-old", "zmap-new", "mirai"} & set(out)


def test_nmap_probes_never_masscan_zmap_mirai() -> None:
    rng = np.random.default_rng(6)
    n = 100_000
    cols = syn(n, dst=rng.integers(1, 2**32, n), dport=rng.integers(1, 65536, n),
               tcp_seq=rng.integers(0, 2**32, n), ip_id=rng.integers(0, 65536, n),
               ttl=rng.integers(37, 60, n), tcp_win=1024, tcp_opts=bytes([2]),
               tcp_mss=1460)  # fmt: skip
    out = labels(cols)
    assert set(out) == {"nmap"}


def test_enricher_protocol_and_registration() -> None:
    enr = ToolEnricher(EnrichContext())
    assert enr.column == "tool"
    assert len(enr(packets_from_columns(syn(3)))) == 3
    assert "teiten.ingest.enrich.tool:ToolEnricher" in ENRICHERS
