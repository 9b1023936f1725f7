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
