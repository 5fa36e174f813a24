"""The one exception tree of teiten.

Every error teiten raises on purpose derives from :class:`TeitenError`; the CLI turns these
into one clear line and a documented exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class TeitenError(Exception):
    """Base of every error teiten raises on purpose."""

    exit_code = 1


class UsageError(TeitenError):
    """The command line or a parameter does not make sense."""

    exit_code = 2


class ConfigError(TeitenError):
    """A configuration file (sensor registry, rule variables, scenario) is invalid."""

    exit_code = 2


class InputError(TeitenError):
    """An input cannot be used at all (missing, unreadable, not a capture)."""

    exit_code = 3


class CaptureFormatError(InputError):
    """The input is not a capture teiten can read (bad magic, unknown format)."""


class DamagedInputError(TeitenError):
    """``--strict`` was given and an input had damaged or skipped records."""

    exit_code = 4


class StoreError(TeitenError):
    """The packet store is missing, unreadable or inconsistent."""

    exit_code = 5


class SchemaError(StoreError):
    """A table does not match its declared schema."""


@dataclass(frozen=True, slots=True)
class Damage:
    """A located problem in an input: what was skipped and where.

    Parameters
    ----------
    input : str
        The input's name (path, or ``-`` for standard input).
    record : int
        Record number in the input, counted from 0 (-1 when not at a record).
    offset : int
        Byte offset of the record (or of the problem) in the uncompressed input.
    reason : str
        Short machine-friendly reason, e.g. ``truncated-record``, ``non-ip``.
    """

    input: str
    record: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"{self.input}: record {self.record} at byte {self.offset}: {self.reason}"
