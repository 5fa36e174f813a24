"""TLS ClientHello: version, SNI, ALPN and a JA4-style fingerprint.

The record layout (RFC 8446 §4.1.2)::

    record:  type(1)=0x16  version(2)  length(2)
    handshake: type(1)=0x01  length(3)
    hello:   legacy_version(2) random(32) session_id<1> cipher_suites<2> compression<1>
             extensions<2> = { type(2) length(2) data }

The fingerprint follows FoxIO's JA4 (``t13d1516h2_<ciphers>_<extensions>``): protocol, TLS
version, SNI present (``d``) or not (``i``), cipher and extension counts, first and last
character of the first ALPN value; then truncated SHA-256 of the sorted cipher list and of the
sorted extension list (without SNI and ALPN) followed by the signature algorithms. GREASE values
are ignored. A truncated hello gives the fields read so far and no fingerprint.
"""

from __future__ import annotations

import hashlib

from teiten.sensors.classify._util import text, u16be

CONTENT_HANDSHAKE = 0x16
HANDSHAKE_CLIENT_HELLO = 0x01
EXT_SNI = 0x0000
EXT_SIGALGS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B
_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
             0x0002: "s2"}


def _grease(v: int) -> bool:
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def _hash12(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"


def _u16_list(data: bytes) -> list[int]:
    return [u16be(data, i) for i in range(0, len(data) - 1, 2)]


def client_hello(data: bytes) -> dict[str, str] | None:
    """Fields of a TLS (or SSLv2-framed) ClientHello, or None.

    Returns ``version``, ``sni``, ``alpn``, ``ciphers`` (count), ``ja4``; a hello cut short
    returns what was read plus ``truncated=1``.

    Examples
    --------
    >>> client_hello(b"\\x16\\x03\\x01\\x00\\x05\\x01\\x00\\x00\\x01\\x03")["truncated"]
    '1'
    """
    if len(data) >= 3 and data[0] & 0x80 and data[2] == HANDSHAKE_CLIENT_HELLO:
        return {"version": "s2", "record": "sslv2"}  # SSLv2-compatible hello
    if len(data) < 6 or data[0] != CONTENT_HANDSHAKE or data[1] != 0x03 or data[2] > 0x04:
        return None
    if data[5] != HANDSHAKE_CLIENT_HELLO:
        return None
    h = data[9:]  # the hello body (records may be fragmented; we read what we have)
    out: dict[str, str] = {"record_version": _VERSIONS.get(u16be(data, 1), "00")}
    if len(h) < 2:
        out["truncated"] = "1"
        return out
    legacy = u16be(h, 0)
    out["version"] = _VERSIONS.get(legacy, f"{legacy:04x}")
    off = 34
    if off >= len(h):
        out["truncated"] = "1"
        return out
    off += 1 + h[off]
    if off + 2 > len(h):
        out["truncated"] = "1"
        return out
    clen = u16be(h, off)
    ciphers = [c for c in _u16_list(h[off + 2 : off + 2 + clen]) if not _grease(c)]
    out["ciphers"] = str(len(ciphers))
    off += 2 + clen
    if off >= len(h):
        out["truncated"] = "1"
        return out
    off += 1 + h[off]
    exts: list[int] = []
    sigalgs: list[int] = []
    alpn = ""
    sni = None
    best = legacy
    complete = False
    if off + 2 <= len(h):
        end = min(len(h), off + 2 + u16be(h, off))
        complete = off + 2 + u16be(h, off) <= len(h)
        off += 2
        while off + 4 <= end:
            et, el = u16be(h, off), u16be(h, off + 2)
            body = h[off + 4 : off + 4 + el]
            off += 4 + el
            if off > end:
                complete = False
            if _grease(et):
                continue
            exts.append(et)
            if et == EXT_SNI and len(body) >= 5:
                sni = text(body[5 : 5 + u16be(body, 3)])
            elif et == EXT_ALPN and len(body) >= 3:
                alpn = text(body[3 : 3 + body[2]])
            elif et == EXT_SIGALGS and len(body) >= 2:
                sigalgs = _u16_list(body[2 : 2 + u16be(body, 0)])
            elif et == EXT_SUPPORTED_VERSIONS and len(body) >= 1:
                vs = [v for v in _u16_list(body[1 : 1 + body[0]]) if not _grease(v)]
                if vs:
                    best = max(vs)
    else:
        out["truncated"] = "1"
        return out
    out["version"] = _VERSIONS.get(best, f"{best:04x}")
    if sni is not None:
        out["sni"] = sni
    if alpn:
        out["alpn"] = alpn
    if not complete:
        out["truncated"] = "1"
        return out
    a = (alpn[0] + alpn[-1]) if alpn and alpn.isascii() else "00"
    head = (f"t{_VERSIONS.get(best, '00')}{'d' if sni is not None else 'i'}"
            f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a}")
    cs = ",".join(f"{c:04x}" for c in sorted(ciphers))
    es = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (EXT_SNI, EXT_ALPN)))
    if sigalgs:
        es += "_" + ",".join(f"{s:04x}" for s in sigalgs)
    out["ja4"] = f"{head}_{_hash12(cs)}_{_hash12(es)}"
    return out
