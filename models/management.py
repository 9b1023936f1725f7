"""The `management` database: ticket sync definitions and state, voice settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from models.base import Record

__all__ = ["TicketSyncDefinition", "TicketSyncState", "VoiceSettings"]


class TicketSyncDefinition(Record):
    """A mandate's stored ticket sync: `definition` holds the data of a ticket mapping
    (`integrations.tickets.mapping.TicketMapping.from_record` reads it back)."""

    mandate_id: str = ""
    name: str
    connector_type: str
    definition: dict[str, Any] = Field(default_factory=dict)


class TicketSyncState(Record):
    """The last synced value of each field of one external ticket."""

    mandate_id: str = ""
    definition_id: str
    external_id: str
    local_id: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    cursor: str | None = None
    synced_at: float | None = None


class VoiceSettings(Record):
    mandate_id: str = ""
    user_id: str
    source_language: str = "de-DE"
    target_language: str = "en-US"
    voice_name: str | None = None
    gender: str | None = None
