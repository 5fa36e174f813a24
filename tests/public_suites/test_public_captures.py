"""teiten's reader on the ~800 odd and malformed captures of tcpdump's, libpcap's and
Wireshark's test suites: nothing crashes or hangs, and what teiten decodes agrees with tshark
and tcpdump field by field (the whole corpus: ``bench/public_captures.py``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from public_captures import Report, compare_file, teiten_decode


@pytest.fixture(scope="module")
def decoded(public_files: list[Path]) -> list[dict[str, Any]]:
    """teiten's result for every file (rows, damage, or rejection; crash and hang caught)."""
    return list(teiten_decode(public_files))


def test_no_capture_crashes_or_hangs_the_reader(
    public_files: list[Path], decoded: list[dict[str, Any]]
) -> None:
    outcomes: Counter[str] = Counter()
    bad = []
    for result in decoded:
        outcomes[result["outcome"]] += 1
        if result["outcome"] not in ("read", "rejected"):
            bad.append(f"{result['outcome']}: {result['file']} {result.get('reason', '')}")
    assert not bad, "\n".join(bad)
    assert outcomes["read"] + outcomes["rejected"] == len(public_files)
    assert outcomes["read"] > 0.95 * len(public_files)


def test_rejections_are_one_located_line(decoded: list[dict[str, Any]]) -> None:
    rejected = [r for r in decoded if r["outcome"] == "rejected"]
    assert rejected, "the corpus holds non-captures and broken headers"
    for result in rejected:
        assert result["reason"].startswith(result["file"] + ": ")
        assert "\n" not in result["reason"] and "Traceback" not in result["reason"]


@pytest.mark.needs_tshark
def test_decoded_fields_agree_with_tshark_and_tcpdump(decoded: list[dict[str, Any]]) -> None:
    # Every 8th file: about 100 captures of every kind, a minute of tshark and tcpdump runs.
    report = Report()
    for result in decoded[::8]:
        compare_file(result, report)
    detail = "\n".join(report.examples)
    assert report.outcomes["crash"] == report.outcomes["hang"] == 0
    assert report.matched > 1000, "too few rows compared to mean anything"
    assert {"src", "dst", "src6", "sport", "dport", "tcp_flags", "icmp_type"} <= set(
        report.compared
    )
    assert sum(report.mismatches.values()) == 0, detail
    assert report.teiten_only == 0, detail
    assert report.tcpdump_compared > 500
    assert report.tcpdump_mismatches == 0, detail
