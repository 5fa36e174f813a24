"""Payloads of the classic darknet signatures (synthetic stand-ins that carry each signature).

None of these is real malware: each is built to carry exactly the bytes the signatures in
``specs/detections.md`` §4 test (first bytes, lengths, ET content strings), padded with filler.
"""

from __future__ import annotations

import struct
from typing import Final

#: SQL Slammer stand-in: 376 bytes, starts 04 01 01 01, carries the ET sid 2102003 contents.
SLAMMER: Final[bytes] = (
    b"\x04" + b"\x01" * 95 + b"\xdc\xc9\xb0\x42\xeb\x0e" + b"\x01" * 8
    + b"\x81\xf1\x03\x01\x04\x9b\x81\xf1\x01" + b"\x90" * 20 + b"sock" + b"\x90" * 8
    + b"send" + b"\x90" * 8
).ljust(376, b"\x90")

#: Nachi/Welchia ping data: 64 bytes of 0xAA.
NACHI: Final[bytes] = b"\xaa" * 64

#: Windows ping data (Sasser-era 8/ICMP background): 32 bytes "abcdefghijklmnopqrstuvwabcdefghi".
WINDOWS_PING: Final[bytes] = b"abcdefghijklmnopqrstuvwabcdefghi"

#: msgsvcsend interface UUID 5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc, little-endian encoding.
MSGSVC_UUID_LE: Final[bytes] = bytes.fromhex("f8917b5a00ffd011a9b200c04fb6e6fc")


def messenger(text: str = "SYSTEM ALERT: your PC is infected. Visit the site below.") -> bytes:
    """A Windows Messenger pop-up spam packet: DCE/RPC CL request to msgsvcsend, opnum 0."""
    body = b"".join(_ndr_string(s) for s in ("Security Center", "You", text))
    hdr = bytearray(80)
    hdr[0] = 0x04  # rpc_vers
    hdr[1] = 0x00  # ptype request
    hdr[2] = 0x28  # flags1: idempotent | no-fack
    hdr[3] = 0x00
    hdr[4:7] = b"\x10\x00\x00"  # drep: little-endian, ASCII, IEEE
    hdr[24:40] = MSGSVC_UUID_LE
    hdr[40:56] = bytes(range(16))  # activity UUID
    struct.pack_into("<IIIHHHHHBB", hdr, 56, 0, 1, 0, 0, 0xFFFF, 0xFFFF, len(body), 0, 0, 0)
    return bytes(hdr) + body


def _ndr_string(s: str) -> bytes:
    raw = s.encode("ascii") + b"\0"
    out = struct.pack("<III", len(raw), 0, len(raw)) + raw
    return out + b"\0" * (-len(out) % 4)


def dns_any(name: str = "isc.org", txid: int = 0x1F2E) -> bytes:
    """A DNS query for ``name`` type ANY with an EDNS0 OPT record (4096-byte UDP size)."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return (struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 1) + q + struct.pack("!HH", 255, 1)
            + b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0))
