"""Google voice settings (configuration, not the stored `models.VoiceSettings` record).

A plain model: the configuration layer (``connectors.settings``) builds it from
``config.ini`` and the environment (``Settings.section(GoogleConfig)``); this package never
reads files or the environment itself.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["CREDENTIALS_KEY", "GoogleConfig"]

#: the original component's key holding the service-account JSON itself
CREDENTIALS_KEY = "Connector_GoogleSpeech_API_KEY_SECRET"


class GoogleConfig(BaseModel):
    """``Connector_GoogleSpeech_API_KEY_SECRET``: the service-account JSON (may be
    ``fernet:`` encrypted)."""

    model_config = ConfigDict(frozen=True)
    config_prefix: ClassVar[str] = "Connector_GoogleSpeech_"

    api_key_secret: SecretStr | None = None

    @property
    def credentials(self) -> SecretStr | None:
        """The service-account JSON, or None when it is not configured (or blank)."""
        secret = self.api_key_secret
        return secret if secret is not None and secret.get_secret_value().strip() else None
