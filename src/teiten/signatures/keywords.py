"""Header-field keywords as vectorised column tests: integer grammar, ``flags``, ``ip_proto``.

The integer grammar is Suricata's shared one (``rust/src/detect/uint.rs``): ``N``/``=N``,
``!N``/``!=N``, ``<N``, ``<=N``, ``>N``, ``>=N``, the **exclusive** range ``a-b`` (legacy
``a<>b``), its negation ``!a-b``, and bit masks ``&m=v`` / ``&m!=v``; numbers may be hex.

Examples
--------
>>> import numpy as np
>>> IntTest.parse("10-20").test(np.array([10, 11, 19, 20]))
array([False,  True,  True, False])
>>> FlagsTest.parse("S,12").test(np.array([0x02, 0xC2, 0x12]))
array([ True,  True, False])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from teiten.signatures.errors import RuleSyntaxError

_NUM = r"(0[xX][0-9a-fA-F]+|\d+)"
_RANGE = re.compile(rf"^(!)?\s*{_NUM}\s*(?:-|<>)\s*{_NUM}$")
_CMP = re.compile(rf"^(!=|!|=|<=|>=|<|>)?\s*{_NUM}$")
_MASK = re.compile(rf"^&\s*{_NUM}\s*(!=|=)\s*{_NUM}$")


def _int(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


@dataclass(frozen=True, slots=True)
class IntTest:
    """A parsed integer keyword value: ``op`` is one of ``= != < <= > >= range !range & &!``."""

    op: str
    a: int
    b: int = 0

    @classmethod
    def parse(cls, text: str, bits: int = 32) -> IntTest:
        """Parse the keyword value; values must fit in ``bits`` bits."""
        t = text.strip()
        hi = (1 << bits) - 1
        if m := _RANGE.match(t):
            a, b = _int(m.group(2)), _int(m.group(3))
            if a >= b or b > hi:
                raise RuleSyntaxError(f"bad range {text!r}")
            return cls("!range" if m.group(1) else "range", a, b)
        if m := _MASK.match(t):
            mask, val = _int(m.group(1)), _int(m.group(3))
            if mask > hi or val > hi:
                raise RuleSyntaxError(f"value out of range in {text!r}")
            return cls("&" if m.group(2) == "=" else "&!", mask, val)
        if m := _CMP.match(t):
            op = {None: "=", "!": "!=", "=": "="}.get(m.group(1), m.group(1))
            v = _int(m.group(2))
            if v > hi:
                raise RuleSyntaxError(f"value {v} does not fit in {bits} bits")
            return cls(op, v)
        raise RuleSyntaxError(f"bad integer value {text!r}")

    def test(self, x: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        """Vectorised test over a column."""
        v = x.astype(np.int64, copy=False)
        a, b = self.a, self.b
        ops: dict[str, Callable[[], npt.NDArray[np.bool_]]] = {
            "=": lambda: v == a, "!=": lambda: v != a, "<": lambda: v < a, "<=": lambda: v <= a,
            ">": lambda: v > a, ">=": lambda: v >= a, "range": lambda: (v > a) & (v < b),
            "!range": lambda: ~((v > a) & (v < b)), "&": lambda: (v & a) == b,
            "&!": lambda: (v & a) != b,
        }
        return np.asarray(ops[self.op](), dtype=np.bool_)


#: TCP flag letters and their bits (``1``/``2`` are the legacy names of CWR/ECE).
FLAG_BITS: dict[str, int] = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10,
                             "U": 0x20, "E": 0x40, "C": 0x80, "2": 0x40, "1": 0x80}


@dataclass(frozen=True, slots=True)
class FlagsTest:
    """``flags:[modifier]<letters>[,<ignored letters>]``; modifier ``+``, ``*`` or ``!``."""

    bits: int
    modifier: str = ""
    ignore: int = 0

    @classmethod
    def parse(cls, text: str) -> FlagsTest:
        """Parse a ``flags`` value such as ``S``, ``SA+``, ``!R``, ``0``, ``S,12``."""
        main, _, ign = text.replace(" ", "").partition(",")
        mods = {ch for ch in main if ch in "+*!"}
        letters = "".join(ch for ch in main if ch not in "+*!")
        if len(mods) > 1 or not letters:
            raise RuleSyntaxError(f"bad flags {text!r}")
        bits = 0
        if letters != "0":
            for ch in letters.upper():
                if ch not in FLAG_BITS:
                    raise RuleSyntaxError(f"unknown TCP flag {ch!r} in {text!r}")
                bits |= FLAG_BITS[ch]
        ignore = 0
        for ch in ign.upper():
            if ch not in FLAG_BITS:
                raise RuleSyntaxError(f"unknown TCP flag {ch!r} in mask of {text!r}")
            ignore |= FLAG_BITS[ch]
        return cls(bits, mods.pop() if mods else "", ignore)

    def test(self, flags: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        """Vectorised test over the ``tcp_flags`` column (Suricata ``src/detect-tcp-flags.c``)."""
        raw = flags.astype(np.int64, copy=False)
        b = self.bits
        if b == 0:  # ``flags:0``: tested on the raw flags, before the ignore mask
            if self.modifier == "!":
                out = raw != 0
            elif self.modifier == "*":
                out = np.zeros(len(raw), dtype=bool)
            else:
                out = raw == 0
            return np.asarray(out, dtype=np.bool_)
        f = raw & (~self.ignore & 0xFF)
        if self.modifier == "+":
            out = (f & b) == b
        elif self.modifier == "*":
            out = (f & b) != 0
        elif self.modifier == "!":
            out = (f & b) != b
        else:
            out = f == b
        return np.asarray(out, dtype=np.bool_)


#: IPv4 fragment bits as in the ``ip_flags`` column (M more fragments, D don't fragment,
#: R reserved).
FRAG_BITS: dict[str, int] = {"M": 0x1, "D": 0x2, "R": 0x4}


@dataclass(frozen=True, slots=True)
class FragbitsTest:
    """``fragbits:[+*!]<MDR>`` over ``ip_flags`` (Suricata ``src/detect-fragbits.c``)."""

    bits: int
    modifier: str = ""

    @classmethod
    def parse(cls, text: str) -> FragbitsTest:
        """Parse a ``fragbits`` value such as ``M``, ``!D``, ``+MR``."""
        t = text.replace(" ", "")
        mods = {ch for ch in t if ch in "+*!"}
        letters = [ch for ch in t.upper() if ch not in "+*!"]
        if len(mods) > 1 or not letters or any(ch not in FRAG_BITS for ch in letters):
            raise RuleSyntaxError(f"bad fragbits {text!r}")
        bits = 0
        for ch in letters:
            bits |= FRAG_BITS[ch]
        return cls(bits, mods.pop() if mods else "")

    def test(self, ip_flags: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        """Vectorised test over the ``ip_flags`` column."""
        p = ip_flags.astype(np.int64, copy=False) & 0x7
        d = self.bits
        if self.modifier == "*":
            out = (p & d) > 0
        elif self.modifier == "+":  # Suricata: all listed set and some other bit set too
            out = ((p & d) == d) & ((p - d) > 0)
        elif self.modifier == "!":
            out = (p & d) != d
        else:
            out = p == d
        return np.asarray(out, dtype=np.bool_)


#: ``ip_proto`` names Suricata accepts (a subset of /etc/protocols).
PROTO_NAMES: dict[str, int] = {"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17,
                               "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46,
                               "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58,
                               "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "pim": 103,
                               "sctp": 132}


def parse_ip_proto(text: str) -> IntTest:
    """``ip_proto:[!|<|>]N`` or a protocol name."""
    t = text.strip()
    prefix = ""
    if t[:1] in "!<>":
        prefix, t = t[0], t[1:].strip()
    if t.lower() in PROTO_NAMES:
        t = str(PROTO_NAMES[t.lower()])
    return IntTest.parse(prefix + t, bits=8)


__all__ = ["FLAG_BITS", "FRAG_BITS", "PROTO_NAMES", "FlagsTest", "FragbitsTest", "IntTest",
           "parse_ip_proto"]
