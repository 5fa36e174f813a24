"""Parse one Suricata/Snort rule into a frozen :class:`Rule`.

Header ``action proto src sport dir dst dport``; options ``name:value;`` or ``name;``. Only
keywords that can be decided on one row of the packet table are accepted; everything else
raises :class:`~teiten.signatures.errors.UnsupportedRuleError` with the reason, so a loader can
skip the rule and say why (nothing silently half-works).

Examples
--------
>>> r = parse_rule('alert udp any any -> $HOME_NET 1434 (msg:"slammer"; content:"|04|"; '
...                'depth:1; dsize:376; sid:9000001; rev:1;)')
>>> r.sid, r.contents[0].pattern, r.tests
(9000001, b'\\x04', (('payload_len', IntTest(op='=', a=376, b=0)),))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from teiten.signatures.content import Content, IsDataAt, link
from teiten.signatures.errors import RuleSyntaxError, UnsupportedRuleError
from teiten.signatures.keywords import FlagsTest, FragbitsTest, IntTest, parse_ip_proto

ACTIONS = frozenset({"alert", "pass", "drop", "reject", "rejectsrc", "rejectdst",
                     "rejectboth", "log", "sdrop"})
#: Header protocols evaluable on the packet table.
PROTOCOLS = frozenset({"ip", "tcp", "udp", "icmp", "icmpv4", "icmpv6", "ipv4", "ip4", "ipv6",
                       "ip6", "pkthdr"})
#: Application-layer protocols Suricata accepts in a header (need a parser and a flow).
APP_PROTOCOLS = frozenset({"http", "http1", "http2", "dns", "tls", "ssl", "ssh", "smb", "ftp",
                           "ftp-data", "smtp", "imap", "dcerpc", "nfs", "ntp", "dhcp", "krb5",
                           "snmp", "sip", "rfb", "mqtt", "ikev2", "ike", "modbus", "dnp3",
                           "enip", "rdp", "tftp", "pgsql", "quic", "websocket", "ldap",
                           "bittorrent-dht", "telnet"})

#: Integer keywords and the packet-table column each tests (with its width in bits).
INT_KEYWORDS: dict[str, tuple[str, int]] = {
    "dsize": ("payload_len", 16), "ttl": ("ttl", 8), "id": ("ip_id", 16),
    "seq": ("tcp_seq", 32), "ack": ("tcp_ack", 32), "window": ("tcp_win", 16),
    "itype": ("icmp_type", 8), "icode": ("icmp_code", 8), "icmp_id": ("icmp_id", 16),
    "icmp_seq": ("icmp_seq", 16), "tcp.window": ("tcp_win", 16), "tcp.mss": ("tcp_mss", 16),
}
_META = frozenset({"msg", "sid", "rev", "gid", "classtype", "priority", "metadata",
                   "reference", "target"})
_NOOP = frozenset({"rawbytes", "fast_pattern", "pkt_data"})
_CONTENT_MODS = frozenset({"nocase", "offset", "depth", "distance", "within", "startswith"})
_STATE = {"flowbits", "xbits", "flowint", "hostbits", "stream_size", "flow.age", "flow.pkts",
          "flow.bytes", "stream_event", "app-layer-event", "app-layer-protocol", "noalert"}
_APP_PREFIXES = ("http_", "http.", "tls", "dns", "ssh", "file", "smb", "dce_", "dcerpc",
                 "krb5", "sip", "ja3", "ja4", "uricontent", "urilen", "ftp", "smtp", "snmp",
                 "mqtt", "quic", "ike", "modbus", "dnp3", "enip", "rfb", "nfs", "tftp", "ntp",
                 "ldap", "pgsql", "base64", "email", "websocket", "filename", "fileext",
                 "filemagic", "filestore", "filemd5", "filesha", "filesize", "rpc")
_TRACKS = frozenset({"by_src", "by_dst", "by_both", "by_rule", "by_flow"})


@dataclass(frozen=True, slots=True)
class Threshold:
    """``threshold`` (limit/threshold/both/backoff) or ``detection_filter`` (kind detection)."""

    kind: str
    track: str
    count: int
    seconds: int
    unique_on: str | None = None
    multiplier: int = 1


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule: header strings (variables unresolved) and typed options."""

    action: str
    proto: str
    src: str
    sport: str
    direction: str
    dst: str
    dport: str
    sid: int
    msg: str = ""
    gid: int = 1
    rev: int = 0
    classtype: str | None = None
    priority: int | None = None
    metadata: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    contents: tuple[Content | IsDataAt, ...] = ()
    tests: tuple[tuple[str, IntTest], ...] = ()
    flags: FlagsTest | None = None
    ip_proto: IntTest | None = None
    fragbits: FragbitsTest | None = None
    sameip: bool = False
    threshold: Threshold | None = None
    text: str = field(default="", compare=False, repr=False)

    def meta_value(self, key: str) -> str | None:
        """The first ``metadata`` value for ``key`` (e.g. ``npa_category``), or None."""
        for item in self.metadata:
            k, _, v = item.strip().partition(" ")
            if k == key:
                return v.strip()
        return None


def _split_header(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                parts.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return parts


def split_options(body: str) -> list[tuple[str, str | None]]:
    """Split ``name:value; name; ...`` honouring quotes and ``\\`` escapes."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(body)
    while i < n:
        while i < n and body[i] in " \t;":
            i += 1
        if i >= n:
            break
        j = i
        while j < n and body[j] not in ":;":
            j += 1
        name = body[i:j].strip()
        if not name:
            raise RuleSyntaxError(f"empty option name near {body[i:i + 20]!r}")
        if j >= n or body[j] == ";":
            if j >= n:
                raise RuleSyntaxError(f"option {name!r} not terminated by ';'")
            out.append((name, None))
            i = j + 1
            continue
        k, quoted, val = j + 1, False, []
        while k < n:
            ch = body[k]
            if ch == "\\" and k + 1 < n:
                val.append(body[k:k + 2])
                k += 2
                continue
            if ch == '"':
                quoted = not quoted
            elif ch == ";" and not quoted:
                break
            val.append(ch)
            k += 1
        if k >= n:
            raise RuleSyntaxError(f"option {name!r} not terminated by ';'")
        out.append((name, "".join(val).strip()))
        i = k + 1
    return out


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    return re.sub(r"\\(.)", r"\1", v)


def parse_content(value: str) -> tuple[bytes, bool]:
    """Decode a content value (``!"a|41 42|b"``) into bytes and the negation flag."""
    v = value.strip()
    negated = v.startswith("!")
    if negated:
        v = v[1:].strip()
    if len(v) < 2 or v[0] != '"' or v[-1] != '"':
        raise RuleSyntaxError(f"content must be a quoted string: {value!r}")
    v = v[1:-1]
    out = bytearray()
    i, hexmode, hexbuf = 0, False, ""
    while i < len(v):
        ch = v[i]
        if ch == "|":
            if hexmode:
                if len(hexbuf) % 2:
                    raise RuleSyntaxError(f"odd number of hex digits in {value!r}")
                out += bytes.fromhex(hexbuf)
                hexbuf = ""
            hexmode = not hexmode
        elif hexmode:
            if ch in "0123456789abcdefABCDEF":
                hexbuf += ch
            elif not ch.isspace():
                raise RuleSyntaxError(f"bad hex character {ch!r} in {value!r}")
        elif ch == "\\":
            if i + 1 >= len(v) or v[i + 1] not in ';"\\:':
                raise RuleSyntaxError(f"bad escape in {value!r}")
            out.append(ord(v[i + 1]))
            i += 1
        elif ch in ';"':
            raise RuleSyntaxError(f"unescaped {ch!r} in content {value!r}")
        else:
            out += ch.encode("utf-8")
        i += 1
    if hexmode:
        raise RuleSyntaxError(f"unterminated hex in {value!r}")
    if not out:
        raise RuleSyntaxError("empty content")
    return bytes(out), negated


def _kv_list(value: str, what: str) -> dict[str, str]:
    out = {}
    for part in value.split(","):
        k, _, v = part.strip().partition(" ")
        if not v.strip():
            raise RuleSyntaxError(f"bad {what} item {part.strip()!r}")
        out[k.strip()] = v.strip()
    return out


def parse_threshold(value: str, detection_filter: bool) -> Threshold:
    """Parse a ``threshold`` or ``detection_filter`` value."""
    what = "detection_filter" if detection_filter else "threshold"
    kv = _kv_list(value, what)
    need = {"track", "count"} | (set() if detection_filter else {"type"})
    if kv.get("type") != "backoff":
        need.add("seconds")
    if missing := need - kv.keys():
        raise RuleSyntaxError(f"{what} lacks {sorted(missing)}")
    allowed = need | ({"unique_on"} if detection_filter else {"multiplier", "seconds"})
    if extra := kv.keys() - allowed:
        raise RuleSyntaxError(f"{what}: unknown items {sorted(extra)}")
    kind = "detection" if detection_filter else kv["type"]
    if kind not in ("detection", "limit", "threshold", "both", "backoff"):
        raise RuleSyntaxError(f"threshold type {kind!r} unknown")
    if kv["track"] not in _TRACKS:
        raise RuleSyntaxError(f"{what} track {kv['track']!r} unknown")
    try:
        count, seconds = int(kv["count"]), int(kv.get("seconds", "0"))
        mult = int(kv.get("multiplier", "1"))
    except ValueError as exc:
        raise RuleSyntaxError(f"{what}: count/seconds must be integers") from exc
    if count < (0 if detection_filter else 1) or seconds < 0:
        raise RuleSyntaxError(f"{what}: bad count or seconds")
    uniq = kv.get("unique_on")
    if uniq is not None and uniq not in ("src_port", "dst_port"):
        raise RuleSyntaxError(f"detection_filter unique_on {uniq!r} unknown")
    if kind == "backoff" and (kv["track"] != "by_flow" or "multiplier" not in kv):
        raise RuleSyntaxError("threshold type backoff needs track by_flow and a multiplier")
    return Threshold(kind, kv["track"], count, seconds, uniq, mult)


def _app_layer(name: str) -> bool:
    return name.startswith(_APP_PREFIXES) or ("." in name and name != "tcp.flags"
                                              and name not in INT_KEYWORDS)


def _int_value(name: str, value: str | None) -> int:
    if value is None:
        raise RuleSyntaxError(f"{name} needs a value")
    try:
        return int(value.strip())
    except ValueError as exc:
        raise RuleSyntaxError(f"{name}: not an integer: {value!r}") from exc


def parse_rule(text: str) -> Rule:
    """Parse one rule line (continuations already joined).

    Raises
    ------
    RuleSyntaxError
        The text is not a well-formed rule.
    UnsupportedRuleError
        The rule is well-formed but uses something teiten cannot evaluate per packet.
    """
    text = text.strip()
    lp, rp = text.find("("), text.rfind(")")
    if lp < 0 or rp < lp:
        raise RuleSyntaxError("no option block '( ... )'")
    if text[rp + 1:].strip():
        raise RuleSyntaxError("text after the closing ')'")
    head = _split_header(text[:lp])
    if len(head) != 7:
        raise RuleSyntaxError(f"header needs 7 fields, got {len(head)}")
    action, proto, src, sport, direction, dst, dport = head
    proto = proto.lower()
    if action not in ACTIONS:
        raise RuleSyntaxError(f"unknown action {action!r}")
    if direction not in ("->", "<>", "=>"):
        raise RuleSyntaxError(f"bad direction {direction!r}")
    if proto in APP_PROTOCOLS:
        raise UnsupportedRuleError(f"app-layer protocol {proto!r} needs a protocol parser")
    if proto not in PROTOCOLS:
        raise UnsupportedRuleError(f"protocol {proto!r} not supported")
    if direction == "=>":
        raise UnsupportedRuleError("transactional direction '=>' needs flows")

    meta: dict[str, object] = {}
    metadata: list[str] = []
    refs: list[str] = []
    contents: list[Content | IsDataAt] = []
    tests: list[tuple[str, IntTest]] = []
    flags: FlagsTest | None = None
    ip_proto: IntTest | None = None
    fragbits: FragbitsTest | None = None
    sameip = False
    thr: Threshold | None = None
    for name, value in split_options(text[lp + 1:rp]):
        key = name.lower()
        if key in _META:
            if key == "metadata":
                metadata += [m.strip() for m in (value or "").split(",") if m.strip()]
            elif key == "reference":
                refs.append(value or "")
            elif key in ("sid", "rev", "gid", "priority"):
                meta[key] = _int_value(key, value)
            elif key != "target":
                meta[key] = _unquote(value or "")
        elif key == "content":
            if value is None:
                raise RuleSyntaxError("content needs a value")
            pat, neg = parse_content(value)
            contents.append(Content(pat, negated=neg))
        elif key in _CONTENT_MODS:
            last = max((k for k, c in enumerate(contents) if isinstance(c, Content)), default=-1)
            if last < 0:
                raise RuleSyntaxError(f"{key} without a preceding content")
            cur = contents[last]
            assert isinstance(cur, Content)
            contents[last] = _modify(cur, key, value)
        elif key == "isdataat":
            contents.append(_isdataat(value))
        elif key in _NOOP:
            if key == "pkt_data" and contents:
                raise UnsupportedRuleError("pkt_data after a content buffer switch")
        elif key in INT_KEYWORDS:
            col, bits = INT_KEYWORDS[key]
            tests.append((col, IntTest.parse(value or "", bits)))
        elif key in ("flags", "tcp.flags"):
            flags = FlagsTest.parse(value or "")
        elif key == "ip_proto":
            ip_proto = parse_ip_proto(value or "")
        elif key == "fragbits":
            fragbits = FragbitsTest.parse(value or "")
        elif key == "sameip":
            sameip = True
        elif key in ("threshold", "detection_filter"):
            if thr is not None:
                raise RuleSyntaxError("more than one threshold/detection_filter")
            thr = parse_threshold(value or "", key == "detection_filter")
        elif key == "flow":
            if (value or "").replace(" ", "").lower() != "stateless":
                raise UnsupportedRuleError(f"flow:{value} needs stream state")
        elif key == "pcre":
            raise UnsupportedRuleError("pcre not supported")
        elif key in _STATE:
            raise UnsupportedRuleError(f"{key} needs flow state")
        elif _app_layer(key):
            raise UnsupportedRuleError(f"app-layer buffer {key}")
        else:
            raise UnsupportedRuleError(f"unsupported keyword {key}")
    sid = meta.get("sid")
    if not isinstance(sid, int) or sid <= 0:
        raise RuleSyntaxError("missing or invalid sid")
    for c in contents:
        if isinstance(c, Content) and c.within is not None and c.within < len(c.pattern):
            raise RuleSyntaxError(f"within {c.within} shorter than content {c.pattern!r}")
    return Rule(
        action=action, proto=proto, src=src, sport=sport, direction=direction, dst=dst,
        dport=dport, sid=sid, msg=str(meta.get("msg", "")), gid=int(str(meta.get("gid", 1))),
        rev=int(str(meta.get("rev", 0))),
        classtype=str(meta["classtype"]) if "classtype" in meta else None,
        priority=int(str(meta["priority"])) if "priority" in meta else None,
        metadata=tuple(metadata), references=tuple(refs), contents=link(contents),
        tests=tuple(tests), flags=flags, ip_proto=ip_proto, fragbits=fragbits, sameip=sameip,
        threshold=thr, text=text,
    )


def _isdataat(value: str | None) -> IsDataAt:
    parts = [p.strip() for p in (value or "").split(",")]
    n_text, opts = parts[0], parts[1:]
    negated = n_text.startswith("!")
    n_text = n_text.lstrip("!").strip()
    if any(o not in ("relative", "rawbytes") for o in opts):
        raise UnsupportedRuleError(f"isdataat option {opts} not supported")
    try:
        n = int(n_text)
    except ValueError as exc:
        raise UnsupportedRuleError(f"isdataat with a variable {n_text!r}") from exc
    if n < 0:
        raise RuleSyntaxError("isdataat must not be negative")
    return IsDataAt(n, relative="relative" in opts, negated=negated)


def _modify(c: Content, key: str, value: str | None) -> Content:
    if key == "nocase":
        return replace(c, nocase=True)
    if key == "startswith":
        if c.relative:
            raise UnsupportedRuleError("startswith mixed with relative modifiers")
        return replace(c, offset=0, depth=len(c.pattern))
    v = _int_value(key, value)
    if key in ("offset", "depth"):
        if c.relative:
            raise UnsupportedRuleError(f"{key} mixed with distance/within on one content")
        if v < 0:
            raise RuleSyntaxError(f"{key} must not be negative")
        if key == "offset":
            return replace(c, offset=v)
        return replace(c, depth=max(v, len(c.pattern)))
    if c.offset is not None or c.depth is not None:
        raise UnsupportedRuleError(f"{key} mixed with offset/depth on one content")
    if key == "within" and v < 0:
        raise RuleSyntaxError("within must not be negative")
    return replace(c, distance=v) if key == "distance" else replace(c, within=v)


__all__ = ["ACTIONS", "INT_KEYWORDS", "PROTOCOLS", "Rule", "Threshold", "parse_content",
           "parse_rule", "parse_threshold", "split_options"]
