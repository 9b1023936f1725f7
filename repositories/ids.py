"""Record ids every backend accepts alike.

The JSON store keeps a record in ``<Table>/<id>.json``, so an id must be a safe file
name; the SQL backends apply the same rule, so data moves between backends (``db copy``)
and the contract suite sees identical behaviour.
"""

from __future__ import annotations

from repositories.errors import InvalidQuery

__all__ = ["MAX_ID_BYTES", "RESERVED_STEMS", "validate_record_id"]

#: Names the JSON store uses for its own files in a table directory.
RESERVED_STEMS = frozenset({"_metadata", "_journal", "_system", "_lock"})
#: Most file systems limit a name to 255 bytes; leave room for ``.json`` and temp parts.
MAX_ID_BYTES = 200
_MAX_NAME_BYTES = MAX_ID_BYTES


def validate_record_id(table: str, record_id: str) -> str:
    """Return `record_id` if it is a safe file stem, else raise `InvalidQuery`.

    Refused: empty, ``/`` or ``\\``, NUL, a leading ``.`` (``.``, ``..``, hidden and temp
    files), reserved names such as ``_metadata``, and names too long for a file system.
    """
    if not isinstance(record_id, str) or not record_id:
        raise InvalidQuery(f"{table}: record id must be a non-empty string")
    if len(record_id) <= _MAX_NAME_BYTES // 4 and record_id.isalnum():
        return record_id  # the common case (uuid hex): no separator, dot or NUL, short
    problem = None
    if "/" in record_id or "\\" in record_id:
        problem = "contains a path separator"
    elif "\x00" in record_id:
        problem = "contains NUL"
    elif record_id.startswith("."):
        problem = "starts with '.'"
    elif record_id.lower() in RESERVED_STEMS:
        problem = "is reserved by the JSON store"
    else:
        try:
            size = len(record_id.encode("utf-8"))
        except UnicodeEncodeError:
            problem = "is not valid Unicode text"
        else:
            if size > _MAX_NAME_BYTES:
                problem = f"is {size} bytes long (at most {_MAX_NAME_BYTES} fit a file name)"
    if problem:
        raise InvalidQuery(f"{table}: record id {record_id!r} {problem}")
    return record_id
