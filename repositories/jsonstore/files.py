"""File names, JSON encoding and atomic writes of the JSON-file store.

Every write goes to a temp file in the target's directory (``.<name>.<pid>.<rand>.tmp``,
so no record id can collide with one), is fsynced, read back and compared, then
``os.replace``d over the target; the directory is fsynced afterwards. A reader therefore
sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from repositories.errors import InvalidQuery, RepositoryError, StoreCorrupted
from repositories.ids import RESERVED_STEMS, validate_record_id

__all__ = [
    "JOURNAL",
    "METADATA",
    "RECORD_SUFFIX",
    "SYSTEM",
    "decode",
    "encode",
    "fsync_dir",
    "is_temp",
    "read_bytes",
    "read_json",
    "record_ids_on_disk",
    "record_path",
    "replace_many",
    "validate_record_id",
    "validate_table_name",
    "write_atomic",
]

RECORD_SUFFIX = ".json"
METADATA = "_metadata.json"
JOURNAL = "_journal.jsonl"
SYSTEM = "_system.json"
TEMP_SUFFIX = ".tmp"
#: Stems no record may take: they are (or could become) the store's own files.
_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def validate_table_name(name: str) -> str:
    """Return `name` if it is a safe table directory name, else raise `InvalidQuery`."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise InvalidQuery(
            f"table name {name!r} cannot be stored as a directory: use letters, digits, "
            "'_' and '-' (starting with a letter or digit, at most 128 characters)"
        )
    if name.lower() in RESERVED_STEMS:
        raise InvalidQuery(f"table name {name!r} is reserved by the JSON store")
    return name


def record_path(directory: Path, record_id: str) -> Path:
    return directory / f"{record_id}{RECORD_SUFFIX}"


def is_temp(name: str) -> bool:
    """Whether a directory entry is one of our temp files."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def record_ids_on_disk(directory: Path) -> tuple[set[str], list[str]]:
    """Record ids that have a file in `directory`, and the names of temp files there."""
    ids: set[str] = set()
    temps: list[str] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return ids, temps
    for name in names:
        if is_temp(name):
            temps.append(name)
        elif name.endswith(RECORD_SUFFIX) and not name.startswith("."):
            stem = name[: -len(RECORD_SUFFIX)]
            if stem.lower() not in RESERVED_STEMS:
                ids.add(stem)
    return ids, temps


#: One encoder for every write (``json.dumps`` with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(value: Any, what: str) -> bytes:
    """Compact UTF-8 JSON; `InvalidQuery` for what JSON/PostgreSQL cannot hold."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidQuery(f"{what}: cannot be stored as JSON: {exc}") from exc


def decode(data: bytes, path: str | Path) -> Any:
    """Parse JSON read from `path`; `StoreCorrupted` naming the file when it is not."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        state = "empty" if not data else f"{len(data)} bytes, not valid JSON"
        raise StoreCorrupted(f"{path}: corrupted file ({state}: {exc})") from exc


def read_bytes(path: str | Path) -> bytes:
    """The whole file (`FileNotFoundError` propagates; other OS errors are translated)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreCorrupted(f"{path}: cannot be read: {exc}") from exc


def read_json(path: str | Path) -> Any:
    return decode(read_bytes(path), path)


def fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_temp_counter = itertools.count()


def _temp_for(path: str) -> str:
    cut = path.rfind("/") + 1
    # pid + a per-process counter: unique without a random-number system call
    return f"{path[:cut]}.{path[cut:]}.{os.getpid()}.{next(_temp_counter)}{TEMP_SUFFIX}"


def _write_temp(path: str, data: bytes, fsync: bool, verify: bool = True) -> str:
    """Write `data` to a new temp file beside `path` (fsynced if asked) and read it back."""
    temp = _temp_for(path)
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
        if verify:
            _verify(fd, data, path)
    except BaseException:
        os.close(fd)
        _discard(temp)
        raise
    os.close(fd)
    return temp


def _verify(fd: int, data: bytes, target: str) -> None:
    """Read the temp file back: what reaches the target is exactly what we meant to write."""
    if os.pread(fd, len(data) + 1, 0) != data:
        raise StoreCorrupted(f"{target}: verification of the written data failed; not replaced")


def _discard(temp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def write_atomic(
    path: str | Path, data: bytes, durable: bool, sync_dir: bool = True, dir_fd: int | None = None
) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, verify, replace, dir fsync).

    Args:
        path: the target file.
        data: its new content.
        durable: fsync the temp file (and, with `sync_dir`, the directory).
        sync_dir: fsync the directory after the replace (off when the caller batches).
        dir_fd: an open descriptor of the directory, saving an open per write.

    Raises:
        RepositoryError: the file system refused the write (disk full, permissions...).
    """
    target = os.fspath(path)
    try:
        temp = _write_temp(target, data, durable)
        try:
            os.replace(temp, target)
        except BaseException:
            _discard(temp)
            raise
        if durable and sync_dir:
            if dir_fd is None:
                fsync_dir(Path(target).parent)
            else:
                os.fsync(dir_fd)
    except OSError as exc:
        raise RepositoryError(f"{target}: write failed: {exc}") from exc


def _boot_id() -> str | None:
    """This boot of the machine (Linux); None where the platform does not say."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


#: Journal lines are appended without an fsync (they only repeat what the fsynced record
#: files say); a journal written before the last boot may have lost lines to a power
#: failure, so it is derived again from the record files once after every boot.
BOOT_ID = _boot_id()


def _syncfs_function() -> Any:
    """libc ``syncfs`` on Linux: one call makes every written file of a file system durable."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs_function()


def replace_many(directory: Path, items: Iterable[tuple[str | Path, bytes]], durable: bool) -> None:
    """Write many files with one file-system sync and one directory fsync (a batch).

    Temp files are written without a per-file fsync, made durable together (``syncfs``
    where the platform has it, else a per-file fsync), verified, then replaced; the
    directory is fsynced once. On failure the temp files are removed and files already
    replaced stay: the caller (a transaction) restores them.
    """
    temps: list[tuple[str, str]] = []
    replaced = 0
    batched = durable and _SYNCFS is not None
    try:
        for path, data in items:
            target = os.fspath(path)
            temps.append((_write_temp(target, data, durable and not batched), target))
        if batched:
            fd = os.open(directory, os.O_RDONLY)
            try:
                if _SYNCFS(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
        for temp, target in temps:
            os.replace(temp, target)
            replaced += 1
        if durable:
            fsync_dir(directory)
    except OSError as exc:
        raise RepositoryError(f"{directory}: batch write failed: {exc}") from exc
    finally:
        for temp, _ in temps[replaced:]:
            _discard(temp)
