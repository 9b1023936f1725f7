"""A table's metadata on disk: the ``_metadata.json`` snapshot and ``_journal.jsonl``.

The snapshot holds the record ids, the secondary-index data and the generation it
reflects; the journal starts with a header line (the snapshot's generation as ``base``,
the table, the boot it was started in) and gets one line per write: ``{"g": n, "put":
{id: indexed values}, "del": [ids]}``. Lines are appended with single ``write`` calls, so a
reader may only see a line half-written at the very end (and then ignores it).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repositories.errors import StoreCorrupted
from repositories.jsonstore import files

__all__ = [
    "FORMAT",
    "Journal",
    "journal_before_boot",
    "last_generation",
    "read_journal",
    "read_snapshot",
    "read_tail",
    "write_snapshot",
]

FORMAT = "connectors.jsonfile/1"
Signature = tuple[int, int]  # (st_dev, st_ino): a compaction replaces the file


@dataclass
class Journal:
    """A journal file as read: where it ends, its header and its entries."""

    sig: Signature
    size: int
    header_size: int
    base: int
    boot: str | None
    entries: list[dict[str, Any]] = field(default_factory=list)


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The snapshot, or None when absent or not ours (written by the original application).

    Raises:
        StoreCorrupted: ours, but damaged.
    """
    try:
        meta = files.read_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    if not isinstance(meta.get("ids"), list) or not isinstance(meta.get("indexes"), dict):
        raise StoreCorrupted(f"{path}: corrupted file (no ids or indexes)")
    return meta


def read_journal(path: Path) -> Journal | None:
    """The whole journal; None when absent or its last line is torn (to be derived again).

    Raises:
        StoreCorrupted: a damaged header or entry.
    """
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            content = handle.read()
    except FileNotFoundError:
        return None  # crashed between snapshot and journal
    size = content.rfind(b"\n") + 1
    if size != len(content):
        return None  # a torn last line: only a power failure leaves one behind
    lines = content[:size].split(b"\n")[:-1]
    header = files.decode(lines[0], path) if lines else None
    if not isinstance(header, dict) or not isinstance(header.get("base"), int):
        raise StoreCorrupted(f"{path}: corrupted file (no journal header)")
    journal = Journal(
        (st.st_dev, st.st_ino), size, len(lines[0]) + 1, header["base"], header.get("boot")
    )
    for line in lines[1:]:
        entry = files.decode(line, path)
        if not isinstance(entry, dict) or not isinstance(entry.get("g"), int):
            raise StoreCorrupted(f"{path}: corrupted file (bad entry {line!r})")
        journal.entries.append(entry)
    return journal


def read_tail(path: Path, sig: Signature, offset: int) -> tuple[list[dict[str, Any]], int] | None:
    """Entries appended after `offset` and the new end; None if the file was replaced."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if (st.st_dev, st.st_ino) != sig:
                return None
            handle.seek(offset)
            tail = handle.read()
    except FileNotFoundError:
        return None
    end = tail.rfind(b"\n") + 1  # a writer may be halfway through its line
    entries = []
    for line in tail[:end].split(b"\n")[:-1]:
        entry = files.decode(line, path)
        if not isinstance(entry, dict):
            return None
        entries.append(entry)
    return entries, offset + end


def write_snapshot(
    directory: Path,
    table: str,
    generation: int,
    ids: list[str],
    indexes: dict[str, Any],
    durable: bool,
) -> tuple[Signature, int]:
    """Write the snapshot, then start a journal after it; returns its signature and size."""
    meta = {
        "format": FORMAT,
        "table": table,
        "generation": generation,
        "ids": ids,
        "indexes": indexes,
    }
    directory.mkdir(parents=True, exist_ok=True)
    if durable:  # the table directory's own entry must survive a crash too
        files.fsync_dir(directory.parent)
    files.write_atomic(directory / files.METADATA, files.encode(meta, table), durable)
    head = {"base": generation, "table": table, "boot": files.BOOT_ID}
    header = files.encode(head, table) + b"\n"
    journal = directory / files.JOURNAL
    files.write_atomic(journal, header, durable)
    st = os.stat(journal)
    return (st.st_dev, st.st_ino), len(header)


def journal_before_boot(path: Path) -> bool:
    """Whether the journal was started before this boot (so it is derived again)."""
    if files.BOOT_ID is None:
        return False
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
        header = files.decode(first, path)
    except (FileNotFoundError, StoreCorrupted):
        return False
    return isinstance(header, dict) and header.get("boot") != files.BOOT_ID


def last_generation(directory: Path, current: int) -> int:
    """Best effort: the highest generation recorded on disk, so readers see a change."""
    best = current
    with contextlib.suppress(OSError, StoreCorrupted, ValueError, TypeError, AttributeError):
        meta = files.read_json(directory / files.METADATA)
        best = max(best, int(meta.get("generation", 0)))
    journal = directory / files.JOURNAL
    with contextlib.suppress(OSError, ValueError):
        tail = files.read_bytes(journal)[-4096:]
        for line in tail.splitlines():
            with contextlib.suppress(ValueError, StoreCorrupted, AttributeError, TypeError):
                best = max(best, int(files.decode(line, journal).get("g", 0)))
    return best
