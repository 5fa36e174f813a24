"""Errors of the signature engine (part of teiten's one exception tree)."""

from __future__ import annotations

from teiten.core.errors import ConfigError


class RuleError(ConfigError):
    """A rule or rule file cannot be used."""


class RuleSyntaxError(RuleError):
    """A rule's text does not parse; the loader records it as a skip with file and line."""


class UnsupportedRuleError(RuleError):
    """A rule parses but uses something teiten cannot evaluate on a packet table."""


__all__ = ["RuleError", "RuleSyntaxError", "UnsupportedRuleError"]
