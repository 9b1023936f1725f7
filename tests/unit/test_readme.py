"""The README opens with the two commands, and its service example runs."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_opens_with_make_demo_and_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None and text.index(first_block.group(0)) < text.index("##")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_the_service_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = [b for b in python_blocks() if "open_databases" in b]
    exec(compile(block, str(README), "exec"), {"tmp": tmp_path})
    assert "refused:" in capsys.readouterr().out


def test_the_ticket_fake_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks using the ticket fakes run in full, their test functions included."""
    blocks = [b for b in python_blocks() if "integrations.tickets.testing" in b]
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, str(README), "exec"), namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
        for test in tests:
            test()


def test_the_other_examples_compile_and_import() -> None:
    """Examples that would reach a live service are compiled and their imports resolved."""
    others = [b for b in python_blocks() if "open_databases" not in b]
    assert others
    for block in others:
        compile(block, str(README), "exec")
        for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)$", block, re.M):
            imported = importlib.import_module(module)
            for name in names.split(","):
                assert hasattr(imported, name.strip()), (module, name)


def test_every_original_key_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    example = (README.parent / "config.example.ini").read_text(encoding="utf-8")
    for suffix in ("HOST", "DATABASE", "USER", "PASSWORD_SECRET", "PORT", "URL"):
        assert f"DB_<NAME>_{suffix}" in text
        for name in ("APP", "CHAT", "MANAGEMENT", "REAL_ESTATE"):
            assert f"DB_{name}_{suffix}" in example
    assert "alembic upgrade head" in text and "CONFIG_KEY" in example


def test_the_voice_testing_example_runs() -> None:
    """The README's example of a user's own test against the shipped Google fake passes."""
    (block,) = [b for b in python_blocks() if "integrations.voice.testing" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, str(README), "exec"), namespace)
    tests = [test for name, test in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        assert callable(test)
        test()
