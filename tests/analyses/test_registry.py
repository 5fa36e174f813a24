"""The analysis registry, the template analysis and the run() API."""

from __future__ import annotations

import doctest
from typing import Any

import pyarrow as pa
import pytest

import teiten.analyses as an
from teiten.analyses import analysis, names, result_params, run
from teiten.analyses.base import Analysis
from teiten.core.errors import UsageError


def test_package_doctests() -> None:
    assert doctest.testmod(an).failed == 0


def test_every_module_doctest() -> None:
    import importlib

    for m in ("totals", "comparison", "timezones"):
        mod = importlib.import_module(f"teiten.analyses.{m}")
        assert doctest.testmod(mod).failed == 0, m


def test_registry_lists_every_analysis() -> None:
    assert names()[:3] == ["totals", "coverage", "ports"]
    assert all(isinstance(analysis(n), Analysis) for n in names())


def test_unknown_analysis_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="known: totals"):
        analysis("nope")


def test_every_result_matches_its_declared_schema(ctx: Any) -> None:
    res = run(ctx)
    for n, tab in res.items():
        assert tab.schema.remove_metadata().equals(analysis(n).schema.remove_metadata()), n
        for fld in analysis(n).schema:
            assert fld.metadata and fld.metadata.get(b"doc"), (n, fld.name)


def test_params_are_echoed_into_results(ctx: Any) -> None:
    from teiten.analyses.ports import Params

    tab = run(ctx, params={"ports": Params(top=3)}, names=["ports"])["ports"]
    assert tab.num_rows == 3
    assert result_params(tab) == {"sort_by": "accesses", "top": 3}


def test_template_analysis_is_registered_and_sums_to_totals(ctx: Any) -> None:
    tab = analysis("protocols")(ctx)
    tot = analysis("totals")(ctx)
    assert sum(tab["accesses"].to_pylist()) == tot["accesses"][0].as_py()
    assert sum(tab["source_count"].to_pylist()) == tot["source_count"][0].as_py()


def test_sensor_selection_restricts_everything(packets: pa.Table) -> None:
    from teiten.analyses import CoverageParams, context, parse_period

    from ._brute import registry

    c = context.from_packets(packets, parse_period("2026-10"), registry=registry(),
                             sensors=["c"], coverage_params=CoverageParams(outage_min_daily=10))
    assert c.sensor_days == 31
    assert set(c.coverage["sensor"].to_pylist()) == {"c"}
    t = analysis("totals")(c).to_pylist()[0]
    assert t["address_days"] == 62


def test_run_needs_a_period_for_raw_packets(packets: pa.Table) -> None:
    with pytest.raises(UsageError):
        run(packets)


def test_run_accepts_a_store(tmp_path: Any) -> None:
    from teiten.analyses import parse_period

    from ._brute import generate, registry, write_store

    store = write_store(tmp_path / "s", generate(200, seed=9), registry())
    res = run(store, parse_period("2026-10"), names=["totals"], sensors=["a"])
    assert res["totals"]["sensors"][0].as_py() <= 1
