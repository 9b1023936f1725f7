"""A model's records as storage rows: the one way in for every value a backend stores.

`RowRules` turns a model instance (create, upsert, import) or a partial change (update)
into a row keyed by storage names, in JSON mode, with datetimes as UTC ISO text, and
applies the rules of `repositories.values` to every field, so every backend receives the
same, already checked, values and refuses the same input with the same `InvalidQuery`.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import to_json

from models.base import AUDIT_FIELDS
from models.schema import FieldSpec, ModelInfo
from repositories.errors import InvalidQuery
from repositories.ids import MAX_ID_BYTES, validate_record_id
from repositories.lookups import utc_iso
from repositories.values import (
    INT64_MAX,
    INT64_MIN,
    MAX_INDEXED_TEXT_BYTES,
    MAX_JSON_DEPTH,
    check_storable,
    short,
)

__all__ = ["RowRules"]

#: The models' own rules for a value validated alone (an update): finite numbers, and
#: NaN inside a JSON field kept as NaN when dumped (so refused), not turned into null.
_CONFIG = ConfigDict(allow_inf_nan=False, ser_json_inf_nan="constants")

#: The field kinds whose bare type validates and dumps a value of exactly that type as
#: itself (`RowRules._plain_type`).
_PLAIN_KINDS: dict[str, type] = {"int": int, "text": str, "float": float, "bool": bool}

#: The model config keys that change what a bare int, str, float or bool validates to
#: (`RowRules._plain_type`).
_SCALAR_CONFIG = frozenset(
    {
        "str_to_lower",
        "str_to_upper",
        "str_strip_whitespace",
        "str_min_length",
        "str_max_length",
        "strict",
    }
)
#: Every model config key that changes what a value validates or dumps to: a change is
#: validated under them as the record is (`RowRules._adapter`).
_VALUE_CONFIG = _SCALAR_CONFIG | frozenset(
    {
        "coerce_numbers_to_str",
        "use_enum_values",
        "arbitrary_types_allowed",
        "regex_engine",
        "val_json_bytes",
        "ser_json_bytes",
        "ser_json_timedelta",
        "ser_json_temporal",
        "val_temporal_unit",
    }
)

#: What pydantic raises when a value cannot be dumped as JSON (bytes that are not UTF-8,
#: nesting past its serialisation limit); PydanticSerializationError is a ValueError.
_DUMP_ERRORS = (ValueError, RecursionError, OverflowError)


class RowRules:
    """Storage rows of one model, checked field by field."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self._datetimes = [f for f in info.fields if f.kind == "datetime"]
        # every field but the id (it has its own rule), with its error prefix made once
        self._plan = [
            (f, f.storage, f.kind, f"{info.table}.{f.name}") for f in info.fields if f.name != "id"
        ]
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        own = info.model.model_config
        # a change is validated as the model validates that field: its config's value
        # rules (``str_max_length``…) under ours (finite numbers, NaN refused)
        value_rules = {k: v for k, v in own.items() if k in _VALUE_CONFIG}
        self._config = ConfigDict(**value_rules, **_CONFIG)  # type: ignore[typeddict-item]
        self._scalar_config = bool(_SCALAR_CONFIG & own.keys())
        #: Whether the model has validators of its own (``field_validator``,
        #: ``model_validator``): a change can then only be checked on the whole record.
        self.whole_record_rules = _has_validators(info.model)
        self._json_text = _json_text_plan(info)
        # an update's hot path: each name a change may use (python or storage name) to
        # its field, the exact type whose values pass unchanged, and its error prefix
        self._changeable = {
            name: (spec, self._plain_type(spec), self._where(spec))
            for name, spec in info.by_name.items()
            if spec.name != "id" and spec.name not in AUDIT_FIELDS
        }

    def _adapter(self, spec: FieldSpec) -> TypeAdapter[Any]:
        adapter = self._adapters.get(spec.name)
        if adapter is None:
            try:
                adapter = TypeAdapter(_annotated(spec), config=self._config)
            except PydanticUserError:  # a model type carries its own config
                adapter = spec.adapter
            self._adapters[spec.name] = adapter
        return adapter

    def _where(self, spec: FieldSpec) -> str:
        return f"{self.info.table}.{spec.name}"

    def dump(self, obj: BaseModel) -> dict[str, Any]:
        """A model instance as a checked storage row (no audit stamping)."""
        return self.dump_many([obj])[0]

    def dump_many_json_text(self, objs: Sequence[BaseModel]) -> list[dict[str, Any]]:
        """As `dump_many`, but JSON fields may come as their JSON text (``bytes``, UTF-8):
        for a writer that sends the text (COPY), which then never builds the documents as
        Python objects (most of a bulk dump's cost) only to encode them again.

        The model's serializer writes the text directly. The rules are checked on it where
        it shows a document plainly clean: no ``\\u0000``, ``NaN``, ``Infinity`` or U+FFFD,
        few enough brackets, no null in a field that may not be None; anything else (and
        any serializer error) is left to `dump_many`, whose exact checks refuse or accept
        it and name the problem.
        """
        plan = self._json_text
        model = self.info.model
        if plan is None or not objs or not all(isinstance(o, model) for o in objs):
            return self.dump_many(objs)
        serializer = model.__pydantic_serializer__
        to_python, to_text = serializer.to_python, serializer.to_json
        exclude = {spec.name for spec, _, _ in plan}
        rows: list[dict[str, Any]] = []
        texts: list[list[bytes]] = [[] for _ in plan]
        try:
            for obj in objs:
                rows.append(
                    to_python(obj, mode="json", by_alias=True, warnings=False, exclude=exclude)
                )
                for column, (_, include, _) in zip(texts, plan, strict=True):
                    column.append(to_text(obj, by_alias=True, warnings=False, include=include))
        except _DUMP_ERRORS:
            return self.dump_many(objs)
        documents = []
        for (spec, _, prefix), column in zip(plan, texts, strict=True):
            values = _plain_documents(spec, prefix, column)
            if values is None:
                return self.dump_many(objs)
            documents.append((spec.storage, values))
        for row in rows:
            for spec in self._datetimes:
                row[spec.storage] = self._utc(spec, row[spec.storage])
        self.check_many(rows, objs, json=False)
        for storage, values in documents:
            for row, value in zip(rows, values, strict=True):
                row[storage] = value
        return rows

    def dump_many(self, objs: Sequence[BaseModel]) -> list[dict[str, Any]]:
        """Model instances as checked storage rows, all checked before any is returned."""
        model = self.info.model
        rows = []
        for obj in objs:
            if not isinstance(obj, model):
                raise InvalidQuery(
                    f"{self.info.table}: expected a {model.__name__}, got {type(obj).__name__}"
                )
            try:
                # warnings off: a value assigned without validation is judged by check()
                row = obj.__pydantic_serializer__.to_python(
                    obj, mode="json", by_alias=True, warnings=False
                )
            except _DUMP_ERRORS as exc:
                raise self._dump_error(obj, exc) from exc
            for spec in self._datetimes:
                row[spec.storage] = self._utc(spec, row[spec.storage])
            rows.append(row)
        self.check_many(rows, objs)
        return rows

    def _dump_error(self, obj: BaseModel, exc: BaseException) -> InvalidQuery:
        """Name the field that could not be dumped (found by dumping one at a time)."""
        for spec in self.info.fields:
            try:
                spec.adapter.dump_python(getattr(obj, spec.name, None), mode="json")
            except _DUMP_ERRORS as field_exc:
                return InvalidQuery(f"{self._where(spec)}: cannot be stored: {_reason(field_exc)}")
        return InvalidQuery(f"{self.info.table}: record cannot be stored: {_reason(exc)}")

    def check_many(
        self,
        rows: Sequence[Mapping[str, Any]],
        objs: Sequence[BaseModel] | None = None,
        json: bool = True,
    ) -> None:
        """Apply the storage rules to every field of full rows (dumped from `objs`); not
        to JSON fields unless `json` (`dump_many_json_text` checks their text).

        The hot path of every bulk write, hence by column: one C-level pass decides a
        whole column in the common case (`_column_clean`); a column that is not plainly
        clean is checked value by value, which names the field and the problem.
        """
        table = self.info.table
        if not rows:
            return
        plan = self._plan if json else [p for p in self._plan if p[2] != "json"]
        columns = transposed(rows, ["id", *(storage for _, storage, _, _ in plan)])
        if not _ids_plain(columns[0]):
            for record_id in columns[0]:
                validate_record_id(table, record_id)
        for (spec, _, kind, where), values in zip(plan, columns[1:], strict=True):
            if kind != "json" and _column_clean(spec, values):
                continue
            for index, value in enumerate(values):
                if value is None:
                    if not spec.nullable:
                        raise InvalidQuery(f"{where}: may not be None")
                    continue
                source = None
                if objs is not None and kind == "json":
                    source = functools.partial(getattr, objs[index], spec.name)
                check_storable(spec, value, where, source)

    def changes(self, record_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a partial update into storage values (audit fields dropped)."""
        if type(changes) is not dict and not isinstance(changes, Mapping):
            raise InvalidQuery(f"{self.info.table}: changes must be a mapping")
        values: dict[str, Any] = {}
        changeable = self._changeable
        for key, value in changes.items():
            entry = changeable.get(key)
            if entry is None:
                self._unchangeable(record_id, key, value)
                continue
            spec, plain, where = entry
            if type(value) is plain and (type(value) is not float or math.isfinite(value)):
                check_storable(spec, value, where)
                values[spec.storage] = value
            else:
                values[spec.storage] = self._value(spec, value)
        return values

    def _unchangeable(self, record_id: str, key: Any, value: Any) -> None:
        """A change of a field no update sets: the audit fields are skipped (the
        repository sets them, never input), the record's own id too; anything else is
        refused."""
        spec = self.info.resolve(key) if isinstance(key, str) else None
        if spec is None:
            raise InvalidQuery(f"{self.info.table}: unknown field {short(key)} in changes")
        if spec.name == "id" and value != record_id:
            raise InvalidQuery(f"{self.info.table}: the id of a record cannot change")

    def _plain_type(self, spec: FieldSpec) -> type | None:
        """The exact type whose values the field's validation and JSON dump return
        unchanged (a bare ``int``, ``str``, ``float`` or ``bool``: no constraint), so a
        change of that type skips both; None for any other field."""
        plain = _PLAIN_KINDS.get(spec.kind)
        if plain is None or spec.metadata or self._scalar_config:
            return None
        return plain if _bare(spec) is plain else None

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        where = self._where(spec)
        if value is None:
            if not spec.nullable:
                raise InvalidQuery(f"{where}: may not be None")
            return None
        try:
            validated = self._adapter(spec).validate_python(value)
        except ValidationError as exc:
            raise InvalidQuery(f"{where}: bad value {short(value)}: {_reason(exc)}") from exc
        except _DUMP_ERRORS as exc:  # e.g. recursion in a very deep document
            raise InvalidQuery(f"{where}: bad value {short(value)}: {_reason(exc)}") from exc
        try:
            stored = self._adapter(spec).dump_python(validated, mode="json")
        except _DUMP_ERRORS as exc:
            raise InvalidQuery(f"{where}: cannot be stored: {_reason(exc)}") from exc
        stored = self._utc(spec, stored)
        check_storable(spec, stored, where, lambda: validated)
        return stored

    def _utc(self, spec: FieldSpec, stored: Any) -> Any:
        try:
            return utc_iso(spec, stored)
        except (ValueError, OverflowError, TypeError) as exc:
            raise InvalidQuery(f"{self._where(spec)}: not a storable datetime: {exc}") from exc


def transposed(rows: Sequence[Mapping[str, Any]], keys: list[str]) -> list[Sequence[Any]]:
    """The values of `keys` in `rows`, column by column (a missing key is None); `rows`
    is not empty."""
    if len(keys) > 1:
        try:  # one C-level transposition when every row has every key
            return list(zip(*map(operator.itemgetter(*keys), rows), strict=True))
        except (KeyError, TypeError):
            pass
    return [[row.get(key) for row in rows] for key in keys]


def _ids_plain(ids: Sequence[Any]) -> bool:
    """Whether every id takes `validate_record_id`'s common case (short, alphanumeric),
    decided for all of them in a few C-level passes."""
    if not ids or set(map(type, ids)) != {str}:
        return False
    lengths = list(map(len, ids))
    return min(lengths) > 0 and max(lengths) <= MAX_ID_BYTES // 4 and "".join(ids).isalnum()


def _json_text_plan(info: ModelInfo) -> list[tuple[FieldSpec, set[str], bytes]] | None:
    """Per JSON field: its spec, the serializer's include for it alone and the text that
    then comes before its value. None where the text could differ from the JSON-mode
    dump: a custom model serializer, a field left out of dumps, or a config anywhere in
    the schema that writes NaN as null (the dump keeps the float, which is refused)."""
    specs = [f for f in info.fields if f.kind == "json"]
    model = info.model
    if not specs or not _constants_everywhere(model.__pydantic_core_schema__):
        return None
    if model.__pydantic_decorators__.model_serializers:
        return None
    if any(model.model_fields[f.name].exclude for f in specs):
        return None
    return [(f, {f.name}, b"{" + to_json(f.storage) + b":") for f in specs]


def _constants_everywhere(schema: Any) -> bool:
    """Every config in a core schema keeps NaN and infinity as such in JSON."""
    if isinstance(schema, dict):
        config = schema.get("config")
        if isinstance(config, dict) and config.get("ser_json_inf_nan") != "constants":
            return False
        return all(_constants_everywhere(v) for v in schema.values())
    if isinstance(schema, list | tuple):
        return all(_constants_everywhere(v) for v in schema)
    return True


def _plain_documents(spec: FieldSpec, prefix: bytes, texts: list[bytes]) -> list[Any] | None:
    """The JSON texts of one field (each ``prefix + document + b"}"``) as documents, None
    for null; None in place of the list where any is not plainly clean."""
    if not all(map(bytes.startswith, texts, itertools.repeat(prefix))) or not all(
        map(bytes.endswith, texts, itertools.repeat(b"}"))
    ):
        return None
    joined = b"\n".join(texts)
    if (
        b"\\u0000" in joined
        or b"NaN" in joined
        or b"Infinity" in joined
        or b"\xef\xbf\xbd" in joined  # U+FFFD: maybe a replaced lone surrogate in a key
    ):
        return None
    if joined.count(b"[") + joined.count(b"{") > MAX_JSON_DEPTH:
        opened = map(
            operator.add,
            map(bytes.count, texts, itertools.repeat(b"[")),
            map(bytes.count, texts, itertools.repeat(b"{")),
        )
        if max(opened) - 1 > MAX_JSON_DEPTH:  # the text's own brace counted once
            return None
    cut = len(prefix)
    documents: list[Any] = [t[cut:-1] for t in texts]
    if b"null" in documents:
        if not spec.nullable:
            return None
        documents = [None if d == b"null" else d for d in documents]
    return documents


def _column_clean(spec: FieldSpec, values: Sequence[Any]) -> bool:
    """Whether a whole column (non-JSON) plainly keeps every rule, in a few C-level passes.

    False means "look closer", not "bad": the caller then checks each value.
    """
    present = [v for v in values if v is not None] if None in values else values
    if len(present) != len(values) and not spec.nullable:
        return False
    if not present:
        return True
    types = set(map(type, present))
    kind = spec.kind
    if kind == "text":
        if types != {str}:
            return False
        joined = "".join(present)
        if "\x00" in joined:
            return False
        if not joined.isascii():
            try:
                joined.encode()  # a lone surrogate anywhere fails it
            except UnicodeEncodeError:
                return False
            longest_bytes = 4 * max(map(len, present))  # at most 4 bytes a character
        else:
            longest_bytes = max(map(len, present))
        return not spec.indexed or longest_bytes <= MAX_INDEXED_TEXT_BYTES
    if kind == "float":
        if not types <= {float, int}:
            return False
        try:
            return math.isfinite(math.fsum(present))  # NaN or ±inf anywhere spoils the sum
        except OverflowError:
            return False
    if kind == "int":
        return types == {int} and min(present) >= INT64_MIN and max(present) <= INT64_MAX
    return types == ({bool} if kind == "bool" else {str})  # bool; datetime as ISO text


def _bare(spec: FieldSpec) -> Any:
    """The field's type without Optional (None is handled before validation)."""
    annotation = spec.annotation
    if spec.nullable:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    return annotation


def _annotated(spec: FieldSpec) -> Any:
    """The field's bare type with its own constraints and validators (`_bare`)."""
    bare = _bare(spec)
    return Annotated[(bare, *spec.metadata)] if spec.metadata else bare


def _has_validators(model: type[BaseModel]) -> bool:
    decorators = model.__pydantic_decorators__
    return bool(
        decorators.field_validators
        or decorators.model_validators
        or decorators.validators
        or decorators.root_validators
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        return str(errors[0]["msg"]) if errors else str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
