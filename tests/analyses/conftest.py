"""Shared fixtures: one generated month of packets, its context and its brute force."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from teiten.analyses import CoverageParams, context, parse_period

from ._brute import TZ, Brute, generate, registry


@pytest.fixture(scope="session")
def packets() -> pa.Table:
    return generate()


@pytest.fixture(scope="session")
def ctx(packets: pa.Table) -> Any:
    return context.from_packets(packets, parse_period("2026-10", TZ), registry=registry(),
                                coverage_params=CoverageParams(outage_min_daily=10))


@pytest.fixture(scope="session")
def brute(packets: pa.Table) -> Brute:
    return Brute(packets, 2026, 10)
