"""One contract suite, every backend: the `db` fixture is parametrised over them.

``jsonfile`` joins automatically once `repositories.jsonfile` exists.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models import DATABASES, Record
from repositories import Context, Database, connect

ALL_MODELS: tuple[type[Record], ...] = tuple(m for models in DATABASES.values() for m in models)
BACKENDS = ["sqlite", "postgres", "pgbouncer"]
if importlib.util.find_spec("repositories.jsonfile") is not None:
    BACKENDS.append("jsonfile")

OpenDb = Callable[..., Database]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenDb]:
    """A factory opening the backend's database (same store on every call) as a context."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
    elif backend == "pgbouncer":  # PostgreSQL through PgBouncer in transaction pooling
        url = request.getfixturevalue("pgbouncer_url")
    elif backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        url = f"jsonfile://{tmp_path / 'store'}"
    opened: list[Database] = []

    def factory(context: Context | None = None) -> Database:
        options = {"durability": "none"} if backend == "jsonfile" else {}
        db = connect(url, context=context, **options)
        if not opened:
            db.ensure_schema(*ALL_MODELS)
        opened.append(db)
        return db

    yield factory
    for db in opened:
        db.close()


@pytest.fixture
def db(open_db: OpenDb) -> Database:
    """The backend's database as the system context, with every domain table."""
    return open_db()
