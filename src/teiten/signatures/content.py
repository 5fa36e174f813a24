"""Payload ``content`` matches with Suricata's exact semantics.

A rule's contents are inspected in rule order against the packet payload buffer, as in
Suricata's ``DetectEngineContentInspectionInternal`` (``src/detect-engine-content-inspection.c``):

* absolute contents search ``[offset, offset + depth)`` (depth counts from the offset);
* relative contents search from ``prev_end + distance`` (clamped at 0) up to
  ``prev_end + distance + within``, where ``prev_end`` is the end of the last *positive*
  content match (a negated content never moves it);
* when a later content fails, the previous content is retried at its next occurrence only if
  that later content carries ``within`` (Suricata's ``WITHIN_NEXT`` flag) — a ``distance``-only
  window can only shrink by moving right, so Suricata does not retry;
* a failed content without ``distance``/``within`` ends the inspection (``discontinue``), and so
  does a found negated content that stands alone (no relative link, no offset/depth).

Examples
--------
>>> a = Content(b"ab")
>>> b = Content(b"cd", distance=0, within=4)
>>> link([a, b])[0].within_next
True
>>> inspect(link([a, b]), b"ab..ab.cd")     # needs the second "ab": backtracking
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

#: Inspection results, as in Suricata: match, no match (retry allowed), discontinue.
MATCH, NO_MATCH, DISCONTINUE = 1, 0, -1


@dataclass(frozen=True, slots=True)
class Content:
    """One ``content`` keyword with its modifiers.

    Parameters
    ----------
    pattern : bytes
        The bytes to find (hex ``|..|`` already decoded).
    negated : bool
        ``content:!"..."``: the pattern must not occur in the window.
    nocase : bool
        ASCII case-insensitive comparison.
    offset, depth : int or None
        Absolute window ``[offset, offset + depth)``; ``depth`` is at least the pattern length.
    distance, within : int or None
        Relative window after the previous positive match; ``distance`` may be negative.
    within_next, relative_next : bool
        Set by :func:`link`: the next content has ``within`` / is relative.
    """

    pattern: bytes
    negated: bool = False
    nocase: bool = False
    offset: int | None = None
    depth: int | None = None
    distance: int | None = None
    within: int | None = None
    within_next: bool = False
    relative_next: bool = False

    @property
    def relative(self) -> bool:
        """True when the content has ``distance`` or ``within``."""
        return self.distance is not None or self.within is not None

    @property
    def single(self) -> bool:
        """Suricata's ``DETECT_CONTENT_IS_SINGLE``: no relative link and no offset/depth."""
        return not (self.relative or self.relative_next or self.offset is not None
                    or self.depth is not None)

    def reach(self) -> int | None:
        """Largest payload byte index (exclusive) an absolute match can use; None if unbounded."""
        if self.relative:
            return None
        if self.depth is not None:
            return (self.offset or 0) + self.depth
        return None


@dataclass(frozen=True, slots=True)
class IsDataAt:
    """``isdataat:[!]n[,relative]``: payload byte ``n`` exists (counted from the end of the
    last positive content match when ``relative``)."""

    n: int
    relative: bool = False
    negated: bool = False
    within: None = None

    def reach(self) -> int | None:
        """Largest payload byte index (exclusive) the test looks at; None when relative."""
        return None if self.relative else self.n + 1


Element = Content | IsDataAt


def link(contents: Sequence[Element]) -> tuple[Element, ...]:
    """Set the ``within_next`` / ``relative_next`` flags from each following element."""
    out = list(contents)
    for i in range(len(out) - 1):
        nxt, cur = out[i + 1], out[i]
        if isinstance(cur, Content):
            out[i] = replace(cur, within_next=nxt.within is not None, relative_next=nxt.relative)
    return tuple(out)


def inspect(contents: Sequence[Element], payload: bytes) -> bool:
    """Whether ``payload`` satisfies every content of a rule (contents already :func:`link`-ed).

    Examples
    --------
    >>> inspect(link([Content(b"GET", offset=0, depth=3)]), b"GET /")
    True
    >>> inspect(link([Content(b"x", negated=True)]), b"abc")
    True
    """
    if not contents:
        return True
    lower = (payload.lower() if any(isinstance(c, Content) and c.nocase for c in contents)
             else payload)
    return _inspect(contents, 0, payload, lower, 0) == MATCH


def _isdataat(cs: Sequence[Element], i: int, d: IsDataAt, buf: bytes, low: bytes,
              prev_end: int) -> int:
    # Suricata: absolute — data at n exists iff n < len; relative — iff prev_end + n <= len
    present = (prev_end + d.n <= len(buf)) if d.relative else (d.n < len(buf))
    if present != d.negated:
        return _next(cs, i, buf, low, prev_end)
    if d.relative and d.negated:
        return NO_MATCH
    return DISCONTINUE


def _inspect(cs: Sequence[Element], i: int, buf: bytes, low: bytes, prev_end: int) -> int:
    c = cs[i]
    if isinstance(c, IsDataAt):
        return _isdataat(cs, i, c, buf, low, prev_end)
    n = len(buf)
    retry = 0
    pat = c.pattern.lower() if c.nocase else c.pattern
    hay = low if c.nocase else buf
    plen = len(pat)
    while True:
        if c.relative:
            dist = c.distance or 0
            start = 0 if dist < 0 and -dist > prev_end else prev_end + dist
            end = n
            if c.within is not None and end > prev_end + c.within + dist:
                end = prev_end + c.within + dist
        else:
            start = c.offset or 0
            end = start + c.depth if c.depth is not None else n
        if retry:
            start = retry
        end = min(end, n)
        if start > end or end <= 0:
            if c.negated:
                return _next(cs, i, buf, low, prev_end)
            return NO_MATCH
        found = hay.find(pat, start, end) if plen <= end - start else -1
        if found < 0:
            if c.negated:
                return _next(cs, i, buf, low, prev_end)
            return NO_MATCH if c.relative else DISCONTINUE
        if c.negated:
            return DISCONTINUE if c.single else NO_MATCH
        if i == len(cs) - 1:
            return MATCH
        r = _inspect(cs, i + 1, buf, low, found + plen)
        if r != NO_MATCH:
            return r
        if not c.within_next:
            return DISCONTINUE
        retry = found + 1


def _next(cs: Sequence[Element], i: int, buf: bytes, low: bytes, prev_end: int) -> int:
    if i == len(cs) - 1:
        return MATCH
    return _inspect(cs, i + 1, buf, low, prev_end)


__all__ = ["DISCONTINUE", "MATCH", "NO_MATCH", "Content", "Element", "IsDataAt", "inspect",
           "link"]
