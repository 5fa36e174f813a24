"""The ingest pipeline end to end: captures in, store partitions and catalog out."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from ingest_captures import T0, syn_capture

from teiten.core.errors import DamagedInputError, InputError
from teiten.core.sensors import Registry
from teiten.ingest.pipeline import ingest
from teiten.store import open_store


def _dports(store_dir: Path) -> list[int]:
    t = open_store(store_dir).packets().to_table(columns=["ts", "dport"]).sort_by("ts")
    return [int(x) for x in t.column("dport").to_pylist()]


def test_ingest_stores_every_packet_with_its_fields(tmp_path: Path) -> None:
    cols = syn_capture(tmp_path / "a.pcap", 300)
    summary = ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    assert summary.packets == 300
    assert _dports(tmp_path / "store") == cols.dport.tolist()
    t = open_store(tmp_path / "store").packets().to_table()
    assert set(t.column("sensor").to_pylist()) == {"s1"}
    assert sorted(t.column("src").to_pylist()) == sorted(cols.src.tolist())
    con = open_store(tmp_path / "store").duckdb()
    assert con.execute("select count(*), count(distinct sensor) from packets").fetchone() == (
        300, 1)
    ib = open_store(tmp_path / "store").ibis()
    assert ib.filter(ib.dport == 445).count().to_pyarrow().as_py() == int(
        (cols.dport == 445).sum())


def test_same_capture_twice_adds_nothing(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 50)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    again = ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    assert again.duplicates == 1 and again.packets == 0
    assert open_store(tmp_path / "store").packets().count_rows() == 50


def test_force_replaces_what_the_input_wrote(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 50)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    before = open_store(tmp_path / "store").packet_files()
    forced = ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1", force=True)
    store = open_store(tmp_path / "store")
    assert forced.packets == 50 and store.packets().count_rows() == 50
    assert set(before).isdisjoint(store.packet_files())
    assert all(not Path(f).exists() for f in before)
    assert len(store.catalog.records()) == 1


def test_compressed_copy_is_another_input_with_the_same_packets(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 40)
    (tmp_path / "b.pcap.gz").write_bytes(gzip.compress((tmp_path / "a.pcap").read_bytes()))
    syn_capture(tmp_path / "c.pcap.zst", 30, seed=2, compression="zstd")
    s = ingest([tmp_path / "b.pcap.gz", tmp_path / "c.pcap.zst"], tmp_path / "store", sensor="s1")
    assert [i.packets for i in s.inputs] == [40, 30]


def test_directories_are_walked_recursively(tmp_path: Path) -> None:
    (tmp_path / "in" / "x" / "y").mkdir(parents=True)
    syn_capture(tmp_path / "in" / "a.pcap", 10, seed=1)
    syn_capture(tmp_path / "in" / "x" / "y" / "b.pcapng", 20, seed=2, fmt="pcapng")
    s = ingest([tmp_path / "in"], tmp_path / "store", sensor="s1")
    assert sorted(i.packets for i in s.inputs) == [10, 20]


def test_unmonitored_destinations_are_counted_and_left_out(tmp_path: Path) -> None:
    syn_capture(tmp_path / "tk-01.pcap", 400, ndst=4)  # 203.0.113.0 .. .3
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "tk-01"\naddresses = ["203.0.113.0/31"]\nmatch = ["*tk-01*"]\n'
    )
    s = ingest([tmp_path / "tk-01.pcap"], tmp_path / "store", registry=reg)
    dst = open_store(tmp_path / "store").packets().to_table(columns=["dst"]).column("dst")
    assert set(dst.to_pylist()) <= {0xCB007100, 0xCB007101}
    assert s.packets + s.inputs[0].unmonitored == 400
    assert s.inputs[0].unmonitored > 100


def test_address_history_applies_by_capture_time(tmp_path: Path) -> None:
    syn_capture(tmp_path / "m.pcap", 200, ndst=1, spacing_ns=3600 * 10**9)  # hourly for ~8 days
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "m"\nmatch = ["*m.pcap"]\n[[sensor.address_history]]\n'
        'cidr = "203.0.113.0/32"\nfrom = 2026-10-03T00:00:00Z\nuntil = 2026-10-05T00:00:00Z\n'
    )
    s = ingest([tmp_path / "m.pcap"], tmp_path / "store", registry=reg)
    assert s.packets == 48
    ts = open_store(tmp_path / "store").packets().to_table(columns=["ts"]).column("ts")
    assert min(ts.to_pylist()).day == 3 and max(ts.to_pylist()).day == 4


def test_partitions_follow_utc_dates(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 72, spacing_ns=3600 * 10**9, t0=T0 - 10 * 3600 * 10**9)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    dates = sorted({Path(f).parent.name for f in open_store(tmp_path / "store").packet_files()})
    assert dates == ["date=2026-09-30", "date=2026-10-01", "date=2026-10-02",
                     "date=2026-10-03"]


def test_not_a_capture_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, not a capture\n")
    syn_capture(tmp_path / "a.pcap", 10)
    s = ingest([tmp_path / "notes.txt", tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    assert s.failed == 1 and s.packets == 10
    assert "notes.txt" in s.inputs[0].message


def test_strict_turns_damage_into_failure_and_stores_nothing(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 10)
    data = (tmp_path / "a.pcap").read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-7])  # last record truncated
    with pytest.raises(DamagedInputError, match=r"cut\.pcap"):
        ingest([tmp_path / "cut.pcap"], tmp_path / "store", sensor="s1", strict=True)
    assert open_store(tmp_path / "store").packets().count_rows() == 0
    lenient = ingest([tmp_path / "cut.pcap"], tmp_path / "store", sensor="s1")
    assert lenient.packets == 9 and sum(lenient.skipped_by_reason.values()) == 1


def test_input_without_a_sensor_is_rejected_clearly(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 10)
    with pytest.raises(InputError, match="no sensor"):
        ingest([tmp_path / "a.pcap"], tmp_path / "store", strict=True)


def test_payload_is_capped(tmp_path: Path) -> None:
    from teiten.capture.writer import CaptureWriter, PacketColumns

    cols = PacketColumns.make([1, 2], [3, 4], 17, sport=5, dport=53, payload=bytes(range(200)))
    with CaptureWriter(tmp_path / "u.pcap") as w:
        w.write(np.array([T0, T0 + 1]), cols)
    ingest([tmp_path / "u.pcap"], tmp_path / "store", sensor="s1", payload_cap=16)
    t = open_store(tmp_path / "store").packets().to_table(columns=["payload", "payload_len"])
    assert t.column("payload").to_pylist() == [bytes(range(16))] * 2
    assert t.column("payload_len").to_pylist() == [200, 200]


def test_leftovers_of_an_interrupted_run_are_invisible_then_swept(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 10)
    ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    store = open_store(tmp_path / "store")
    orphan = tmp_path / "store" / "packets" / "sensor=s1" / "date=2026-10-01" / "dead-beef.parquet"
    orphan.write_bytes(Path(store.packet_files()[0]).read_bytes())
    assert store.packets().count_rows() == 10  # readers see only catalogued files
    syn_capture(tmp_path / "b.pcap", 5, seed=3)
    ingest([tmp_path / "b.pcap"], tmp_path / "store", sensor="s1")
    assert not orphan.exists()
    assert open_store(tmp_path / "store").packets().count_rows() == 15


def test_inputs_of_one_run_each_commit_their_own_files(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 30)
    syn_capture(tmp_path / "b.pcap", 20, seed=3)
    (tmp_path / "copy-of-a.pcap").write_bytes((tmp_path / "a.pcap").read_bytes())
    (tmp_path / "notes.txt").write_text("not a capture\n")
    names = ["a.pcap", "notes.txt", "b.pcap", "copy-of-a.pcap"]
    s = ingest([tmp_path / n for n in names], tmp_path / "store", sensor="s1")
    assert [i.status for i in s.inputs] == ["ingested", "failed", "ingested", "duplicate"]
    store = open_store(tmp_path / "store")
    owned = [set(r.files) for r in store.catalog.records().values()]
    assert len(owned) == 2 and owned[0].isdisjoint(owned[1])
    assert store.packets().count_rows() == 50
    staging = tmp_path / "store" / "staging"
    assert not staging.exists() or not [p for p in staging.rglob("*") if p.is_file()]


def test_copy_right_after_its_original_is_a_duplicate(tmp_path: Path) -> None:
    # the original is committed only once the copy is decoded: the copy still finds it
    syn_capture(tmp_path / "a.pcap", 30)
    (tmp_path / "b.pcap").write_bytes((tmp_path / "a.pcap").read_bytes())
    s = ingest([tmp_path / "a.pcap", tmp_path / "b.pcap"], tmp_path / "store", sensor="s1")
    assert [i.status for i in s.inputs] == ["ingested", "duplicate"]
    assert open_store(tmp_path / "store").packets().count_rows() == 30


def test_strict_failure_keeps_the_inputs_before_it(tmp_path: Path) -> None:
    syn_capture(tmp_path / "a.pcap", 10)
    syn_capture(tmp_path / "b.pcap", 10, seed=3)
    (tmp_path / "cut.pcap").write_bytes((tmp_path / "b.pcap").read_bytes()[:-7])
    with pytest.raises(DamagedInputError):
        ingest([tmp_path / "a.pcap", tmp_path / "cut.pcap"], tmp_path / "store", sensor="s1",
               strict=True)
    store = open_store(tmp_path / "store")
    assert store.packets().count_rows() == 10 and len(store.catalog.records()) == 1


def test_ctrl_c_while_the_next_input_is_decoded_keeps_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first input waits for its commit until the second is decoded; a Ctrl-C during
    # that decoding must not lose it
    from teiten.ingest.pipeline import Ingestor

    syn_capture(tmp_path / "a.pcap", 10)
    syn_capture(tmp_path / "b.pcap", 10, seed=3)
    real = Ingestor._decode
    calls = []

    def decode(self: Ingestor, *args: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Ingestor, "_decode", decode)
    with pytest.raises(KeyboardInterrupt):
        ingest([tmp_path / "a.pcap", tmp_path / "b.pcap"], tmp_path / "store", sensor="s1")
    store = open_store(tmp_path / "store")
    assert [r.name for r in store.catalog.records().values()] == [str(tmp_path / "a.pcap")]
    assert store.packets().count_rows() == 10


def test_chunks_are_encoded_by_the_main_thread_when_the_encoders_starve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The encoder threads run at the lowest priority; on a machine busy with other work they
    # may get no core at all. Here they never start (their initializer waits), so every chunk
    # must be taken back and encoded by the main thread, in order, none lost or written twice.
    import threading

    from teiten.capture import reader
    from teiten.ingest import pipeline

    release = threading.Event()
    ran_in: set[str] = set()
    run = pipeline._PartitionWriter._run

    def spy(self: pipeline._PartitionWriter, job: pipeline._Encoding) -> None:
        ran_in.add(threading.current_thread().name)
        run(self, job)

    close = pipeline._RunResources.close

    def release_then_close(self: pipeline._RunResources) -> None:
        release.set()
        close(self)

    monkeypatch.setattr(pipeline, "lower_priority", lambda: release.wait(60))
    monkeypatch.setattr(pipeline._RunResources, "close", release_then_close)
    monkeypatch.setattr(pipeline, "_STEAL_AFTER", 0.01)
    monkeypatch.setattr(pipeline._PartitionWriter, "_run", spy)
    monkeypatch.setitem(reader.CaptureReader.__init__.__kwdefaults__, "chunk_bytes", 1 << 12)
    cols = syn_capture(tmp_path / "a.pcap", 2000)
    try:
        summary = ingest([tmp_path / "a.pcap"], tmp_path / "store", sensor="s1")
    finally:
        release.set()
    assert ran_in == {threading.main_thread().name}
    assert summary.packets == 2000
    assert _dports(tmp_path / "store") == cols.dport.tolist()
    files = open_store(tmp_path / "store").packet_files()
    assert len(files) == pipeline._ENCODERS  # each encoder's file, its chunks in order
    for f in files:
        ts = pq.read_table(f, columns=["ts"]).column("ts").cast("int64").to_numpy()
        assert len(ts) > 500 and (np.diff(ts) >= 0).all()
