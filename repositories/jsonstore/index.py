"""The in-memory ids and secondary indexes of one table.

Indexed: ``id`` (the id set), fields ending in ``_id`` and fields marked ``index=True``
(scalar kinds; JSON fields are scanned). A posting maps the value a condition compares
with (`index_key`) to the ids holding it, so ``eq``, ``in`` and ``isnull=True`` pick their
rows without a scan. The snapshot form groups ids by stored value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from models.schema import FieldSpec
from repositories.jsonstore import files
from repositories.lookups import comparable

__all__ = ["TableIndex", "index_key"]


def index_key(spec: FieldSpec | None, stored: Any) -> Any:
    """The hashable key a stored value is indexed under (what conditions compare with)."""
    if stored is None:
        return None
    if isinstance(stored, dict | list):  # not a scalar: can never equal a condition value
        return ("json", files.encode(stored, "index"))
    if spec is not None and spec.kind == "datetime":
        try:
            return comparable(spec, stored)
        except (TypeError, ValueError):
            return ("bad", str(stored))
    return stored


class TableIndex:
    """Record ids, and per indexed field its postings (key -> ids)."""

    def __init__(self, fields: Mapping[str, FieldSpec | None]) -> None:
        self.fields = dict(fields)
        self.ids: set[str] = set()
        self.postings: dict[str, dict[Any, set[str]]] = {k: {} for k in self.fields}
        self.stored: dict[str, dict[str, Any]] = {}  # id -> indexed field -> stored value

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The indexed fields' stored values of a row."""
        return {key: row.get(key) for key in self.fields}

    def put(self, record_id: str, values: Mapping[str, Any]) -> None:
        self.drop(record_id)
        self.ids.add(record_id)
        stored = {key: values.get(key) for key in self.fields}
        self.stored[record_id] = stored
        for key, value in stored.items():
            ident = index_key(self.fields[key], value)
            self.postings[key].setdefault(ident, set()).add(record_id)

    def drop(self, record_id: str) -> None:
        self.ids.discard(record_id)
        old = self.stored.pop(record_id, None)
        if old is None:
            return
        for key, value in old.items():
            posting = self.postings[key]
            ident = index_key(self.fields[key], value)
            members = posting.get(ident)
            if members is not None:
                members.discard(record_id)
                if not members:
                    del posting[ident]

    def lookup(self, field: str, keys: Iterable[Any]) -> set[str] | None:
        """Ids whose indexed `field` equals one of `keys`; None when `field` has no index."""
        posting = self.postings.get(field)
        if posting is None:
            return None
        found: set[str] = set()
        for key in keys:
            found.update(posting.get(key, ()))
        return found

    def is_stale(self, record_id: str, row: Mapping[str, Any]) -> bool:
        """Whether the index holds other values for `record_id` than `row` has."""
        held = self.stored.get(record_id, {})
        return any(
            index_key(spec, held.get(key)) != index_key(spec, row.get(key))
            for key, spec in self.fields.items()
        )

    def to_snapshot(self) -> dict[str, list[list[Any]]]:
        """Per field, ``[[stored value, [ids...]], ...]`` (ids sorted)."""
        groups: dict[str, dict[str, list[Any]]] = {key: {} for key in self.fields}
        for record_id in sorted(self.ids):
            for key, value in self.stored[record_id].items():
                token = files.encode(value, "index").decode()
                groups[key].setdefault(token, [value, []])[1].append(record_id)
        return {key: list(group.values()) for key, group in groups.items()}

    def load_snapshot(self, ids: list[str], indexes: Mapping[str, Any]) -> None:
        """Fill from `to_snapshot` data; `KeyError`/`TypeError`/`ValueError` if malformed."""
        values: dict[str, dict[str, Any]] = {rid: {} for rid in ids}
        for key, groups in indexes.items():
            for value, members in groups:
                for rid in members:
                    values[rid][key] = value
        for rid, stored in values.items():
            self.put(rid, stored)
