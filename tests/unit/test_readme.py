"""The README opens with the two commands, and every Python block runs as pasted.

Each ```python block is written to a file of its own in an empty directory and run by a
fresh interpreter, twice (an example that works once only is a broken example); a block
that defines ``test_*`` functions is run by pytest, as in a user's own suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1))
        for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


def test_the_readme_opens_with_make_demo_and_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None and text.index(first_block.group(0)) < text.index("##")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


@pytest.mark.parametrize(
    ("line", "code"), python_blocks(), ids=[f"line-{line}" for line, _ in python_blocks()]
)
def test_every_python_block_runs_as_pasted(line: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / f"readme_line_{line}.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("DB_", "CONNECTORS"))}
    command = [sys.executable, str(script)]
    if re.search(r"^def test_", code, re.M):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    for run in ("first", "second"):
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"README line {line}, {run} run:\n{done.stdout}{done.stderr}"


def test_every_original_key_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    example = (README.parent / "config.example.ini").read_text(encoding="utf-8")
    for suffix in ("HOST", "DATABASE", "USER", "PASSWORD_SECRET", "PORT", "URL"):
        assert f"DB_<NAME>_{suffix}" in text
        for name in ("APP", "CHAT", "MANAGEMENT", "REAL_ESTATE"):
            assert f"DB_{name}_{suffix}" in example
    assert "alembic upgrade head" in text and "CONFIG_KEY" in example


def test_every_operational_key_is_documented() -> None:
    from connectors.dboptions import OPTION_SUFFIXES

    text = README.read_text(encoding="utf-8")
    example = (README.parent / "config.example.ini").read_text(encoding="utf-8")
    for suffix in OPTION_SUFFIXES:
        assert f"DB_APP_{suffix.upper()}" in example
        assert f"_{suffix.upper()}" in text


def test_the_models_table_is_the_generated_one() -> None:
    from models.__main__ import reference

    text = README.read_text(encoding="utf-8")
    shown = text.split("<!-- models:start -->\n", 1)[1].split("<!-- models:end -->", 1)[0]
    assert shown == reference(), "run `python -m models` and paste its output into the README"


def test_the_troubleshooting_messages_are_the_real_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each row's message is what the library says (the parts around "…" verbatim)."""
    from connectors.secrets import ConfigError, encrypt, generate_key
    from connectors.settings import load_settings
    from models import User
    from repositories import AccessDenied, Context, SchemaError, connect

    text = README.read_text(encoding="utf-8")
    rows = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([^`]+)`", rows, re.M)

    def said(error: Exception) -> str:
        return str(error).splitlines()[0]

    messages = []
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith(("DB_", "CONFIG_KEY", "CONNECTORS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DB_REALESTATE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigError) as err:
        load_settings()
    messages.append(said(err.value))
    monkeypatch.delenv("DB_REALESTATE_URL")
    monkeypatch.setenv("DB_APP_HOST", "db:5432")
    monkeypatch.setenv("DB_APP_PASSWORD_SECRET", encrypt("pw", generate_key()))
    with pytest.raises(ConfigError) as err:
        load_settings()
    messages.append(said(err.value))
    db = connect(f"sqlite:///{tmp_path / 'a.db'}", create_tables=False)
    with pytest.raises(SchemaError) as err:
        db.repository(User).count()
    messages.append(said(err.value))
    user = db.with_context(Context("ann", "a", "user"))
    db.ensure_schema(User)
    with pytest.raises(AccessDenied) as err:
        user.repository(User).create(User(username="x", mandate_id="b"))
    messages.append(said(err.value))
    db.close()
    for row in documented:
        if row.startswith(("app: database unavailable", "User: lock not", "postgresql+psycopg")):
            continue  # a down server, a held lock, a missing extra: tests of their own
        parts = [p for p in row.split("…") if p.strip(" ()")]
        assert any(all(p.strip(" (") in m for p in parts) for m in messages), (row, messages)
