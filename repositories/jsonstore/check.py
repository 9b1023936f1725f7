"""`check(path, repair=False)`: is a JSON store's metadata consistent with its files?

Per table it reports orphaned temp files, record files missing from the metadata,
metadata entries without a file, corrupted files and index data that disagrees with a
file. ``repair=True`` derives the metadata again from the record files and removes the
orphaned temp files; corrupted files are never deleted: they stay reported until someone
fixes or removes them.

Like any open, a check takes each table's lock and first recovers a table whose last
writer died mid-operation (reported as ``recovered_interrupted_write``) and derives the
metadata of a table last written before a reboot again (``rederived_after_reboot``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.schema import FieldSpec, model_info
from repositories.errors import InvalidQuery, StoreCorrupted
from repositories.jsonstore import files, journal
from repositories.jsonstore.locks import TableLock
from repositories.jsonstore.table import TableState

__all__ = ["CheckReport", "TableReport", "check"]


@dataclass
class TableReport:
    """What `check` found in one table directory."""

    table: str
    records: int = 0
    orphaned_temp_files: list[Path] = field(default_factory=list)
    missing_from_metadata: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    corrupted_files: list[tuple[Path, str]] = field(default_factory=list)
    stale_index: list[str] = field(default_factory=list)
    metadata_rebuild_needed: bool = False
    recovered_interrupted_write: bool = False
    rederived_after_reboot: bool = False
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """No problem left (after a repair: none that a repair could not fix)."""
        if self.repaired:  # metadata and journal were derived again; records never are
            derived = (files.METADATA, files.JOURNAL)
            return all(path.name in derived for path, _ in self.corrupted_files)
        if self.corrupted_files:
            return False
        return not (
            self.orphaned_temp_files
            or self.missing_from_metadata
            or self.missing_files
            or self.stale_index
            or self.metadata_rebuild_needed
        )

    def problems(self) -> list[str]:
        """One human-readable line per finding."""
        out = [f"{self.table}: orphaned temp file {p.name}" for p in self.orphaned_temp_files]
        out += [
            f"{self.table}: record {i!r} missing from metadata" for i in self.missing_from_metadata
        ]
        out += [
            f"{self.table}: metadata lists {i!r} but its file is missing"
            for i in self.missing_files
        ]
        out += [f"{self.table}: corrupted file {p}: {why}" for p, why in self.corrupted_files]
        out += [f"{self.table}: index data of {i!r} is stale" for i in self.stale_index]
        if self.metadata_rebuild_needed:
            out.append(f"{self.table}: metadata missing, foreign or outdated (repair derives it)")
        if self.recovered_interrupted_write:
            out.append(f"{self.table}: recovered after a writer died mid-operation")
        if self.rederived_after_reboot:
            out.append(f"{self.table}: metadata derived again (last written before a reboot)")
        return out


@dataclass
class CheckReport:
    """What `check` found in a store; `ok` when nothing needs attention."""

    path: Path
    tables: list[TableReport] = field(default_factory=list)
    corrupted_files: list[tuple[Path, str]] = field(default_factory=list)
    root_temp_files: list[Path] = field(default_factory=list)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        leftovers = self.root_temp_files and not self.repaired
        return not (self.corrupted_files or leftovers) and all(t.ok for t in self.tables)

    def problems(self) -> list[str]:
        out = [f"corrupted file {p}: {why}" for p, why in self.corrupted_files]
        out += [f"orphaned temp file {p}" for p in self.root_temp_files]
        for table in self.tables:
            out += table.problems()
        return out

    @property
    def orphaned_temp_files(self) -> list[Path]:
        return self.root_temp_files + [p for t in self.tables for p in t.orphaned_temp_files]

    @property
    def missing_from_metadata(self) -> list[tuple[str, str]]:
        return [(t.table, i) for t in self.tables for i in t.missing_from_metadata]

    @property
    def missing_files(self) -> list[tuple[str, str]]:
        return [(t.table, i) for t in self.tables for i in t.missing_files]

    @property
    def all_corrupted_files(self) -> list[tuple[Path, str]]:
        return self.corrupted_files + [c for t in self.tables for c in t.corrupted_files]


def _index_fields(table: str, directory: Path) -> dict[str, FieldSpec | None]:
    """The indexed fields of a table: from its model when we know it, else its metadata."""
    from models import DATABASES

    for models in DATABASES.values():
        for model in models:
            info = model_info(model)
            if info.table == table:
                return {f.storage: f for f in info.fields if f.indexed and f.kind != "json"}
    try:
        meta = files.read_json(directory / files.METADATA)
    except (FileNotFoundError, StoreCorrupted):
        return {}
    indexes = meta.get("indexes") if isinstance(meta, dict) else None
    return dict.fromkeys(indexes, None) if isinstance(indexes, dict) else {}


def _check_table(state: TableState, repair: bool) -> TableReport:
    report = TableReport(state.table)
    with state.locked(load=False) as recovered:  # like any open: a dead writer's table
        report.recovered_interrupted_write = recovered  # is recovered first
        if not recovered and journal.journal_before_boot(state.journal_path):
            state.load_locked(dirty=True)  # as any first open after a reboot does
            report.rederived_after_reboot = True
        try:
            _examine(state, report)
            if repair and not report.ok:
                state.rebuild()
                report.repaired = True
        finally:
            state.forget()
    state.close()
    return report


def _examine(state: TableState, report: TableReport) -> None:
    """Read the metadata and every record file afresh and compare them."""
    on_disk, temps = files.scan_records(state.directory)
    report.orphaned_temp_files = [state.directory / name for name in sorted(temps)]
    state.forget()
    try:
        report.metadata_rebuild_needed = not state.read_view()
    except StoreCorrupted as exc:
        damaged = state.journal_path if str(state.journal_path) in str(exc) else None
        report.corrupted_files.append((damaged or state.metadata_path, str(exc)))
        report.metadata_rebuild_needed = True
    listed = set(state.ids) if not report.metadata_rebuild_needed else set()
    if not report.metadata_rebuild_needed:
        report.missing_from_metadata = sorted(on_disk.keys() - listed)
        report.missing_files = sorted(listed - on_disk.keys())
    for record_id in sorted(on_disk):
        try:
            row, _, _ = state.read_row(record_id)
        except (StoreCorrupted, FileNotFoundError) as exc:
            report.corrupted_files.append((state.path(record_id), str(exc)))
            continue
        report.records += 1
        if record_id in listed and state.index.is_stale(record_id, row):
            report.stale_index.append(record_id)


def _check_system(root: Path, report: CheckReport, repair: bool) -> None:
    system = root / files.SYSTEM
    if system.exists():
        try:
            if not isinstance(files.read_json(system), dict):
                report.corrupted_files.append((system, "not a JSON object"))
        except StoreCorrupted as exc:
            report.corrupted_files.append((system, str(exc)))
    report.root_temp_files = sorted(p for p in root.iterdir() if files.is_temp(p.name))
    if repair:
        for temp in report.root_temp_files:
            temp.unlink(missing_ok=True)


def check(path: str | Path, repair: bool = False, lock_timeout: float = 10.0) -> CheckReport:
    """Check (and with `repair`, fix) the JSON store at `path` (a directory or URL).

    Args:
        path: the store directory, or its ``jsonfile://<dir>`` URL.
        repair: derive the metadata again from the record files, remove temp files.
        lock_timeout: seconds to wait for each table's lock.

    Raises:
        InvalidQuery: `path` is not a store directory.
        LockTimeout: a table stayed locked by another process.
    """
    text = str(path)
    root = (
        Path(text[len("jsonfile://") :]) if text.lower().startswith("jsonfile://") else Path(text)
    )
    if not root.is_dir():
        raise InvalidQuery(f"{root}: no JSON store directory there")
    report = CheckReport(root, repaired=repair)
    system_lock = TableLock("_system", root, lock_timeout)  # _system.json's writers take it
    try:
        with system_lock:
            _check_system(root, report, repair)
    finally:
        system_lock.close()
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            name = files.validate_table_name(entry.name)
        except InvalidQuery:
            continue
        state = TableState(name, entry, _index_fields(name, entry), lock_timeout, durable=True)
        report.tables.append(_check_table(state, repair))
    return report
