from __future__ import annotations

import pytest

from integrations.voice.testing.audio import AudioFixture, fixtures


@pytest.fixture(scope="session")
def audio() -> dict[str, AudioFixture]:
    """Every generated audio fixture, built once per session."""
    return fixtures()
