"""Encrypted configuration values: ``fernet:<token>`` decrypted with ``CONFIG_KEY``.

``connectors config encrypt`` makes such values. Nothing here ever puts a secret (the
plain value, the token or the key) into an error message::

    ConfigError             a setting is missing, malformed or cannot be decrypted
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from models.errors import ConnectorsError, ExitCode

__all__ = ["PREFIX", "ConfigError", "decrypt", "encrypt", "generate_key", "is_encrypted"]

PREFIX = "fernet:"


class ConfigError(ConnectorsError):
    """A configuration problem; the message names the setting, never its value."""

    exit_code = ExitCode.USAGE


def generate_key() -> str:
    """A new random key for ``CONFIG_KEY`` (url-safe base64, 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str | None, setting: str) -> Fernet:
    if not key:
        raise ConfigError(f"CONFIG_KEY is not set, needed for {setting} (fernet:…)")
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ConfigError(
            f"CONFIG_KEY is not a valid Fernet key (32 url-safe base64 bytes), needed for {setting}"
        ) from exc


def is_encrypted(value: str) -> bool:
    """Whether a setting value is a ``fernet:`` token."""
    return value.startswith(PREFIX)


def encrypt(value: str, key: str | None, setting: str = "encrypting a value") -> str:
    """Encrypt `value` with `key` into ``fernet:<token>``.

    Raises:
        ConfigError: the key is missing or malformed.
    """
    return PREFIX + _fernet(key, setting).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(value: str, key: str | None, setting: str) -> str:
    """The plain text of `value` (returned unchanged unless it starts with ``fernet:``).

    Args:
        value: the configured value.
        key: ``CONFIG_KEY``.
        setting: the setting's name, used in error messages.

    Raises:
        ConfigError: the key is missing, malformed or not the one the value was encrypted
            with, or the token is damaged. The message names `setting` only.
    """
    if not is_encrypted(value):
        return value
    fernet = _fernet(key, setting)
    try:
        return fernet.decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        # `from None`: a chained decode error would carry plaintext bytes
        raise ConfigError(
            f"{setting}: cannot decrypt (wrong CONFIG_KEY or damaged fernet token)"
        ) from None
