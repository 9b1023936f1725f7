"""Google Speech-to-Text v1, Translation v3 and Text-to-Speech v1 behind one connector.

`GoogleVoice` takes the service-account JSON itself (no file), or ready clients, or a gRPC
channel (the tests point one at a local fake). Every RPC has an explicit timeout and goes
through `_calls.call` (bounded retry, errors translated to `integrations.errors`).

Speech-to-text sends what the headers allow (see `recognition`) and recovers instead of
trying a grid of configs: an INVALID_ARGUMENT about encoding or rate converts the audio to
16 kHz LINEAR16 once; one naming a default model moves along the model chain; never more than
`max_calls` RPCs per request. Silent audio makes no call at all, and audio over a minute
is converted and recognised in quiet-point chunks whose texts are joined.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import SecretStr

from integrations.errors import AuthenticationFailed, InvalidRequest, UnsupportedAudio
from integrations.voice import recognition as rec
from integrations.voice._calls import CallBudget, call, translate_error
from integrations.voice._optional import missing_extra
from integrations.voice.analysis import analyse_decoded
from integrations.voice.codec import (
    DecodedAudio,
    decode,
    encode_pcm,
    resample_linear16,
    split_linear16,
)
from integrations.voice.google_auth import credentials_from_json
from integrations.voice.headers import AudioInfo, sniff
from integrations.voice.results import (
    Attempt,
    Language,
    SynthesizedSpeech,
    Transcript,
    Translation,
    Voice,
)
from integrations.voice.synthesis import choose_voice, split_text, wav_payload

try:
    from google.api_core import exceptions as gexc
    from google.cloud import speech_v1, speech_v1p1beta1, texttospeech_v1, translate_v3
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = ["GoogleVoice", "translation_language"]

translation_language = rec.translation_language  # re-exported: callers map speech locales

log = logging.getLogger(__name__)

TTS_ENCODINGS = tuple(texttospeech_v1.AudioEncoding.__members__)[1:]
MAX_DURATION_SECONDS = 4 * 3600.0


class GoogleVoice:
    """Speech-to-text, translation and text-to-speech on Google Cloud.

    Args:
        credentials_json: the service-account JSON text (setting
            ``Connector_GoogleSpeech_API_KEY_SECRET``).
        channel: a gRPC channel for every client instead (tests, emulators, proxies).
        speech_client: a ready Speech v1 client (instead of credentials).
        speech_beta_client: a ready Speech v1p1beta1 client.
        tts_client: a ready Text-to-Speech client.
        translation_client: a ready Translation v3 client.
        project_id: Translation's project; defaults to the service account's.
        timeout: seconds per RPC.
        max_calls: RPCs one request may make, retries and recoveries included.
        backoff: first pause before retrying a transient failure (doubles each time).
        strict_voice: text_to_speech without voice or gender fails (the original behaviour).
        sleep: the pause function (tests pass a no-op).
    """

    def __init__(
        self,
        credentials_json: str | SecretStr | None = None,
        *,
        channel: Any = None,
        speech_client: Any = None,
        speech_beta_client: Any = None,
        tts_client: Any = None,
        translation_client: Any = None,
        project_id: str | None = None,
        timeout: float = 30.0,
        max_calls: int = rec.MAX_CALLS,
        backoff: float = 0.5,
        strict_voice: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = None
        if credentials_json is not None:
            self._credentials, detected = credentials_from_json(credentials_json)
            project_id = project_id or detected
        self._channel = channel
        self._clients: dict[str, Any] = {
            k: v
            for k, v in (
                ("speech", speech_client),
                ("speech_beta", speech_beta_client),
                ("tts", tts_client),
                ("translation", translation_client),
            )
            if v is not None
        }
        self.project_id = project_id
        self.timeout = timeout
        self.max_calls = max_calls
        self.backoff = backoff
        self.strict_voice = strict_voice
        self._sleep = sleep
        self._voices: dict[str, list[Voice]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ clients

    def _client(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._clients:
                self._clients[kind] = self._build(kind)
            return self._clients[kind]

    def _build(self, kind: str) -> Any:
        module, client_name, transport_name = {
            "speech": (speech_v1, "SpeechClient", "SpeechGrpcTransport"),
            "speech_beta": (speech_v1p1beta1, "SpeechClient", "SpeechGrpcTransport"),
            "tts": (texttospeech_v1, "TextToSpeechClient", "TextToSpeechGrpcTransport"),
            "translation": (
                translate_v3,
                "TranslationServiceClient",
                "TranslationServiceGrpcTransport",
            ),
        }[kind]
        client_class = getattr(module, client_name)
        if self._channel is not None:
            transports = getattr(module.services, _service_package(client_name)).transports
            return client_class(
                transport=getattr(transports, transport_name)(channel=self._channel)
            )
        if self._credentials is None:
            raise AuthenticationFailed(
                "no Google credentials: set Connector_GoogleSpeech_API_KEY_SECRET"
            )
        return client_class(credentials=self._credentials)

    def _call(self, kind: str, method: str, request: Any, budget: CallBudget | None = None) -> Any:
        return call(
            getattr(self._client(kind), method),
            request,
            what=f"{kind} {method}",
            budget=budget or CallBudget(self.max_calls),
            timeout=self.timeout,
            backoff=self.backoff,
            sleep=self._sleep,
        )

    @property
    def _parent(self) -> str:
        self._client("translation")  # missing credentials are the first thing to report
        if not self.project_id:
            raise InvalidRequest(
                "Translation v3 needs a project id (service account or project_id=)"
            )
        return f"projects/{self.project_id}/locations/global"

    # ------------------------------------------------------------------ speech-to-text

    def speech_to_text(
        self,
        audio: bytes,
        language: str,
        alternative_languages: tuple[str, ...] | list[str] = (),
        model: str | None = None,
        *,
        sample_rate: int | None = None,
    ) -> Transcript:
        """Transcribe a recording.

        Args:
            audio: WAV, FLAC, MP3, Ogg, WebM or anything else PyAV decodes.
            language: BCP-47 code, e.g. ``de-DE``.
            alternative_languages: up to three more codes Google may detect instead.
            model: the Speech model; used alone (a rejection is reported, not replaced).
                Default: ``latest_long``, then ``latest_short``, ``default`` if Google
                rejects one for the language (``phone_call`` first at 8 kHz).
            sample_rate: for headerless 16-bit mono PCM only.

        Raises:
            UnsupportedAudio: unknown, truncated or undecodable audio.
            InvalidRequest: Google rejected the request even after recovery.
            IntegrationError: other failures (authentication, rate limit, outage).
        """
        info = self._sniff(audio, sample_rate)
        decoded = decode(audio, raw_rate=None if info else sample_rate)
        analysis = analyse_decoded(decoded)
        if analysis.is_silent:
            return Transcript(text="", duration=analysis.duration, is_silent=True, chunks=0)
        if analysis.duration > MAX_DURATION_SECONDS:
            raise InvalidRequest(
                f"audio of {analysis.duration:.0f} s exceeds the {MAX_DURATION_SECONDS:.0f} s limit"
            )
        languages = tuple(alternative_languages)
        if analysis.duration > rec.SYNC_LIMIT_SECONDS:
            return self._recognize_chunks(decoded, language, languages, model)
        plan = rec.plan_for(info, sample_rate)
        if len(audio) > rec.SYNC_LIMIT_BYTES and not plan.convert:
            plan = rec.LINEAR16_16K
        payload = resample_linear16(decoded) if plan.convert else audio
        result = self._recognize(payload, plan, decoded, language, languages, model)
        return result.model_copy(update={"duration": analysis.duration})

    def _sniff(self, audio: bytes, sample_rate: int | None) -> AudioInfo | None:
        try:
            return sniff(audio)
        except UnsupportedAudio as exc:
            if not audio:
                raise
            if sample_rate is None:
                if str(exc).startswith("unrecognised audio"):
                    raise UnsupportedAudio(
                        f"{exc}; headerless 16-bit PCM needs its sample rate (sample_rate=)"
                    ) from exc
                raise
            return None  # headerless PCM at the caller's rate

    def _recognize(
        self,
        payload: bytes,
        plan: rec.SendPlan,
        decoded: DecodedAudio | None,
        language: str,
        languages: tuple[str, ...],
        model: str | None,
    ) -> Transcript:
        """Recognize `payload`; `decoded` is what a rejected payload is converted from."""
        budget = CallBudget(self.max_calls)
        models = rec.model_chain(model, plan.sample_rate)
        attempts: list[Attempt] = []
        index = 0
        while True:
            config = rec.config_for(plan, language, languages, models[index])
            kind = "speech_beta" if plan.api == "v1p1beta1" else "speech"
            request = {"config": config, "audio": {"content": payload}}
            try:
                response = self._call(kind, "recognize", request, budget)
            except InvalidRequest as exc:
                attempts.append(Attempt(api=plan.api, config=config, error=str(exc)))
                problem = rec.classify_rejection(str(exc), models[index])
                if budget.left <= 0 or problem == "other":
                    raise
                if problem == "audio" and decoded is not None and not plan.convert:
                    log.info("speech: %s rejected (%s); converting to LINEAR16", plan.reason, exc)
                    payload, plan = resample_linear16(decoded), rec.LINEAR16_16K
                elif problem == "model" and index + 1 < len(models):
                    index += 1
                else:
                    raise
                continue
            attempts.append(Attempt(api=plan.api, config=config))
            return rec.transcript_from(response, config, tuple(attempts), budget.used)

    def _recognize_chunks(
        self, decoded: DecodedAudio, language: str, languages: tuple[str, ...], model: str | None
    ) -> Transcript:
        pcm = resample_linear16(decoded)
        pieces = split_linear16(pcm, 16000, rec.CHUNK_SECONDS)
        parts = [
            self._recognize(piece, rec.LINEAR16_16K, None, language, languages, model)
            for piece in pieces
        ]
        texts = [p.text for p in parts if p.text]
        weights = [(len(p.text), p.confidence) for p in parts if p.text and p.confidence]
        total = sum(w for w, _ in weights)
        return Transcript(
            text=" ".join(texts),
            confidence=sum(w * c for w, c in weights) / total if total else None,
            language_code=next((p.language_code for p in parts if p.language_code), None),
            config=parts[-1].config,
            attempts=tuple(a for p in parts for a in p.attempts),
            calls=sum(p.calls for p in parts),
            duration=decoded.duration,
            chunks=len(pieces),
        )

    def streaming_recognize(
        self, config: dict[str, Any], audio: Iterable[bytes], *, timeout: float = 360.0
    ) -> Iterator[Any]:
        """One streaming_recognize connection: audio blocks in, responses out.

        Errors arrive while iterating, already translated to `integrations.errors` types.
        """
        requests = (speech_v1.StreamingRecognizeRequest(audio_content=block) for block in audio)
        streaming_config = speech_v1.StreamingRecognitionConfig(config)
        try:
            responses = self._client("speech").streaming_recognize(
                config=streaming_config, requests=requests, timeout=timeout, retry=None
            )
            yield from responses
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            raise translate_error(exc, "speech streaming_recognize") from exc

    # ------------------------------------------------------------------ translation

    def translate(self, text: str, target: str, source: str | None = None) -> Translation:
        """Translate plain text; with no `source`, Google detects it (`detected_language`)."""
        if not text.strip():
            return Translation(
                text="", source_text=text, target_language=target, source_language=source
            )
        request = {
            "parent": self._parent,
            "contents": [text],
            "mime_type": "text/plain",
            "target_language_code": target,
            "source_language_code": source or "",
        }
        response = self._call("translation", "translate_text", request)
        if not response.translations:
            raise InvalidRequest(f"Translation returned nothing for {target}")
        first = response.translations[0]
        detected = first.detected_language_code or None
        return Translation(
            text=html.unescape(first.translated_text),  # text/plain should have none; be safe
            source_text=text,
            target_language=target,
            source_language=source or detected,
            detected_language=detected,
        )

    def languages(self, display_language: str | None = "en") -> list[Language]:
        """Languages Translation supports, named in `display_language`."""
        request = {"parent": self._parent, "display_language_code": display_language or ""}
        response = self._call("translation", "get_supported_languages", request)
        return [
            Language(
                code=lang.language_code,
                name=lang.display_name or None,
                source=lang.support_source,
                target=lang.support_target,
            )
            for lang in response.languages
        ]

    # ------------------------------------------------------------------ text-to-speech

    def voices(self, language: str | None = None) -> list[Voice]:
        """Text-to-Speech voices for `language` (all when None); cached per language."""
        key = language or ""
        if key not in self._voices:
            response = self._call("tts", "list_voices", {"language_code": key})
            self._voices[key] = [
                Voice(
                    name=v.name,
                    language_codes=tuple(v.language_codes),
                    gender=texttospeech_v1.SsmlVoiceGender(v.ssml_gender).name,
                    natural_sample_rate=v.natural_sample_rate_hertz,
                )
                for v in response.voices
            ]
        return self._voices[key]

    def text_to_speech(
        self,
        text: str,
        language: str,
        voice: str | None = None,
        gender: str | None = None,
        encoding: str = "MP3",
        *,
        strict: bool | None = None,
    ) -> SynthesizedSpeech:
        """Synthesise `text`; text over 5,000 bytes is split at sentences and joined.

        Raises:
            InvalidRequest: empty text, unknown encoding, or no voice fits (the message lists
                the voices there are).
        """
        encoding = encoding.upper()
        if encoding not in TTS_ENCODINGS:
            raise InvalidRequest(f"unknown encoding {encoding!r}; one of {TTS_ENCODINGS}")
        chunks = split_text(text)
        if not chunks:
            raise InvalidRequest("nothing to synthesise: the text is empty")
        strict = self.strict_voice if strict is None else strict
        chosen = choose_voice(self.voices(language), language, voice, gender, strict)
        selection = {"language_code": language, "name": chosen.name}
        if len(chunks) == 1:
            audio = self._synthesize(chunks[0], selection, {"audio_encoding": encoding})
            return SynthesizedSpeech(
                audio=audio, encoding=encoding, voice=chosen.name, language=language
            )
        # Several requests: take PCM from each and encode once, so the result is one stream.
        rate = chosen.natural_sample_rate or 24000
        config = {"audio_encoding": "LINEAR16", "sample_rate_hertz": rate}
        pcm = []
        for chunk in chunks:
            samples, rate = wav_payload(self._synthesize(chunk, selection, config))
            pcm.append(samples)
        audio = encode_pcm(b"".join(pcm), rate, encoding)
        return SynthesizedSpeech(
            audio=audio,
            encoding=encoding,
            voice=chosen.name,
            language=language,
            chunks=len(chunks),
            calls=len(chunks),
        )

    def _synthesize(self, text: str, voice: dict[str, Any], config: dict[str, Any]) -> bytes:
        request = {"input": {"text": text}, "voice": voice, "audio_config": config}
        response = self._call("tts", "synthesize_speech", request)
        return bytes(response.audio_content)


def _service_package(client_name: str) -> str:
    return {
        "SpeechClient": "speech",
        "TextToSpeechClient": "text_to_speech",
        "TranslationServiceClient": "translation_service",
    }[client_name]
