"""`VoiceInterface`: the voice features as the application's callers use them.

Every method returns a Pydantic result with ``success`` and ``error`` (the original
component's structured responses) instead of raising: an `IntegrationError` becomes
``success=False``, ``error`` (its message) and ``error_type`` (its class name, e.g.
``UnsupportedAudio``, ``RateLimited``). Programming errors are not caught.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr

from integrations.errors import IntegrationError, RateLimited
from integrations.voice.results import InterpretEvent, Language, Voice

__all__ = [
    "LanguagesResult",
    "SpeechToTextResult",
    "SpeechTranslationResult",
    "TextToSpeechResult",
    "TranslationResult",
    "VoiceInterface",
    "VoiceResult",
    "VoicesResult",
]

log = logging.getLogger(__name__)

R = TypeVar("R", bound="VoiceResult")


class VoiceResult(BaseModel):
    """Common fields: ``success``; on failure ``error``, ``error_type``, ``retry_after``."""

    success: bool = True
    error: str | None = None
    error_type: str | None = None
    retry_after: float | None = None

    @classmethod
    def failure(cls: type[R], exc: IntegrationError) -> R:
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        return cls(
            success=False, error=str(exc), error_type=type(exc).__name__, retry_after=retry_after
        )


class SpeechToTextResult(VoiceResult):
    text: str = ""
    confidence: float | None = None
    language: str | None = None
    duration: float | None = None
    is_silent: bool = False
    calls: int = 0


class TranslationResult(VoiceResult):
    original_text: str = ""
    translated_text: str = ""
    source_language: str | None = None
    detected_language: str | None = None
    target_language: str | None = None


class SpeechTranslationResult(VoiceResult):
    original_text: str = ""
    translated_text: str = ""
    confidence: float | None = None
    source_language: str | None = None  # what Speech recognised (may be an alternative)
    target_language: str | None = None
    is_silent: bool = False


class TextToSpeechResult(VoiceResult):
    audio_content: bytes | None = Field(default=None, repr=False)
    audio_format: str | None = None
    voice: str | None = None
    language: str | None = None
    chunks: int = 0


class LanguagesResult(VoiceResult):
    languages: list[Language] = Field(default_factory=list)


class VoicesResult(VoiceResult):
    voices: list[Voice] = Field(default_factory=list)


class VoiceInterface:
    """Voice features for the application; builds the Google connector on first use.

    Args:
        google: a ready `GoogleVoice` (tests inject one on the fake server's channel).
        credentials_json: the service-account JSON, used when `google` is not given.
        factory: builds the connector lazily instead (defaults to ``GoogleVoice``).
    """

    def __init__(
        self,
        google: Any = None,
        *,
        credentials_json: str | SecretStr | None = None,
        factory: Callable[[], Any] | None = None,
    ) -> None:
        self._google = google
        self._credentials = credentials_json
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def google(self) -> Any:
        """The connector, created once (raises IntegrationError if it cannot be)."""
        with self._lock:
            if self._google is None:
                if self._factory is not None:
                    self._google = self._factory()
                else:
                    from integrations.voice.google import GoogleVoice

                    self._google = GoogleVoice(self._credentials)
            return self._google

    def _run(self, result: type[R], work: Callable[[], R]) -> R:
        try:
            return work()
        except IntegrationError as exc:
            log.info("voice: %s failed: %s", result.__name__, type(exc).__name__)
            return result.failure(exc)

    def speech_to_text(
        self,
        audio: bytes,
        language: str,
        alternative_languages: tuple[str, ...] = (),
        model: str | None = None,
        *,
        sample_rate: int | None = None,
    ) -> SpeechToTextResult:
        """Transcribe `audio` (`sample_rate`: for headerless 16-bit mono PCM only)."""

        def work() -> SpeechToTextResult:
            t = self.google.speech_to_text(
                audio, language, alternative_languages, model, sample_rate=sample_rate
            )
            return SpeechToTextResult(
                text=t.text,
                confidence=t.confidence,
                language=t.language_code,
                duration=t.duration,
                is_silent=t.is_silent,
                calls=t.calls,
            )

        return self._run(SpeechToTextResult, work)

    def translate(self, text: str, target: str, source: str | None = None) -> TranslationResult:
        def work() -> TranslationResult:
            t = self.google.translate(text, target, source)
            return TranslationResult(
                original_text=text,
                translated_text=t.text,
                source_language=t.source_language,
                detected_language=t.detected_language,
                target_language=target,
            )

        return self._run(TranslationResult, work)

    def speech_to_translated_text(
        self,
        audio: bytes,
        from_language: str,
        to_language: str,
        *,
        sample_rate: int | None = None,
    ) -> SpeechTranslationResult:
        """Transcribe `audio` in `from_language` and translate the text to `to_language`.

        `sample_rate` is for headerless 16-bit mono PCM only.
        """
        from integrations.voice.google import translation_language

        def work() -> SpeechTranslationResult:
            transcript = self.google.speech_to_text(audio, from_language, sample_rate=sample_rate)
            if transcript.is_silent or not transcript.text:
                return SpeechTranslationResult(
                    source_language=transcript.language_code,
                    target_language=to_language,
                    is_silent=transcript.is_silent,
                )
            spoken = transcript.language_code or from_language
            translation = self.google.translate(
                transcript.text, translation_language(to_language), translation_language(spoken)
            )
            return SpeechTranslationResult(
                original_text=transcript.text,
                translated_text=translation.text,
                confidence=transcript.confidence,
                source_language=spoken,
                target_language=to_language,
            )

        return self._run(SpeechTranslationResult, work)

    def text_to_speech(
        self,
        text: str,
        language: str,
        voice: str | None = None,
        gender: str | None = None,
        encoding: str = "MP3",
        *,
        strict: bool | None = None,
    ) -> TextToSpeechResult:
        def work() -> TextToSpeechResult:
            s = self.google.text_to_speech(text, language, voice, gender, encoding, strict=strict)
            return TextToSpeechResult(
                audio_content=s.audio,
                audio_format=s.encoding,
                voice=s.voice,
                language=s.language,
                chunks=s.chunks,
            )

        return self._run(TextToSpeechResult, work)

    def languages(self, display_language: str = "en") -> LanguagesResult:
        return self._run(
            LanguagesResult,
            lambda: LanguagesResult(languages=self.google.languages(display_language)),
        )

    def voices(self, language: str | None = None) -> VoicesResult:
        return self._run(VoicesResult, lambda: VoicesResult(voices=self.google.voices(language)))

    def interpret_stream(
        self, chunks: AsyncIterator[bytes], from_language: str, to_language: str, **options: Any
    ) -> AsyncIterator[InterpretEvent]:
        """Realtime interpreter (see `integrations.voice.realtime.interpret_stream`); raises."""
        from integrations.voice.realtime import interpret_stream

        return interpret_stream(self.google, chunks, from_language, to_language, **options)
