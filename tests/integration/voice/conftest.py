from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.voice.google import GoogleVoice
from integrations.voice.testing.audio import AudioFixture, fixtures
from integrations.voice.testing.google import FakeGoogle


@pytest.fixture(scope="session")
def audio() -> dict[str, AudioFixture]:
    """Every generated audio fixture, built once per session."""
    return fixtures()


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeGoogle) -> Iterator[FakeGoogle]:
    """The session's fake Google, with counters, queued failures and options reset."""
    fake_server.reset()
    fake_server.stream_limit_seconds = 305.0
    fake_server.max_stream_speed = None
    fake_server.audio_timeout_seconds = None
    fake_server.leak_entities = False
    yield fake_server
    fake_server.reset()


@pytest.fixture
def voice(fake: FakeGoogle) -> Iterator[GoogleVoice]:
    """The real Google clients on a channel to the fake; no pauses between retries."""
    channel = fake.channel()
    yield GoogleVoice(
        channel=channel, project_id=fake.project, backoff=0, timeout=10, sleep=lambda _: None
    )
    channel.close()
