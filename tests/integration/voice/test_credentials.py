"""GoogleVoice from the service-account JSON string (never echoed back)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from integrations.errors import AuthenticationFailed
from integrations.voice.google import GoogleVoice


def _service_account(**overrides: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "voice-prod",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "voice@voice-prod.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    info.update(overrides)
    return json.dumps(info)


def test_project_and_credentials_come_from_the_json() -> None:
    voice = GoogleVoice(SecretStr(_service_account()))
    assert voice.project_id == "voice-prod"
    assert voice._credentials.service_account_email == "voice@voice-prod.iam.gserviceaccount.com"
    assert GoogleVoice(_service_account(), project_id="other").project_id == "other"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ('{"type": "service_account", "private_key": "SECRETKEY', "not valid JSON"),
        ('["SECRETKEY"]', "service-account JSON object"),
        (
            json.dumps({"type": "service_account", "private_key": "SECRETKEY"}),
            "lacks client_email, token_uri",
        ),
        (
            _service_account(
                private_key="-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n"
            ),
            "private key rejected",
        ),
    ],
)
def test_bad_credentials_never_show_the_secret(secret: str, message: str) -> None:
    with pytest.raises(AuthenticationFailed, match=message) as info:
        GoogleVoice(secret)
    assert "SECRETKEY" not in str(info.value)
    assert info.value.__cause__ is None or "SECRETKEY" not in str(info.value.__cause__)
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_no_credentials_and_no_channel() -> None:
    with pytest.raises(AuthenticationFailed, match="Connector_GoogleSpeech_API_KEY_SECRET"):
        GoogleVoice().voices()
