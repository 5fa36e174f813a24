"""Suricata-style signature detection over the packet table, in the NPA report's categories.

Load rules (:func:`load_rules`, the bundled darknet set with ``bundled=True``), evaluate them
vectorised over packet tables (:func:`evaluate` / :class:`Engine`), and summarise alerts per
category, signature, country and day (:mod:`teiten.signatures.tables`).

Examples
--------
>>> rs = load_rules([], bundled=True)
>>> rs.summary()["skipped"]
0
"""

from teiten.signatures.categories import NPA_CATEGORIES, CategoryMap
from teiten.signatures.engine import ALERT_SCHEMA, Engine, Params, evaluate
from teiten.signatures.loader import RuleSet, Skipped, load_rules, load_rules_text
from teiten.signatures.rule import Rule, parse_rule

__all__ = ["ALERT_SCHEMA", "NPA_CATEGORIES", "CategoryMap", "Engine", "Params", "Rule",
           "RuleSet", "Skipped", "evaluate", "load_rules", "load_rules_text", "parse_rule"]
