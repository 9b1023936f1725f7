"""Named value transforms of a ticket mapping, applied forwards on read (ticket -> local)
and backwards on write: ADF <-> Markdown, Unix ms <-> ISO 8601, option id <-> name, lists
<-> comma-joined text, numbers and text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from integrations.tickets.adf import adf_to_markdown, is_adf, markdown_to_adf
from integrations.tickets.base import TicketField
from integrations.tickets.paths import MappingError, parse_path

__all__ = ["TRANSFORMS", "Transform", "TransformContext"]


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
