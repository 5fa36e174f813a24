"""Line-based first payloads: HTTP, SIP, SSH, Telnet.

Each function takes the first payload bytes and returns the extracted fields, or None when the
bytes are not that protocol. They never raise on any input.
"""

from __future__ import annotations

import re

from teiten.sensors.classify._util import text

HTTP_METHODS = frozenset(
    b"GET POST HEAD PUT DELETE OPTIONS CONNECT TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE "
    b"LOCK UNLOCK SEARCH PRI".split()
)
SIP_METHODS = frozenset(
    b"INVITE ACK BYE CANCEL REGISTER OPTIONS PRACK SUBSCRIBE NOTIFY PUBLISH INFO REFER MESSAGE "
    b"UPDATE".split()
)
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,12}) ([^ \r\n]{1,8192})(?: ([A-Z]{3,5}/\d\.\d))?")
_HEADER = re.compile(rb"\r?\n([A-Za-z0-9-]{1,64})[ \t]*:[ \t]*([^\r\n]*)")

#: Telnet IAC and the option verbs that follow it.
IAC = 0xFF
_TELNET_VERBS = {0xFB: "WILL", 0xFC: "WONT", 0xFD: "DO", 0xFE: "DONT"}


def _headers(data: bytes) -> dict[bytes, bytes]:
    head = data.split(b"\r\n\r\n", 1)[0]
    out: dict[bytes, bytes] = {}
    for m in _HEADER.finditer(head):
        out.setdefault(m.group(1).lower(), m.group(2).strip())
    return out


def http(data: bytes) -> dict[str, str] | None:
    """HTTP request: ``method``, ``path``, ``version``, ``host``, ``user_agent``.

    Examples
    --------
    >>> http(b"GET /x HTTP/1.1\\r\\nHost: a\\r\\nUser-Agent: zgrab/0.x\\r\\n\\r\\n")["user_agent"]
    'zgrab/0.x'
    """
    m = _REQUEST_LINE.match(data)
    if m is None or m.group(1) not in HTTP_METHODS:
        return None
    version = m.group(3) or b""
    if version and not version.startswith(b"HTTP/"):
        return None
    if m.group(2).startswith(b"sip:"):
        return None
    out = {"method": text(m.group(1)), "path": text(m.group(2))}
    if version:
        out["version"] = text(version)
    hdr = _headers(data)
    if b"host" in hdr:
        out["host"] = text(hdr[b"host"])
    if b"user-agent" in hdr:
        out["user_agent"] = text(hdr[b"user-agent"])
    return out


def sip(data: bytes) -> dict[str, str] | None:
    """SIP request (over TCP): ``method``, ``uri``, ``user_agent``, ``from``, ``to``."""
    m = _REQUEST_LINE.match(data)
    if m is None or m.group(1) not in SIP_METHODS:
        return None
    if not (m.group(3) or b"").startswith(b"SIP/") and not m.group(2).startswith(b"sip"):
        return None
    out = {"method": text(m.group(1)), "uri": text(m.group(2))}
    hdr = _headers(data)
    for key, name in ((b"user-agent", "user_agent"), (b"from", "from"), (b"to", "to")):
        if key in hdr:
            out[name] = text(hdr[key])
    return out


def ssh(data: bytes) -> dict[str, str] | None:
    """SSH identification string: ``banner``, ``proto``, ``software``."""
    if not data.startswith(b"SSH-"):
        return None
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b"-", 2)
    out = {"banner": text(line)}
    if len(parts) == 3:
        out["proto"] = text(parts[1])
        out["software"] = text(parts[2].split(b" ", 1)[0])
    return out


def telnet(data: bytes) -> dict[str, str] | None:
    """Telnet option negotiation (IAC WILL/WONT/DO/DONT): ``options`` e.g. ``DO 24,WILL 31``."""
    if len(data) < 2 or data[0] != IAC or data[1] < 0xF0 or data[1] == IAC:
        return None
    opts: list[str] = []
    i = 0
    while i + 1 < len(data) and data[i] == IAC and len(opts) < 32:
        verb = data[i + 1]
        if verb in _TELNET_VERBS and i + 2 < len(data):
            opts.append(f"{_TELNET_VERBS[verb]} {data[i + 2]}")
            i += 3
        elif verb == 0xFA:  # SB ... IAC SE
            end = data.find(b"\xff\xf0", i + 2)
            opts.append(f"SB {data[i + 2]}" if i + 2 < len(data) else "SB")
            i = end + 2 if end >= 0 else len(data)
        else:
            opts.append(f"CMD {verb}")
            i += 2
    return {"options": ",".join(opts)}
