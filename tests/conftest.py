"""Shared fixtures: a real PostgreSQL for every test run.

Resolution order (DEVELOPERS.md): ``TEST_DATABASE_URL`` if set; else testcontainers
where a Docker engine answers; else a server on 127.0.0.1:5432; else a throwaway cluster
from local PostgreSQL binaries (initdb/pg_ctl). Each run creates its own database
(``connectors_test_<hex>``) and drops it afterwards; each test that asks for `pg_url`
works in its own schema, so reruns and concurrent runs never collide. Under ``CI=true``
a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from repositories.pgtesting import PgBouncer, pgbouncer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _docker_running() -> bool:
    sock = Path("/var/run/docker.sock")
    if not sock.exists() and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        out = subprocess.run(["docker", "info"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


@contextlib.contextmanager
def _local_cluster() -> Iterator[str | None]:
    """Start a throwaway cluster from local binaries (initdb + pg_ctl), if there are any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    bindir = next((c for c in candidates if (c / "initdb").exists()), None)
    if bindir is None and shutil.which("initdb"):
        bindir = Path(shutil.which("initdb") or "").parent
    if bindir is None:
        yield None
        return
    workdir = Path(tempfile.mkdtemp(prefix="connectors-pg-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(workdir, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """An admin URL of a reachable PostgreSQL server (see module docstring)."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if _docker_running():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg2") as container:
            yield container.get_connection_url()
        return
    local = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    if _reachable(local):
        yield local
        return
    with _local_cluster() as cluster_url:
        if cluster_url is not None and _reachable(cluster_url):
            yield cluster_url
            return
    message = "no PostgreSQL: set TEST_DATABASE_URL, run Docker, or start one on 127.0.0.1:5432"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database of its own for this test session (worker), dropped at the end."""
    name = f"connectors_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
    url = make_url(postgres_server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_database_url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema of their own (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_database_url)
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        for _ in range(3):
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                break
            except sa.exc.OperationalError:
                time.sleep(0.5)
        engine.dispose()


@pytest.fixture(scope="session")
def pgbouncer_server(postgres_server_url: str) -> Iterator[PgBouncer]:
    """A real PgBouncer (transaction pooling) in front of the test server, for this session."""
    server = make_url(postgres_server_url)
    try:
        with pgbouncer(
            server.port or 5432,
            server.host or "127.0.0.1",
            server.username or "postgres",
            server.password if isinstance(server.password, str) else None,
        ) as bouncer:
            yield bouncer
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"CI runs the contract suite through PgBouncer: {exc} (make installs it)")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pgbouncer_database(postgres_server_url: str) -> Iterator[str]:
    """A database of this session's own that tests reach through PgBouncer."""
    name = f"connectors_bounce_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pgbouncer_url(pgbouncer_server: PgBouncer, pgbouncer_database: str) -> str:
    """A URL through PgBouncer to a database that is empty for this test.

    PgBouncer passes no ``options`` startup parameter (so not the ``search_path`` that
    `pg_url` isolates tests with), and a ``SET`` would be session state that transaction
    pooling hands to other clients. So the tests of one session share one database whose
    ``public`` schema is dropped and made again before each test: a test sees exactly
    what a fresh database holds, and its connections carry no state of their own.
    """
    engine = sa.create_engine(pgbouncer_database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    database = make_url(pgbouncer_database).database or ""
    return pgbouncer_server.url(database, make_url(pgbouncer_database).username or "postgres")


def quote_url_part(value: str) -> str:
    return quote(value, safe="")
