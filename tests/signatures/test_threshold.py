"""threshold / detection_filter: every type, track keys, windows (Suricata semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from teiten.signatures.engine import evaluate
from teiten.signatures.loader import load_rules_text
from teiten.signatures.rule import Threshold
from teiten.signatures.threshold import keep_mask


def run(thr: Threshold, ts: list[float], keys: list[int] | None = None,
        ports: list[int] | None = None) -> list[int]:
    n = len(ts)
    key = np.array(keys if keys is not None else [0] * n, dtype=np.int64).reshape(-1, 1)
    t = (np.array(ts) * 1e9).astype(np.int64)
    p = np.array(ports if ports is not None else [0] * n, dtype=np.int64)
    return np.flatnonzero(keep_mask(thr, key, t, p)).tolist()


EIGHT = [float(i) for i in range(8)]


@pytest.mark.parametrize(("count", "alerts"), [(1, 7), (2, 6), (4, 4), (7, 1), (8, 0)])
def test_detection_filter_suricata_counts(count: int, alerts: int) -> None:
    # Suricata's own test: 8 echo requests, detection_filter count N -> 8 - N alerts
    assert len(run(Threshold("detection", "by_src", count, 60), EIGHT)) == alerts


def test_limit_first_n_per_window() -> None:
    assert run(Threshold("limit", "by_src", 3, 60), EIGHT) == [0, 1, 2]


def test_threshold_every_nth() -> None:
    assert run(Threshold("threshold", "by_src", 3, 60), EIGHT) == [2, 5]


def test_both_once_at_nth() -> None:
    assert run(Threshold("both", "by_src", 3, 60), EIGHT) == [2]


def test_window_restarts_after_seconds() -> None:
    ts = [0, 1, 2, 10, 11, 12]  # window 5 s: second window starts at t=10
    assert run(Threshold("both", "by_src", 3, 5), ts) == [2, 5]
    assert run(Threshold("limit", "by_src", 1, 5), ts) == [0, 3]


def test_window_end_is_inclusive() -> None:
    assert run(Threshold("both", "by_src", 2, 5), [0, 5]) == [1]
    assert run(Threshold("both", "by_src", 2, 5), [0, 5.5]) == []


def test_keys_are_independent() -> None:
    assert run(Threshold("both", "by_src", 2, 60), [0, 1, 2, 3], keys=[1, 2, 1, 2]) == [2, 3]


def test_time_order_not_input_order() -> None:
    assert run(Threshold("limit", "by_src", 1, 60), [5, 1, 3]) == [1]


def test_backoff() -> None:
    thr = Threshold("backoff", "by_flow", 1, 0, multiplier=2)
    assert run(thr, [float(i) for i in range(10)]) == [0, 1, 3, 7]


def test_detection_filter_unique_on_ports() -> None:
    thr = Threshold("detection", "by_src", 2, 60, unique_on="dst_port")
    # ports 1,1,2,2,3,4 -> distinct counts 1,1,2,2,3,4 -> alerts where > 2
    assert run(thr, [0, 1, 2, 3, 4, 5], ports=[1, 1, 2, 2, 3, 4]) == [4, 5]


def echo_rows(mk: Any, srcs: list[str], dsts: list[str]) -> Any:
    pkt, table = mk
    return table([pkt("icmp", src=s, dst=d, ts=i) for i, (s, d) in enumerate(zip(srcs, dsts,
                                                                               strict=True))])


@pytest.mark.parametrize(("track", "expected"), [("by_src", 2), ("by_dst", 0), ("by_both", 0),
                                                 ("by_rule", 1)])
def test_track_keys_in_engine(mk: Any, track: str, expected: int) -> None:
    rs = load_rules_text(f"alert icmp any any -> any any (itype:8; threshold: type both, "
                         f"track {track}, count 3, seconds 60; sid:1;)")
    srcs = ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.2"]
    dsts = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
    # each source sends 3 (by_src: 2 alerts), each destination gets 2 (by_dst: none),
    # each pair 1 (by_both: none), the rule as a whole 6 in one window (by_rule: 1)
    assert evaluate(echo_rows(mk, srcs, dsts), rs).num_rows == expected


def test_factorize_rows_groups_equal_rows() -> None:
    from teiten.signatures.threshold import factorize_rows

    key = np.array([[4, 1, 0], [4, 2, 0], [4, 1, 0], [4, 1, 5]], dtype=np.int64)
    c = factorize_rows(key)
    assert c[0] == c[2] and len({int(c[0]), int(c[1]), int(c[3])}) == 3


def test_detection_filter_count_zero_skips_first_of_window() -> None:
    # Suricata never alerts on the match that opens a window
    assert run(Threshold("detection", "by_src", 0, 5), [0, 1, 10, 11]) == [1, 3]


def test_threshold_count_one_alerts_every_match() -> None:
    assert run(Threshold("threshold", "by_src", 1, 60), [0, 1, 2]) == [0, 1, 2]


def test_by_both_ignores_direction(mk: Any) -> None:
    rs = load_rules_text("alert icmp any any -> any any (threshold: type both, track by_both, "
                         "count 2, seconds 60; sid:1;)")
    t = echo_rows(mk, ["10.0.0.1", "192.0.2.1"], ["192.0.2.1", "10.0.0.1"])
    assert evaluate(t, rs).num_rows == 1
