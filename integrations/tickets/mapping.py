"""The ticket mapping: which local field lives at which path of a ticket, and how.

A `TicketMapping` is what a YAML/JSON mapping file holds (``connectors tickets …
--mapping FILE``). A stored ``models.management.TicketSyncDefinition`` record names one for
a mandate: its ``definition`` field holds the mapping's data
(`TicketMapping.from_record` reads it back), and sync state is kept under the
mapping's `definition_id`.

Each field has a path into the ticket (see `integrations.tickets.paths`), a direction
(``read``: external -> internal only, ``write``: internal -> external only, ``both``) and
an optional named transform (see `integrations.tickets.transforms`), applied forwards on
read and backwards on write.

Errors: `MappingError` (an `IntegrationError`) for
a file that cannot be read or parsed, an unknown transform, a bad path or a mapping
without its key field; the message names the file and the offending entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, field_validator, model_validator

from integrations.tickets.adf import AdfError
from integrations.tickets.base import TicketField
from integrations.tickets.errors import UnexpectedResponse
from integrations.tickets.paths import MappingError, get_path, parse_path, set_path
from integrations.tickets.transforms import TRANSFORMS, TransformContext
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
