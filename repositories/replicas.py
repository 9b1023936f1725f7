"""Read replicas of a PostgreSQL database: which reads go there, and which replicas may.

A read outside a transaction goes to a replica (round robin) unless the context that
asks wrote within `SqlOptions.read_your_writes` seconds (it reads the primary, so it
always sees its own writes). Reads inside a transaction, writes, ``iter()`` (a long read
on a hot standby is cancelled when it conflicts with replay) and everything but the
repository's reads stay on the primary.

Each replica's lag is checked at most every `SqlOptions.replica_check_interval` (an
unreachable one less and less often, up to every 30 s; it gets 2 s to answer): zero
when it has replayed all it received from a streaming primary, else the age of the last
transaction it replayed. One lagging beyond `SqlOptions.replica_max_lag`, unreachable,
or failing a read by a dropped connection or a recovery conflict is skipped (the read
runs on the primary) until its next check. A replica's trouble never fails a read.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy import exc as sa_exc

from repositories.context import Context
from repositories.sqloptions import SqlOptions
from repositories.urls import engine_url, redact_url

__all__ = ["Replica", "ReplicaSet"]

R = TypeVar("R")
#: contexts whose last write is remembered (`ReplicaSet.note_write` forgets the oldest)
_WRITERS_LIMIT = 100_000
_SETTLE_FLOOR = 1.0
_BACKOFF_LIMIT = 30.0
_LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0.0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0.0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()),"
    " 1e9) END"
)
#: a hot standby cancels a read that conflicts with replay (SQLSTATE 40001)
_RECOVERY_CONFLICT = "40001"


class Replica:
    """One replica: its engine, its pinned per-thread connections and its last check."""

    def __init__(self, url: str, options: SqlOptions, engine_kwargs: dict[str, Any]) -> None:
        self.url = url
        self.display = redact_url(url)
        parsed = engine_url(url)
        connect_args = options.connect_args(parsed.get_driver_name())
        # a replica that does not answer is skipped, not waited for: the read that finds
        # out waits this long at most, then runs on the primary
        connect_args["connect_timeout"] = min(connect_args.get("connect_timeout", 10), 2)
        kwargs = {**engine_kwargs, "connect_args": connect_args}
        self.engine: Engine = create_engine(parsed, **kwargs)
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.options = options
        self.local = threading.local()
        self.lock = threading.Lock()  # one lag check at a time
        self._pin_lock = threading.Lock()
        self.pinned: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.checked_at = -float("inf")
        self.failures = 0  # checks failed in a row: the next waits longer (up to 30 s)
        self.lag: float | None = None  # None: unreachable at the last check
        self.problem = "not checked yet"

    @property
    def usable(self) -> bool:
        return self.lag is not None and self.lag <= self.options.replica_max_lag

    def refresh(self, force: bool = False) -> None:
        """Check the lag if the last check is older than the interval (one thread does)."""
        now = time.monotonic()
        wait = min(self.options.replica_check_interval * 2**self.failures, _BACKOFF_LIMIT)
        if not force and now - self.checked_at < wait:
            return
        if not self.lock.acquire(blocking=force):
            return  # another thread is checking: use what it last found
        try:
            try:
                lag = float(self.run(lambda conn: conn.execute(_LAG_SQL).scalar_one()))
                self.failures = 0
                self.lag, self.problem = (
                    lag,
                    ""
                    if lag <= self.options.replica_max_lag
                    else (f"{lag:.1f}s behind (bound {self.options.replica_max_lag:g}s)"),
                )
            except sa_exc.DBAPIError as exc:
                self.mark_down(exc)
            self.checked_at = time.monotonic()
        finally:
            self.lock.release()

    def mark_down(self, exc: BaseException) -> None:
        self.lag = None
        self.failures = min(self.failures + 1, 16)
        first = str(getattr(exc, "orig", None) or exc).splitlines()
        self.problem = f"unavailable: {first[0] if first else type(exc).__name__}"
        self.checked_at = time.monotonic()
        self.drop_connection()

    def connection(self) -> Connection:
        conn: Connection | None = getattr(self.local, "conn", None)
        if conn is None or conn.invalidated:
            conn = self.autocommit.connect()
            self.local.conn = conn
            with self._pin_lock:
                self.pinned.add(conn)
        return conn

    def drop_connection(self) -> None:
        conn: Connection | None = getattr(self.local, "conn", None)
        self.local.conn = None
        if conn is not None:
            with self._pin_lock:
                self.pinned.discard(conn)
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.close()

    def run(self, work: Callable[[Connection], R]) -> R:
        conn = self.connection()
        try:
            result = work(conn)
            conn.commit()
            return result
        except BaseException:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.rollback()
            raise

    def dispose(self) -> None:
        with self._pin_lock:
            pinned, self.pinned = list(self.pinned), weakref.WeakSet()
        for conn in pinned:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.close()
        self.engine.dispose()


class ReplicaSet:
    """The replicas of one database, shared by every context of it."""

    def __init__(self, options: SqlOptions, engine_kwargs: dict[str, Any]) -> None:
        self.options = options
        self.replicas = [Replica(url, options, engine_kwargs) for url in options.replicas]
        self._turn = itertools.count()
        self._writes: dict[Context, float] = {}
        self._lock = threading.Lock()

    def note_write(self, context: Context) -> None:
        """`context` is writing now: its reads stay on the primary for a while."""
        with self._lock:
            if len(self._writes) >= _WRITERS_LIMIT:
                # a bound: the oldest half forgotten (their windows have long passed)
                cutoff = sorted(self._writes.values())[len(self._writes) // 2]
                self._writes = {c: t for c, t in self._writes.items() if t > cutoff}
            self._writes[context] = time.monotonic()

    def recently_wrote(self, context: Context) -> bool:
        written = self._writes.get(context)
        window = max(self.options.read_your_writes, _SETTLE_FLOOR)
        return written is not None and time.monotonic() - written < window

    def pick(self, context: Context) -> Replica | None:
        """The replica to read from for `context`, or None for the primary."""
        if not self.replicas or self.recently_wrote(context):
            return None
        count = len(self.replicas)
        start = next(self._turn)
        for step in range(count):
            replica = self.replicas[(start + step) % count]
            replica.refresh()
            if replica.usable:
                return replica
        return None

    def read(self, context: Context, work: Callable[[Connection], R]) -> tuple[bool, R | None]:
        """Run a read on a replica: (True, result), or (False, None) when none may."""
        replica = self.pick(context)
        while replica is not None:
            try:
                return True, replica.run(work)
            except sa_exc.DBAPIError as exc:
                code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
                if not (exc.connection_invalidated or code == _RECOVERY_CONFLICT):
                    raise
                replica.mark_down(exc)
            replica = self.pick(context)
        return False, None

    def status(self) -> list[dict[str, Any]]:
        """Each replica's state now (checked afresh): for health probes."""
        out = []
        for replica in self.replicas:
            replica.refresh(force=True)
            out.append(
                {
                    "url": replica.display,
                    "ok": replica.usable,
                    "lag_seconds": replica.lag,
                    "detail": replica.problem or "streaming",
                }
            )
        return out

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.dispose()
