"""One contract suite, every backend and both APIs: the `db` fixture is parametrised.

``jsonfile`` joins automatically once `repositories.jsonfile` exists. ``api`` is
``sync`` (`repositories.connect`), ``async`` (`repositories.connect_async`, driven
through `tests.contract.asyncfacade`: every call goes through the async API) or, on
PostgreSQL, ``native`` (``connect_async(url, native=True)``: the asyncio engine).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models import DATABASES, Record
from repositories import Context, Database, connect, connect_async
from tests.contract.asyncfacade import Driver, SyncDatabase

ALL_MODELS: tuple[type[Record], ...] = tuple(m for models in DATABASES.values() for m in models)
BACKENDS = ["sqlite", "postgres", "pgbouncer"]
if importlib.util.find_spec("repositories.jsonfile") is not None:
    BACKENDS.append("jsonfile")

OpenDb = Callable[..., Database]


#: (backend, api) pairs: every backend through both APIs, ``native`` on PostgreSQL only.
VARIANTS = [
    (backend, api)
    for backend in BACKENDS
    for api in ("sync", "async", "native")
    if api != "native" or backend in ("postgres", "pgbouncer")
]


@pytest.fixture(params=VARIANTS, ids=[f"{b}-{a}" for b, a in VARIANTS])
def variant(request: pytest.FixtureRequest) -> tuple[str, str]:
    backend, api = request.param
    return str(backend), str(api)


@pytest.fixture
def backend(variant: tuple[str, str]) -> str:
    return variant[0]


@pytest.fixture
def api(variant: tuple[str, str]) -> str:
    return variant[1]


@pytest.fixture
def open_db(
    backend: str, api: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[OpenDb]:
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
    driver = None if api == "sync" else Driver()

    def factory(context: Context | None = None) -> Database:
        options = {"durability": "none"} if backend == "jsonfile" else {}
        if driver is None:
            db = connect(url, context=context, **options)
        else:
            native = {"native": True} if api == "native" else {}
            opened_async = connect_async(url, context=context, **native, **options)
            db = SyncDatabase(opened_async, driver)  # type: ignore[assignment]
        if not opened:
            db.ensure_schema(*ALL_MODELS)
        opened.append(db)
        return db

    yield factory
    for db in opened:
        db.close()
    if driver is not None:
        driver.close()


@pytest.fixture
def db(open_db: OpenDb) -> Database:
    """The backend's database as the system context, with every domain table."""
    return open_db()
