"""teiten (定点): Internet fixed-point observation.

Captures from darknet sensors become a Parquet packet store; analyses turn the store into the
statistics, detections and monthly situation reports that CSIRTs and agencies publish.
"""

from __future__ import annotations

#: The package version. Written here rather than read from the installed metadata
#: (``importlib.metadata`` costs ~40 ms of every command's start-up); a test checks that it
#: equals ``pyproject.toml``'s.
__version__ = "0.1.0"

__all__ = ["__version__", "open_store"]


def __getattr__(name: str) -> object:
    # open_store is imported lazily so that `import teiten` stays fast for the CLI.
    if name == "open_store":
        from teiten.store import open_store

        return open_store
    raise AttributeError(name)
