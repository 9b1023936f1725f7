"""What every backend can store: the value rules checked once, at the shared boundary.

PostgreSQL is the strictest store, so its limits are everyone's: text without NUL and
without lone surrogates (not Unicode, so not UTF-8), finite numbers only (``NaN`` would
make every later read of the row fail validation; JSON has no ``NaN`` at all), 64-bit
integers, indexed text of at most `MAX_INDEXED_TEXT_BYTES`, and JSON documents nested at
most `MAX_JSON_DEPTH` deep (deeper ones overflow the parsers that read them back). A value
that breaks a rule is refused with `InvalidQuery` naming the field, before anything is
written, identically on every backend.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_json

from models.schema import FieldSpec
from repositories.errors import InvalidQuery

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_INDEXED_TEXT_BYTES",
    "MAX_JSON_DEPTH",
    "check_count",
    "check_finite",
    "check_json",
    "check_storable",
    "check_text",
    "short",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: PostgreSQL's btree refuses index rows over ~2700 bytes; every backend applies one limit.
MAX_INDEXED_TEXT_BYTES = 2048
#: Containers nested in one JSON field value. pydantic-core's JSON parser, which reads
#: every stored row back, stops at 200 levels for the whole row; this leaves room.
MAX_JSON_DEPTH = 100

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def short(value: Any) -> str:
    """A bounded repr for error messages (a 1 MB value must not become a 1 MB error)."""
    return _REPR.repr(value)


def check_text(text: str, where: str) -> None:
    """Refuse NUL and lone surrogates (`where` names the field)."""
    if "\x00" in text:
        raise InvalidQuery(
            f"{where}: text may not contain a NUL character "
            "(PostgreSQL cannot store it, so no backend does)"
        )
    if not text.isascii():  # O(1) for ASCII; encoding finds the surrogates otherwise
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise InvalidQuery(
                f"{where}: text holds a lone surrogate {text[exc.start]!r} at position "
                f"{exc.start} (not valid Unicode, so no backend can store it)"
            ) from exc


def check_finite(number: float, where: str) -> None:
    if not math.isfinite(number):
        raise InvalidQuery(f"{where}: {number!r} is not a finite number (none is stored)")


#: The JSON-mode types a stored value of each kind may have (a model built without
#: validation, ``model_construct`` or plain assignment, can hold anything).
_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
    "datetime": str,
}


def check_storable(
    spec: FieldSpec, value: Any, where: str, source: Callable[[], Any] | None = None
) -> None:
    """Refuse a field's stored (JSON-mode, non-null) value that some backend cannot keep.

    `source` gives the value before its JSON-mode dump, consulted only when the dump
    may have replaced something (see `check_json`).
    """
    kind = spec.kind
    expected = _TYPES.get(kind)
    if expected is not None and (
        not isinstance(value, expected) or (kind != "bool" and isinstance(value, bool))
    ):
        raise InvalidQuery(f"{where}: expected a {kind} value, got {short(value)}")
    if kind == "text":
        check_text(value, where)
        if spec.indexed and len(value) * 4 > MAX_INDEXED_TEXT_BYTES:
            size = len(value.encode())
            if size > MAX_INDEXED_TEXT_BYTES:
                raise InvalidQuery(
                    f"{where}: indexed text is limited to {MAX_INDEXED_TEXT_BYTES} bytes "
                    f"(got {size})"
                )
    elif kind == "int" and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidQuery(f"{where}: {value} does not fit a 64-bit integer")
    elif kind == "float" and isinstance(value, float):
        check_finite(value, where)
    elif kind == "json":
        check_json(value, where, source)


def check_json(value: Any, where: str, source: Callable[[], Any] | None = None) -> None:
    """Refuse a JSON document no backend stores alike (see the module docstring).

    `value` is a field's JSON-mode dump (dicts, lists, str, int, float, bool, None).
    pydantic's dump replaces a lone surrogate in an object *key* with U+FFFD; where the
    dump holds U+FFFD, the keys of `source()` (the value before the dump) are checked.
    """
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        check_text(value, where)
        return
    if isinstance(value, float):
        check_finite(value, where)
        return
    # pydantic-core's JSON encoder (Rust) shows each problem in its output: NUL as
    # \u0000, NaN/infinity as NaN/Infinity tokens, depth as brackets; a lone surrogate
    # fails it. A clean encoding proves the document clean; a suspicious one (a word like
    # "NaNa" will do) gets the exact walk, which names the problem.
    try:
        text = to_json(value, inf_nan_mode="constants")
    except (PydanticSerializationError, ValueError, RecursionError):
        text = b"NaN"  # not encodable: let the walk say why
    if (
        b"\\u0000" in text
        or b"NaN" in text
        or b"Infinity" in text
        or text.count(b"[") + text.count(b"{") > MAX_JSON_DEPTH
    ):
        _walk(value, where, 1)
    if source is not None and b"\xef\xbf\xbd" in text:  # U+FFFD
        _check_keys(source(), where, 1)


def _check_keys(value: Any, where: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        return  # the dumped document is checked for depth
    if isinstance(value, BaseModel):
        value = value.__dict__
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                check_text(key, where)
            _check_keys(item, where, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_keys(item, where, depth + 1)


def _walk(value: Any, where: str, depth: int) -> None:
    if isinstance(value, dict | list | tuple) and depth > MAX_JSON_DEPTH:
        raise InvalidQuery(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidQuery(f"{where}: JSON object keys must be strings, not {short(key)}")
            check_text(key, where)
            _walk(item, where, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, where, depth + 1)
    elif isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, float):
        check_finite(value, where)
    elif value is not None and not isinstance(value, bool | int):
        raise InvalidQuery(f"{where}: {type(value).__name__} is not a JSON value")


def check_count(name: str, value: Any, minimum: int = 0) -> int:
    """A count argument (limit, offset, batch_size): an int (not a bool) in 64-bit range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuery(f"{name} must be an integer, not {short(value)}")
    if not minimum <= value <= INT64_MAX:
        raise InvalidQuery(f"{name} must be between {minimum} and 2**63-1, not {short(value)}")
    return value
