"""What every context of one JSON store shares: table views, locks and transactions.

A transaction belongs to a thread. Every table it touches, read or written, stays locked
until the outermost block ends; tables are locked in name order (declared ones up front,
later ones only if they sort after all held ones, else tried without waiting, so two
transactions never deadlock). A block that raises gets the files it changed put back
from the undo log (the bytes each file had before its first change in that block).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from models.schema import ModelInfo
from repositories.base import ContextCache
from repositories.jsonstore import files
from repositories.jsonstore.locks import TableLock
from repositories.jsonstore.table import TableState
from repositories.jsonstore.writes import TableWrites, Undo

__all__ = ["Store", "Transaction"]


class Transaction:
    """One thread's open transaction: the tables it holds and its undo log."""

    def __init__(self) -> None:
        self.held: list[TableState] = []
        self.undo: Undo = []


class Store:
    """What every context of one store shares: table views, locks, the transaction."""

    def __init__(self, root: Path, durable: bool, lock_timeout: float) -> None:
        self.root = root
        self.durable = durable
        self.lock_timeout = lock_timeout
        self.states: dict[str, TableState] = {}
        self.mutex = threading.Lock()
        self.local = threading.local()
        self.contexts: ContextCache[Any] = ContextCache()  # JsonDatabase views by context
        self.system_lock = TableLock("_system", root, lock_timeout)

    def state(self, info: ModelInfo) -> TableState:
        name = files.validate_table_name(info.table)
        with self.mutex:
            state = self.states.get(name)
            if state is None:
                index_fields = {f.storage: f for f in info.fields if f.indexed and f.kind != "json"}
                state = TableState(
                    name, self.root / name, index_fields, self.lock_timeout, self.durable
                )
                self.states[name] = state
            return state

    def tables(self) -> list[TableState]:
        """The tables opened so far."""
        with self.mutex:
            return list(self.states.values())

    def close(self) -> None:
        """Close every table (folding its journal into its snapshot) and the system lock.

        Tables this thread holds (inside a transaction) stay open.
        """
        for state in self.tables():
            state.close()
        if not self.system_lock.held:
            self.system_lock.close()

    def current(self) -> Transaction | None:
        tx: Transaction | None = getattr(self.local, "tx", None)
        return tx

    def enter(self, tx: Transaction, state: TableState) -> None:
        """Lock `state` until the transaction ends (in name order, or without waiting),
        its view current."""
        if state in tx.held:
            state.sync()
            return
        in_order = all(held.table < state.table for held in tx.held)
        state.take(None if in_order else 0.0)
        tx.held.append(state)

    @contextlib.contextmanager
    def transaction(self, states: Sequence[TableState]) -> Iterator[None]:
        ordered = sorted(set(states), key=lambda s: s.table)
        outer = self.current()
        if outer is not None:
            mark = len(outer.undo)
            for state in ordered:
                self.enter(outer, state)
            try:
                yield
            except BaseException:
                self.rollback(outer, mark)
                raise
            return
        tx = self.local.tx = Transaction()
        try:
            for state in ordered:
                self.enter(tx, state)
            try:
                yield
            except BaseException:
                self.rollback(tx, 0)
                raise
        finally:
            self.local.tx = None
            for state in reversed(tx.held):
                state.lock.release()

    @staticmethod
    def rollback(tx: Transaction, mark: int) -> None:
        """Put back every file changed since `mark` (its content before the first change)."""
        originals: dict[TableWrites, dict[str, bytes | None]] = {}
        for state, record_id, data in tx.undo[mark:]:
            originals.setdefault(state, {}).setdefault(record_id, data)
        del tx.undo[mark:]
        for state, changed in originals.items():
            state.restore(changed)
