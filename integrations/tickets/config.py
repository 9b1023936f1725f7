"""Connection settings of the ticket connectors (configuration, not stored records).

Plain models: the configuration layer (``connectors.settings``) builds them from
``config.ini`` and the environment (``Settings.section(JiraConfig)``), so this package
never reads files or the environment itself. Each field is read from the key
``<config_prefix><FIELD>``. Tokens are ``SecretStr`` (may be ``fernet:`` encrypted in
the file) and never appear in reprs, logs or output.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["ClickUpConfig", "JiraConfig"]


class JiraConfig(BaseModel):
    """``JIRA_API_URL``, ``JIRA_API_USERNAME``, ``JIRA_API_TOKEN_SECRET``, ``JIRA_PROJECT_CODE``,
    ``JIRA_TICKET_TYPE``."""

    model_config = ConfigDict(frozen=True)
    config_prefix: ClassVar[str] = "JIRA_"

    api_url: str
    api_username: str
    api_token_secret: SecretStr
    project_code: str
    ticket_type: str = "Task"

    def params(self) -> dict[str, Any]:
        """Keyword arguments for `integrations.tickets.jira.JiraConnector`."""
        return {
            "api_url": self.api_url,
            "api_username": self.api_username,
            "api_token": self.api_token_secret,
            "project_code": self.project_code,
            "ticket_type": self.ticket_type,
        }


class ClickUpConfig(BaseModel):
    """``CLICKUP_API_TOKEN_SECRET``, ``CLICKUP_TEAM_ID``, ``CLICKUP_LIST_ID``,
    ``CLICKUP_API_URL``."""

    model_config = ConfigDict(frozen=True)
    config_prefix: ClassVar[str] = "CLICKUP_"

    api_token_secret: SecretStr
    team_id: str
    list_id: str | None = None
    api_url: str = "https://api.clickup.com/api/v2"

    def params(self) -> dict[str, Any]:
        """Keyword arguments for `integrations.tickets.clickup.ClickUpConnector`."""
        return {
            "api_token": self.api_token_secret,
            "team_id": self.team_id,
            "list_id": self.list_id,
            "api_url": self.api_url,
        }
