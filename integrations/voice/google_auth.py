"""Google service-account credentials from the JSON text itself (never logged or echoed)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from integrations.errors import AuthenticationFailed
from integrations.voice._optional import missing_extra

try:
    from google.oauth2 import service_account
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = ["SCOPES", "credentials_from_json"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def credentials_from_json(secret: str | SecretStr) -> tuple[Any, str | None]:
    """Service-account credentials and project id from the JSON text (never logged)."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        # from None: the decode error carries the whole document (the secret) as .doc
        raise AuthenticationFailed(
            f"Google credentials are not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise AuthenticationFailed("Google credentials must be a service-account JSON object")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise AuthenticationFailed(f"service-account JSON lacks {', '.join(missing)}")
    try:
        creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=SCOPES
        )
    except (ValueError, TypeError) as exc:
        # The message of a key parsing error can quote key material: name the type only.
        raise AuthenticationFailed(
            f"service-account private key rejected ({type(exc).__name__})"
        ) from None
    return creds, info.get("project_id")


def _language(code: str | None) -> str | None:
    """Google answers ``en-us``; report BCP-47 case (``en-US``)."""
    if not code:
        return None
    parts = code.split("-")
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])
