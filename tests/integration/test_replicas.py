"""Read replicas on a real streaming standby (``pg_basebackup -R`` of a throwaway cluster).

Which server answered is told by what it sees: with the standby's replay paused, a row
just written on the primary exists only there.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from models import User
from repositories import Context, connect
from repositories.pgtesting import Cluster, cluster, free_port, replica_of
from tests.conftest import IN_CI

pytestmark = pytest.mark.postgres

WRITER = Context("writer", "m1", "admin")
READER = Context("reader", "m1", "admin")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Cluster, Cluster]]:
    try:
        with cluster() as primary, replica_of(primary) as replica:
            yield primary, replica
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL's server binaries for the replica tests: {exc}")
        pytest.skip(str(exc))


def _sql(url: str, statement: str) -> Any:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def caught_up(primary: Cluster, replica: Cluster) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    lsn = _sql(primary.url(), "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + 30
    while not _sql(replica.url(), f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica does not catch up"
        time.sleep(0.02)


@pytest.fixture
def database(servers: tuple[Cluster, Cluster]) -> Iterator[tuple[str, str]]:
    """A fresh database with the User table, on the primary and (replayed) the replica;
    replay paused on the replica for the test, resumed afterwards."""
    primary, replica = servers
    name = f"r_{uuid.uuid4().hex[:10]}"
    _sql(primary.url(), f'CREATE DATABASE "{name}"')
    primary_url = make_url(primary.url()).set(database=name).render_as_string(False)
    replica_url = make_url(replica.url()).set(database=name).render_as_string(False)
    setup = connect(primary_url, create_tables=True)
    setup.ensure_schema(User)
    setup.close()
    caught_up(primary, replica)
    _sql(replica.url(), "SELECT pg_wal_replay_pause()")
    try:
        yield primary_url, replica_url
    finally:
        _sql(replica.url(), "SELECT pg_wal_replay_resume()")
        caught_up(primary, replica)
        _sql(primary.url(), f'DROP DATABASE "{name}" WITH (FORCE)')


def test_reads_go_to_the_replica_writes_to_the_primary(database: tuple[str, str]) -> None:
    primary, replica = database
    db = connect(primary, replicas=[replica], replica_max_lag=3600)
    writer, reader = db.with_context(WRITER), db.with_context(READER)
    user = writer.repository(User).create(User(username="ada"))  # replay is paused
    users = reader.repository(User)
    assert users.get(user.id) is None  # the replica has not replayed it
    assert users.count() == 0
    assert users.find() == []
    assert users.page().items == []
    direct = connect(primary, context=READER)
    assert direct.repository(User).get(user.id) == user  # it is on the primary
    db.close()
    direct.close()


def test_a_context_reads_its_own_writes_then_the_replica(database: tuple[str, str]) -> None:
    primary, replica = database
    db = connect(primary, replicas=[replica], replica_max_lag=3600, read_your_writes=1.0)
    users = db.with_context(WRITER).repository(User)
    user = users.create(User(username="ada"))
    assert users.get(user.id) == user  # right after its write: the primary
    assert users.find(where={"username": "ada"}) == [user]
    time.sleep(1.2)
    assert users.get(user.id) is None  # the window has passed: the (paused) replica
    db.close()


def test_reads_inside_a_transaction_go_to_the_primary(database: tuple[str, str]) -> None:
    primary, replica = database
    db = connect(primary, replicas=[replica], replica_max_lag=3600)
    user = db.with_context(WRITER).repository(User).create(User(username="ada"))
    reader = db.with_context(READER)
    with reader.transaction():
        assert reader.repository(User).get(user.id) == user
        assert reader.repository(User).count() == 1
    assert reader.repository(User).get(user.id) is None
    db.close()


def test_a_lagging_replica_is_skipped(database: tuple[str, str]) -> None:
    primary, replica = database
    db = connect(primary, replicas=[replica], replica_max_lag=0.5, replica_check_interval=0.0)
    user = db.with_context(WRITER).repository(User).create(User(username="ada"))
    time.sleep(1.0)  # the replica's last replayed transaction is now over 0.5 s old
    assert db.with_context(READER).repository(User).get(user.id) == user
    status = db._core.replicas.status()  # type: ignore[attr-defined]
    assert status[0]["ok"] is False and "behind" in status[0]["detail"]
    db.close()


def test_a_replica_that_is_down_is_skipped(servers: tuple[Cluster, Cluster]) -> None:
    primary, _ = servers
    setup = connect(primary.url(), create_tables=True)
    setup.ensure_schema(User)
    setup.close()
    with replica_of(primary) as replica:
        db = connect(primary.url(), replicas=[replica.url()], replica_check_interval=0.0)
        reader = db.with_context(READER)
        assert reader.repository(User).count() >= 0  # the replica answers
        replica.stop("immediate")
        for _ in range(3):  # its pinned connection drops, then it cannot be reached
            assert reader.repository(User).find() is not None
        status = db._core.replicas.status()  # type: ignore[attr-defined]
        assert status[0]["ok"] is False and "unavailable" in status[0]["detail"]
        db.close()


def _probe(env: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
    from typer.testing import CliRunner

    from connectors.cli import app

    result = CliRunner().invoke(app, ["db", "check", "--db", "app", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def probe_env(
    servers: tuple[Cluster, Cluster], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    for name in list(os.environ):
        if name.upper().startswith(("DB_", "CONNECTORS_", "CONFIG_KEY")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    primary, replica = servers
    name = f"p_{uuid.uuid4().hex[:10]}"
    _sql(primary.url(), f'CREATE DATABASE "{name}"')
    caught_up(primary, replica)
    env = {"DB_APP_URL": primary.url(name), "DB_APP_REPLICA_URLS": replica.url(name)}
    from typer.testing import CliRunner

    from connectors.cli import app

    upgraded = CliRunner().invoke(app, ["db", "upgrade", "--db", "app"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    return env


def test_db_check_json_is_a_probe_of_primary_and_replicas(probe_env: dict[str, str]) -> None:
    code, report = _probe(probe_env)
    assert code == 0
    (app_db,) = report
    assert app_db["ok"] is True and app_db["unreachable"] is False
    assert [r["ok"] for r in app_db["replicas"]] == [True]
    assert app_db["replicas"][0]["lag_seconds"] is not None


def test_a_replica_down_is_reported_not_fatal(probe_env: dict[str, str]) -> None:
    down = f"postgresql://postgres:pw-of-replica@127.0.0.1:{free_port()}/postgres"
    code, report = _probe({**probe_env, "DB_APP_REPLICA_URLS": down})
    assert code == 0  # reads skip it: the database itself is fine
    (replica,) = report[0]["replicas"]
    assert replica["ok"] is False and "unavailable" in replica["detail"]
    assert "pw-of-replica" not in json.dumps(report)


def test_a_server_that_never_answers_is_unreachable_within_the_timeout(
    probe_env: dict[str, str],
) -> None:
    with socket.socket() as silent:  # accepts TCP connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        env = {
            "DB_APP_URL": f"postgresql://postgres@127.0.0.1:{port}/postgres",
            "DB_APP_CONNECT_TIMEOUT": "2",
        }
        code, report = _probe(env)
    assert code == 5
    assert report[0]["unreachable"] is True and "timeout" in report[0]["detail"].lower()


def test_a_replica_that_never_answers_is_skipped(servers: tuple[Cluster, Cluster]) -> None:
    primary, _ = servers
    setup = connect(primary.url(), create_tables=True)
    setup.ensure_schema(User)
    setup.close()
    with socket.socket() as silent:  # accepts TCP connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/postgres"
        db = connect(primary.url(), replicas=[url], connect_timeout=30)
        reader = db.with_context(READER).repository(User)
        for _ in range(3):  # the first waits for the replica's short connect timeout
            assert reader.count() >= 0
        replica = db._core.replicas.replicas[0]  # type: ignore[attr-defined]
        assert replica.lag is None and "timeout" in replica.problem.lower()
        assert replica.failures == 1  # checked once: the next check waits longer
        db.close()
