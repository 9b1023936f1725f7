"""Connection settings for the ticket connectors.

Read like every other setting (`connectors.settings`): ``config.ini`` (and its
environment overlay), then the environment, which wins. Tokens are ``SecretStr``, may be
``fernet:`` encrypted (key in ``CONFIG_KEY``) and never appear in reprs, logs or output.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvOverIni

__all__ = ["ClickUpSettings", "JiraSettings", "connector_params"]


class JiraSettings(EnvOverIni):
    """``JIRA_API_URL``, ``JIRA_API_USERNAME``, ``JIRA_API_TOKEN_SECRET``, ``JIRA_PROJECT_CODE``,
    ``JIRA_TICKET_TYPE``."""

    model_config = SettingsConfigDict(env_prefix="JIRA_", case_sensitive=False, extra="ignore")

    api_url: str
    api_username: str
    api_token_secret: SecretStr
    project_code: str
    ticket_type: str = "Task"

    def params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~integrations.tickets.jira.JiraConnector`."""
        return {
            "api_url": self.api_url,
            "api_username": self.api_username,
            "api_token": self.api_token_secret,
            "project_code": self.project_code,
            "ticket_type": self.ticket_type,
        }


class ClickUpSettings(EnvOverIni):
    """``CLICKUP_API_TOKEN_SECRET``, ``CLICKUP_TEAM_ID``, ``CLICKUP_LIST_ID``,
    ``CLICKUP_API_URL``."""

    model_config = SettingsConfigDict(env_prefix="CLICKUP_", case_sensitive=False, extra="ignore")

    api_token_secret: SecretStr
    team_id: str
    list_id: str | None = None
    api_url: str = "https://api.clickup.com/api/v2"

    def params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~integrations.tickets.clickup.ClickUpConnector`."""
        return {
            "api_token": self.api_token_secret,
            "team_id": self.team_id,
            "list_id": self.list_id,
            "api_url": self.api_url,
        }


def connector_params(connector_type: str) -> dict[str, Any]:
    """Connector parameters for ``jira`` or ``clickup`` from config.ini and the environment.

    Raises:
        ValueError: unknown connector type.
        connectors.settings.ConfigError: a setting is missing, bad or cannot be decrypted.
    """
    from connectors.settings import load_integration_settings

    kind = connector_type.strip().lower()
    if kind == "jira":
        return load_integration_settings(JiraSettings).params()
    if kind == "clickup":
        return load_integration_settings(ClickUpSettings).params()
    raise ValueError(f"unknown ticket connector type {connector_type!r}: use 'jira' or 'clickup'")
