"""The `chat` database: workflows, their messages and logs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from models.base import Record, indexed

__all__ = ["ChatLog", "ChatMessage", "ChatWorkflow"]


class ChatWorkflow(Record):
    mandate_id: str = ""
    name: str
    status: str = "running"
    current_round: int = 0
    tags: list[str] = indexed(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(Record):
    mandate_id: str = ""
    workflow_id: str
    role: str
    message: str
    sequence_no: int = 0
    documents: list[dict[str, Any]] = Field(default_factory=list)


class ChatLog(Record):
    mandate_id: str = ""
    workflow_id: str
    message: str
    level: str = "info"
    progress: float | None = None
