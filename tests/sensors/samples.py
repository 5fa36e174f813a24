"""Literal first payloads, as scanners send them (built by hand from the protocol specs)."""

from __future__ import annotations

import struct


def tls_client_hello(sni: str = "example.com", alpn: bytes = b"h2") -> bytes:
    """A TLS 1.3 ClientHello with GREASE, SNI, ALPN, supported_versions and sigalgs."""
    ciphers = [0x0A0A, 0x1301, 0x1302, 0x1303, 0xC02B]
    cs = b"".join(struct.pack(">H", c) for c in ciphers)
    host = sni.encode()
    sni_ext = struct.pack(">HBH", len(host) + 3, 0, len(host)) + host
    alpn_list = bytes([len(alpn)]) + alpn
    alpn_ext = struct.pack(">H", len(alpn_list)) + alpn_list
    sv = bytes([4]) + struct.pack(">HH", 0x0304, 0x0303)
    sig = struct.pack(">H", 4) + struct.pack(">HH", 0x0403, 0x0804)
    exts = [(0x2A2A, b""), (0x0000, sni_ext), (0x0010, alpn_ext), (0x002B, sv), (0x000D, sig)]
    eb = b"".join(struct.pack(">HH", t, len(b)) + b for t, b in exts)
    body = (struct.pack(">H", 0x0303) + bytes(32) + b"\x00" + struct.pack(">H", len(cs)) + cs
            + b"\x01\x00" + struct.pack(">H", len(eb)) + eb)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def tns_connect(program: str = "sqlplus.exe") -> bytes:
    """An Oracle TNS CONNECT with a full descriptor."""
    desc = (f"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=ORCL)(CID=(PROGRAM={program})"
            f"(HOST=WIN-SCAN)(USER=Administrator)))(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.0.1)"
            f"(PORT=1521)))").encode()
    body = struct.pack(">HHHHHHHHHH", 314, 300, 0x0C41, 8192, 32767, 0x4F98, 0, 1,
                       len(desc), 58) + bytes(58 - 28)
    pkt = body + desc
    return struct.pack(">HHBBH", len(pkt) + 8, 0, 1, 0, 0) + pkt


HTTP = (b"GET /cgi-bin/luci HTTP/1.1\r\nHost: 10.77.0.2:80\r\n"
        b"User-Agent: Mozilla/5.0 zgrab/0.x\r\nAccept: */*\r\n\r\n")
SSH = b"SSH-2.0-Go\r\n"
SIP = (b"OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root"
       b"\r\nTo: <sip:nm2@nm2>\r\nUser-Agent: friendly-scanner\r\n\r\n")
RDP = (b"\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00Cookie: mstshash=hello\r\n"
       b"\x01\x00\x08\x00\x03\x00\x00\x00")
SMB1 = (b"\x00\x00\x00\x2f\xffSMB\x72\x00\x00\x00\x00\x18\x53\xc8" + bytes(12)
        + b"\xff\xfe\x00\x00\x00\x00\x00\x00" + b"\x00\x0c\x00\x02NT LM 0.12\x00")
SMB2 = (b"\x00\x00\x00\x6a\xfeSMB\x40\x00" + bytes(6) + b"\x00\x00" + bytes(50)
        + b"\x24\x00\x02\x00" + bytes(32) + b"\x02\x02\x10\x02")
TELNET = b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x1f"
REDIS_RESP = b"*1\r\n$4\r\nINFO\r\n"
REDIS_INLINE = b"PING\r\n"
MSSQL = (b"\x12\x01\x00\x2f\x00\x00\x01\x00" + b"\x00\x00\x1a\x00\x06" + b"\x01\x00\x20\x00\x01"
         + b"\x02\x00\x21\x00\x01" + b"\x03\x00\x22\x00\x04" + b"\x04\x00\x26\x00\x01" + b"\xff"
         + b"\x0f\x00\x07\xd0\x00\x00" + b"\x00" + b"\x00" + b"\x00\x00\x00\x00" + b"\x00")
MYSQL = (struct.pack("<I", 40)[:3] + b"\x01" + struct.pack("<IIB", 0x000FA685, 1 << 24, 33)
         + bytes(23) + b"root\x00" + b"\x00\x00\x00")
PG = (lambda p: struct.pack(">II", len(p) + 8, 196608) + p)(
    b"user\x00postgres\x00database\x00postgres\x00\x00")
PG_SSL = struct.pack(">II", 8, 80877103)
_BSON = b"\x13\x00\x00\x00\x10isMaster\x00\x01\x00\x00\x00\x00"
MONGO_QUERY = (struct.pack("<iiii", 16 + 4 + 9 + 8 + len(_BSON), 1, 0, 2004) + b"\x00" * 4
               + b"admin.$cmd\x00"[:11] + struct.pack("<ii", 0, -1) + _BSON)
MONGO_MSG = struct.pack("<iiii", 16 + 5 + len(_BSON), 1, 0, 2013) + b"\x00" * 4 + b"\x00" + _BSON
GARBAGE = bytes(range(7, 40))
