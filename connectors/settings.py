"""Settings (stub: the configuration issue replaces this with pydantic-settings).

`database_urls()` is the stable API used by Alembic's env.py and the CLI.
"""

from __future__ import annotations

import os

__all__ = ["DATABASES", "database_urls"]

#: logical database name -> the NAME used in DB_<NAME>_* keys
DATABASES = {"app": "APP", "chat": "CHAT", "management": "MANAGEMENT", "realestate": "REAL_ESTATE"}


def database_urls() -> dict[str, str]:
    """The URL of each logical database (``DB_<NAME>_URL``, else ``jsonfile://./data/<name>``)."""
    return {
        name: os.environ.get(f"DB_{key}_URL") or f"jsonfile://./data/{name}"
        for name, key in DATABASES.items()
    }
