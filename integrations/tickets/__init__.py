"""Ticket connectors (Jira Cloud, ClickUp), the ticket mapping, export and two-way sync.

Public names are imported lazily so that ``connectors.cli.tickets`` (loaded at CLI start-up)
does not pull in httpx and pydantic models before a command runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "ClickUpConnector",
    "ClickUpFilter",
    "Comment",
    "Conflict",
    "CreateResult",
    "JiraConnector",
    "MappingError",
    "SyncReport",
    "TicketConnector",
    "TicketField",
    "TicketInterface",
    "TicketMapping",
    "WriteResult",
    "create_ticket_interface",
]

_WHERE = {
    "ClickUpConnector": "integrations.tickets.clickup",
    "ClickUpFilter": "integrations.tickets.clickup",
    "Comment": "integrations.tickets.base",
    "Conflict": "integrations.tickets.sync",
    "CreateResult": "integrations.tickets.base",
    "JiraConnector": "integrations.tickets.jira",
    "MappingError": "integrations.tickets.paths",
    "SyncReport": "integrations.tickets.sync",
    "TicketMapping": "integrations.tickets.mapping",
    "TicketConnector": "integrations.tickets.base",
    "TicketField": "integrations.tickets.base",
    "TicketInterface": "integrations.tickets.interface",
    "WriteResult": "integrations.tickets.base",
    "create_ticket_interface": "integrations.tickets.interface",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'integrations.tickets' has no attribute {name!r}")
