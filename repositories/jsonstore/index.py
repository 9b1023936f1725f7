"""The in-memory ids, secondary indexes and file fingerprints of one table.

Indexed: ``id`` (the id set), fields ending in ``_id`` and fields marked ``index=True``
(scalar kinds; JSON fields are scanned). A posting maps the value a condition compares
with (`index_key`) to the ids holding it, so ``eq``, ``in`` and ``isnull=True`` pick their
rows without a scan. A query is planned from its smallest posting: the other indexed
conditions are probed per candidate (a set membership test), so no large posting is ever
copied and a tenant-scoped lookup costs what its matches cost, whatever the table size.

Each id also has the fingerprint of its record file (`files.fingerprint`) as last written
or verified: a cold load compares it with the file's, to notice files changed behind the
store's back. The snapshot form groups ids by stored value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from models.schema import FieldSpec
from repositories.jsonstore import files
from repositories.lookups import Condition, comparable

__all__ = ["Plan", "TableIndex", "index_key"]

_EMPTY: frozenset[str] = frozenset()


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


class Plan:
    """How to find a query's candidates: walk `driver`, keep ids found in every probe.

    Attributes:
        driver: the smallest id collections of one condition (their union is walked),
            or None when no condition has an index (every id is a candidate).
        probes: per other indexed condition, the id collections one of which must hold a
            candidate.
        answered: positions of the conditions the index answers exactly.
    """

    __slots__ = ("answered", "driver", "probes")

    def __init__(
        self,
        driver: list[Collection[str]] | None,
        probes: list[list[Collection[str]]],
        answered: set[int],
    ) -> None:
        self.driver = driver
        self.probes = probes
        self.answered = answered

    def ids(self, every: Collection[str]) -> Iterable[str]:
        """The candidate ids (each once), `every` being all ids when no index drives."""
        sources = [every] if self.driver is None else self.driver
        probes = self.probes
        if len(sources) == 1:
            source = sources[0]
            if not probes:
                return source  # the common case (an id, one value): nothing to walk
            if len(probes) == 1 and len(probes[0]) == 1:
                members = probes[0][0]  # one value of one other condition (a tenant scope)
                return [rid for rid in source if rid in members]
        return self._walk(sources)

    def id_collection(self, every: Collection[str]) -> Collection[str]:
        """`ids` as a collection: sized, and safe to go through more than once."""
        ids = self.ids(every)
        return ids if isinstance(ids, Collection) else list(ids)

    def holds(self, record_id: str, every: Collection[str]) -> bool:
        """Whether `record_id` is one of the candidates (one membership test per condition)."""
        sources = [every] if self.driver is None else self.driver
        return any(record_id in source for source in sources) and all(
            any(record_id in members for members in probe) for probe in self.probes
        )

    def _walk(self, sources: list[Collection[str]]) -> Iterator[str]:
        seen: set[str] | None = set() if len(sources) > 1 else None
        # a probe of one collection is one membership test; of several, any of them
        single = [probe[0] for probe in self.probes if len(probe) == 1]
        several = [probe for probe in self.probes if len(probe) != 1]
        for source in sources:
            for record_id in source:
                if seen is not None:
                    if record_id in seen:
                        continue
                    seen.add(record_id)
                if single and not all(record_id in members for members in single):
                    continue
                if several and not all(
                    any(record_id in members for members in probe) for probe in several
                ):
                    continue
                yield record_id


class TableIndex:
    """Record ids, per indexed field the stored values and postings, and fingerprints."""

    def __init__(self, fields: Mapping[str, FieldSpec | None]) -> None:
        self.fields = dict(fields)
        self.ids: set[str] = set()
        self.postings: dict[str, dict[Any, set[str]]] = {k: {} for k in self.fields}
        self.stored: dict[str, dict[str, Any]] = {k: {} for k in self.fields}  # field->id->v
        self.fps: dict[str, int] = {}

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The indexed fields' stored values of a row."""
        return {key: row.get(key) for key in self.fields}

    def claims(self, record_id: str) -> dict[str, Any]:
        """The indexed values the index holds for `record_id`."""
        return {key: self.stored[key].get(record_id) for key in self.fields}

    def put(self, record_id: str, values: Mapping[str, Any], fp: int | None = None) -> None:
        if record_id in self.ids:
            self._unindex(record_id)
        self.ids.add(record_id)
        for key, spec in self.fields.items():
            value = values.get(key)
            self.stored[key][record_id] = value
            self.postings[key].setdefault(index_key(spec, value), set()).add(record_id)
        if fp is None:
            self.fps.pop(record_id, None)
        else:
            self.fps[record_id] = fp

    def drop(self, record_id: str) -> None:
        if record_id in self.ids:
            self._unindex(record_id)
            self.ids.discard(record_id)
        self.fps.pop(record_id, None)

    def _unindex(self, record_id: str) -> None:
        for key, spec in self.fields.items():
            value = self.stored[key].pop(record_id, None)
            posting = self.postings[key]
            ident = index_key(spec, value)
            members = posting.get(ident)
            if members is not None:
                members.discard(record_id)
                if not members:
                    del posting[ident]

    def is_stale(self, record_id: str, row: Mapping[str, Any]) -> bool:
        """Whether the index holds other values for `record_id` than `row` has."""
        if record_id not in self.ids:
            return True
        for key, spec in self.fields.items():
            held = self.stored[key].get(record_id)
            if held != row.get(key) and index_key(spec, held) != index_key(spec, row.get(key)):
                return True
        return False

    # --- planning -----------------------------------------------------------------------

    def plan(self, conditions: Sequence[Condition]) -> Plan:
        """Drive by the condition with the fewest ids; probe the other indexed ones."""
        driver: list[Collection[str]] | None = None
        smallest = 0
        probes: list[list[Collection[str]]] = []
        answered: set[int] = set()
        for position, cond in enumerate(conditions):
            found = self._sources(cond)
            if found is None:
                continue
            answered.add(position)
            size = len(found[0]) if len(found) == 1 else sum(map(len, found))
            if driver is None or size < smallest:
                if driver is not None:
                    probes.append(driver)
                driver, smallest = found, size
            else:
                probes.append(found)
        return Plan(driver, probes, answered)

    def _sources(self, cond: Condition) -> list[Collection[str]] | None:
        """The id collections an indexed condition selects (no copies), else None."""
        op = cond.op
        if cond.field.name == "id":
            if op == "eq":
                return [(cond.value,) if cond.value in self.ids else ()]
            if op == "in":
                return [{rid for rid in cond.value if rid in self.ids}]
            return None
        posting = self.postings.get(cond.field.storage)
        if posting is None:
            return None
        if op == "eq":
            keys: Iterable[Any] = (cond.value,)
        elif op == "in":
            keys = dict.fromkeys(cond.value)
        elif op == "isnull" and cond.value:
            keys = (None,)
        else:
            return None
        return [posting.get(key, _EMPTY) for key in keys]

    # --- snapshots ----------------------------------------------------------------------

    def to_snapshot(self) -> tuple[list[str], list[int], dict[str, list[list[Any]]]]:
        """Sorted ids, their fingerprints (0: unknown) and per field ``[[value, [k...]]]``,
        each ``k`` a position in the ids (half the size of the ids themselves to parse)."""
        ids = sorted(self.ids)
        fps = self.fps
        groups: dict[str, list[list[Any]]] = {}
        for key in self.fields:
            stored = self.stored[key]
            by_value: dict[Any, list[Any]] = {}
            for position, record_id in enumerate(ids):
                value = stored[record_id]
                # grouped by exact stored value: 1, 1.0 and True are equal keys in a dict
                token = (
                    ("json", files.encode(value, "index"))
                    if isinstance(value, dict | list)
                    else (value.__class__, value)
                )
                group = by_value.get(token)
                if group is None:
                    by_value[token] = [value, [position]]
                else:
                    group[1].append(position)
            groups[key] = list(by_value.values())
        return ids, [fps.get(rid, 0) for rid in ids], groups

    def load_snapshot(self, ids: list[str], fps: list[int], indexes: Mapping[str, Any]) -> None:
        """Fill from `to_snapshot` data.

        Raises:
            ValueError: the data is inconsistent (an id without a value, or unknown).
        """
        self.ids = set(ids)
        if len(self.ids) != len(ids) or len(fps) != len(ids):
            raise ValueError("duplicate ids or fingerprints not aligned with ids")
        self.fps = dict(zip(ids, fps, strict=True))
        for key, spec in self.fields.items():
            stored: dict[str, Any] = {}
            posting: dict[Any, set[str]] = {}
            for value, positions in indexes[key]:
                members = [ids[k] for k in positions]
                stored.update(dict.fromkeys(members, value))
                ident = index_key(spec, value)
                held = posting.get(ident)
                if held is None:
                    posting[ident] = set(members)
                else:
                    held.update(members)
            if len(stored) != len(ids):
                raise ValueError(f"index data of {key!r} does not cover every id once")
            self.stored[key] = stored
            self.postings[key] = posting
