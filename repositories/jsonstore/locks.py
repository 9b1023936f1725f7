"""The per-table lock: one thread of one process at a time, with a timeout.

Two layers: a `threading.RLock` (threads of this process) and an advisory ``flock`` on
``<Table>/.lock`` (other processes; the kernel releases it when a holder dies). The lock
file descriptor stays open, so taking the lock costs one system call; filelock's
``FileLock`` opens and closes the file on every acquire, ~80 µs here, which alone would
eat the per-record create budget, so we use the same primitive (``fcntl.flock``) directly.

While held, ``<Table>/.lock.pid`` contains the holder's pid: a waiter that times out
names it in `LockTimeout`, and a holder that finds the file non-empty when it acquires
knows the previous holder died mid-operation (a clean release blanks it), so the table
must be recovered before use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from repositories.errors import LockTimeout, RepositoryError

__all__ = ["LOCK_FILE", "PID_FILE", "TableLock", "read_holder"]

LOCK_FILE = ".lock"
PID_FILE = ".lock.pid"
_PID_WIDTH = 20
_BLANK = b" " * _PID_WIDTH + b"\n"


def read_holder(directory: Path) -> int | None:
    """The pid written by the current (or a dead) holder of the lock in `directory`."""
    try:
        text = (directory / PID_FILE).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class TableLock:
    """A re-entrant inter-process lock on one table directory."""

    def __init__(self, name: str, directory: Path, timeout: float) -> None:
        self.name = name
        self.directory = directory
        self.timeout = timeout
        self.local = threading.RLock()
        self._depth = 0
        self._owner = 0
        self._poisoned = False
        self._lock_fd: int | None = None
        self._pid_fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this thread holds the inter-process lock."""
        return self._depth > 0 and self._owner == threading.get_ident()

    def acquire_local(self, timeout: float | None = None) -> None:
        """Take the in-process layer only (lock-free reads still serialise per table)."""
        wait = self.timeout if timeout is None else timeout
        if not self.local.acquire(timeout=wait if wait >= 0 else -1):
            raise LockTimeout(self.name, wait, os.getpid())

    def release_local(self) -> None:
        self.local.release()

    def acquire(self, timeout: float | None = None) -> bool:
        """Take both layers; returns True when a previous holder died while holding it.

        Raises:
            LockTimeout: not acquired within `timeout` (default: the lock's timeout).
        """
        wait = self.timeout if timeout is None else timeout
        self.acquire_local(wait)
        if self._depth:
            self._depth += 1
            return False
        try:
            dirty = self._acquire_file(wait)
        except BaseException:
            self.local.release()
            raise
        self._depth = 1
        self._owner = threading.get_ident()
        return dirty

    def try_acquire(self) -> bool | None:
        """Take both layers only if free right now: None when busy, else `acquire`'s flag."""
        if not self.local.acquire(blocking=False):
            return None
        if self._depth:
            self._depth += 1
            return False
        dirty: bool | None = None
        try:
            lock_fd, pid_fd = self._open()
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                dirty = self._claim(lock_fd, pid_fd)
        finally:
            if dirty is None:
                self.local.release()
        if dirty is None:
            return None
        self._depth = 1
        self._owner = threading.get_ident()
        return dirty

    def _open(self) -> tuple[int, int]:
        if self._lock_fd is None or self._pid_fd is None:
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(self.directory / LOCK_FILE, flags, 0o644)
                self._pid_fd = os.open(self.directory / PID_FILE, flags, 0o644)
            except OSError as exc:
                raise RepositoryError(f"{self.name}: cannot open its lock files: {exc}") from exc
        return self._lock_fd, self._pid_fd

    def _acquire_file(self, wait: float) -> bool:
        lock_fd, pid_fd = self._open()
        deadline = time.monotonic() + wait
        pause = 0.0005
        while True:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if wait >= 0 and time.monotonic() >= deadline:
                    raise LockTimeout(self.name, wait, read_holder(self.directory)) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
        return self._claim(lock_fd, pid_fd)

    def _claim(self, lock_fd: int, pid_fd: int) -> bool:
        """Write our pid as the holder's; True when the previous holder left its own."""
        try:
            previous = os.pread(pid_fd, 64, 0)
            os.pwrite(pid_fd, f"{os.getpid():>{_PID_WIDTH}}\n".encode("ascii"), 0)
        except BaseException:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            raise
        return bool(previous.strip())

    def poison(self) -> None:
        """Keep the pid on release, as a holder that died would: the next one recovers."""
        self._poisoned = True

    def release(self) -> None:
        """Release one level; the last one empties the pid file and unlocks."""
        if self._depth <= 0:
            raise RuntimeError(f"{self.name}: lock released more often than acquired")
        self._depth -= 1
        try:
            if self._depth == 0 and self._lock_fd is not None and self._pid_fd is not None:
                if self._poisoned:
                    self._poisoned = False  # the pid stays: the next holder recovers
                else:
                    # a clean release: nothing to recover. Blanks of the same width rather
                    # than a truncate: no block is freed and allocated again on every write.
                    os.pwrite(self._pid_fd, _BLANK, 0)
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self.local.release()

    def __enter__(self) -> TableLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        """Close the lock files (the lock must not be held)."""
        for fd in (self._lock_fd, self._pid_fd):
            if fd is not None:
                os.close(fd)
        self._lock_fd = self._pid_fd = None
