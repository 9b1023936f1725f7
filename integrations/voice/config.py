"""Voice settings (configuration, not the stored `models.VoiceSettings` record).

Plain models: the configuration layer (``connectors.settings``) builds them from
``config.ini`` and the environment (``Settings.section(GoogleConfig)``, keys
``<config_prefix><FIELD>``); this package never reads files or the environment itself.
`GoogleConfig` holds the credential, `VoiceServiceSettings` the voice service's limits
(``VOICE_SERVICE_MAX_SESSION_SECONDS``…).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["CREDENTIALS_KEY", "GoogleConfig", "VoiceServiceSettings"]

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


class VoiceServiceSettings(BaseModel):
    """Limits and options of the voice service (`integrations.voice.service`).

    Attributes:
        max_audio_bytes: largest speech-to-text upload.
        max_json_bytes: largest JSON or form body of the other routes.
        max_text_chars: longest text to translate or synthesise.
        allowed_origins: origins (``https://app.example.com``) whose pages may open the
            interpreter WebSocket besides the service's own; ``*`` allows any.
        max_sessions: interpreter sessions at once (more: close 1013, try again later).
        max_session_seconds: wall-clock length of one interpreter session.
        max_frame_bytes: largest WebSocket audio message.
        stream_limit: seconds after which a Speech stream is replaced (Google: ~305 s).
        translate_interim: translate interim results (finals always are).
        interim_interval: seconds of audio between two interim translations.
    """

    model_config = ConfigDict(frozen=True)
    config_prefix: ClassVar[str] = "VOICE_SERVICE_"

    max_audio_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_json_bytes: int = Field(256 * 1024, gt=0)
    max_text_chars: int = Field(30_000, gt=0)
    allowed_origins: tuple[str, ...] = ()
    max_sessions: int = Field(16, gt=0)
    max_session_seconds: float = Field(30 * 60.0, gt=0)
    max_frame_bytes: int = Field(1024 * 1024, gt=0)
    stream_limit: float = Field(290.0, gt=10, le=305)
    translate_interim: bool = True
    interim_interval: float = Field(2.0, ge=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # config.ini and the environment give one string: "https://a.example, https://b"
        if isinstance(value, str):
            return tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        return value
