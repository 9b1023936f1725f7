"""``make demo`` runs ``connectors demo``: no configuration, no PostgreSQL, idempotent;
and again with every ``DB_*_URL`` pointing at PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.demo import DEMO_MANDATES
from models import Mandate, Property
from repositories import connect

pytest.importorskip("repositories.jsonfile")

runner = CliRunner()
TITLES = ("What each user sees", "Cross-tenant", "Audit trail", "Copy of the demo")


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("DB_", "CONFIG_KEY", "CONNECTORS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run_demo(env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, ["demo"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    for title in TITLES:
        assert title in result.stdout
    assert "demo finished" in result.stdout
    return result.stdout


def test_demo_runs_twice_on_a_fresh_directory(tmp_path: Path) -> None:
    first = run_demo()
    assert "refused (AccessDenied)" in first and "not visible (None)" in first
    second = run_demo()
    assert second.count("equal") == first.count("equal") >= 10
    copy = connect(f"sqlite:///{tmp_path / 'data/demo/copy/realestate.db'}")
    try:
        assert copy.repository(Property).count() == 9  # 8 + the forged one
    finally:
        copy.close()


def test_the_console_script_like_make_demo(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("connectors")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("DB_", "CONNECTORS_"))}
    done = subprocess.run(
        [str(script), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "demo finished" in done.stdout and (tmp_path / "data/demo/store").is_dir()


def test_demo_against_postgres_is_idempotent(pg_url: str) -> None:
    env = {f"DB_{key}_URL": pg_url for key in ("APP", "CHAT", "MANAGEMENT", "REAL_ESTATE")}
    run_demo(env)
    db = connect(pg_url)
    try:
        # someone else's data in the same database survives the demo
        db.repository(Mandate).create(Mandate(id="not-the-demo", name="Other"))
        db.repository(Property).create(Property(title="theirs", mandate_id="not-the-demo"))
        out = run_demo(env)
        assert "postgresql" in out
        assert db.repository(Property).count({"mandate_id__in": list(DEMO_MANDATES)}) == 9
        assert db.repository(Property).count({"mandate_id": "not-the-demo"}) == 1
        assert db.repository(Mandate).count() == 3
    finally:
        db.close()
