"""Load rule files: every rule is compiled or skipped with a located reason.

A whole ET Open or Snort community file loads without an exception: comment lines and
commented-out rules (``# alert ...``, counted as *disabled*) are passed over, ``\\``
continuation lines are joined, and each rule either compiles into a
:class:`~teiten.signatures.compiler.CompiledRule` or becomes a :class:`Skipped` entry with
file, line and reason. :meth:`RuleSet.summary` counts both, by reason.

Examples
--------
>>> rs = load_rules_text('''
... alert icmp any any -> any any (msg:"ping"; itype:8; sid:1;)
... alert tcp any any -> any 80 (msg:"web"; flow:established,to_server; sid:2;)
... ''', source="demo.rules")
>>> len(rs.rules), rs.skipped[0].reason
(1, 'flow:established,to_server needs stream state')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from teiten.core.errors import InputError
from teiten.signatures.addresses import Variables
from teiten.signatures.compiler import CompiledRule, compile_rule
from teiten.signatures.errors import RuleError, RuleSyntaxError, UnsupportedRuleError
from teiten.signatures.rule import parse_rule

_DISABLED = re.compile(r"^#+\s*(alert|drop|pass|reject|rejectsrc|rejectdst|rejectboth|sdrop)\s")
#: The bundled darknet rule file's resource name.
BUNDLED = "teiten-darknet.rules"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A rule that was not compiled: where it is and why."""

    source: str
    line: int
    sid: int | None
    kind: str  # "syntax" or "unsupported"
    reason: str

    def __str__(self) -> str:
        sid = f" sid {self.sid}" if self.sid else ""
        return f"{self.source}:{self.line}:{sid} {self.kind}: {self.reason}"


@dataclass
class RuleSet:
    """Compiled rules plus everything that was skipped."""

    rules: list[CompiledRule] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    disabled: int = 0
    sources: list[str] = field(default_factory=list)

    def extend(self, other: RuleSet) -> None:
        """Add another set's rules; a later duplicate (gid, sid) is skipped with a reason."""
        seen = {(r.rule.gid, r.rule.sid) for r in self.rules}
        for r in other.rules:
            key = (r.rule.gid, r.rule.sid)
            if key in seen:
                self.skipped.append(Skipped(r.source, r.line, r.rule.sid, "syntax",
                                            f"duplicate sid {r.rule.sid}"))
                continue
            seen.add(key)
            self.rules.append(r)
        self.skipped += other.skipped
        self.disabled += other.disabled
        self.sources += other.sources

    def summary(self) -> dict[str, object]:
        """Counts: compiled, skipped (by kind and by reason), disabled, cap-sensitive."""
        reasons = Counter(_reason_key(s.reason) for s in self.skipped)
        return {
            "sources": list(self.sources),
            "compiled": len(self.rules),
            "skipped": len(self.skipped),
            "skipped_syntax": sum(s.kind == "syntax" for s in self.skipped),
            "skipped_unsupported": sum(s.kind == "unsupported" for s in self.skipped),
            "disabled": self.disabled,
            "content_rules": sum(bool(r.rule.contents) for r in self.rules),
            "cap_sensitive": sum(r.cap_sensitive() for r in self.rules),
            "reasons": dict(reasons.most_common()),
        }


def _reason_key(reason: str) -> str:
    """Group reasons: keep keyword names, drop values (``flow:established,...`` → ``flow``)."""
    if reason.startswith("flow:"):
        return "flow (needs stream state)"
    if reason.startswith("undefined"):
        return reason
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    buf: list[str] = []
    start = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf:
            start = no
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        yield start, " ".join(b.strip() for b in buf)
        buf = []
    if buf:
        yield start, " ".join(b.strip() for b in buf)


def load_rules_text(text: str, *, source: str = "<rules>",
                    variables: Variables | None = None) -> RuleSet:
    """Parse and compile rule text; never raises for a bad rule."""
    var = variables or Variables.defaults()
    rs = RuleSet(sources=[source])
    seen: set[tuple[int, int]] = set()
    for no, line in _logical_lines(text):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            rs.disabled += bool(_DISABLED.match(s))
            continue
        sid = _sid_hint(s)
        try:
            rule = parse_rule(s)
            compiled = compile_rule(rule, var, source=source, line=no)
        except UnsupportedRuleError as exc:
            rs.skipped.append(Skipped(source, no, sid, "unsupported", str(exc)))
            continue
        except RuleError as exc:
            rs.skipped.append(Skipped(source, no, sid, "syntax", str(exc)))
            continue
        except (ValueError, IndexError) as exc:  # defensive: a parser bug must not stop a load
            rs.skipped.append(Skipped(source, no, sid, "syntax", f"unparsable: {exc}"))
            continue
        key = (rule.gid, rule.sid)
        if key in seen:
            rs.skipped.append(Skipped(source, no, sid, "syntax", f"duplicate sid {rule.sid}"))
            continue
        seen.add(key)
        rs.rules.append(compiled)
    return rs


def _sid_hint(line: str) -> int | None:
    m = re.search(r"[(;]\s*sid\s*:\s*(\d+)", line)
    return int(m.group(1)) if m else None


def load_rules(paths: Iterable[str | Path], *, variables: Variables | None = None,
               bundled: bool = False) -> RuleSet:
    """Load rule files (and the bundled darknet rules first when ``bundled``).

    Raises
    ------
    InputError
        A file cannot be read at all.
    """
    rs = RuleSet()
    if bundled:
        rs.extend(load_rules_text(bundled_rules_text(), source=BUNDLED, variables=variables))
    for p in paths:
        path = Path(p)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"{path}: cannot read rule file: {exc.strerror}") from exc
        rs.extend(load_rules_text(text, source=str(path), variables=variables))
    return rs


def bundled_rules_text() -> str:
    """The text of teiten's bundled darknet rules."""
    return (resources.files("teiten.signatures") / "rules" / BUNDLED).read_text("utf-8")


__all__ = ["BUNDLED", "RuleSet", "RuleSyntaxError", "Skipped", "bundled_rules_text",
           "load_rules", "load_rules_text"]
