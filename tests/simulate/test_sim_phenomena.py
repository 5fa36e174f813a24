"""Each phenomenon is in the captures with the properties the scenario promises."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path

import dpkt
import iptocc
import numpy as np

from teiten.core.sensors import Registry
from teiten.simulate import payloads
from teiten.simulate.truth import corsaro_max_ppm

from .conftest import Decoded, actor_mask

U32 = 0xFFFFFFFF


def _col(d: Decoded, name: str, mask: np.ndarray) -> np.ndarray:
    return np.array(d.cols[name], dtype=object)[mask]


def test_mirai_seq_is_destination_and_every_tenth_probe_2323(decoded: Decoded,
                                                             sources: dict) -> None:
    m = actor_mask(decoded, sources, "mirai")
    assert m.sum() > 50
    assert (_col(decoded, "seq", m) == _col(decoded, "dst", m)).all()
    dport = _col(decoded, "dport", m)
    assert set(dport) == {23, 2323}
    assert 0.05 < np.mean(dport == 2323) < 0.4
    assert (_col(decoded, "opts", m) == b"").all()


def test_conficker_never_hits_upper_halves(decoded: Decoded, sources: dict) -> None:
    m = actor_mask(decoded, sources, "conficker")
    dst = _col(decoded, "dst", m).astype(np.int64)
    assert len(dst) > 50
    assert ((dst >> 16) & 0xFF).max() < 128 and (dst & 0xFF).max() < 128
    # while other 445 sources do reach upper-half addresses
    bg = actor_mask(decoded, sources, "bg-445")
    assert ((_col(decoded, "dst", bg).astype(np.int64) & 0xFF) >= 128).any()


def test_zmap_before_and_after_ip_id_change(decoded: Decoded, sources: dict) -> None:
    old = actor_mask(decoded, sources, "zmap-old")
    new = actor_mask(decoded, sources, "zmap-new")
    assert (_col(decoded, "ip_id", old) == 54321).all()
    assert (_col(decoded, "ttl", old) > 200).all() and (_col(decoded, "win", old) == 65535).all()
    assert (_col(decoded, "ip_id", new) != 54321).mean() > 0.99
    assert (_col(decoded, "ttl", new) <= 64).all()
    assert set(_col(decoded, "opts", new)) == {bytes.fromhex("020405b4010303080101 0402")}


def test_masscan_ip_id_formula(decoded: Decoded, sources: dict) -> None:
    m = actor_mask(decoded, sources, "masscan")
    dst, dport, seq = (_col(decoded, k, m).astype(np.int64) for k in ("dst", "dport", "seq"))
    assert len(dst) > 100
    assert ((dst ^ dport ^ seq) & 0xFFFF == _col(decoded, "ip_id", m)).all()
    assert (_col(decoded, "win", m) == 1024).all() and (_col(decoded, "ttl", m) > 200).all()


def test_nmap_vertical_scan_fingerprint(decoded: Decoded, sources: dict, truth: dict) -> None:
    m = actor_mask(decoded, sources, "nmap")
    assert (_col(decoded, "win", m) == 1024).all()
    assert set(_col(decoded, "opts", m)) == {b"\x02\x04\x05\xb4"}
    ttl = _col(decoded, "ttl", m)
    assert ttl.min() >= 37 and ttl.max() <= 59
    for name, src, n in zip(truth["name"], truth["src"], truth["packets"], strict=True):
        if name.startswith("nmap-"):
            one = np.array(decoded.cols["src"]) == src
            assert len(set(_col(decoded, "dst", one))) == 1  # vertical: one target
            assert len(set(_col(decoded, "dport", one))) == n  # every packet a new port


def test_unicornscan_seq_relation_constant_per_scan(decoded: Decoded, truth: dict) -> None:
    for name, src in zip(truth["name"], truth["src"], strict=True):
        if name.startswith("unicornscan-"):
            one = np.array(decoded.cols["src"]) == src
            dst, dport, sport, seq = (_col(decoded, k, one).astype(np.int64)
                                      for k in ("dst", "dport", "sport", "seq"))
            key = seq ^ dst ^ (((dport << 16) + sport) & U32)
            assert len(key) > 10 and len(set(key.tolist())) == 1
            assert (_col(decoded, "win", one) == 4128).all()


def test_scan_shapes_horizontal_vertical_box(truth: dict) -> None:
    shapes = {}
    for detail, dd in zip(truth["detail"], truth["distinct_dsts"], strict=True):
        if detail and '"shape"' in detail:
            shapes.setdefault(json.loads(detail)["shape"], []).append(dd)
    assert set(shapes) == {"horizontal", "vertical", "box"}
    assert min(shapes["horizontal"]) > 50 and set(shapes["vertical"]) == {1}


def test_backscatter_matches_attack_type(decoded: Decoded, truth: dict) -> None:
    src = np.array(decoded.cols["src"])
    seen = set()
    for c, v, det in zip(truth["category"], truth["src"], truth["detail"], strict=True):
        if c != "ddos":
            continue
        d = json.loads(det)
        m = src == v
        kind = d["attack"]
        seen.add(kind)
        if kind in ("syn", "rst"):  # SYN/ACK or RST/ACK from the attacked service port
            assert set(_col(decoded, "flags", m)) == ({0x12} if kind == "syn" else {0x14})
            assert set(_col(decoded, "sport", m)) == {d["victim_port"]}
        elif kind == "ping":
            assert set(_col(decoded, "icmp_type", m)) == {0}
        else:  # port unreachable quoting the spoofed UDP packet (inner src = our address)
            assert set(_col(decoded, "icmp_type", m)) == {3}
            assert (_col(decoded, "inner_src", m) == _col(decoded, "dst", m)).all()
            assert (_col(decoded, "inner_dst", m) == v).all()
            assert set(_col(decoded, "inner_dport", m)) == {d["victim_port"]}
    assert len(seen) >= 2


def test_ddos_thresholds_recomputed_from_captures(decoded: Decoded, truth: dict) -> None:
    src = np.array(decoded.cols["src"])
    ts = np.array(decoded.cols["ts"])
    labels = []
    for c, v, above, n in zip(truth["category"], truth["src"], truth["above_threshold"],
                              truth["packets"], strict=True):
        if c != "ddos":
            continue
        t = np.sort((ts[src == v] * 1e9).astype(np.int64))
        assert len(t) == n
        ok = (n >= 25 and (t[-1] - t[0]) >= 60e9 and corsaro_max_ppm(t) >= 30)
        assert ok == above
        labels.append(above)
    assert True in labels and False in labels


def test_slammer_nachi_messenger_dns_payloads(decoded: Decoded, sources: dict) -> None:
    sl = actor_mask(decoded, sources, "slammer")
    assert set(_col(decoded, "payload", sl)) == {payloads.SLAMMER}
    assert payloads.SLAMMER[:4] == b"\x04\x01\x01\x01" and len(payloads.SLAMMER) == 376
    assert b"\x81\xf1\x03\x01\x04\x9b\x81\xf1\x01" in payloads.SLAMMER
    assert set(_col(decoded, "dport", sl)) == {1434}
    na = actor_mask(decoded, sources, "nachi")
    assert set(_col(decoded, "payload", na)) == {b"\xaa" * 64}
    assert set(_col(decoded, "icmp_type", na)) == {8}
    ms = actor_mask(decoded, sources, "messenger")
    pay = _col(decoded, "payload", ms)
    assert set(_col(decoded, "dport", ms)) <= {1026, 1027, 1028, 1029} and len(pay) > 10
    assert all(p[:2] == b"\x04\x00" and p[2] & 0x20 and p[24:40] == payloads.MSGSVC_UUID_LE
               for p in pay)
    dn = actor_mask(decoded, sources, "dns-any")
    assert all(dpkt.dns.DNS(p).qd[0].type == 255 for p in _col(decoded, "payload", dn))


def test_smurf_many_amplifiers_one_target(decoded: Decoded, truth: dict) -> None:
    for c, det in zip(truth["category"], truth["detail"], strict=True):
        if c != "smurf":
            continue
        target = json.loads(det)["target"]
        m = (np.array(decoded.cols["dst"]) == target) & (np.array(decoded.cols["icmp_type"]) == 0)
        assert len(set(_col(decoded, "src", m))) >= 10


def test_surge_single_source_fixed_port_after_start(decoded: Decoded, sources: dict,
                                                    world_dir: Path) -> None:
    m = actor_mask(decoded, sources, "surge-1521")
    assert len(set(_col(decoded, "src", m))) == 1
    assert set(_col(decoded, "sport", m)) == {6000} and set(_col(decoded, "dport", m)) == {1521}
    start = datetime(2026, 10, 1, tzinfo=UTC).timestamp() + 0.55 * 7 * 86400
    assert _col(decoded, "ts", m).min() >= start - 3600


def test_new_entrant_absent_before_mid_period(decoded: Decoded, sources: dict) -> None:
    m = actor_mask(decoded, sources, "new-entrant-8909")
    start = datetime(2026, 10, 1, tzinfo=UTC).timestamp() + 0.45 * 7 * 86400
    assert m.sum() > 50 and _col(decoded, "ts", m).min() >= start - 3600


def test_messenger_spam_stops(decoded: Decoded, sources: dict) -> None:
    m = actor_mask(decoded, sources, "messenger")
    end = datetime(2026, 10, 1, tzinfo=UTC).timestamp() + 0.75 * 7 * 86400
    assert _col(decoded, "ts", m).max() < end + 3600


def _night_day_ratio(decoded: Decoded, mask: np.ndarray, offset_h: float) -> float:
    hour = ((_col(decoded, "ts", mask).astype(float) / 3600 + offset_h) % 24).astype(int)
    h = np.bincount(hour, minlength=24)
    return float(h[2:7].mean() / h[13:23].mean())


def test_diurnal_population_follows_local_time(decoded: Decoded, sources: dict) -> None:
    assert _night_day_ratio(decoded, actor_mask(decoded, sources, "diurnal-445-latam"),
                            -4) < 0.35
    assert _night_day_ratio(decoded, actor_mask(decoded, sources, "bg-445"), -4) > 0.6


def test_outage_and_maintenance_are_silent(decoded: Decoded, truth: dict,
                                           world_dir: Path) -> None:
    sensors = np.array(decoded.cols["sensor"])
    ts = np.array(decoded.cols["ts"])
    kinds = set()
    for k, s, a, b in zip(truth["kind"], truth["sensor"], truth["start"], truth["end"],
                          strict=True):
        if k in ("outage", "maintenance"):
            kinds.add(k)
            inside = (sensors == s) & (ts >= a.timestamp()) & (ts < b.timestamp())
            assert not inside.any()
            assert ((sensors == s) & (ts < a.timestamp())).any()
    assert kinds == {"outage", "maintenance"}
    reg = Registry.load(world_dir / "sensors.toml")
    assert sum(len(s.maintenance) for s in reg.values()) == 1


def test_address_change(decoded: Decoded, truth: dict, world_dir: Path) -> None:
    i = truth["kind"].index("address-change")
    sid, at = truth["sensor"][i], truth["start"][i].timestamp()
    det = json.loads(truth["detail"][i])
    reg = Registry.load(world_dir / "sensors.toml")
    assert {str(b.network) for b in reg[sid].addresses} == {det["old"], det["new"]}
    m = np.array(decoded.cols["sensor"]) == sid
    ts, dst = _col(decoded, "ts", m), _col(decoded, "dst", m).astype(np.int64)
    import ipaddress

    old = ipaddress.ip_network(det["old"])
    in_old = np.array([ipaddress.ip_address(int(d)) in old for d in dst])
    assert in_old[ts < at].all() and not in_old[ts >= at].any() and (ts >= at).any()


def test_os_stacks_realistic(decoded: Decoded, sources: dict) -> None:
    m = actor_mask(decoded, sources, "bg-common")
    opts = _col(decoded, "opts", m)
    ttl = _col(decoded, "ttl", m)
    win_opts = bytes.fromhex("020405b40101 0402")
    assert all(t <= 128 - 6 and t > 64 for t, o in zip(ttl, opts, strict=True) if o == win_opts)
    linux = [o for o in opts if len(o) == 20]
    assert linux and all(o[:4] == b"\x02\x04\x05\xb4" and o[6:8] == b"\x08\x0a" for o in linux)


def test_background_mix_is_the_seed_reports_ports_and_countries(decoded: Decoded) -> None:
    # the seed reports' famous ports lead, over a long tail; China, the US and Japan lead
    labels = [f"{t}/ICMP" if p == 1 else f"{dp}/{'TCP' if p == 6 else 'UDP'}"
              for p, dp, t in zip(decoded.cols["proto"], decoded.cols["dport"],
                                  decoded.cols["icmp_type"], strict=True)]
    names, counts = np.unique(np.array(labels), return_counts=True)
    ranked = list(names[np.argsort(-counts, kind="stable")])
    assert ranked[0] == "445/TCP"
    assert {"135/TCP", "1433/TCP", "8/ICMP"} <= set(ranked[:8])
    assert {"22/TCP", "23/TCP", "3389/TCP", "4899/TCP"} <= set(ranked[:15])
    assert len(ranked) > 1000  # the long tail
    src, per_src = np.unique(np.array(decoded.cols["src"], dtype=np.uint32), return_counts=True)
    codes = np.array(iptocc.country_code([str(ipaddress.IPv4Address(int(s))) for s in src]))
    cc, idx = np.unique(codes, return_inverse=True)
    volume = np.bincount(idx, weights=per_src)
    top = list(cc[np.argsort(-volume, kind="stable")])
    assert top[0] == "CN"
    assert {"US", "JP"} <= set(top[:4]) and {"RU", "TW", "KR"} <= set(top[:8])
