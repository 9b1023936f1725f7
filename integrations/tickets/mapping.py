"""The ticket mapping: which local field lives at which path of a ticket, and how.

A `TicketMapping` is what a YAML/JSON mapping file holds (``connectors tickets …
--mapping FILE``). A stored ``models.management.TicketSyncDefinition`` record names one for
a mandate: its ``definition`` field holds the mapping's data
(`TicketMapping.from_record` reads it back), and sync state is kept under the
mapping's `definition_id`.

Paths are dotted and may select list items: ``fields.status.name``, ``assignees[0].id``,
``custom_fields[name=Budget].value`` (a selector matches exactly, then case-insensitively;
on write a missing item is appended as ``{name: Budget}``). Each mapping has a direction
(``read``: external -> internal only, ``write``: internal -> external only, ``both``) and an
optional named transform, applied forwards on read and backwards on write.

Errors: `MappingError` (an `IntegrationError`) for
a file that cannot be read or parsed, an unknown transform, a bad path or a mapping
without its key field; the message names the file and the offending entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from integrations.errors import InvalidRequest
from integrations.tickets.adf import AdfError, adf_to_markdown, is_adf, markdown_to_adf
from integrations.tickets.base import TicketField
from integrations.tickets.errors import UnexpectedResponse
from models.management import TicketSyncDefinition

__all__ = [
    "TRANSFORMS",
    "FieldMapping",
    "MappingError",
    "TicketMapping",
    "TransformContext",
    "get_path",
    "parse_path",
    "set_path",
]

Direction = Literal["read", "write", "both"]
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]|(\.)")
Step = str | int | tuple[str, str]


class MappingError(InvalidRequest):
    """The ticket mapping is invalid (or a value does not fit one of its transforms)."""


def parse_path(path: str) -> list[Step]:
    """``a.b[0].c[name=X]`` -> ``["a", "b", 0, "c", ("name", "X")]``."""
    steps: list[Step] = []
    pos = 0
    for match in _TOKEN.finditer(path):
        if match.start() != pos:
            raise MappingError(f"cannot parse path {path!r} at {path[pos:]!r}")
        pos = match.end()
        key, index, sel_key, sel_value, dot = match.groups()
        if key is not None:
            steps.append(key)
        elif index is not None:
            steps.append(int(index))
        elif sel_key is not None:
            steps.append((sel_key.strip(), sel_value.strip()))
        elif dot is None:  # pragma: no cover - the regex has no other group
            raise MappingError(path)
    bad_dots = ".." in path or ".[" in path or path.startswith(".") or path.endswith(".")
    if pos != len(path) or not steps or bad_dots:
        raise MappingError(f"cannot parse path {path!r}")
    return steps


def _select(items: list[Any], key: str, value: str) -> Any:
    for exact in (True, False):
        for item in items:
            if isinstance(item, dict) and key in item:
                found = str(item[key])
                if found == value if exact else found.casefold() == value.casefold():
                    return item
    return None


def get_path(obj: Any, path: str) -> Any:
    """The value at ``path``, or None when any step is missing."""
    for step in parse_path(path):
        if isinstance(step, str):
            obj = obj.get(step) if isinstance(obj, dict) else None
        elif isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and -len(obj) <= step < len(obj) else None
        else:
            obj = _select(obj, *step) if isinstance(obj, list) else None
        if obj is None:
            return None
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at ``path``, creating dicts, lists and selected items on the way."""
    steps = parse_path(path)
    node: Any = obj
    for step, nxt in zip(steps, [*steps[1:], None], strict=True):
        last = nxt is None
        fresh: Any = [] if isinstance(nxt, int | tuple) else {}
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise MappingError(f"path {path!r}: {step!r} is not inside an object")
            if last:
                node[step] = value
            else:
                if not isinstance(node.get(step), dict | list):
                    node[step] = fresh
                node = node[step]
        elif isinstance(step, int):
            if not isinstance(node, list):
                raise MappingError(f"path {path!r}: index {step} is not inside a list")
            while len(node) <= step:
                node.append(None)
            if last:
                node[step] = value
            else:
                if node[step] is None:
                    node[step] = fresh
                node = node[step]
        else:
            if not isinstance(node, list):
                raise MappingError(f"path {path!r}: selector {step} is not inside a list")
            item = _select(node, *step)
            if item is None:
                item = {step[0]: step[1]}
                node.append(item)
            if last:
                raise MappingError(f"path {path!r} cannot end with a selector")
            node = item


class TransformContext(BaseModel):
    """What a transform may need: the mapping's path and the system's fields."""

    path: str
    attributes: dict[str, TicketField] = Field(default_factory=dict)

    def field_for_path(self) -> TicketField | None:
        """The field a path addresses, by id or name (``fields.X``, ``custom_fields[name=X]``)."""
        candidates = [str(s[1]) if isinstance(s, tuple) else str(s) for s in parse_path(self.path)]
        for candidate in reversed(candidates):
            if candidate in self.attributes:
                return self.attributes[candidate]
            folded = candidate.casefold()
            for attr in self.attributes.values():
                if attr.name.casefold() == folded:
                    return attr
        return None


Transform = Callable[[Any, TransformContext], Any]


def _ms_to_iso(value: Any, ctx: TransformContext) -> Any:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(float(value)) / 1000, UTC).isoformat()


def _iso_to_ms(value: Any, ctx: TransformContext) -> Any:
    if value in (None, ""):
        return None
    stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def _options(ctx: TransformContext) -> list[dict[str, Any]]:
    field = ctx.field_for_path()
    if field is None or not field.options:
        raise MappingError(f"{ctx.path}: no field with options found for option transform")
    return field.options


def _option_label(option: dict[str, Any]) -> str:
    return str(option.get("name") or option.get("label") or option.get("value") or "")


def _id_to_name(value: Any, ctx: TransformContext) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_id_to_name(v, ctx) for v in value]
    for option in _options(ctx):
        if value in (option.get("id"), option.get("orderindex")):
            return _option_label(option)
    return value


def _name_to_id(value: Any, ctx: TransformContext) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_name_to_id(v, ctx) for v in value]
    options = _options(ctx)
    for option in options:
        if _option_label(option).casefold() == str(value).casefold() or value == option.get("id"):
            return option.get("id")
    names = ", ".join(_option_label(o) for o in options)
    raise MappingError(f"{ctx.path}: {value!r} is not an option (options: {names})")


def _adf_to_md(value: Any, ctx: TransformContext) -> Any:
    return adf_to_markdown(value) if is_adf(value) else (value or "")


def _md_to_adf(value: Any, ctx: TransformContext) -> Any:
    if value is None or is_adf(value):
        return value
    return markdown_to_adf(str(value)) if str(value).strip() else None


def _join(value: Any, ctx: TransformContext) -> Any:
    if not value:
        return ""
    return ", ".join(str(v.get("name", v) if isinstance(v, dict) else v) for v in value)


def _split(value: Any, ctx: TransformContext) -> Any:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _identity(value: Any, ctx: TransformContext) -> Any:
    return value


def _to_str(value: Any, ctx: TransformContext) -> Any:
    return None if value is None else str(value)


def _to_float(value: Any, ctx: TransformContext) -> Any:
    return None if value in (None, "") else float(value)


#: name -> (on read: external -> internal, on write: internal -> external)
TRANSFORMS: dict[str, tuple[Transform, Transform]] = {
    "adf_to_markdown": (_adf_to_md, _md_to_adf),
    "markdown_to_adf": (_md_to_adf, _adf_to_md),
    "ms_epoch_to_iso": (_ms_to_iso, _iso_to_ms),
    "iso_to_ms_epoch": (_iso_to_ms, _ms_to_iso),
    "option_id_to_name": (_id_to_name, _name_to_id),
    "option_name_to_id": (_id_to_name, _name_to_id),
    "join_list": (_join, _split),
    "to_string": (_to_str, _identity),
    "to_float": (_to_float, _identity),
}


class FieldMapping(BaseModel):
    """Where one internal field lives externally."""

    path: str
    direction: Direction = "both"
    transform: str | None = None

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        try:
            parse_path(value)
        except MappingError as exc:  # pydantic collects ValueErrors with their location
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, value: str | None) -> str | None:
        if value is not None and value not in TRANSFORMS:
            raise ValueError(f"unknown transform {value!r} (known: {', '.join(TRANSFORMS)})")
        return value

    @property
    def readable(self) -> bool:
        return self.direction in ("read", "both")

    @property
    def writable(self) -> bool:
        return self.direction in ("write", "both")


class TicketMapping(BaseModel):
    """Internal field name -> external mapping, plus the key field holding the ticket id."""

    name: str = "default"
    id: str | None = None
    connector_type: str | None = None
    key_field: str = "ticket_id"
    fields: dict[str, FieldMapping]

    @model_validator(mode="after")
    def _key_is_mapped(self) -> TicketMapping:
        if self.key_field not in self.fields:
            raise ValueError(f"key_field {self.key_field!r} must be one of the mapped fields")
        return self

    @property
    def definition_id(self) -> str:
        """The id sync state is stored under (``id``, else ``name``)."""
        return self.id or self.name

    @classmethod
    def from_data(cls, data: Any, source: str = "ticket mapping") -> TicketMapping:
        """Validate parsed data; every problem is reported at once, with its location.

        Raises:
            MappingError: naming ``source`` and each invalid entry.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
            )
            raise MappingError(f"{source}: {problems}") from exc

    @classmethod
    def from_record(cls, record: TicketSyncDefinition) -> TicketMapping:
        """The mapping a stored ``TicketSyncDefinition`` holds; its id, name and connector
        type fill in what the stored data leaves out (so sync state is kept under the
        record's id)."""
        data = dict(record.definition)
        data.setdefault("id", record.id)
        data.setdefault("name", record.name)
        data.setdefault("connector_type", record.connector_type)
        return cls.from_data(data, source=f"TicketSyncDefinition {record.id!r}")

    @classmethod
    def load(cls, path: str | Path) -> TicketMapping:
        """Load from a ``.yaml``/``.yml`` or ``.json`` file.

        Raises:
            MappingError: the file cannot be read, is not YAML/JSON, or is not a valid
                mapping (the message names the file).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    mark = getattr(exc, "problem_mark", None)
                    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
                    problem = getattr(exc, "problem", None) or type(exc).__name__
                    raise MappingError(f"{path}: not valid YAML: {where}{problem}") from exc
            else:
                data = json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: cannot read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise MappingError(
                f"{path}: not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        return cls.from_data(data, source=str(path))

    def read_paths(self) -> list[str]:
        """Top-level external names of the readable fields (for Jira's ``fields``)."""
        tops: list[str] = []
        for mapping in self.fields.values():
            steps = parse_path(mapping.path)
            if mapping.readable and steps[0] == "fields" and len(steps) > 1:
                tops.append(str(steps[1]))
        return sorted(set(tops))

    def to_row(
        self, task: dict[str, Any], attributes: dict[str, TicketField] | None = None
    ) -> dict[str, Any]:
        """A flat internal row from one external task (readable fields and the key)."""
        row: dict[str, Any] = {}
        for name, mapping in self.fields.items():
            if not mapping.readable and name != self.key_field:
                continue
            value = get_path(task, mapping.path)
            if mapping.transform:
                ctx = TransformContext(path=mapping.path, attributes=attributes or {})
                try:
                    value = TRANSFORMS[mapping.transform][0](value, ctx)
                except MappingError:
                    raise
                except (AdfError, ValueError, TypeError, KeyError, OverflowError) as exc:
                    # a remote value the transform cannot read: the service's answer is off
                    raise UnexpectedResponse(
                        f"{mapping.path}: {mapping.transform} cannot read {_shown(value)}: {exc}",
                        field=mapping.path,
                    ) from exc
            row[name] = value
        return row

    def connector_name(self, name: str) -> str:
        """How the connector names the field ``name`` maps to (the Jira field id after
        ``fields.``, a selected custom field's name, else the first path step): the key of
        its write result's ``rejected``/``lossy`` entries."""
        steps = parse_path(self.fields[name].path)
        if steps[0] == "fields" and len(steps) > 1:
            return str(steps[1])
        selected = next((s for s in steps if isinstance(s, tuple)), None)
        return str(selected[1]) if selected is not None else str(steps[0])

    def to_task(
        self,
        external_id: str | None,
        changes: dict[str, Any],
        attributes: dict[str, TicketField] | None = None,
    ) -> dict[str, Any]:
        """An external task carrying the key (None: a ticket to create) and the given
        writable internal fields."""
        task: dict[str, Any] = {}
        if external_id is not None:
            set_path(task, self.fields[self.key_field].path, external_id)
        for name, value in changes.items():
            mapping = self.fields[name]
            if not mapping.writable:
                raise MappingError(f"field {name!r} is not writable ({mapping.direction})")
            if mapping.transform:
                ctx = TransformContext(path=mapping.path, attributes=attributes or {})
                try:
                    value = TRANSFORMS[mapping.transform][1](value, ctx)
                except MappingError:
                    raise
                except (ValueError, TypeError, KeyError, OverflowError) as exc:
                    raise MappingError(
                        f"{name}: {mapping.transform} cannot write {_shown(value)}: {exc}"
                    ) from exc
            set_path(task, mapping.path, value)
        return task


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
