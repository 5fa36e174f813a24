"""Small helpers shared by the classifiers: bounded, escaped text from wire bytes."""

from __future__ import annotations

#: Longest field value kept, in characters (wire strings are data, not prose).
MAX_FIELD = 200


def text(raw: bytes, limit: int = MAX_FIELD) -> str:
    """Wire bytes as a bounded string: UTF-8 where valid, else Latin-1; controls escaped."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        s = raw.decode("latin-1")
    s = s[:limit]
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in s)[: limit * 4]


def cstring(data: bytes, start: int, limit: int = 1024) -> tuple[bytes, int] | None:
    """A NUL-terminated string at ``start``: ``(value, offset after the NUL)``, or None."""
    end = data.find(b"\x00", start, start + limit)
    if end < 0:
        return None
    return data[start:end], end + 1


def u16be(data: bytes, off: int) -> int:
    """Big-endian uint16 at ``off`` (caller checks bounds)."""
    return (data[off] << 8) | data[off + 1]


def u16le(data: bytes, off: int) -> int:
    """Little-endian uint16 at ``off``."""
    return data[off] | (data[off + 1] << 8)


def u32be(data: bytes, off: int) -> int:
    """Big-endian uint32 at ``off``."""
    return int.from_bytes(data[off : off + 4], "big")


def u32le(data: bytes, off: int) -> int:
    """Little-endian uint32 at ``off``."""
    return int.from_bytes(data[off : off + 4], "little")
