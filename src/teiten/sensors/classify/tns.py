"""Oracle TNS connect request: the PROGRAM, HOST, USER and SERVICE_NAME a client announces.

Packet layout (TNS header, then the CONNECT body)::

    0  length(2)  checksum(2)  type(1)=1 CONNECT  reserved(1)  header checksum(2)
    8  version(2) compatible(2) options(2) SDU(2) TDU(2) NT chars(2) turnaround(2) one(2)
    24 connect data length(2)  26 connect data offset(2) ...
    connect data: (DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl)(CID=(PROGRAM=x)(HOST=h)(USER=u))))

Scanners often send the descriptor without a correct header or cut it short, so the fields are
read from the descriptor text wherever it sits in the payload.
"""

from __future__ import annotations

import re

from teiten.sensors.classify._util import text, u16be

TNS_CONNECT = 1
#: Plausible TNS protocol versions (Oracle 7 .. 23c use 300-319).
TNS_VERSION_MIN, TNS_VERSION_MAX = 300, 399
_KEYS = {b"PROGRAM": "program", b"HOST": "host", b"USER": "user",
         b"SERVICE_NAME": "service_name", b"SID": "sid", b"COMMAND": "command"}
_KV = re.compile(rb"\(\s*(PROGRAM|HOST|USER|SERVICE_NAME|SID|COMMAND)\s*=\s*([^()]{0,256})",
                 re.IGNORECASE)


def connect(data: bytes) -> dict[str, str] | None:
    """Fields of a TNS CONNECT (``program``, ``host``, ``user``, ``service_name``, ``sid``).

    Examples
    --------
    >>> d = b"(DESCRIPTION=(CONNECT_DATA=(CID=(PROGRAM=sqlmap)(HOST=x)(USER=u))))"
    >>> connect(b"\\x00\\x5a\\x00\\x00\\x01\\x00\\x00\\x00" + bytes(18) + d)["program"]
    'sqlmap'
    """
    header = len(data) >= 8 and data[4] == TNS_CONNECT and data[5] == 0 and u16be(data, 0) >= 8
    has_desc = b"(DESCRIPTION" in data.upper() or b"(CONNECT_DATA" in data.upper()
    if not (header or has_desc):
        return None
    if not has_desc and not (len(data) >= 26 and u16be(data, 0) >= 34
                             and TNS_VERSION_MIN <= u16be(data, 8) <= TNS_VERSION_MAX):
        return None
    out: dict[str, str] = {}
    if header and len(data) >= 10:
        out["version"] = str(u16be(data, 8))
    for m in _KV.finditer(data):
        key = _KEYS[m.group(1).upper()]
        out.setdefault(key, text(m.group(2).strip()))
    return out
