"""Helpers of the JSON store's unit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def edit(path: Path, **changes: Any) -> None:
    """Change a record file in place, as an editor or a script would (no journal line)."""
    path.write_text(json.dumps({**json.loads(path.read_text("utf-8")), **changes}), "utf-8")
