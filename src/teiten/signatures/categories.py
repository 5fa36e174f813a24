"""Map rules to the NPA report's categories through an editable TOML file.

Resolution order for one rule: the file's ``[sid]`` entry, then the rule's own
``metadata: npa_category <name>``, then the first ``[[msg]]`` pattern found in the message
(case-insensitive substring), then ``[classtype]``, then ``default``. The bundled mapping is
``categories.toml`` next to this module.

Examples
--------
>>> from teiten.signatures.rule import parse_rule
>>> cm = CategoryMap.bundled()
>>> r = parse_rule('alert udp any any -> any 53 (msg:"x"; classtype:attempted-dos; sid:5;)')
>>> cm.category(r)
'DoS'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from teiten.core.errors import ConfigError
from teiten.signatures.rule import Rule

#: The NPA categories, in the order the report lists them.
NPA_CATEGORIES: tuple[str, ...] = ("Worm", "Scan", "UDP spam", "DoS", "DNS", "Others")


@dataclass(frozen=True)
class CategoryMap:
    """A loaded mapping; see the module docstring for the resolution order."""

    categories: tuple[str, ...] = NPA_CATEGORIES
    default: str = "Others"
    by_sid: Mapping[int, str] = field(default_factory=dict)
    by_msg: tuple[tuple[str, str], ...] = ()
    by_classtype: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<categories>") -> CategoryMap:
        """Build from parsed TOML; every named category must be declared in ``categories``."""
        cats = tuple(str(c) for c in data.get("categories", NPA_CATEGORIES))
        default = str(data.get("default", "Others"))

        def check(value: object, where: str) -> str:
            if not isinstance(value, str) or value not in cats:
                raise ConfigError(f"{source}: {where}: {value!r} is not one of {list(cats)}")
            return value

        check(default, "default")
        try:
            by_sid = {int(k): check(v, f"sid {k}") for k, v in data.get("sid", {}).items()}
        except ValueError as exc:
            raise ConfigError(f"{source}: [sid] keys must be integers") from exc
        by_msg = tuple((str(m["pattern"]).lower(), check(m.get("category"), "msg"))
                       for m in data.get("msg", []))
        by_cls = {str(k): check(v, f"classtype {k}") for k, v in data.get("classtype", {}).items()}
        return cls(cats, default, by_sid, by_msg, by_cls)

    @classmethod
    def load(cls, path: str | Path) -> CategoryMap:
        """Read a mapping TOML file."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read category mapping: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from exc
        return cls.from_dict(data, str(p))

    @classmethod
    def bundled(cls) -> CategoryMap:
        """The mapping shipped with teiten."""
        text = (resources.files("teiten.signatures") / "categories.toml").read_text("utf-8")
        return cls.from_dict(tomllib.loads(text), "categories.toml")

    def category(self, rule: Rule) -> str:
        """The category of one rule."""
        if rule.sid in self.by_sid:
            return self.by_sid[rule.sid]
        meta = rule.meta_value("npa_category")
        if meta:
            name = meta.replace("_", " ")
            for c in self.categories:
                if c.lower() == name.lower():
                    return c
        msg = rule.msg.lower()
        for pattern, cat in self.by_msg:
            if pattern in msg:
                return cat
        if rule.classtype and rule.classtype in self.by_classtype:
            return self.by_classtype[rule.classtype]
        return self.default


__all__ = ["NPA_CATEGORIES", "CategoryMap"]
