"""The fake's language side: a ten-word lexicon per language, Translation v3, Text-to-Speech.

The fake recogniser answers one lexicon word per voiced burst, so a transcript is
predictable from the audio alone (three bursts in ``en-US`` are ``"hello world this"``);
the translator maps word *i* of one lexicon to word *i* of another; the synthesiser speaks
one burst per word. Validation and error wording follow Google's documentation: TTS
``input.text`` <= 5,000 bytes, voices by name/language; Translation ``parent`` must name
the project, ``mime_type`` defaults to text/html (HTML-special characters come back as
entities).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import grpc
from google.cloud import texttospeech_v1, translate_v3

from integrations.voice.codec import encode_pcm, pcm_to_wav
from integrations.voice.testing._status import Abort
from integrations.voice.testing.audio import speech_like

__all__ = [
    "LANGUAGE_NAMES",
    "LEXICON",
    "MODELS",
    "TTS_LIMIT",
    "VOICES",
    "TextServices",
    "base_language",
    "detect",
    "translate_words",
    "words",
]

LEXICON = {
    "en": ["hello", "world", "this", "is", "a", "test", "of", "the", "voice", "connector"],
    "de": ["hallo", "welt", "das", "ist", "ein", "test", "von", "der", "sprach", "verbindung"],
    "fr": ["bonjour", "monde", "ceci", "est", "un", "essai", "de", "la", "voix", "connecteur"],
    "es": ["hola", "mundo", "esto", "es", "una", "prueba", "de", "la", "voz", "conector"],
}
LANGUAGE_NAMES = {
    "en": {"en": "English", "de": "German", "fr": "French", "es": "Spanish"},
    "de": {"en": "Englisch", "de": "Deutsch", "fr": "Französisch", "es": "Spanisch"},
}
VOICES = (
    ("de-DE-Standard-A", "FEMALE"),
    ("de-DE-Standard-B", "MALE"),
    ("de-DE-Neural2-C", "FEMALE"),
    ("de-DE-Wavenet-B", "MALE"),
    ("en-US-Standard-C", "FEMALE"),
    ("en-US-Standard-D", "MALE"),
    ("en-US-Neural2-F", "FEMALE"),
    ("en-GB-Wavenet-B", "MALE"),
    ("fr-FR-Standard-A", "FEMALE"),
    ("es-ES-Standard-B", "MALE"),
)
MODELS = frozenset(
    {"latest_long", "latest_short", "default", "phone_call", "command_and_search", "video"}
)


def base_language(language: str) -> str:
    """``de-DE`` -> ``de``."""
    return language.split("-")[0].lower()


def words(language: str, count: int, start: int = 0) -> str:
    """`count` lexicon words of `language` from position `start` (wrapping around)."""
    lexicon = LEXICON.get(base_language(language), LEXICON["en"])
    return " ".join(lexicon[(start + i) % len(lexicon)] for i in range(count))


def detect(text: str) -> tuple[str, float]:
    """The language whose lexicon covers most words of `text`, and the share covered."""
    found = re.findall(r"\w+", text.lower())
    scores = {lang: sum(w in vocab for w in found) for lang, vocab in LEXICON.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best, (scores[best] / len(found) if found else 0.0)


def translate_words(text: str, source: str, target: str) -> str:
    """Swap every lexicon word of `source` for the same position in `target`'s lexicon."""
    source_words = LEXICON.get(source, [])

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.lower() in source_words:
            translated = LEXICON[target][source_words.index(word.lower())]
            return translated.capitalize() if word[0].isupper() else translated
        return word

    return re.sub(r"\w+", swap, text)


TTS_LIMIT = 5000
TTS_TOO_LONG = (
    "Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes. This limit "
    "is different from quotas. To fix, reduce the byte length of the characters in this "
    "request, or consider using the Long Audio API: "
    "https://cloud.google.com/text-to-speech/docs/create-audio-text-long-audio-synthesis."
)
TTS_WORD_SECONDS, TTS_GAP_SECONDS = 0.15, 0.12
_INVALID = grpc.StatusCode.INVALID_ARGUMENT


class _Options(Protocol):
    project: str
    leak_entities: bool


class TextServices:
    """Translation and Text-to-Speech handlers (request message in, response out)."""

    def __init__(self, options: _Options) -> None:
        self.options = options

    def _voices(self, language: str) -> list[tuple[str, str]]:
        if not language:
            return list(VOICES)
        wanted = language.lower()
        if "-" in wanted:
            return [v for v in VOICES if v[0].lower().startswith(wanted + "-")]
        return [v for v in VOICES if v[0].lower().split("-")[0] == wanted]

    def list_voices(self, request: Any) -> Any:
        return texttospeech_v1.ListVoicesResponse(
            voices=[
                {
                    "name": name,
                    "language_codes": ["-".join(name.split("-")[:2])],
                    "ssml_gender": gender,
                    "natural_sample_rate_hertz": 24000,
                }
                for name, gender in self._voices(request.language_code)
            ]
        )

    def synthesize(self, request: Any) -> Any:
        text = request.input.text or request.input.ssml
        if not text:
            raise Abort(_INVALID, "Either input.text or input.ssml needs to be set.")
        if len(text.encode("utf-8")) > TTS_LIMIT:
            raise Abort(_INVALID, TTS_TOO_LONG)
        voice, config = request.voice, request.audio_config
        if not voice.language_code:
            raise Abort(_INVALID, "Voice language_code is required.")
        candidates = self._voices(voice.language_code)
        if voice.name:
            if not any(v[0] == voice.name for v in VOICES):
                raise Abort(_INVALID, f"Voice '{voice.name}' does not exist. Is it misspelled?")
            candidates = [v for v in candidates if v[0] == voice.name]
            if not candidates:
                raise Abort(
                    _INVALID,
                    f"Requested language code '{voice.language_code}' "
                    f"doesn't match the voice '{voice.name}'.",
                )
        if not candidates:
            raise Abort(_INVALID, f"Language code '{voice.language_code}' is not supported.")
        encoding = texttospeech_v1.AudioEncoding(int(config.audio_encoding)).name
        if encoding == "AUDIO_ENCODING_UNSPECIFIED":
            raise Abort(_INVALID, "AudioConfig.audio_encoding is required.")
        rate = config.sample_rate_hertz or 24000
        samples = speech_like(
            len(text.split()),
            rate,
            word_seconds=TTS_WORD_SECONDS,
            gap_seconds=TTS_GAP_SECONDS,
            lead_seconds=0.1,
        )
        pcm = (samples * 32767).astype("<i2").tobytes()
        audio = pcm_to_wav(pcm, rate) if encoding == "LINEAR16" else encode_pcm(pcm, rate, encoding)
        return texttospeech_v1.SynthesizeSpeechResponse(audio_content=audio)

    def _check_parent(self, parent: str) -> None:
        match = re.fullmatch(r"projects/([^/]+)(?:/locations/([^/]+))?", parent)
        if not match:
            raise Abort(_INVALID, "Invalid 'parent'.")
        if match.group(1) != self.options.project:
            raise Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "Permission 'cloudtranslate.generalModels.predict' denied on resource "
                "(or it may not exist).",
            )

    def translate(self, request: Any) -> Any:
        self._check_parent(request.parent)
        target = base_language(request.target_language_code)
        if not request.target_language_code:
            raise Abort(_INVALID, "Target language code is required.")
        if target not in LEXICON:
            raise Abort(_INVALID, "Target language is invalid.")
        if sum(len(c) for c in request.contents) > 30720:
            raise Abort(_INVALID, "Text is too long.")
        mime = request.mime_type or "text/html"  # Google's documented default
        if mime not in ("text/plain", "text/html"):
            raise Abort(_INVALID, "Unsupported mime type.")
        translations = []
        for content in request.contents:
            source = base_language(request.source_language_code) or detect(content)[0]
            text = translate_words(content, source, target)
            if mime == "text/html" or self.options.leak_entities:
                text = text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
            entry: dict[str, str] = {"translated_text": text}
            if not request.source_language_code:
                entry["detected_language_code"] = source
            translations.append(entry)
        return translate_v3.TranslateTextResponse(translations=translations)

    def detect(self, request: Any) -> Any:
        self._check_parent(request.parent)
        language, confidence = detect(request.content)
        return translate_v3.DetectLanguageResponse(
            languages=[{"language_code": language, "confidence": confidence}]
        )

    def supported(self, request: Any) -> Any:
        self._check_parent(request.parent)
        display = base_language(request.display_language_code)
        if display and display not in LANGUAGE_NAMES:
            raise Abort(_INVALID, "Display language code is invalid.")
        names = LANGUAGE_NAMES.get(display, {})
        return translate_v3.SupportedLanguages(
            languages=[
                {
                    "language_code": code,
                    "display_name": names.get(code, ""),
                    "support_source": True,
                    "support_target": True,
                }
                for code in LEXICON
            ]
        )
