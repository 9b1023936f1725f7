"""CLI tests run in an empty directory with no configuration in the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CONFIG_PREFIXES = ("DB_", "CONFIG_KEY", "CONNECTORS_", "CONNECTOR_")


@pytest.fixture(autouse=True)
def clean_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith(CONFIG_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
