"""teiten's decoder against tshark and tcpdump on public test-suite captures.

The captures are the test suites of tcpdump, libpcap and Wireshark (about 800 odd and
malformed pcap/pcapng files, some gzip-compressed), taken from the Debian source packages of
this machine's tshark and tcpdump (pinned versions, SHA-256 checked) and never committed.
For every file:

* teiten's reader runs in a child process with a time limit, so a crash or a hang is caught
  and reported instead of ending the run (both must be zero);
* ``tshark -T fields`` gives every frame's outer IP header, transport ports and flags, ICMP
  type/code and, for ICMP errors, the quoted packet; each teiten row is matched to its frame
  (timestamp and wire length, in order) and every field both sides decode must be equal;
* ``tcpdump -nn -tt -q`` gives every frame's outer source and destination (with ports), which
  must agree with teiten's too.

Frames tshark decodes that teiten drops are counted by teiten's damage reason (unknown link
types, non-IP, impossible headers); rows teiten produces that tshark does not see as IP are
errors.

Usage::

    .venv/bin/python bench/public_captures.py                 # fetch into .cache/, check all
    .venv/bin/python bench/public_captures.py --limit 100     # the first 100 files only
    .venv/bin/python bench/public_captures.py DIR ...          # your own captures instead

Exit status 0 when there is no crash, hang, mismatch or teiten-only row; 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import re
import selectors
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Debian bookworm source tarballs holding the test-suite captures: (url, sha256).
SOURCES: list[tuple[str, str]] = [
    (
        "http://deb.debian.org/debian/pool/main/t/tcpdump/tcpdump_4.99.3.orig.tar.gz",
        "ad75a6ed3dc0d9732945b2e5483cb41dc8b4b528a169315e499c6861952e73b3",
    ),
    (
        "http://deb.debian.org/debian/pool/main/libp/libpcap/libpcap_1.10.3.orig.tar.gz",
        "2a8885c403516cf7b0933ed4b14d6caa30e02052489ebd414dc75ac52e7559e6",
    ),
    (
        "http://deb.debian.org/debian/pool/main/w/wireshark/wireshark_4.0.17.orig.tar.bz2",
        "62fd1491b6211d1651a16a45ead15808970b3a6a9ebde2537f96722af47aaaa5",
    ),
]

#: First bytes of the files kept: pcap (both orders, µs and ns), pcapng, gzip.
MAGICS = (
    b"\xa1\xb2\xc3\xd4",
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
)

DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "public-captures"
FILE_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- corpus
def fetch(cache: Path) -> Path:
    """Download (once) and unpack the capture files of :data:`SOURCES` under ``cache``."""
    done = cache / ".complete"
    if done.exists():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    for url, sha in SOURCES:
        name = url.rsplit("/", 1)[1]
        tarball = cache / name
        if not tarball.exists() or _sha256(tarball) != sha:
            print(f"fetching {url}", file=sys.stderr)
            tmp = tarball.with_suffix(".part")
            with urllib.request.urlopen(url, timeout=120) as resp, tmp.open("wb") as out:
                shutil.copyfileobj(resp, out)
            got = _sha256(tmp)
            if got != sha:
                tmp.unlink()
                raise SystemExit(f"{name}: sha256 {got} is not the pinned {sha}")
            tmp.rename(tarball)
        with tarfile.open(tarball) as tar:
            for member in tar:
                if not member.isfile() or member.size < 4:
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                head = fh.read(4)
                if not head.startswith(MAGICS):
                    continue
                target = cache / "files" / Path(member.name)
                if ".." in target.parts:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(head + fh.read())
        tarball.unlink()
    done.write_text("ok\n")
    return cache


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def capture_files(roots: list[Path]) -> list[Path]:
    """Every file under ``roots`` that starts like a capture (or gzip), sorted."""
    out: list[Path] = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in paths:
            with p.open("rb") as fh:
                if fh.read(4).startswith(MAGICS):
                    out.append(p)
    return out


# --------------------------------------------------------------------------- teiten side
_ROW_FIELDS = [
    "ts", "wire_len", "ip_version", "src", "dst", "src6", "dst6", "proto", "sport", "dport",
    "ttl", "ip_id", "ip_len", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_win", "icmp_type",
    "icmp_code", "fragment", "inner_proto", "inner_src", "inner_dst", "inner_sport",
    "inner_dport",
]  # fmt: skip


def _worker(list_file: str) -> None:
    """Child process: decode each listed file, one JSON line per file (rows + outcome)."""
    import pyarrow as pa

    from teiten.capture.reader import CaptureReader
    from teiten.core.errors import TeitenError

    for line in Path(list_file).read_text().splitlines():
        print(json.dumps({"start": line}), flush=True)
        result: dict[str, Any] = {"file": line}
        try:
            with open(line, "rb") as fh:
                reader = CaptureReader(fh, line)
                batches = list(reader.batches())
            table = pa.Table.from_batches(batches) if batches else None
            rows = []
            if table is not None:
                cols = {n: table.column(n).to_pylist() for n in _ROW_FIELDS if n != "ts"}
                ts = table.column("ts").cast("int64").to_pylist()
                for i in range(table.num_rows):
                    row = {n: cols[n][i] for n in cols}
                    row["ts"] = ts[i]
                    for k in ("src6", "dst6"):
                        if row[k] is not None:
                            row[k] = str(ipaddress.IPv6Address(row[k]))
                    rows.append(row)
            result.update(
                outcome="read",
                records=reader.records,
                rows=rows,
                damage=dict(reader.damage.counts),
            )
        except TeitenError as exc:
            result.update(outcome="rejected", reason=str(exc).splitlines()[0])
        print(json.dumps(result), flush=True)


def teiten_decode(files: list[Path]) -> Iterator[dict[str, Any]]:
    """Decode ``files`` in a child process; yield one result per file, crashes and hangs
    included (the child is restarted after the file that killed it)."""
    pending = [str(f) for f in files]
    with tempfile.TemporaryDirectory() as tmp:
        listing, errors = Path(tmp) / "files.txt", Path(tmp) / "stderr.txt"
        while pending:
            listing.write_text("\n".join(pending) + "\n")
            current = yield from _run_worker(listing, errors, pending)
            if current is not None:
                pending.remove(current)


def _run_worker(
    listing: Path, errors: Path, pending: list[str]
) -> Generator[dict[str, Any], None, str | None]:
    """One child over ``listing``: yields results, returns the file it died or hung on."""
    with (
        errors.open("w") as err,
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(listing)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        ) as proc,
        selectors.DefaultSelector() as sel,
    ):
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ)
        current: str | None = None
        started = time.monotonic()
        while True:
            if not sel.select(timeout=1.0):
                if current is not None and time.monotonic() - started > FILE_TIMEOUT_S:
                    proc.kill()
                    yield {"file": current, "outcome": "hang"}
                    return current
                continue
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                if current is not None:
                    tail = errors.read_text(errors="replace")[-400:]
                    yield {"file": current, "outcome": "crash", "reason": tail}
                return current
            msg = json.loads(line)
            if "start" in msg:
                current, started = msg["start"], time.monotonic()
                continue
            current = None
            pending.remove(msg["file"])
            yield msg


# --------------------------------------------------------------------------- tshark side
_TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "frame.len", "frame.protocols",
    "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.id", "ip.len",
    "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw",
    "tcp.window_size_value", "udp.srcport", "udp.dstport",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
]  # fmt: skip

_TRANSPORT = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "gre": 47}


def tshark_frames(path: Path) -> list[dict[str, Any]]:
    """One dict per frame: each field's occurrences as a list of strings."""
    cmd = ["tshark", "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=|"]  # fmt: skip
    for f in _TSHARK_FIELDS:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    frames = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != len(_TSHARK_FIELDS):
            continue
        frames.append(
            {k: (v.split("|") if v else []) for k, v in zip(_TSHARK_FIELDS, parts, strict=True)}
        )
    return frames


def _int(values: list[str], i: int = 0) -> int | None:
    if len(values) <= i or values[i] == "":
        return None
    v = values[i]
    return int(v, 16) if v.startswith("0x") else int(v)


def expected(frame: dict[str, Any]) -> dict[str, Any] | None:
    """The teiten fields tshark's decoding implies for ``frame`` (None: not IP for tshark)."""
    layers = frame["frame.protocols"][0].split(":") if frame["frame.protocols"] else []
    first = next((i for i, p in enumerate(layers) if p in ("ip", "ipv6")), None)
    if first is None:
        return None
    # Tunnels: tshark's first ip/ipv6 occurrence must be the outer header, so count the ones
    # of the same version before ours (none) and take occurrence 0 of that version.
    version = 4 if layers[first] == "ip" else 6
    after = [p for p in layers[first + 1 :] if not p.startswith("ipv6.")]
    nxt = after[0] if after else None
    exp: dict[str, Any] = {"ip_version": version}
    if version == 4:
        if not frame["ip.src"]:
            return None
        exp.update(
            src=int(ipaddress.IPv4Address(frame["ip.src"][0])),
            dst=int(ipaddress.IPv4Address(frame["ip.dst"][0])),
            proto=_int(frame["ip.proto"]),
            ttl=_int(frame["ip.ttl"]),
            ip_id=_int(frame["ip.id"]),
            ip_len=_int(frame["ip.len"]),
        )
        ip_count_before = 0
    else:
        if not frame["ipv6.src"]:
            return None
        exp.update(
            src6=str(ipaddress.IPv6Address(frame["ipv6.src"][0])),
            dst6=str(ipaddress.IPv6Address(frame["ipv6.dst"][0])),
            ttl=_int(frame["ipv6.hlim"]),
        )
        plen = _int(frame["ipv6.plen"])
        # ip_len is 16 bits: a jumbogram (payload length 0 + jumbo option, RFC 2675) or a
        # fuzzed length saturates at 65535.
        exp["ip_len"] = None if plen is None else min(plen + 40, 0xFFFF)
        if nxt in _TRANSPORT:
            exp["proto"] = _TRANSPORT[nxt]
        ip_count_before = 0
    del ip_count_before
    # The first transport after the outer IP; its occurrence index is 0 unless an earlier
    # layer of the same name exists (it cannot: the outer IP comes first).
    if nxt == "tcp":
        exp.update(
            sport=_int(frame["tcp.srcport"]),
            dport=_int(frame["tcp.dstport"]),
            tcp_flags=(None if (f := _int(frame["tcp.flags"])) is None else f & 0xFF),
            tcp_seq=_int(frame["tcp.seq_raw"]),
            tcp_ack=_int(frame["tcp.ack_raw"]),
            tcp_win=_int(frame["tcp.window_size_value"]),
        )
    elif nxt == "udp":
        exp.update(sport=_int(frame["udp.srcport"]), dport=_int(frame["udp.dstport"]))
    elif nxt in ("icmp", "icmpv6"):
        exp.update(icmp_type=_int(frame[f"{nxt}.type"]), icmp_code=_int(frame[f"{nxt}.code"]))
        rest = after[1:]
        if nxt == "icmp" and rest[:1] == ["ip"] and len(frame["ip.src"]) > 1:
            exp.update(
                inner_src=int(ipaddress.IPv4Address(frame["ip.src"][1])),
                inner_dst=int(ipaddress.IPv4Address(frame["ip.dst"][1])),
                inner_proto=_int(frame["ip.proto"], 1),
            )
            inner_l4 = rest[1] if len(rest) > 1 else None
            if inner_l4 in ("tcp", "udp"):
                exp.update(
                    inner_sport=_int(frame[f"{inner_l4}.srcport"]),
                    inner_dport=_int(frame[f"{inner_l4}.dstport"]),
                )
    return exp


# --------------------------------------------------------------------------- tcpdump side
_TCPDUMP_LINE = re.compile(r"^\d+\.\d+ (IP6?) (\S+) > (\S+):(?: |$)")


def tcpdump_lines(path: Path) -> list[str]:
    """tcpdump's one-line summaries, one per frame (lines that start with a timestamp)."""
    proc = subprocess.run(
        ["tcpdump", "-nn", "-tt", "-q", "-r", str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout.decode("utf-8", "replace").splitlines()
    return [ln for ln in out if re.match(r"^\d+\.\d+ ", ln)]


def _endpoint_ok(row: dict[str, Any], side: str, token: str) -> bool:
    """tcpdump's ``addr`` or ``addr.port`` token agrees with teiten's row. tcpdump also prints
    ports of transports teiten keeps no ports for (DCCP, SCTP): then only the address counts."""
    v4 = row["ip_version"] == 4
    addr = str(ipaddress.IPv4Address(row[side])) if v4 else row[f"{side}6"]
    port = row["sport" if side == "src" else "dport"]
    if port is not None:
        return token in (addr, f"{addr}.{port}")
    return token == addr or re.fullmatch(re.escape(addr) + r"\.\d+", token) is not None


# --------------------------------------------------------------------------- comparison
@dataclass
class Report:
    """Tallies of one run."""

    files: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    damage: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    tshark_ip_frames: int = 0
    matched: int = 0
    compared: Counter[str] = field(default_factory=Counter)
    mismatches: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    teiten_only: int = 0
    tcpdump_compared: int = 0
    tcpdump_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    def example(self, text: str) -> None:
        if len(self.examples) < 200:
            self.examples.append(text)

    @property
    def ok(self) -> bool:
        return not (
            self.outcomes["crash"]
            or self.outcomes["hang"]
            or sum(self.mismatches.values())
            or self.teiten_only
            or self.tcpdump_mismatches
        )


def _ts_agrees(row_ts: int, epoch: str) -> bool:
    """teiten's timestamp agrees with tshark's ``frame.time_epoch``.

    Exact, except on fuzzed records whose sub-second field holds a second or more: teiten
    carries it into the seconds, tshark wraps it (modulo 2**32 ns, sometimes printing a
    negative time or ten fraction digits) and tcpdump prints it as it is. There teiten's time
    is later than tshark's whole second by a second or more, which is all that is checked."""
    sec, _, frac = epoch.partition(".")
    if epoch.startswith("-") or len(frac) > 9:
        return True
    ns = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    return row_ts == ns or row_ts - int(sec) * 1_000_000_000 >= 1_000_000_000


def _match(
    row: dict[str, Any],
    frames: list[dict[str, Any]],
    exps: list[tuple[dict[str, Any], dict[str, Any] | None]],
    start: int,
) -> int | None:
    """The frame of ``row``: the next one (from ``start``) with its timestamp and wire length.
    Fuzzed files often repeat both; among the next such frames, one whose outer source
    agrees is preferred (equal keys cannot be told apart otherwise)."""
    keyed = []
    for k in range(start, len(frames)):
        if _int(frames[k]["frame.len"]) == row["wire_len"] and _ts_agrees(
            row["ts"], frames[k]["frame.time_epoch"][0]
        ):
            keyed.append(k)
            if len(keyed) == 4096:
                break
    for k in keyed:
        exp = exps[k][1]
        if exp is not None and all(
            exp.get(n) == row[n] for n in ("src", "src6") if exp.get(n) is not None
        ):
            return k
    return keyed[0] if keyed else None


def compare_file(result: dict[str, Any], report: Report, with_tcpdump: bool = True) -> None:
    """Fold one file's teiten result and the reference decoders' view into ``report``."""
    path = Path(result["file"])
    report.files += 1
    report.outcomes[result["outcome"]] += 1
    if result["outcome"] in ("crash", "hang"):
        report.problems.append(f"{result['outcome']}: {path} {result.get('reason', '')}")
        return
    if result["outcome"] == "rejected":
        reason = re.sub(r"^.*?: ", "", result["reason"])
        report.rejected[re.sub(r"\(.*\)|\d+", "…", reason)[:70]] += 1
        return
    report.damage.update(result["damage"])
    rows = result["rows"]
    report.rows += len(rows)
    frames = tshark_frames(path)
    exps = [(f, expected(f)) for f in frames]
    report.tshark_ip_frames += sum(1 for _, e in exps if e is not None)
    dump = tcpdump_lines(path) if with_tcpdump and rows else []
    j = 0
    for row in rows:
        k = _match(row, frames, exps, j)
        if k is None:
            report.teiten_only += 1
            report.example(f"{path}: row ts={row['ts']} has no tshark frame")
            continue
        j = k + 1
        exp = exps[k][1]
        if exp is None:
            report.teiten_only += 1
            report.example(f"{path} frame {k + 1}: teiten decodes IP, tshark does not")
            continue
        report.matched += 1
        for name, want in exp.items():
            if want is None or row.get(name) is None:
                continue
            report.compared[name] += 1
            if row[name] != want:
                report.mismatches[name] += 1
                report.example(f"{path} frame {k + 1}: {name} teiten={row[name]} tshark={want}")
        if dump and len(dump) == len(frames):
            m = _TCPDUMP_LINE.match(dump[k])
            if m and ("IP6" if row["ip_version"] == 6 else "IP") == m.group(1):
                report.tcpdump_compared += 1
                if not (
                    _endpoint_ok(row, "src", m.group(2)) and _endpoint_ok(row, "dst", m.group(3))
                ):
                    report.tcpdump_mismatches += 1
                    report.example(f"{path} frame {k + 1}: tcpdump says {dump[k][:120]}")


def print_report(report: Report, elapsed: float) -> None:
    """The run's summary, for docs and CI logs."""
    print(f"files {report.files} in {elapsed:.0f} s: {dict(report.outcomes)}")
    if report.rejected:
        print("rejected with one line:", dict(report.rejected))
    print("damage counted (records):", dict(report.damage.most_common()))
    print(
        f"rows {report.rows}; tshark IP frames {report.tshark_ip_frames}; "
        f"matched {report.matched}; teiten-only rows {report.teiten_only}"
    )
    print("fields compared with tshark (mismatches):")
    for name, n in sorted(report.compared.items()):
        print(f"  {name:12s} {n:8d}  ({report.mismatches[name]})")
    print(f"tcpdump endpoints compared {report.tcpdump_compared} ({report.tcpdump_mismatches})")
    for line in report.problems + report.examples:
        print("  " + line)
    print("OK" if report.ok else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="captures or directories")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--limit", type=int, default=0, help="check the first N files only")
    parser.add_argument("--no-tcpdump", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    roots = args.paths or [fetch(args.cache) / "files"]
    files = capture_files(roots)
    if args.limit:
        files = files[: args.limit]
    report = Report()
    t0 = time.perf_counter()
    for result in teiten_decode(files):
        compare_file(result, report, with_tcpdump=not args.no_tcpdump)
    print_report(report, time.perf_counter() - t0)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
