"""What the Google voice connector returns (immutable Pydantic models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Attempt",
    "InterpretEvent",
    "Language",
    "SynthesizedSpeech",
    "Transcript",
    "Translation",
    "Voice",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attempt(_Frozen):
    """One recognition config sent to Speech, and Google's complaint if it was rejected."""

    api: str
    config: dict[str, Any]
    error: str | None = None


class Transcript(_Frozen):
    """A speech-to-text result.

    `calls` counts every RPC that reached Google (retries included); a silent recording
    makes none. `config` is the RecognitionConfig that succeeded (the last chunk's, for
    audio split into chunks).
    """

    text: str
    confidence: float | None = None
    language_code: str | None = None
    config: dict[str, Any] | None = None
    attempts: tuple[Attempt, ...] = ()
    calls: int = 0
    duration: float = 0.0
    chunks: int = 1
    is_silent: bool = False


class Translation(_Frozen):
    """A Translation v3 result; `detected_language` is set when the source was auto-detected."""

    text: str
    source_text: str
    target_language: str
    source_language: str | None = None
    detected_language: str | None = None


class Voice(_Frozen):
    """A Text-to-Speech voice."""

    name: str
    language_codes: tuple[str, ...]
    gender: str
    natural_sample_rate: int


class Language(_Frozen):
    """A language Translation supports, with its name in the requested display language."""

    code: str
    name: str | None = None
    source: bool = True
    target: bool = True


class SynthesizedSpeech(_Frozen):
    """Text-to-Speech output: one decodable stream in `encoding`."""

    audio: bytes = Field(repr=False)
    encoding: str
    voice: str
    language: str
    chunks: int = 1
    calls: int = 1


class InterpretEvent(_Frozen):
    """One message of the realtime interpreter: an interim or final transcript, translated."""

    kind: Literal["interim", "final"]
    transcript: str
    translation: str | None = None
    language: str | None = None
    confidence: float | None = None
    stream: int = 0  # which streaming_recognize connection produced it
    offset: float = 0.0  # seconds of audio before this result ended, across reconnects
