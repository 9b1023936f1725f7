"""A table's metadata on disk: the ``_metadata.json`` snapshot and ``_journal.jsonl``.

The snapshot holds the record ids with their files' fingerprints, the secondary-index
data and the generation it reflects. The journal starts with a header line (the
snapshot's generation as ``base``, the table, the boot it was started in) and gets, per
write, an announcement before any record file changes (``{"p": [ids]}``) and a commit
after (``{"g": n, "put": {id: indexed values}, "fp": {id: fingerprint}, "del": [ids]}``).
A reader that sees an announcement without its commit knows those records are in flux
(or that their writer died) and reads their files instead of trusting the index.

Every line and the snapshot carry a CRC-32 of their content, so a damaged file is
reported (`StoreCorrupted`) instead of giving silently wrong answers. Lines are appended
with single ``write`` calls into space reserved beforehand, so a reader may only see a
line half-written at the very end (and then ignores it).
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repositories.errors import StoreCorrupted
from repositories.jsonstore import atomic, files

__all__ = [
    "FORMAT",
    "Journal",
    "encode_line",
    "journal_before_boot",
    "last_generation",
    "read_journal",
    "read_snapshot",
    "read_tail",
    "write_snapshot",
]

FORMAT = "connectors.jsonfile/2"
Signature = tuple[int, int]  # (st_dev, st_ino): a compaction replaces the file
_SNAPSHOT_HEAD = b'{"format":"' + FORMAT.encode() + b'","crc":"'
_CRC_END = len(_SNAPSHOT_HEAD) + 8


@dataclass
class Journal:
    """A journal file as read: where it ends, its header and its entries."""

    sig: Signature
    size: int
    header_size: int
    base: int
    boot: str | None
    entries: list[dict[str, Any]] = field(default_factory=list)


def encode_line(entry: dict[str, Any], what: str) -> bytes:
    """One journal line: the CRC-32 of the JSON (8 hex digits), a space, the JSON."""
    body = files.encode(entry, what)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _decode_line(line: bytes, path: Path) -> Any:
    body = line[9:]
    if len(line) < 10 or line[8:9] != b" " or line[:8] != b"%08x" % zlib.crc32(body):
        raise StoreCorrupted(f"{path}: corrupted file (checksum mismatch in line {line[:80]!r})")
    return files.decode(body, path)


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The snapshot, or None when absent or not ours (the original application's, or an
    older format: derived again from the record files).

    Raises:
        StoreCorrupted: ours, but damaged.
    """
    try:
        data = files.read_bytes(path)
    except FileNotFoundError:
        return None
    meta = files.decode(data, path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    if not data.startswith(_SNAPSHOT_HEAD) or data[_CRC_END:].find(b'",') != 0:
        raise StoreCorrupted(f"{path}: corrupted file (no checksum)")
    if data[len(_SNAPSHOT_HEAD) : _CRC_END] != b"%08x" % zlib.crc32(data[_CRC_END + 2 :]):
        raise StoreCorrupted(f"{path}: corrupted file (checksum mismatch)")
    if not (
        isinstance(meta.get("ids"), list)
        and isinstance(meta.get("fps"), list)
        and isinstance(meta.get("indexes"), dict)
        and isinstance(meta.get("generation"), int)
    ):
        raise StoreCorrupted(f"{path}: corrupted file (no ids, fingerprints or indexes)")
    return meta


def _entries(lines: list[bytes], path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in lines:
        entry = _decode_line(line, path)
        if not isinstance(entry, dict) or not (
            isinstance(entry.get("g"), int) or isinstance(entry.get("p"), list)
        ):
            raise StoreCorrupted(f"{path}: corrupted file (bad entry {line[:80]!r})")
        entries.append(entry)
    return entries


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
    header = _decode_line(lines[0], path) if lines else None
    if (
        not isinstance(header, dict)
        or header.get("format") != FORMAT
        or not isinstance(header.get("base"), int)
    ):
        raise StoreCorrupted(f"{path}: corrupted file (no journal header)")
    journal = Journal(
        (st.st_dev, st.st_ino), size, len(lines[0]) + 1, header["base"], header.get("boot")
    )
    journal.entries = _entries(lines[1:], path)
    return journal


def read_tail(path: Path, sig: Signature, offset: int) -> tuple[list[dict[str, Any]], int] | None:
    """Entries appended after `offset` and the new end; None if the file was replaced.

    Raises:
        StoreCorrupted: a damaged line.
    """
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
    return _entries(tail[:end].split(b"\n")[:-1], path), offset + end


def write_snapshot(
    directory: Path,
    table: str,
    generation: int,
    snapshot: tuple[list[str], list[int], dict[str, Any]],
    durable: bool,
) -> tuple[Signature, int, int]:
    """Write the snapshot, then start a journal after it.

    Returns:
        The journal's signature and size, and the snapshot's size.
    """
    ids, fps, indexes = snapshot
    body = files.encode(
        {"table": table, "generation": generation, "ids": ids, "fps": fps, "indexes": indexes},
        table,
    )[1:]
    data = b'%s%08x",%s' % (_SNAPSHOT_HEAD, zlib.crc32(body), body)
    directory.mkdir(parents=True, exist_ok=True)
    if durable:  # the table directory's own entry must survive a crash too
        files.fsync_dir(directory.parent)
    atomic.write_atomic(directory / files.METADATA, data, durable)
    head = {"format": FORMAT, "base": generation, "table": table, "boot": files.BOOT_ID}
    header = encode_line(head, table)
    journal = directory / files.JOURNAL
    atomic.write_atomic(journal, header, durable)
    st = os.stat(journal)
    return (st.st_dev, st.st_ino), len(header), len(data)


def journal_before_boot(path: Path) -> bool:
    """Whether the journal was started before this boot (so it is derived again)."""
    if files.BOOT_ID is None:
        return False
    try:
        with open(path, "rb") as handle:
            header = _decode_line(handle.readline(), path)
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
        tail = files.read_bytes(journal)[-65536:]
        for line in tail.splitlines():
            with contextlib.suppress(ValueError, StoreCorrupted, AttributeError, TypeError):
                best = max(best, int(files.decode(line[9:], journal).get("g", 0)))
    return best
