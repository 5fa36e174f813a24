"""Runs: determinism, formats, rotation, periods, CLI and errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest

from teiten.cli.main import main
from teiten.core.errors import ConfigError, UsageError
from teiten.simulate import Params, load_scenario, parse_period, preset_names, simulate


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_same_seed_is_byte_identical(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01..2026-10-02")
    for d in ("a", "b"):
        simulate(load_scenario("talot2"), s, e, tmp_path / d, Params(seed=3, scale=0.05))
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) > 10 and a == b


def test_other_seed_differs(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    simulate(load_scenario("talot2"), s, e, tmp_path / "a", Params(seed=3, scale=0.05))
    simulate(load_scenario("talot2"), s, e, tmp_path / "b", Params(seed=4, scale=0.05))
    assert _files(tmp_path / "a") != _files(tmp_path / "b")


def test_pcapng_hourly_rotation(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    simulate(load_scenario("talot2"), s, e, tmp_path, Params(seed=1, scale=0.1, fmt="pcapng",
                                                              rotate="hourly", nanosecond=True))
    files = sorted((tmp_path / "captures").rglob("*.pcapng"))
    assert len({f.name.split("_")[1][:10] for f in files}) == 24
    with open(files[0], "rb") as fh:
        assert sum(1 for _ in dpkt.pcapng.Reader(fh)) > 0


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_tcpdump_reads_without_complaint(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    simulate(load_scenario("npa"), s, e, tmp_path, Params(seed=2, scale=0.02))
    f = max((tmp_path / "captures").rglob("*.pcap"), key=lambda p: p.stat().st_size)
    r = subprocess.run(["tcpdump", "-nn", "-vv", "-r", str(f)], capture_output=True, text=True,
                       timeout=60, check=True)
    assert "bad cksum" not in r.stdout and "incorrect" not in r.stdout
    assert "truncated" not in r.stdout.lower()
    assert r.stdout.count("\n") > 100


@pytest.mark.needs_tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_finds_no_bad_checksums(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    simulate(load_scenario("npa"), s, e, tmp_path, Params(seed=2, scale=0.02))
    f = max((tmp_path / "captures").rglob("*.pcap"), key=lambda p: p.stat().st_size)
    r = subprocess.run(
        ["tshark", "-n", "-r", str(f), "-o", "ip.check_checksum:TRUE",
         "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-Y", "ip.checksum.status == 0 || tcp.checksum.status == 0 || "
               "udp.checksum.status == 0 || icmp.checksum.status == 0"],
        capture_output=True, text=True, timeout=120, check=True)
    assert r.stdout == ""


def test_two_month_period_has_both_months(tmp_path: Path) -> None:
    s, e = parse_period("2026-09..2026-10")
    assert (e - s).days == 61
    simulate(load_scenario("talot2"), s, e, tmp_path, Params(seed=1, scale=0.01))
    days = {f.name.split("_")[1][:6] for f in (tmp_path / "captures").rglob("*.pcap")}
    assert days == {"202609", "202610"}


def test_presets_are_listed_and_load() -> None:
    assert preset_names() == ["npa", "talot2", "telescope"]
    assert load_scenario("npa").sensors.count == 24
    assert load_scenario("telescope").sensors.block == "100.127.0.0/24"


def test_unknown_scenario_key_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[actor]]\nkind = "background"\nrate = 1\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="colour"):
        load_scenario(p)


def test_bad_period_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_period("2026-13")
    with pytest.raises(UsageError):
        parse_period("2026-10..2026-09")


def test_refuses_to_overwrite_captures_without_force(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    simulate(load_scenario("talot2"), s, e, tmp_path, Params(scale=0.02))
    with pytest.raises(UsageError, match="force"):
        simulate(load_scenario("talot2"), s, e, tmp_path, Params(scale=0.02))
    simulate(load_scenario("talot2"), s, e, tmp_path, Params(scale=0.02), force=True)


def test_cli_writes_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["simulate", "--scenario", "talot2", "--period", "2026-10-01", "--out",
               str(tmp_path), "--scale", "0.02", "--seed", "5", "--compression", "zstd"])
    assert rc == 0
    assert "packets" in capsys.readouterr().out
    assert (tmp_path / "sensors.toml").is_file() and (tmp_path / "truth.parquet").is_file()
    assert all(f.suffix == ".zst" for f in (tmp_path / "captures").rglob("*.pcap*"))


@pytest.mark.parametrize(("compression", "suffix"), [("gzip", ".gz"), ("xz", ".xz"),
                                                     ("zstd", ".zst")])
def test_compressed_world_ingests_like_the_plain_one(tmp_path: Path, compression: str,
                                                     suffix: str) -> None:
    from teiten.core.sensors import Registry
    from teiten.ingest.pipeline import ingest

    s, e = parse_period("2026-10-01")
    counts = {}
    for c in ("none", compression):
        out = tmp_path / c
        simulate(load_scenario("talot2"), s, e, out,
                 Params(seed=2, scale=0.02, compression=c))  # type: ignore[arg-type]
        files = sorted((out / "captures").rglob("*.pcap*"))
        assert files and all(f.name.endswith(".pcap" + (suffix if c != "none" else ""))
                             for f in files)
        summary = ingest([out / "captures"], out / "store",
                         registry=Registry.load(out / "sensors.toml"))
        counts[c] = sum(i.packets for i in summary.inputs)
    assert counts[compression] == counts["none"] > 1000


def test_compressed_output_is_deterministic(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    for c in ("gzip", "xz", "zstd"):
        for d in ("a", "b"):
            simulate(load_scenario("talot2"), s, e, tmp_path / c / d,
                     Params(seed=3, scale=0.02, compression=c))  # type: ignore[arg-type]
        a, b = _files(tmp_path / c / "a"), _files(tmp_path / c / "b")
        assert len(a) > 10 and a == b


def test_unknown_compression_is_a_usage_error(tmp_path: Path) -> None:
    s, e = parse_period("2026-10-01")
    with pytest.raises(UsageError, match="compression"):
        simulate(load_scenario("talot2"), s, e, tmp_path,
                 Params(compression="lz4"))  # type: ignore[arg-type]


def test_small_chunks_keep_the_truth_exact(tmp_path: Path) -> None:
    """A tiny chunk budget cuts hours into minutes; the truth still counts what was written."""
    import pyarrow.parquet as pq

    s, e = parse_period("2026-10-01")
    summary = simulate(load_scenario("talot2"), s, e, tmp_path,
                       Params(seed=4, scale=0.05, max_chunk_packets=5))
    written = 0
    for f in (tmp_path / "captures").rglob("*.pcap"):
        with open(f, "rb") as fh:
            ts = [t for t, _ in dpkt.pcap.Reader(fh)]
        assert ts == sorted(ts)
        written += len(ts)
    truth = pq.read_table(tmp_path / "truth_counts.parquet").column("packets").to_pylist()
    assert written == summary.packets == sum(truth) > 500
    assert summary.files == 10
