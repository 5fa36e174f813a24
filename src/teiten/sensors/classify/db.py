"""Database hellos: Redis, MSSQL (TDS pre-login), MySQL, PostgreSQL startup, MongoDB.

- Redis: RESP arrays (``*2\\r\\n$4\\r\\nINFO...``) or inline commands (``PING\\r\\n``).
- MSSQL: TDS header ``type(1) status(1) length(2 BE) spid(2) packet(1) window(1)``; type 0x12
  PRELOGIN lists option tokens ``(token, offset(2), length(2))`` ended by 0xFF; token 0 is the
  client VERSION.
- MySQL: ``length(3 LE) seq(1)`` then a HandshakeResponse41 (capabilities(4), max packet(4),
  charset(1), 23 zero bytes, user NUL-terminated); 32 bytes long it is an SSLRequest.
- PostgreSQL: ``length(4 BE) code(4 BE)``: 196608 StartupMessage (NUL-separated key/value pairs),
  80877103 SSLRequest, 80877104 GSSENCRequest, 80877102 CancelRequest.
- MongoDB: ``length(4 LE) requestID(4) responseTo(4) opCode(4)``; 2004 OP_QUERY (flags,
  collection, skip, return, BSON), 2013 OP_MSG (flags, section kind 0, BSON); the command is the
  first BSON key.
"""

from __future__ import annotations

import re

from teiten.sensors.classify._util import cstring, text, u16be, u32be, u32le

REDIS_COMMANDS = frozenset(
    b"PING INFO CONFIG SET GET AUTH SLAVEOF REPLICAOF EVAL FLUSHALL KEYS QUIT CLIENT SCAN "
    b"MODULE DBSIZE SAVE COMMAND HELLO ECHO SELECT DEL EXISTS TYPE".split()
)
_RESP = re.compile(rb"^\*(\d{1,4})\r\n\$(\d{1,6})\r\n")
TDS_PRELOGIN = 0x12
TDS_LOGIN7 = 0x10
MYSQL_CLIENT_PROTOCOL_41 = 0x0200
PG_PROTOCOL_3 = 196608
PG_SSL_REQUEST = 80877103
PG_GSSENC_REQUEST = 80877104
PG_CANCEL_REQUEST = 80877102
MONGO_OP_QUERY = 2004
MONGO_OP_MSG = 2013


def redis(data: bytes) -> dict[str, str] | None:
    """Redis command: ``command`` (upper-case) and ``form`` (``resp`` or ``inline``)."""
    m = _RESP.match(data)
    if m is not None:
        start = m.end()
        word = data[start : start + int(m.group(2))]
        return {"command": text(word.upper()), "form": "resp", "args": m.group(1).decode()}
    word = data.split(b"\r\n", 1)[0].split(b" ", 1)[0]
    if data.find(b"\r\n") > 0 and word.upper() in REDIS_COMMANDS:
        return {"command": text(word.upper()), "form": "inline"}
    return None


def mssql(data: bytes) -> dict[str, str] | None:
    """TDS pre-login or login: ``packet`` (``prelogin``/``login7``) and ``client_version``."""
    if len(data) < 8 or data[0] not in (TDS_PRELOGIN, TDS_LOGIN7) or data[1] > 0x1F:
        return None
    if u16be(data, 2) < 8 or data[7] != 0:
        return None
    out = {"packet": "prelogin" if data[0] == TDS_PRELOGIN else "login7"}
    if data[0] != TDS_PRELOGIN:
        return out
    off = 8
    while off + 5 <= len(data) and data[off] != 0xFF:
        token, at, ln = data[off], u16be(data, off + 1), u16be(data, off + 3)
        if token == 0 and ln >= 6 and 8 + at + 6 <= len(data):
            v = data[8 + at : 8 + at + 6]
            out["client_version"] = f"{v[0]}.{v[1]}.{u16be(v, 2)}"
        off += 5
    return out


def mysql(data: bytes) -> dict[str, str] | None:
    """MySQL client handshake response or SSL request: ``packet``, ``user``."""
    if len(data) < 36:
        return None
    length = data[0] | data[1] << 8 | data[2] << 16
    if data[3] != 1 or length + 4 < 36 or not u32le(data, 4) & MYSQL_CLIENT_PROTOCOL_41:
        return None
    if any(data[13:36]):
        return None
    if length == 32:
        return {"packet": "ssl_request"}
    out = {"packet": "handshake_response"}
    user = cstring(data, 36, 256)
    if user is not None:
        out["user"] = text(user[0])
    return out


def postgresql(data: bytes) -> dict[str, str] | None:
    """PostgreSQL startup: ``packet`` and, for a StartupMessage, ``user``/``database``/..."""
    if len(data) < 8:
        return None
    length, code = u32be(data, 0), u32be(data, 4)
    if code == PG_SSL_REQUEST and length == 8:
        return {"packet": "ssl_request"}
    if code == PG_GSSENC_REQUEST and length == 8:
        return {"packet": "gssenc_request"}
    if code == PG_CANCEL_REQUEST and length == 16:
        return {"packet": "cancel_request"}
    if code != PG_PROTOCOL_3 or not 8 < length < 10_000:
        return None
    out = {"packet": "startup"}
    parts = data[8:length].split(b"\x00")
    for k, v in zip(parts[0::2], parts[1::2], strict=False):
        if k in (b"user", b"database", b"application_name"):
            out[k.decode()] = text(v)
    return out


def _bson_first_key(data: bytes, off: int) -> str | None:
    if off + 6 > len(data):
        return None
    got = cstring(data, off + 5, 128)  # int32 doc length, type byte, then the key
    return text(got[0]) if got is not None else None


def mongodb(data: bytes) -> dict[str, str] | None:
    """MongoDB OP_QUERY / OP_MSG: ``op``, ``collection``, ``command``."""
    if len(data) < 16:
        return None
    length, op = u32le(data, 0), u32le(data, 12)
    if op not in (MONGO_OP_QUERY, MONGO_OP_MSG) or not 16 < length < 48_000_000:
        return None
    if u32le(data, 8) != 0:  # responseTo is 0 in a request
        return None
    if op == MONGO_OP_MSG:
        out = {"op": "OP_MSG"}
        if len(data) > 20 and data[20] == 0:
            key = _bson_first_key(data, 21)
            if key:
                out["command"] = key
        return out
    out = {"op": "OP_QUERY"}
    coll = cstring(data, 20, 256)
    if coll is not None:
        out["collection"] = text(coll[0])
        key = _bson_first_key(data, coll[1] + 8)
        if key:
            out["command"] = key
    return out
