"""The built wheel, installed in a fresh venv outside the checkout, migrates and runs.

What a service's deployment does: ``pip install connectors_layer-*.whl`` (no extras), then
``connectors db upgrade`` / ``db check`` against PostgreSQL with a bare ``postgresql://``
URL, ``python -m connectors.migrate``, and the demo on the embedded JSON default, all from
a directory that holds no file of the source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("APP", "CHAT", "MANAGEMENT", "REAL_ESTATE")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel (and only its base dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(ROOT)], work)
    wheel = next(work.glob("connectors_layer-*.whl"))
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], work)
    return bin_dir


def clean_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.upper().startswith(("DB_", "CONNECTORS"))}
    keep.pop("PYTHONPATH", None)
    keep["PATH"] = f"{bin_dir}{os.pathsep}{keep.get('PATH', '')}"
    return {**keep, **extra}


def test_the_installed_wheel_migrates_checks_and_runs_the_demo(
    installed: Path, pg_url: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "service"
    elsewhere.mkdir()
    connectors = str(installed / "connectors")
    # the plain install has psycopg2 only: a bare postgresql:// must use it
    bare = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = clean_env(installed, **{f"DB_{n}_URL": bare for n in NAMES})
    probe = "import connectors, sys; print(connectors.__file__); print('psycopg' in sys.modules)"
    where = run([str(installed / "python"), "-c", probe], elsewhere, env)
    assert str(ROOT) not in where  # the wheel, not the checkout
    assert run([connectors, "--version"], elsewhere, env).startswith("connectors ")
    upgraded = run([connectors, "db", "upgrade"], elsewhere, env)
    assert upgraded.count("alembic upgrade head") == 4
    checked = run([connectors, "db", "check"], elsewhere, env)
    assert checked.count("no drift") == 4
    current = run(
        [str(installed / "python"), "-m", "connectors.migrate", "current"], elsewhere, env
    )
    assert "0001" in current
    demo = run([connectors, "demo"], elsewhere, clean_env(installed))
    assert "demo finished" in demo
    assert (elsewhere / "data" / "demo" / "store").is_dir()
    assert not (elsewhere / "alembic.ini").exists()


def test_a_driver_the_install_lacks_is_one_line_naming_the_extra(
    installed: Path, pg_url: str, tmp_path: Path
) -> None:
    psycopg3 = make_url(pg_url).set(drivername="postgresql+psycopg")
    url = psycopg3.set(password="s3cret-pw").render_as_string(hide_password=False)
    env = clean_env(installed, DB_APP_URL=url)
    done = subprocess.run(
        [str(installed / "connectors"), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 2, output
    assert "pip install 'connectors-layer[psycopg]'" in output
    assert "Traceback" not in output and "s3cret-pw" not in output
    assert len([line for line in output.splitlines() if "psycopg" in line]) == 1, output
