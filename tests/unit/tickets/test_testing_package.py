"""The fakes are part of the installed library: their specs ship as package data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import integrations.tickets.testing as testing
from integrations.tickets.testing.openapi import CLICKUP_SPEC, JIRA_SPEC

ROOT = Path(__file__).resolve().parents[3]


def test_the_specs_live_inside_the_package_and_are_package_data() -> None:
    package_dir = Path(testing.__file__).parent
    for spec in (JIRA_SPEC, CLICKUP_SPEC):
        assert spec.is_file() and spec.parent == package_dir / "specs"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = data["package-data"]["integrations.tickets.testing"]
    for spec in (JIRA_SPEC, CLICKUP_SPEC, package_dir / "specs" / "README.md"):
        relative = spec.relative_to(package_dir).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative
