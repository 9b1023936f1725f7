"""Pydantic domain models of the four logical databases, and their SQL mirror."""

from models.app import Mandate, User, UserConnection
from models.base import Record, indexed, new_id, table_name
from models.chat import ChatLog, ChatMessage, ChatWorkflow
from models.management import TicketSyncDefinition, TicketSyncState, VoiceSettings
from models.realestate import Property

#: The models of each logical database.
DATABASES: dict[str, tuple[type[Record], ...]] = {
    "app": (Mandate, User, UserConnection),
    "chat": (ChatWorkflow, ChatMessage, ChatLog),
    "management": (TicketSyncDefinition, TicketSyncState, VoiceSettings),
    "realestate": (Property,),
}

__all__ = [
    "DATABASES",
    "ChatLog",
    "ChatMessage",
    "ChatWorkflow",
    "Mandate",
    "Property",
    "Record",
    "TicketSyncDefinition",
    "TicketSyncState",
    "User",
    "UserConnection",
    "VoiceSettings",
    "indexed",
    "new_id",
    "table_name",
]
