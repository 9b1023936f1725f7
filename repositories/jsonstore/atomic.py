"""Atomic, durable writes of the JSON-file store, and room reserved for journal lines.

Every write goes to a temp file in the target's directory (``.<name>.<pid>.<n>.tmp``, so
no record id can collide with one), is fsynced, read back and compared, then
``os.replace``d over the target; the directory is fsynced afterwards. A reader therefore
sees the old file or the new one, never a torn one.

The two halves are separate for record writes: `stage` writes and verifies the temp
files (nothing visible changes, and a full disk fails here), `install` replaces the
targets. The table announces its write in the journal between the two.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from repositories.errors import RepositoryError, StoreCorrupted
from repositories.jsonstore import files

__all__ = ["Staged", "discard", "install", "reserve", "stage", "write_atomic"]


class Staged(NamedTuple):
    """A temp file written and verified, waiting to replace its target."""

    temp: str
    target: str
    fp: int  # the target's fingerprint once replaced


_temp_counter = itertools.count()


def _temp_for(path: str) -> str:
    cut = path.rfind("/") + 1
    # pid + a per-process counter: unique without a random-number system call
    return f"{path[:cut]}.{path[cut:]}.{os.getpid()}.{next(_temp_counter)}{files.TEMP_SUFFIX}"


def _write_temp(path: str, data: bytes, fsync: bool) -> Staged:
    """Write `data` to a new temp file beside `path` (fsynced if asked) and read it back."""
    temp = _temp_for(path)
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
        # read back: what reaches the target is exactly what we meant to write
        if os.pread(fd, len(data) + 1, 0) != data:
            raise StoreCorrupted(f"{path}: verification of the written data failed; not replaced")
        fp = files.fingerprint(os.fstat(fd))
    except BaseException:
        os.close(fd)
        _unlink(temp)
        raise
    os.close(fd)
    return Staged(temp, path, fp)


def _unlink(temp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def discard(staged: Sequence[Staged]) -> None:
    """Remove temp files that will not be installed."""
    for item in staged:
        _unlink(item.temp)


def stage(items: Sequence[tuple[str, bytes]], durable: bool, directory: Path) -> list[Staged]:
    """Write and verify a temp file per ``(target, data)``; nothing visible changes.

    With `durable`, a batch is made durable with one ``syncfs`` where the platform has
    it (else, and for a single file, a per-file fsync).

    Raises:
        OSError: the file system refused (disk full, permissions...); no temp file stays.
    """
    batched = durable and len(items) > 1 and _SYNCFS is not None
    staged: list[Staged] = []
    try:
        for target, data in items:
            staged.append(_write_temp(target, data, durable and not batched))
        if batched:
            fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _SYNCFS(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
    except BaseException:
        discard(staged)
        raise
    return staged


def install(staged: Sequence[Staged], durable: bool, dir_fd: int | None = None) -> None:
    """Replace each target by its temp file, then fsync the directory (if `durable`).

    Raises:
        OSError: a replace failed; the temp files not installed are removed.
    """
    done = 0
    try:
        for item in staged:
            os.replace(item.temp, item.target)
            done += 1
        if durable and staged:
            if dir_fd is None:
                files.fsync_dir(Path(staged[0].target).parent)
            else:
                os.fsync(dir_fd)
    finally:
        discard(staged[done:])


def write_atomic(path: str | Path, data: bytes, durable: bool, dir_fd: int | None = None) -> int:
    """Replace `path` with `data` atomically (temp file, fsync, verify, replace, dir fsync).

    Returns:
        The new file's fingerprint.

    Raises:
        RepositoryError: the file system refused the write (disk full, permissions...).
    """
    target = os.fspath(path)
    try:
        staged = _write_temp(target, data, durable)
        install([staged], durable, dir_fd)
    except OSError as exc:
        raise RepositoryError(f"{target}: write failed: {exc}") from exc
    return staged.fp


def _libc_function(name: str) -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


#: ``syncfs``: one call makes every written file of a file system durable.
_SYNCFS = _libc_function("syncfs")
#: ``fallocate`` with ``FALLOC_FL_KEEP_SIZE`` reserves blocks past a file's end.
_FALLOCATE = _libc_function("fallocate")
if _FALLOCATE is not None:
    _FALLOCATE.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_KEEP_SIZE = 1


def reserve(fd: int, offset: int, length: int) -> bool:
    """Allocate disk blocks for `length` bytes from `offset` without changing the size.

    Appends into reserved blocks cannot fail for want of space, so a writer reserves
    room for its journal lines before it changes any record file. Returns False where
    the file system cannot reserve (the caller then copes with a failed append).

    Raises:
        OSError: no space (``ENOSPC``/``EDQUOT``) or another I/O error.
    """
    if _FALLOCATE is None:
        return False
    if _FALLOCATE(fd, _KEEP_SIZE, offset, length) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err))
