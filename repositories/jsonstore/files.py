"""File names, JSON encoding, reading and fingerprints of the JSON-file store's files.

Writing (temp file, fsync, verify, replace) is `repositories.jsonstore.atomic`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from repositories.errors import InvalidQuery, StoreCorrupted
from repositories.ids import RESERVED_STEMS, validate_record_id

__all__ = [
    "JOURNAL",
    "METADATA",
    "RECORD_SUFFIX",
    "SYSTEM",
    "decode",
    "encode",
    "fingerprint",
    "fsync_dir",
    "is_temp",
    "read_bytes",
    "read_json",
    "read_record",
    "record_ids_on_disk",
    "record_path",
    "scan_records",
    "validate_record_id",
    "validate_table_name",
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


def fingerprint(st: os.stat_result) -> int:
    """A record file's identity as written: inode, size and modification time (32 bits).

    Every write of ours makes a new inode (a temp file replaces the target), and an
    edit in place changes the size or the modification time, so a file changed behind
    the store's back shows a different fingerprint. Never 0 (0 means "unknown").
    """
    # plain integer arithmetic: the same on every platform and Python build
    mixed = (st.st_ino * 0x9E3779B1) ^ (st.st_size * 0x85EBCA77) ^ st.st_mtime_ns
    return (mixed ^ (mixed >> 32)) % 0xFFFFFFFB or 1


def scan_records(directory: Path) -> tuple[dict[str, int], list[str]]:
    """Record ids with a file in `directory` and their fingerprints, and the temp files.

    One ``stat`` per record file (relative to an open directory descriptor): the price of
    noticing files edited by hand at every cold load.
    """
    found: dict[str, int] = {}
    temps: list[str] = []
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return found, temps
    stat = os.stat
    try:
        for name in os.listdir(dir_fd):
            if name[-5:] != RECORD_SUFFIX or name[0] == ".":
                if is_temp(name):
                    temps.append(name)
                continue
            stem = name[:-5]
            if stem[0] == "_" and stem.lower() in RESERVED_STEMS:
                continue
            try:
                st = stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we looked
            mixed = (st.st_ino * 0x9E3779B1) ^ (st.st_size * 0x85EBCA77) ^ st.st_mtime_ns
            found[stem] = (mixed ^ (mixed >> 32)) % 0xFFFFFFFB or 1  # `fingerprint`, inlined
    finally:
        os.close(dir_fd)
    return found, temps


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


def read_record(path: str) -> tuple[bytes, int]:
    """A record file's bytes and fingerprint (`FileNotFoundError` propagates)."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            return handle.read(), fingerprint(st)
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
