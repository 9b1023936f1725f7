"""The operational options on a real PostgreSQL: what reaches the server."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from models import User
from repositories import StatementTimeout, connect

pytestmark = pytest.mark.postgres


def test_statement_timeout_cancels_a_waiting_statement(pg_url: str) -> None:
    db = connect(pg_url, create_tables=True, statement_timeout=0.2)
    db.ensure_schema(User)
    blocker = sa.create_engine(pg_url)
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        with blocker.connect() as conn:
            conn.execute(sa.text('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE'))
            locked.set()
            release.wait(30)
            conn.rollback()

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        assert locked.wait(30)
        with pytest.raises(StatementTimeout, match="cancel"):
            db.repository(User).count()
    finally:
        release.set()
        holder.join()
        blocker.dispose()
    assert db.repository(User).count() == 0  # the URL's own options (search_path) kept
    db.close()


def test_application_name_and_pool_reach_the_engine(pg_url: str) -> None:
    db = connect(pg_url, application_name="billing-api", pool_size=3, max_overflow=1)
    with db.engine.connect() as conn:  # type: ignore[attr-defined]
        name = conn.execute(
            sa.text("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        ).scalar()
    assert name == "billing-api"
    pool = db.engine.pool  # type: ignore[attr-defined]
    assert pool.size() == 3 and pool._max_overflow == 1
    db.close()
