"""The version recorded in the catalog (``teiten_version``) is the package's."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import teiten

ROOT = Path(__file__).resolve().parents[2]


def test_static_version_is_pyproject_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert teiten.__version__ == project["version"]


def test_static_version_is_installed_version() -> None:
    assert teiten.__version__ == version("teiten")
