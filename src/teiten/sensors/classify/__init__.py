"""First-payload classification: which protocol a scanner spoke first, and its key fields.

:func:`classify` tries each protocol's pure function in a fixed order (most specific first) and
returns the first match; anything else is ``raw`` (or ``empty`` when nothing was sent). The
per-protocol functions live in small modules (:mod:`.text`, :mod:`.tls`, :mod:`.tns`,
:mod:`.windows`, :mod:`.db`); adding a protocol is one function and one line in
:data:`CLASSIFIERS`. No classifier raises on any input.

Examples
--------
>>> c = classify(b"SSH-2.0-libssh2_1.9.0\\r\\n")
>>> c.protocol, c.fields["software"]
('ssh', 'libssh2_1.9.0')
>>> classify(b"\\x00\\x01garbage").protocol
'raw'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from teiten.sensors.classify import db, text, tls, tns, windows

Classifier = Callable[[bytes], "dict[str, str] | None"]

#: (protocol name, classifier) in the order they are tried.
CLASSIFIERS: tuple[tuple[str, Classifier], ...] = (
    ("tls", tls.client_hello),
    ("ssh", text.ssh),
    ("sip", text.sip),
    ("http", text.http),
    ("rdp", windows.rdp),
    ("smb", windows.smb),
    ("postgresql", db.postgresql),
    ("mongodb", db.mongodb),
    ("tns", tns.connect),
    ("mysql", db.mysql),
    ("mssql", db.mssql),
    ("redis", db.redis),
    ("telnet", text.telnet),
)

#: Every protocol label :func:`classify` can return.
PROTOCOLS: tuple[str, ...] = (*(name for name, _ in CLASSIFIERS), "raw", "empty")


@dataclass(frozen=True, slots=True)
class Classification:
    """The protocol of a first payload and the fields extracted from it.

    Parameters
    ----------
    protocol : str
        One of :data:`PROTOCOLS`.
    fields : Mapping[str, str]
        Extracted fields (wire strings, bounded and with control characters escaped).
    """

    protocol: str
    fields: Mapping[str, str] = field(default_factory=dict)


def classify(data: bytes) -> Classification:
    """Classify a first payload; never raises.

    Parameters
    ----------
    data : bytes
        The first bytes the peer sent (possibly truncated).

    Returns
    -------
    Classification
        ``empty`` for no bytes, ``raw`` when no classifier matches.
    """
    if not data:
        return Classification("empty")
    for name, fn in CLASSIFIERS:
        try:
            got = fn(data)
        except Exception:  # a classifier bug must not lose the record; tests keep this unused
            got = None
        if got is not None:
            return Classification(name, got)
    return Classification("raw")


__all__ = ["CLASSIFIERS", "PROTOCOLS", "Classification", "classify"]
