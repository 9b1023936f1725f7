"""Mirror `Record` models into SQLAlchemy tables.

str→Text (``COLLATE "C"`` on PostgreSQL, so text sorts by code point), int→BigInteger,
float→Double, bool→Boolean, Enum/Literal→Text, datetime→timestamptz, anything else→JSONB
on PostgreSQL (JSON elsewhere). Optional→nullable. Fields ending in ``_id`` and fields
marked ``index=True`` get a btree index; JSON fields marked ``index=True`` a GIN
(``jsonb_path_ops``) index. Column names are the storage (camelCase) names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from models.base import Record
from models.schema import FieldKind, model_info

__all__ = [
    "NAMING_CONVENTION",
    "SYSTEM_TABLE",
    "metadata_for",
    "new_metadata",
    "system_table",
    "table_for",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SYSTEM_TABLE = "_system"


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def text_type() -> TypeEngine[Any]:
    return Text().with_variant(Text(collation="C"), "postgresql")


def json_type() -> TypeEngine[Any]:
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _sql_type(kind: FieldKind) -> TypeEngine[Any]:
    types: dict[FieldKind, TypeEngine[Any]] = {
        "text": text_type(),
        "int": BigInteger(),
        "float": Double(),
        "bool": Boolean(create_constraint=False),
        "datetime": DateTime(timezone=True),
        "json": json_type(),
    }
    return types[kind]


def table_for(model: type[Record], metadata: MetaData) -> Table:
    """The Table mirroring `model` in `metadata` (created once per metadata)."""
    info = model_info(model)
    if info.table in metadata.tables:
        return metadata.tables[info.table]
    columns = []
    indexes = []
    for spec in info.fields:
        is_id = spec.name == "id"
        column = Column(
            spec.storage,
            _sql_type(spec.kind),
            primary_key=is_id,
            nullable=spec.nullable and not is_id,
        )
        columns.append(column)
        if spec.indexed and not is_id:
            name = f"ix_{info.table}_{spec.storage}"
            if spec.kind == "json":
                indexes.append(
                    Index(
                        name,
                        spec.storage,
                        postgresql_using="gin",
                        postgresql_ops={spec.storage: "jsonb_path_ops"},
                    )
                )
            else:
                indexes.append(Index(name, spec.storage))
    return Table(info.table, metadata, *columns, *indexes)


def system_table(metadata: MetaData) -> Table:
    """The ``_system`` table: the initial record id of each table."""
    if SYSTEM_TABLE in metadata.tables:
        return metadata.tables[SYSTEM_TABLE]
    return Table(
        SYSTEM_TABLE,
        metadata,
        Column("table_name", text_type(), primary_key=True),
        Column("initial_id", text_type(), nullable=True),
        Column("_createdAt", Double(), nullable=True),
        Column("_modifiedAt", Double(), nullable=True),
    )


def metadata_for(models: Iterable[type[Record]]) -> MetaData:
    """A MetaData with the `_system` table and one table per model."""
    metadata = new_metadata()
    system_table(metadata)
    for model in models:
        table_for(model, metadata)
    return metadata
