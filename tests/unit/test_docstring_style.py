"""One docstring markup everywhere: Google style with Markdown code spans (the API
reference is rendered from them by mkdocstrings), never reST roles."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLE = re.compile(r":(?:class|mod|func|meth|attr|data|exc|obj|ref):`")


def test_no_rest_roles_in_the_packages() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("models", "repositories", "integrations", "connectors", "alembic")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE.search(line)
    ]
    assert not offenders, "reST roles (use `name`): " + ", ".join(offenders)
