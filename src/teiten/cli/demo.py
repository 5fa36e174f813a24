"""``make demo``: simulate, ingest, analyse and report one month, end to end.

Run as ``python -m teiten.cli.demo --out DIR --period 2026-10``. Steps:

1. simulate the ``npa`` scenario over the report month and the month before (UTC days covering
   both months' observation days in Asia/Tokyo);
2. ingest the captures into ``DIR/store``;
3. run every detection and the signature rules for both months and store their results;
4. write the Japanese and English reports in HTML and PDF to ``DIR/report`` and print their
   paths.

Each step uses the stage's library API; a stage that is not installed is skipped with a note,
and the report then says "not analysed" for what it would have produced.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from teiten.core.errors import TeitenError
from teiten.core.periods import Period, parse_period


def _say(msg: str) -> None:
    print(f"demo: {msg}", file=sys.stderr, flush=True)


def _step(name: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    try:
        out = fn()
    except ImportError as exc:
        _say(f"{name}: skipped ({exc.name} is not available yet)")
        return None
    _say(f"{name}: done in {time.perf_counter() - t0:.1f} s")
    return out


def _utc_day_floor(dt: datetime) -> datetime:
    return datetime(dt.year, dt.month, dt.day, tzinfo=UTC)


def simulate(out: Path, period: Period, seed: int, scale: float) -> Path:
    """Simulate the ``npa`` scenario over the period and the previous one; the capture dir."""
    from teiten.simulate import Params, load_scenario
    from teiten.simulate import simulate as run_sim

    prev = period.previous()
    start = _utc_day_floor(prev.start_utc)
    end = _utc_day_floor(period.end_utc - timedelta(seconds=1)) + timedelta(days=1)
    run_sim(load_scenario("npa"), start, end, out / "sim", Params(seed=seed, scale=scale),
            force=True)
    return out / "sim"


def ingest(sim: Path, store: Path) -> None:
    """Ingest the simulated captures with the simulator's sensor registry."""
    from teiten.core.sensors import Registry
    from teiten.ingest.pipeline import ingest as run_ingest

    summary = run_ingest([sim / "captures"], store, registry=Registry.load(sim / "sensors.toml"))
    n = sum(i.packets for i in summary.inputs)
    _say(f"ingested {len(summary.inputs)} captures, {n:,} packets")


def detections(store_path: Path, periods: Sequence[Period]) -> None:
    """Run every registered detection for each period and store the results."""
    from teiten.detections import run_store
    from teiten.store import open_store

    store = open_store(store_path)
    for p in periods:
        for _ in run_store(store, p):
            pass


def signatures(store_path: Path, periods: Sequence[Period]) -> None:
    """Run the bundled signature rules for each period and store the counts."""
    from teiten.signatures.run import run_store
    from teiten.store import open_store

    store = open_store(store_path)
    for p in periods:
        run_store(store, p)


def report(store_path: Path, period: Period, out: Path) -> list[Path]:
    """Write the ja and en reports (HTML and PDF)."""
    from teiten.report.build import collect
    from teiten.report.compose import compose
    from teiten.report.render import find_chromium, write_report
    from teiten.store import open_store

    facts = collect(open_store(store_path), period, detections=False)
    for key, reason in sorted(facts.reasons.items()):
        _say(f"report: {key}: not analysed ({reason})")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    formats: tuple[str, ...] = ("html", "pdf")
    if find_chromium() is None:
        _say("report: no Chromium for the PDF (apt-get install chromium); writing HTML only")
        formats = ("html",)
    paths: list[Path] = []
    for lang in ("ja", "en"):
        written = write_report(compose(facts, lang, generated_at=when), out, formats)
        paths += [written[f] for f in formats]
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; prints the report paths on standard output."""
    ap = argparse.ArgumentParser(prog="python -m teiten.cli.demo", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--out", type=Path, default=Path("demo"))
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=0.05,
                    help="simulated volume (1 = the npa preset's nominal rates)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        period = parse_period(args.period)
        out: Path = args.out
        out.mkdir(parents=True, exist_ok=True)
        store = out / "store"
        sim = _step("simulate", lambda: simulate(out, period, args.seed, args.scale))
        if sim is not None:
            _step("ingest", lambda: ingest(sim, store))
        if not store.exists():
            _say("no store: nothing to report (simulate or ingest is missing)")
            return 1
        both = [period.previous(), period]
        _step("detections", lambda: detections(store, both))
        _step("signatures", lambda: signatures(store, both))
        t_report = time.perf_counter()
        paths = _step("report", lambda: report(store, period, out / "report")) or []
        _say(f"report took {time.perf_counter() - t_report:.1f} s; "
             f"demo {time.perf_counter() - t0:.0f} s in all")
    except TeitenError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
