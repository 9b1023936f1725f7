"""Test doubles for the voice integration, for this project's tests and for yours.

As ``moto`` is for AWS, `FakeGoogle` is a local stand-in for Google Speech-to-Text,
Translation and Text-to-Speech: a real gRPC server on 127.0.0.1 speaking Google's protocol,
so the real client libraries (and `GoogleVoice`) run unchanged against it, without
credentials or network. The `audio` helpers make speech-like recordings it "understands":
each voiced burst is one word of a small lexicon, so transcripts are predictable::

    from integrations.voice.testing import FakeGoogle, speech_wav

    def test_my_service_transcribes() -> None:
        with FakeGoogle() as google:
            voice = google.voice()                      # a GoogleVoice wired to the fake
            assert voice.speech_to_text(speech_wav(3), "en-US").text == "hello world this"
            assert google.recognize_calls == 1

Needs the ``voice`` extra (``pip install 'connectors-layer[voice]'``).
"""

from __future__ import annotations

from integrations.voice.testing.audio import (
    AudioFixture,
    count_words,
    decode_mono,
    encode,
    fixtures,
    speech_like,
    speech_pcm,
    speech_wav,
    word_spans,
)
from integrations.voice.testing.google import BAD_ENCODING, TTS_LIMIT, FakeGoogle

__all__ = [
    "BAD_ENCODING",
    "TTS_LIMIT",
    "AudioFixture",
    "FakeGoogle",
    "count_words",
    "decode_mono",
    "encode",
    "fixtures",
    "speech_like",
    "speech_pcm",
    "speech_wav",
    "word_spans",
]
