"""The engine side of the SQL backend: connections, transactions, DDL, error translation.

One `SqlCore` per database URL is shared by every context (`Database.with_context`).
Outside a transaction each thread keeps one autocommit connection, so a point read is a
single round trip; a connection idle for a while is re-checked out (the pool pre-pings
it). A read whose connection dropped is retried once; a write is not (`OutcomeUnknown`,
resolved by the shared core), and inside a transaction every statement runs under a
savepoint. Driver errors become `repositories.errors` (`repositories.sqlerrors`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Column, Connection, Engine, MetaData, Table, create_engine, event, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from models.base import Record
from models.tables import new_metadata, system_table, table_for
from repositories.base import ContextCache
from repositories.context import Context
from repositories.errors import (
    BackendUnavailable,
    InvalidQuery,
    OutcomeUnknown,
    TransactionLost,
)
from repositories.lookups import jsonb_contains
from repositories.replicas import ReplicaSet
from repositories.sqlerrors import (
    connect_problem,
    dropped,
    first_line,
    translate,
    translate_unicode,
)
from repositories.sqloptions import SqlOptions
from repositories.urls import engine_url, redact_url

if TYPE_CHECKING:
    from repositories.sql import SqlDatabase

__all__ = ["CONTAINS_FN", "SqlCore", "dropped", "translate", "translate_unicode"]

R = TypeVar("R")
CONTAINS_FN = "connectors_jsonb_contains"
_IDLE_RECHECK_SECONDS = 30.0


def _sqlite_contains(left: str | None, right: str | None) -> int | None:
    if left is None or right is None:
        return None
    return int(jsonb_contains(json.loads(left), json.loads(right)))


class SqlCore:
    """What every context of one SQL database shares: engine, tables, connections."""

    def __init__(
        self, url: str, create_tables: bool | None, options: SqlOptions | None = None
    ) -> None:
        parsed = engine_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("postgresql", "sqlite"):
            raise InvalidQuery(f"unsupported SQL database {self.dialect!r} in {redact_url(url)!r}")
        self.options = options = options or SqlOptions()
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        memory = False
        if self.dialect == "sqlite":
            if options.replicas:
                raise InvalidQuery("replicas are PostgreSQL standbys; SQLite has none")
            memory = parsed.database in (None, "", ":memory:")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if memory:
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_size"] = options.pool_size
            kwargs["max_overflow"] = options.overflow
            kwargs["pool_timeout"] = options.pool_timeout
            kwargs["connect_args"] = args = options.connect_args(parsed.get_driver_name())
            given = parsed.query.get("options")
            if "options" in args and isinstance(given, str):  # the URL's own come first
                args["options"] = f"{given} {args['options']}"
        self.engine: Engine = self._create_engine(parsed, kwargs)
        self.replicas = ReplicaSet(options, kwargs) if options.replicas else None
        if self.dialect == "sqlite":
            self._sqlite_events(self.engine, wal=not memory)
        self.autocommit: Engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.metadata: MetaData = new_metadata()
        self.system = system_table(self.metadata)
        self.create_tables = self.dialect == "sqlite" if create_tables is None else create_tables
        self.ensured: set[str] = set()
        self.local = threading.local()
        self.lock = threading.Lock()
        # every thread's pinned connection, so close() can return them all
        self.pinned: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.contexts: ContextCache[SqlDatabase] = ContextCache()

    def _create_engine(self, url: URL, kwargs: dict[str, Any]) -> Engine:
        return create_engine(url, **kwargs)

    @staticmethod
    def _sqlite_events(engine: Engine, wal: bool) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            dbapi_connection.create_function(CONTAINS_FN, 2, _sqlite_contains, deterministic=True)
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            if wal:  # readers (an open iter()) never block a writer, nor it them
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    def stream_connection(self) -> Connection:
        """A connection of its own for a streaming read outside a transaction.

        PostgreSQL needs a transaction for a server-side cursor (it takes no locks);
        SQLite must not start one (ours is BEGIN IMMEDIATE, a write lock).
        """
        return self.checkout(self.autocommit if self.dialect == "sqlite" else self.engine)

    def quote(self, name: str) -> str:
        return str(self.engine.dialect.identifier_preparer.quote(name))

    def table(self, model: type[Record]) -> Table:
        with self.lock:
            return table_for(model, self.metadata)

    # --- connections ------------------------------------------------------------------

    def tx_stack(self) -> list[Connection]:
        stack: list[Connection] | None = getattr(self.local, "tx", None)
        if stack is None:
            stack = self.local.tx = []
        return stack

    def idle_connection(self) -> Connection:
        conn: Connection | None = getattr(self.local, "idle", None)
        now = time.monotonic()
        if conn is not None and (conn.invalidated or now - self.local.used > _IDLE_RECHECK_SECONDS):
            self.drop_idle()  # checking out again pre-pings a connection idle for long
            conn = None
        if conn is None:
            conn = self.autocommit.connect()
            self.local.idle = conn
            with self.lock:
                self.pinned.add(conn)
        self.local.used = now
        return conn

    def checkout(self, engine: Engine) -> Connection:
        """A connection of the pool for a transaction, a stream or DDL."""
        return engine.connect()

    def release(self, conn: Connection) -> None:
        """A call outside a transaction is done with `conn` (a thread keeps its own)."""

    def drop_idle(self, conn: Connection | None = None) -> None:
        """Close this thread's idle connection (`conn`: the one a call just used)."""
        conn = getattr(self.local, "idle", None)
        self.local.idle = None
        if conn is not None:
            with self.lock:
                self.pinned.discard(conn)
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.close()

    def dispose(self) -> None:
        """Close every thread's pinned connection and the pool (the database is closed)."""
        with self.lock:
            pinned, self.pinned = list(self.pinned), weakref.WeakSet()
        for conn in pinned:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.close()
        self.engine.dispose()
        if self.replicas is not None:
            self.replicas.dispose()

    @property
    def in_transaction(self) -> bool:
        return bool(self.tx_stack())

    def run(
        self,
        table: str,
        work: Callable[[Connection], R],
        write: str | None = None,
        context: Context | None = None,
    ) -> R:
        """Run `work` in the current transaction, or on this thread's autocommit connection.

        A read on behalf of `context` may run on a replica (`repositories.replicas`); a
        write by `context` keeps its reads on the primary for a while.

        Inside a transaction every statement runs under a savepoint, so a caught error
        (a duplicate, a timeout, a failed COPY) undoes that statement alone and the block
        goes on, as on every other backend; PostgreSQL would otherwise refuse every later
        statement. A connection lost there loses the whole transaction: `TransactionLost`.

        Outside a transaction a read whose connection dropped is retried once. A write
        (`write` names it) is not: its outcome is unknown, so `OutcomeUnknown`, which
        the shared core resolves with its own audit stamps where it can.
        """
        stack = getattr(self.local, "tx", None)  # `tx_stack` without making one
        if self.replicas is not None and context is not None:
            if write is not None:
                self.replicas.note_write(context)
            elif not stack:
                done, result = self._on_replica(table, work, context)
                if done:
                    return result  # type: ignore[return-value]
        if stack:
            return self._run_nested(stack[-1], table, work)
        for attempt in (1, 2):
            try:
                conn = self.idle_connection()
            except sa_exc.DBAPIError as exc:
                problem = connect_problem(exc)
                raise BackendUnavailable(f"{table}: cannot connect: {problem}") from exc
            keep = True
            try:
                result = work(conn)
                conn.commit()
                return result
            except sa_exc.DBAPIError as exc:
                if dropped(exc):
                    keep = False
                    self.drop_idle(conn)
                    if write is not None:
                        raise OutcomeUnknown(table, write) from exc
                    if attempt == 1:
                        continue
                else:
                    with contextlib.suppress(sa_exc.SQLAlchemyError):
                        conn.rollback()
                raise translate(exc, table) from exc
            except UnicodeError as exc:
                with contextlib.suppress(sa_exc.SQLAlchemyError):
                    conn.rollback()
                raise translate_unicode(exc, table) from exc
            except Exception:
                raise
            except BaseException:  # interrupted mid-statement: the connection's state is unknown
                keep = False
                self.drop_idle(conn)
                raise
            finally:
                if keep:
                    self.release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    def _on_replica(
        self, table: str, work: Callable[[Connection], R], context: Context
    ) -> tuple[bool, R | None]:
        assert self.replicas is not None
        try:
            return self.replicas.read(context, work)
        except sa_exc.DBAPIError as exc:
            raise translate(exc, table) from exc
        except UnicodeError as exc:
            raise translate_unicode(exc, table) from exc

    def _run_nested(self, conn: Connection, table: str, work: Callable[[Connection], R]) -> R:
        savepoint = None
        try:
            savepoint = conn.begin_nested()
            result = work(conn)
            savepoint.commit()
            return result
        except sa_exc.DBAPIError as exc:
            if dropped(exc) or conn.invalidated:
                raise TransactionLost(
                    f"{table}: the connection dropped inside a transaction; none of it was "
                    f"applied ({first_line(exc)})"
                ) from exc
            self._undo(savepoint)
            raise translate(exc, table) from exc
        except BaseException as exc:
            self._undo(savepoint)
            if isinstance(exc, UnicodeError):
                raise translate_unicode(exc, table) from exc
            raise

    @staticmethod
    def _undo(savepoint: Any) -> None:
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        stack = self.tx_stack()
        if stack:
            nested = stack[-1].begin_nested()
            try:
                yield
            except BaseException:
                if nested.is_active and not stack[-1].invalidated:
                    nested.rollback()
                raise
            nested.commit()
            return
        try:
            conn = self.checkout(self.engine)
            trans = conn.begin()
        except sa_exc.DBAPIError as exc:
            problem = connect_problem(exc)
            raise BackendUnavailable(f"cannot begin a transaction: {problem}") from exc
        stack.append(conn)
        try:
            try:
                yield
            except BaseException:
                with contextlib.suppress(sa_exc.SQLAlchemyError):
                    trans.rollback()  # on a lost connection there is nothing to undo
                raise
            if conn.invalidated:  # a drop the block caught: the commit cannot be sent
                raise TransactionLost("transaction: the connection dropped; none of it was applied")
            try:
                trans.commit()
            except sa_exc.DBAPIError as exc:
                if dropped(exc):  # the COMMIT was sent: it may have been applied
                    raise OutcomeUnknown("transaction", "commit") from exc
                raise translate(exc, "transaction") from exc
        finally:
            stack.pop()
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                conn.close()

    def ensure_tables(self, models: Sequence[type[Record]]) -> None:
        from alembic.migration import MigrationContext
        from alembic.operations import Operations

        tables = [self.system, *(self.table(m) for m in models)]
        with self.checkout(self.engine) as conn, conn.begin():
            inspector = inspect(conn)
            existing = set(inspector.get_table_names())
            for table in tables:
                if table.name not in existing:
                    table.create(conn)
                    continue
                have = {c["name"] for c in inspector.get_columns(table.name)}
                ops = Operations(MigrationContext.configure(conn))
                for column in table.columns:
                    if column.name not in have:
                        # additive only: a new column is nullable, existing rows keep NULL
                        ops.add_column(table.name, Column(column.name, column.type, nullable=True))
                indexes = {i["name"] for i in inspector.get_indexes(table.name)}
                for index in table.indexes:
                    if index.name not in indexes:
                        index.create(conn)
        self.ensured.update(t.name for t in tables)
