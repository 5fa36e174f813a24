"""Windows services: SMB1/SMB2 negotiate (445/139) and the RDP connection request (3389).

SMB over TCP starts with a 4-byte NetBIOS session header (type 0, 24-bit length), then
``\\xffSMB`` (SMB1; command 0x72 = NEGOTIATE, dialect strings each prefixed by 0x02) or
``\\xfeSMB`` (SMB2; 64-byte header, command at offset 12; the NEGOTIATE body lists 16-bit dialect
revisions at offset 36 of the body). RDP starts with TPKT (``03 00 len(2)``) and an X.224
Connection Request (code 0xE0) carrying an optional ``Cookie: mstshash=...`` line and an
RDP_NEG_REQ with the requested security protocols.
"""

from __future__ import annotations

from teiten.sensors.classify._util import text, u16be, u16le, u32le

SMB1_MAGIC = b"\xffSMB"
SMB2_MAGIC = b"\xfeSMB"
SMB1_NEGOTIATE = 0x72
SMB2_NEGOTIATE = 0x0000
X224_CONNECTION_REQUEST = 0xE0
RDP_NEG_REQ = 0x01
_RDP_PROTOCOLS = {0x1: "ssl", 0x2: "hybrid", 0x4: "rdstls", 0x8: "hybrid_ex"}


def smb(data: bytes) -> dict[str, str] | None:
    """SMB1 or SMB2 message: ``version``, ``command``, ``dialects`` (negotiate only)."""
    base = 4 if len(data) >= 8 and data[0] == 0 and data[4:8] in (SMB1_MAGIC, SMB2_MAGIC) else 0
    magic = data[base : base + 4]
    if magic == SMB1_MAGIC:
        out = {"version": "1"}
        if len(data) <= base + 4:
            return out
        out["command"] = f"0x{data[base + 4]:02x}"
        if data[base + 4] == SMB1_NEGOTIATE and len(data) > base + 35:
            body = data[base + 32 + 1 + 2 * data[base + 32] + 2 :]
            names = [text(d.split(b"\x00", 1)[0]) for d in body.split(b"\x02")[1:]][:32]
            out["dialects"] = ",".join(names)
        return out
    if magic == SMB2_MAGIC:
        out = {"version": "2"}
        if len(data) < base + 14:
            return out
        cmd = u16le(data, base + 12)
        out["command"] = f"0x{cmd:04x}"
        neg = base + 64
        if cmd == SMB2_NEGOTIATE and len(data) >= neg + 4:
            n = min(u16le(data, neg + 2), 32)
            start = neg + 36
            ds = [u16le(data, start + 2 * i) for i in range(n) if start + 2 * i + 2 <= len(data)]
            out["dialects"] = ",".join(f"0x{d:04x}" for d in ds)
        return out
    return None


def rdp(data: bytes) -> dict[str, str] | None:
    """RDP X.224 connection request: ``cookie``, ``requested_protocols``."""
    if len(data) < 11 or data[0] != 3 or data[1] != 0 or data[5] & 0xF0 != X224_CONNECTION_REQUEST:
        return None
    if u16be(data, 2) < 11:
        return None
    out: dict[str, str] = {}
    rest = data[11:]
    if rest.startswith(b"Cookie:"):
        line, _, rest = rest.partition(b"\r\n")
        out["cookie"] = text(line[7:].strip())
    if len(rest) >= 8 and rest[0] == RDP_NEG_REQ:
        req = u32le(rest, 4)
        names = [n for bit, n in _RDP_PROTOCOLS.items() if req & bit] or ["rdp"]
        out["requested_protocols"] = ",".join(names)
    return out
