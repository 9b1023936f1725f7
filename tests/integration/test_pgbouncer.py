"""PgBouncer in transaction pooling mode: what the contract suite runs through (its
``pgbouncer`` backend), and what a deployment behind it must know."""

from __future__ import annotations

import psycopg2
import pytest

from models import User
from repositories import BackendUnavailable, Context, connect
from repositories.pgtesting import PgBouncer

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
