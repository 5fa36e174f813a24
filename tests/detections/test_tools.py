"""Per-source tool verdicts by majority with evidence."""

from __future__ import annotations

from teiten.detections._common import packets_from_columns
from teiten.detections.tools import Params, detect


def verdicts(src: list[int], tool: list[str | None], **params: float) -> dict[int, object]:
    t = packets_from_columns({"ip_version": [4] * len(src), "src": src, "tool": tool})
    r = detect(t, None, Params(**params))  # type: ignore[arg-type]
    return dict(zip(r.column("src").to_pylist(), r.column("tool").to_pylist(), strict=True))


def test_majority_wins() -> None:
    assert verdicts([1, 1, 1], ["mirai", "mirai", "masscan"]) == {1: "mirai"}


def test_stray_match_on_an_ordinary_host_gives_no_verdict() -> None:
    assert verdicts([1] * 10, ["masscan"] + [None] * 9) == {1: None}


def test_sources_without_any_fingerprint_are_left_out() -> None:
    assert verdicts([1, 2], [None, "nmap"]) == {2: "nmap"}


def test_evidence_counts_and_runner_up() -> None:
    t = packets_from_columns({"ip_version": [4] * 5, "src": [1] * 5,
                              "tool": ["zmap-old", "zmap-old", "zmap-old", "nmap", None]})
    r = detect(t, None).to_pylist()[0]
    assert (r["tool_packets"], r["packets"], r["share"]) == (3, 5, 0.6)
    assert (r["runner_up"], r["runner_up_packets"]) == ("nmap", 1)
    assert r["family"] == "zmap"


def test_min_packets() -> None:
    assert verdicts([1], ["nmap"], min_packets=2) == {1: None}
