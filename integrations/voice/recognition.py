"""How to send audio to Speech-to-Text, decided from the sniffed headers (pure logic).

Google's documented rules (``RecognitionConfig.AudioEncoding``, Speech v1):

- FLAC and WAV (LINEAR16 or MULAW): the encoding and rate may be omitted; when given they
  must match the header, and a multi-channel file needs ``audio_channel_count``.
- OGG_OPUS and WEBM_OPUS: ``sample_rate_hertz`` must be one of 8000, 12000, 16000, 24000
  or 48000.
- MP3 is "a Beta feature and only available in v1p1beta1", and ``sample_rate_hertz`` has to
  match the file's rate.
- Anything else (AAC/M4A, Vorbis, float or 8-bit PCM, rates outside 8000-48000) is
  converted to 16 kHz mono LINEAR16 before the first call.
- Multi-channel audio is down-mixed the same way: with ``audio_channel_count`` > 1 and no
  per-channel recognition Google transcribes the first channel only, so speech on another
  channel would be lost (per-channel recognition would bill every channel).
- Headerless LINEAR16 needs an explicit rate.

When Google still rejects a request, `classify_rejection` says whether converting the
audio or trying the next model can help; `model_chain` is the order models are tried in.
`transcript_from` reads a RecognizeResponse (any object with the proto's shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from integrations.voice.headers import AudioInfo
from integrations.voice.results import Attempt, Transcript

__all__ = [
    "LINEAR16_16K",
    "MAX_CALLS",
    "OPUS_RATES",
    "SYNC_LIMIT_BYTES",
    "SYNC_LIMIT_SECONDS",
    "SendPlan",
    "classify_rejection",
    "config_for",
    "model_chain",
    "normalise_language",
    "plan_for",
    "transcript_from",
    "translation_language",
]

SYNC_LIMIT_SECONDS = 60.0  # Recognize: "Sync input too long" beyond one minute
SYNC_LIMIT_BYTES = 10 * 1024 * 1024  # inline content limit, 10485760 bytes
CHUNK_SECONDS = 50.0
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
MODEL_CHAIN = ("latest_long", "latest_short", "default")
PHONE_CHAIN = ("phone_call", "default")
MAX_CALLS = 3
_RATE_RANGE = (8000, 48000)


@dataclass(frozen=True)
class SendPlan:
    """How audio goes to Speech: encoding, rate, channels, API version, or convert first."""

    encoding: str
    sample_rate: int | None
    channels: int = 1
    api: Literal["v1", "v1p1beta1"] = "v1"
    convert: bool = False
    reason: str = ""


LINEAR16_16K = SendPlan("LINEAR16", 16000, convert=True, reason="converted to 16 kHz mono LINEAR16")


def plan_for(info: AudioInfo | None, raw_rate: int | None = None) -> SendPlan:
    """The send plan for sniffed audio, or for headerless PCM at `raw_rate`."""
    if info is None:
        if raw_rate is None:
            raise ValueError("headerless audio needs raw_rate")
        return SendPlan("LINEAR16", raw_rate, reason="headerless LINEAR16")
    encoding, rate, channels = info.speech_encoding, info.sample_rate, info.channels or 1
    if encoding is None:
        return _convert(f"{info.format}/{info.codec} is not accepted by Speech v1")
    if rate is None or not _RATE_RANGE[0] <= rate <= _RATE_RANGE[1]:
        return _convert(f"sample rate {rate} outside {_RATE_RANGE[0]}-{_RATE_RANGE[1]} Hz")
    if channels > 1:
        return _convert(f"{channels} channels (Speech would hear the first only); down-mixed")
    if encoding in ("OGG_OPUS", "WEBM_OPUS"):
        rate = rate if rate in OPUS_RATES else 48000  # Opus decodes at 48 kHz natively
        return SendPlan(encoding, rate, channels, reason=f"{info.format} Opus")
    if encoding == "MP3":
        return SendPlan("MP3", rate, channels, api="v1p1beta1", reason="MP3 via v1p1beta1")
    return SendPlan(encoding, rate, channels, reason=f"{info.format} header")


def _convert(reason: str) -> SendPlan:
    return SendPlan("LINEAR16", 16000, convert=True, reason=f"{reason}; converted to LINEAR16")


def model_chain(model: str | None, sample_rate: int | None) -> tuple[str, ...]:
    """Models to try in order: the caller's alone, else the documented default chain.

    A model the caller chose is never silently replaced: when Google rejects it for the
    language, the caller hears so (`InvalidRequest` quoting Google).
    """
    if model is not None:
        return (model,)
    return PHONE_CHAIN if sample_rate is not None and sample_rate <= 8000 else MODEL_CHAIN


def config_for(
    plan: SendPlan, language: str, alternative_languages: tuple[str, ...], model: str | None
) -> dict[str, Any]:
    """The RecognitionConfig fields for `plan` (a mapping proto-plus accepts)."""
    config: dict[str, Any] = {"encoding": plan.encoding, "language_code": language}
    if plan.sample_rate:
        config["sample_rate_hertz"] = plan.sample_rate
    if plan.channels > 1:
        config["audio_channel_count"] = plan.channels
    if alternative_languages:
        config["alternative_language_codes"] = list(alternative_languages)
    if model:
        config["model"] = model
    return config


_AUDIO_WORDS = (
    "encoding",
    "sample_rate",
    "sample rate",
    "header",
    "channel",
    "opus",
    "mp3",
    "wav",
    "flac",
    "linear16",
)


def classify_rejection(message: str, model: str | None) -> Literal["audio", "model", "other"]:
    """What an INVALID_ARGUMENT is about: the audio's encoding/rate, the model, or neither."""
    text = message.lower()
    if model and ("model" in text or model.lower() in text):
        return "model"
    if any(word in text for word in _AUDIO_WORDS):
        return "audio"
    return "other"


_REGIONAL_LANGUAGES = {"zh-CN", "zh-TW", "pt-PT", "pt-BR", "fr-CA", "mni-Mtei"}


def translation_language(code: str) -> str:
    """Translation's code for a speech locale: ``de-DE`` -> ``de``, ``zh-TW`` stays."""
    for regional in _REGIONAL_LANGUAGES:
        if code.lower() == regional.lower():
            return regional
    return code.split("-")[0].lower()


def normalise_language(code: str | None) -> str | None:
    """Google answers ``en-us``; report BCP-47 case (``en-US``)."""
    if not code:
        return None
    parts = code.split("-")
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])


def transcript_from(
    response: Any, config: dict[str, Any], attempts: tuple[Attempt, ...], calls: int
) -> Transcript:
    """A `Transcript` from a RecognizeResponse: texts joined, confidence weighted by length."""
    texts, weighted, language = [], 0.0, None
    for result in response.results:
        if not result.alternatives:
            continue
        best = result.alternatives[0]
        text = best.transcript.strip()
        if text:
            texts.append(text)
            weighted += best.confidence * len(text)
        language = language or normalise_language(result.language_code)
    confidence = round(weighted / sum(len(t) for t in texts), 4) if texts else None
    return Transcript(
        text=" ".join(texts),
        confidence=confidence,
        language_code=language or normalise_language(config.get("language_code")),
        config=config,
        attempts=attempts,
        calls=calls,
    )
