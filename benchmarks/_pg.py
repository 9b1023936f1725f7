"""A throwaway PostgreSQL database for a benchmark run (BENCH_DATABASE_URL or local)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch_database(prefix: str = "bench") -> Iterator[str]:
    """Yield the URL of a new database on the server; drop it afterwards."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        yield explicit
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(DEFAULT_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(DEFAULT_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def line(name: str, ours: float, baseline: float, unit: str = "/s") -> str:
    """`name: ours X/s, baseline Y/s, ratio R` (R = ours / baseline throughput)."""
    ratio = ours / baseline
    return f"{name}: ours {ours:,.0f}{unit}, baseline {baseline:,.0f}{unit}, ratio {ratio:.2f}"
