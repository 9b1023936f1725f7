"""PgBouncer in transaction pooling mode: what the contract suite runs through (its
``pgbouncer`` backend), and what a deployment behind it must know."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from models import User
from repositories import BackendUnavailable, Context, connect
from repositories.pgtesting import PgBouncer, pgbouncer

pytestmark = pytest.mark.postgres


def test_the_pooler_pools_transactions(pgbouncer_server: PgBouncer) -> None:
    """The contract suite's pooler hands a server connection to a client for one
    transaction only (so nothing the layer does may rely on session state)."""
    conn = psycopg2.connect(
        host="127.0.0.1", port=pgbouncer_server.port, dbname="pgbouncer", user="postgres"
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW CONFIG")
            config = {row[0]: row[1] for row in cur.fetchall()}
    finally:
        conn.close()
    assert config["pool_mode"] == "transaction"


def test_a_statement_timeout_behind_pgbouncer_says_what_to_do(pgbouncer_url: str) -> None:
    db = connect(pgbouncer_url, statement_timeout=5, context=Context.system())
    with pytest.raises(BackendUnavailable, match="ALTER ROLE"):
        db.repository(User).count()
    db.close()


def test_psycopg3_prepares_nothing_a_pooler_would_lose(
    pgbouncer_url: str, postgres_server_url: str
) -> None:
    """psycopg 3 prepares a statement after five runs: under transaction pooling the next
    run may land on a server connection that never saw it. The layer turns that off."""
    pytest.importorskip("psycopg")
    server = make_url(postgres_server_url)
    database = make_url(pgbouncer_url).database or ""
    # round robin over three server connections: consecutive statements never share one
    rotating = {"server_round_robin": "1", "min_pool_size": "3"}
    with pgbouncer(server.port or 5432, server.host or "127.0.0.1", settings=rotating) as bouncer:
        url = bouncer.url(database).replace("postgresql+psycopg2://", "postgresql+psycopg://")
        setup = connect(url, create_tables=True)
        setup.ensure_schema(User)
        user = setup.repository(User).create(User(username="ada", mandate_id="m1"))
        setup.close()
        db = connect(url, context=Context("reader", "m1", "admin"))
        for _ in range(12):
            assert db.repository(User).get(user.id) == user
            assert db.repository(User).count() == 1
        db.close()
