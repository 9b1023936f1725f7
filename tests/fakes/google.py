"""A local stand-in for Google Speech v1 (+ v1p1beta1 Recognize), Text-to-Speech v1 and
Translation v3, served by one in-process `grpc.server` on 127.0.0.1.

The real client libraries talk to it through
``<Service>GrpcTransport(channel=grpc.insecure_channel(fake.address))``; the handlers are
registered with `grpc.method_handlers_generic_handler` using the packages' own proto-plus
message classes as (de)serialisers, so every byte on the wire is what Google would see.

It validates the way the documentation says Google does (wording copied from Google's
errors where known):

- Speech ``RecognitionConfig.AudioEncoding``: WAV/FLAC rate and channels must match the
  header, Opus rates are one of 8000/12000/16000/24000/48000, MP3 only on v1p1beta1 with
  the file's rate, the encoding must match the bytes, sync Recognize takes <= 1 minute and
  <= 10485760 bytes, a streaming connection ends after `stream_limit_seconds` of audio.
- Text-to-Speech: ``input.text`` <= 5,000 bytes, voices by name/language.
- Translation v3: ``parent`` must name the project; ``mime_type`` defaults to text/html, in
  which case HTML-special characters come back as entities.

Its "recogniser" counts voiced bursts (`tests.fakes.audio.word_spans`) and answers one
lexicon word per burst; its "synthesiser" speaks one burst per word. Failures can be
queued with `fail_next`.
"""

from __future__ import annotations

import collections
import datetime
import re
import threading
from concurrent import futures
from typing import Any

import grpc
import numpy as np
from google.cloud import speech_v1, speech_v1p1beta1, texttospeech_v1, translate_v3
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from integrations.voice.codec import encode_pcm, pcm_to_wav
from tests.fakes.audio import decode_mono, speech_like, word_spans

__all__ = ["FakeGoogle"]

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
MODELS = {"latest_long", "latest_short", "default", "phone_call", "command_and_search", "video"}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
TTS_LIMIT = 5000
BAD_ENCODING = "Invalid recognition 'config': bad encoding.."
TTS_TOO_LONG = (
    "Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes. This limit "
    "is different from quotas. To fix, reduce the byte length of the characters in this "
    "request, or consider using the Long Audio API: "
    "https://cloud.google.com/text-to-speech/docs/create-audio-text-long-audio-synthesis."
)
TTS_WORD_SECONDS, TTS_GAP_SECONDS = 0.15, 0.12

_SPEECH = "google.cloud.speech.v1.Speech"
_SPEECH_BETA = "google.cloud.speech.v1p1beta1.Speech"
_TTS = "google.cloud.texttospeech.v1.TextToSpeech"
_TRANSLATE = "google.cloud.translation.v3.TranslationService"


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


def _base(language: str) -> str:
    return language.split("-")[0].lower()


def _words(language: str, count: int, start: int = 0) -> str:
    lexicon = LEXICON.get(_base(language), LEXICON["en"])
    return " ".join(lexicon[(start + i) % len(lexicon)] for i in range(count))


class FakeGoogle:
    """The fake server. Use as a context manager; `channel()` gives a client channel.

    Attributes:
        calls: RPC count per ``"<Service>/<Method>"`` key (Service: Speech, SpeechBeta,
            TextToSpeech, Translation).
        requests: every request message received, with its key.
        stream_audio_bytes: audio bytes received by StreamingRecognize, all connections.
    """

    def __init__(
        self,
        *,
        project: str = "test-project",
        stream_limit_seconds: float = 305.0,
        unsupported_models: dict[str, set[str]] | None = None,
        leak_entities: bool = False,
    ) -> None:
        self.project = project
        self.stream_limit_seconds = stream_limit_seconds
        self.unsupported_models = unsupported_models or {"gsw-CH": {"latest_long"}}
        self.leak_entities = leak_entities
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: list[tuple[str, Any]] = []
        self.stream_audio_bytes = 0
        self._break_stream_after: float | None = None
        self._failures: dict[str, collections.deque[_Abort]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.address = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGoogle:
        # Google's own limit is checked in the handlers; gRPC's 4 MB default must not hit first.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        s1, sb, tts, tr = speech_v1, speech_v1p1beta1, texttospeech_v1, translate_v3
        handlers = [
            (
                _SPEECH,
                "Speech",
                {
                    "Recognize": (self._recognize_v1, s1.RecognizeRequest, s1.RecognizeResponse),
                },
            ),
            (
                _SPEECH_BETA,
                "SpeechBeta",
                {
                    "Recognize": (self._recognize_beta, sb.RecognizeRequest, sb.RecognizeResponse),
                },
            ),
            (
                _TTS,
                "TextToSpeech",
                {
                    "ListVoices": (
                        self._list_voices,
                        tts.ListVoicesRequest,
                        tts.ListVoicesResponse,
                    ),
                    "SynthesizeSpeech": (
                        self._synthesize,
                        tts.SynthesizeSpeechRequest,
                        tts.SynthesizeSpeechResponse,
                    ),
                },
            ),
            (
                _TRANSLATE,
                "Translation",
                {
                    "TranslateText": (
                        self._translate,
                        tr.TranslateTextRequest,
                        tr.TranslateTextResponse,
                    ),
                    "DetectLanguage": (
                        self._detect,
                        tr.DetectLanguageRequest,
                        tr.DetectLanguageResponse,
                    ),
                    "GetSupportedLanguages": (
                        self._supported,
                        tr.GetSupportedLanguagesRequest,
                        tr.SupportedLanguages,
                    ),
                },
            ),
        ]
        for service, short, methods in handlers:
            table = {
                name: grpc.unary_unary_rpc_method_handler(
                    self._unary(f"{short}/{name}", fn),
                    request_deserializer=req.deserialize,
                    response_serializer=resp.serialize,
                )
                for name, (fn, req, resp) in methods.items()
            }
            if service == _SPEECH:
                table["StreamingRecognize"] = grpc.stream_stream_rpc_method_handler(
                    self._streaming,
                    request_deserializer=s1.StreamingRecognizeRequest.deserialize,
                    response_serializer=s1.StreamingRecognizeResponse.serialize,
                )
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, table),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server, self.address = server, f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def channel(self) -> grpc.Channel:
        """A client channel with the message limits the Google transports set on their own."""
        unlimited = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        return grpc.insecure_channel(self.address, options=unlimited)

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        method: str,
        code: grpc.StatusCode,
        message: str = "injected failure",
        *,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (e.g. ``"Speech/Recognize"``) fail."""
        with self._lock:
            self._failures[method].extend(_Abort(code, message, retry_after) for _ in range(times))

    def break_next_stream(self, after_seconds: float) -> None:
        """Make the next StreamingRecognize connection fail (UNAVAILABLE) mid-stream."""
        with self._lock:
            self._break_stream_after = after_seconds

    def count(self, *methods: str) -> int:
        """Calls of the given method keys (all calls when none given)."""
        with self._lock:
            return sum(self.calls[m] for m in methods) if methods else sum(self.calls.values())

    @property
    def recognize_calls(self) -> int:
        return self.count("Speech/Recognize", "SpeechBeta/Recognize")

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self._failures.clear()
            self.stream_audio_bytes = 0
            self._break_stream_after = None

    # ------------------------------------------------------------------ plumbing

    def _record(self, key: str, request: Any) -> None:
        with self._lock:
            self.calls[key] += 1
            self.requests.append((key, request))
            pending = self._failures.get(key)
            failure = pending.popleft() if pending else None
        if failure is not None:
            raise failure

    def _unary(self, key: str, handler: Any) -> Any:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                self._record(key, request)
                return handler(request)
            except _Abort as abort:
                _abort(context, abort)

        return run

    # ------------------------------------------------------------------ Speech

    def _recognize_v1(self, request: Any) -> Any:
        return speech_v1.RecognizeResponse(results=self._recognize(request, "v1"))

    def _recognize_beta(self, request: Any) -> Any:
        results = self._recognize(request, "v1p1beta1")
        return speech_v1p1beta1.RecognizeResponse(
            results=[
                speech_v1p1beta1.SpeechRecognitionResult.deserialize(
                    speech_v1.SpeechRecognitionResult.serialize(r)
                )
                for r in results
            ]
        )

    def _recognize(self, request: Any, api: str) -> list[Any]:
        config, content = request.config, request.audio.content
        if not config.language_code:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Invalid recognition 'config': language_code is required.",
            )
        if len(content) > 10485760:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Request payload size exceeds the limit: 10485760 bytes.",
            )
        if not content:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "RecognitionAudio not set.")
        _check_model(config.model, config.language_code, self.unsupported_models)
        encoding = speech_v1.RecognitionConfig.AudioEncoding(int(config.encoding)).name
        samples = _validated_samples(content, encoding, config, api)
        if len(samples) / 16000 > 60.0:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Sync input too long. For audio longer than 1 min use "
                "LongRunningRecognize with a 'uri' parameter.",
            )
        count = len(word_spans(samples, 16000))
        if count == 0:
            return []
        return [
            speech_v1.SpeechRecognitionResult(
                alternatives=[
                    {"transcript": _words(config.language_code, count), "confidence": 0.92}
                ],
                language_code=config.language_code.lower(),
                result_end_time=datetime.timedelta(seconds=len(samples) / 16000),
            )
        ]

    def _streaming(self, requests: Any, context: grpc.ServicerContext) -> Any:
        try:
            first = next(requests, None)
            self._record("Speech/StreamingRecognize", first)
            yield from _StreamSession(self, first).run(requests)
        except _Abort as abort:
            _abort(context, abort)

    # ------------------------------------------------------------------ Text-to-Speech

    def _voices(self, language: str) -> list[tuple[str, str]]:
        if not language:
            return list(VOICES)
        wanted = language.lower()
        if "-" in wanted:
            return [v for v in VOICES if v[0].lower().startswith(wanted + "-")]
        return [v for v in VOICES if v[0].lower().split("-")[0] == wanted]

    def _list_voices(self, request: Any) -> Any:
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

    def _synthesize(self, request: Any) -> Any:
        text = request.input.text or request.input.ssml
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        if not text:
            raise _Abort(invalid, "Either input.text or input.ssml needs to be set.")
        if len(text.encode("utf-8")) > TTS_LIMIT:
            raise _Abort(invalid, TTS_TOO_LONG)
        voice, config = request.voice, request.audio_config
        if not voice.language_code:
            raise _Abort(invalid, "Voice language_code is required.")
        candidates = self._voices(voice.language_code)
        if voice.name:
            if not any(v[0] == voice.name for v in VOICES):
                raise _Abort(invalid, f"Voice '{voice.name}' does not exist. Is it misspelled?")
            candidates = [v for v in candidates if v[0] == voice.name]
            if not candidates:
                raise _Abort(
                    invalid,
                    f"Requested language code '{voice.language_code}' "
                    f"doesn't match the voice '{voice.name}'.",
                )
        if not candidates:
            raise _Abort(invalid, f"Language code '{voice.language_code}' is not supported.")
        encoding = texttospeech_v1.AudioEncoding(int(config.audio_encoding)).name
        if encoding == "AUDIO_ENCODING_UNSPECIFIED":
            raise _Abort(invalid, "AudioConfig.audio_encoding is required.")
        rate = config.sample_rate_hertz or 24000
        words = len(text.split())
        samples = speech_like(
            words,
            rate,
            word_seconds=TTS_WORD_SECONDS,
            gap_seconds=TTS_GAP_SECONDS,
            lead_seconds=0.1,
        )
        pcm = (samples * 32767).astype("<i2").tobytes()
        audio = pcm_to_wav(pcm, rate) if encoding == "LINEAR16" else encode_pcm(pcm, rate, encoding)
        return texttospeech_v1.SynthesizeSpeechResponse(audio_content=audio)

    # ------------------------------------------------------------------ Translation

    def _check_parent(self, parent: str) -> None:
        match = re.fullmatch(r"projects/([^/]+)(?:/locations/([^/]+))?", parent)
        if not match:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid 'parent'.")
        if match.group(1) != self.project:
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "Permission 'cloudtranslate.generalModels.predict' denied on resource "
                "(or it may not exist).",
            )

    def _translate(self, request: Any) -> Any:
        self._check_parent(request.parent)
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        target = _base(request.target_language_code)
        if not request.target_language_code:
            raise _Abort(invalid, "Target language code is required.")
        if target not in LEXICON:
            raise _Abort(invalid, "Target language is invalid.")
        if sum(len(c) for c in request.contents) > 30720:
            raise _Abort(invalid, "Text is too long.")
        mime = request.mime_type or "text/html"  # Google's documented default
        if mime not in ("text/plain", "text/html"):
            raise _Abort(invalid, "Unsupported mime type.")
        translations = []
        for content in request.contents:
            source = _base(request.source_language_code) or _detect(content)[0]
            text = _translate_words(content, source, target)
            if mime == "text/html" or self.leak_entities:
                text = text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
            entry: dict[str, str] = {"translated_text": text}
            if not request.source_language_code:
                entry["detected_language_code"] = source
            translations.append(entry)
        return translate_v3.TranslateTextResponse(translations=translations)

    def _detect(self, request: Any) -> Any:
        self._check_parent(request.parent)
        language, confidence = _detect(request.content)
        return translate_v3.DetectLanguageResponse(
            languages=[{"language_code": language, "confidence": confidence}]
        )

    def _supported(self, request: Any) -> Any:
        self._check_parent(request.parent)
        display = _base(request.display_language_code)
        if display and display not in LANGUAGE_NAMES:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Display language code is invalid.")
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


class _StreamSession:
    """One StreamingRecognize connection: interim results each second of audio, a final
    result when a pause ends an utterance and when the client closes its side."""

    PAUSE = 0.6  # seconds of quiet that end an utterance

    def __init__(self, fake: FakeGoogle, first: Any) -> None:
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        if first is None or "streaming_config" not in first:
            raise _Abort(
                invalid, "Invalid streaming request: the first message must carry streaming_config."
            )
        self.fake = fake
        self.config = first.streaming_config.config
        self.interim = first.streaming_config.interim_results
        encoding = speech_v1.RecognitionConfig.AudioEncoding(int(self.config.encoding)).name
        if encoding != "LINEAR16" or not self.config.sample_rate_hertz:
            raise _Abort(invalid, "This fake streams LINEAR16 with sample_rate_hertz only.")
        _check_model(self.config.model, self.config.language_code, fake.unsupported_models)
        self.rate = self.config.sample_rate_hertz
        self.pcm = bytearray()
        self.finalised = 0  # words already sent in a final result
        self.next_interim = 1.0
        with fake._lock:
            self.break_after, fake._break_stream_after = fake._break_stream_after, None

    def run(self, requests: Any) -> Any:
        for request in requests:
            if "streaming_config" in request:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "streaming_config is only allowed in the first request.",
                )
            self.pcm.extend(request.audio_content)
            with self.fake._lock:
                self.fake.stream_audio_bytes += len(request.audio_content)
            seconds = len(self.pcm) / 2 / self.rate
            if seconds > self.fake.stream_limit_seconds:
                raise _Abort(
                    grpc.StatusCode.OUT_OF_RANGE,
                    "Exceeded maximum allowed stream duration of "
                    f"{self.fake.stream_limit_seconds:g} seconds.",
                )
            if self.break_after is not None and seconds >= self.break_after:
                raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
            spans = word_spans(np.frombuffer(bytes(self.pcm), "<i2") / 32768.0, self.rate)
            if spans and seconds - spans[-1][1] >= self.PAUSE and len(spans) > self.finalised:
                yield self._result(len(spans), final=True, end=spans[-1][1])
            elif self.interim and seconds >= self.next_interim and len(spans) > self.finalised:
                yield self._result(len(spans), final=False, end=seconds)
            if seconds >= self.next_interim:
                self.next_interim = seconds + 1.0
        spans = word_spans(np.frombuffer(bytes(self.pcm), "<i2") / 32768.0, self.rate)
        if len(spans) > self.finalised:
            yield self._result(len(spans), final=True, end=len(self.pcm) / 2 / self.rate)

    def _result(self, words: int, *, final: bool, end: float) -> Any:
        text = _words(self.config.language_code, words - self.finalised, self.finalised)
        if final:
            self.finalised = words
        return speech_v1.StreamingRecognizeResponse(
            results=[
                {
                    "alternatives": [{"transcript": text, "confidence": 0.9 if final else 0.0}],
                    "is_final": final,
                    "stability": 0.0 if final else 0.5,
                    "result_end_time": datetime.timedelta(seconds=end),
                    "language_code": self.config.language_code.lower(),
                }
            ]
        )


# ---------------------------------------------------------------------- validation helpers


def _abort(context: grpc.ServicerContext, abort: _Abort) -> None:
    if abort.retry_after is None:
        context.abort(abort.code, abort.message)
    detail = any_pb2.Any()
    seconds = int(abort.retry_after)
    detail.Pack(
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=seconds, nanos=int((abort.retry_after - seconds) * 1e9)
            )
        )
    )
    status = status_pb2.Status(code=abort.code.value[0], message=abort.message, details=[detail])
    context.abort_with_status(rpc_status.to_status(status))


def _check_model(model: str, language: str, unsupported: dict[str, set[str]]) -> None:
    if not model:
        return
    if model not in MODELS or model in unsupported.get(language, set()):
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid recognition 'config': The requested model \"{model}\" is "
            f"currently not supported for language : {language}.",
        )


def _probe(content: bytes) -> tuple[str, str, int, int] | None:
    """(container, codec, header rate, channels) as PyAV sees them; None if unreadable."""
    import io

    import av

    try:
        with av.open(io.BytesIO(content)) as source:
            if not source.streams.audio:
                return None
            ctx = source.streams.audio[0].codec_context
            return source.format.name, ctx.name, ctx.sample_rate, ctx.layout.nb_channels
    except av.FFmpegError:
        return None


_CONTAINER_MAGIC = {b"OggS", b"fLaC", b"\x1aE\xdf\xa3", b"ID3\x03", b"ID3\x04"}


def _validated_samples(content: bytes, encoding: str, config: Any, api: str) -> np.ndarray:
    """Check the config against the bytes like Google does; the first channel at 16 kHz."""
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    rate, channels = config.sample_rate_hertz, config.audio_channel_count or 1
    if encoding == "LINEAR16" and content[:4] != b"RIFF":
        if content[:4] in _CONTAINER_MAGIC or content[4:8] == b"ftyp":
            raise _Abort(invalid, BAD_ENCODING)  # a compressed file declared as raw PCM
        if not rate:
            raise _Abort(
                invalid,
                "Invalid recognition 'config': sample_rate_hertz is required "
                "for LINEAR16 audio without a WAV header.",
            )
        return decode_mono(pcm_to_wav(content[: len(content) // 2 * 2], rate))
    probe = _probe(content)
    if probe is None:
        raise _Abort(invalid, BAD_ENCODING)
    container, codec, header_rate, header_channels = probe
    if container == "wav" or container == "flac":
        expected = {"pcm_s16le": "LINEAR16", "pcm_mulaw": "MULAW", "flac": "FLAC"}.get(codec)
        if expected is None or encoding not in ("ENCODING_UNSPECIFIED", expected):
            raise _Abort(invalid, BAD_ENCODING)
        kind = container.upper()
        if rate and rate != header_rate:
            raise _Abort(
                invalid,
                f"sample_rate_hertz ({rate}) in RecognitionConfig must either "
                f"be omitted or match the value in the {kind} header "
                f"( {header_rate}).",
            )
        if header_channels > 1 and channels == 1:
            raise _Abort(
                invalid,
                f"Must use single channel (mono) audio, but {kind} header "
                f"indicates {header_channels} channels.",
            )
        if channels != header_channels:
            raise _Abort(
                invalid,
                f"Invalid audio channel count: audio_channel_count "
                f"({channels}) does not match the {kind} header "
                f"({header_channels}).",
            )
    elif codec == "opus" and (container == "ogg" or "webm" in container):
        expected = "OGG_OPUS" if container == "ogg" else "WEBM_OPUS"
        if encoding != expected:
            raise _Abort(invalid, BAD_ENCODING)
        if rate not in OPUS_RATES:
            raise _Abort(
                invalid,
                f"Invalid recognition 'config': sample_rate_hertz ({rate}) "
                f"must be one of 8000, 12000, 16000, 24000, or 48000 for "
                f"{expected}.",
            )
    elif container == "mp3" and codec.startswith("mp3"):
        if encoding != "MP3":
            raise _Abort(invalid, BAD_ENCODING)
        if api != "v1p1beta1":
            raise _Abort(
                invalid,
                "Invalid recognition 'config': MP3 encoding is only supported in v1p1beta1.",
            )
        if rate != header_rate:
            raise _Abort(
                invalid,
                f"sample_rate_hertz ({rate}) in RecognitionConfig must match "
                f"the sample rate of the MP3 file ({header_rate}).",
            )
    else:
        raise _Abort(invalid, BAD_ENCODING)
    return decode_mono(content)


def _detect(text: str) -> tuple[str, float]:
    words = re.findall(r"\w+", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in LEXICON.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best, (scores[best] / len(words) if words else 0.0)


def _translate_words(text: str, source: str, target: str) -> str:
    source_words = LEXICON.get(source, [])

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.lower() in source_words:
            translated = LEXICON[target][source_words.index(word.lower())]
            return translated.capitalize() if word[0].isupper() else translated
        return word

    return re.sub(r"\w+", swap, text)
