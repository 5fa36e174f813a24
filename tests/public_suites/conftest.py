"""The public test-suite captures (fetched once into .cache/, never committed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import public_captures


@pytest.fixture(scope="session")
def public_files() -> list[Path]:
    """Every capture of tcpdump's, libpcap's and Wireshark's test suites (about 800)."""
    root = public_captures.fetch(public_captures.DEFAULT_CACHE) / "files"
    files = public_captures.capture_files([root])
    assert len(files) > 700, f"expected the ~800 test-suite captures under {root}"
    return files
