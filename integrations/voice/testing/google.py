"""`FakeGoogle`: Speech v1 (+ v1p1beta1 Recognize), Text-to-Speech v1 and Translation v3 on
one in-process `grpc.server` at 127.0.0.1, for tests that must not reach Google.

The real client libraries talk to it through
``<Service>GrpcTransport(channel=grpc.insecure_channel(fake.address))`` (`GoogleVoice`
does this given ``channel=fake.channel()``, or use `FakeGoogle.voice`). The handlers are
registered with `grpc.method_handlers_generic_handler` using the packages' own proto-plus
message classes as (de)serialisers, so every byte on the wire is what Google would see.

It validates the way Google documents and answers (wording copied from Google's errors
where known):

- Speech ``RecognitionConfig.AudioEncoding`` rules (see `_speech`); sync Recognize takes
  <= 1 minute and <= 10485760 bytes; a streaming connection ends after
  `stream_limit_seconds` of audio, and optionally when audio comes faster than real time
  (`max_stream_speed`) or not at all for a while (`audio_timeout_seconds`).
- Text-to-Speech: ``input.text`` <= 5,000 bytes, voices by name/language.
- Translation v3: ``parent`` must name the project; ``mime_type`` defaults to text/html, in
  which case HTML-special characters come back as entities.

Its "recogniser" counts voiced bursts (`audio.word_spans`) and answers one lexicon word
per burst (``en``: "hello world this is a test of the voice connector"); its
"synthesiser" speaks one burst per word; its "translator" maps lexicon words between
languages. Failures can be queued with `fail_next`, a stream broken with
`break_next_stream`; `calls` and `requests` record what reached it.
"""

from __future__ import annotations

import collections
import datetime
import threading
from collections.abc import Callable
from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud import speech_v1, speech_v1p1beta1, texttospeech_v1, translate_v3

from integrations.voice.testing._language import TTS_LIMIT, TextServices, words
from integrations.voice.testing._speech import (
    BAD_ENCODING,
    StreamLimits,
    StreamSession,
    check_model,
    validated_samples,
)
from integrations.voice.testing._status import Abort, abort
from integrations.voice.testing.audio import word_spans

if TYPE_CHECKING:
    from integrations.voice.google import GoogleVoice

__all__ = ["BAD_ENCODING", "TTS_LIMIT", "FakeGoogle"]

SYNC_LIMIT_BYTES = 10485760

_SPEECH = "google.cloud.speech.v1.Speech"
_SPEECH_BETA = "google.cloud.speech.v1p1beta1.Speech"
_TTS = "google.cloud.texttospeech.v1.TextToSpeech"
_TRANSLATE = "google.cloud.translation.v3.TranslationService"
_INVALID = grpc.StatusCode.INVALID_ARGUMENT


class FakeGoogle:
    """The fake server: a context manager (or `start`/`stop`); `channel()` connects to it.

    Args:
        project: the project Translation accepts in ``parent``.
        stream_limit_seconds: audio per StreamingRecognize connection (Google: ~305 s).
        max_stream_speed: end a stream whose audio runs ahead of the clock by this factor
            (after a 2 s allowance), as Google does ("streamed too fast"); None: unchecked.
        audio_timeout_seconds: end a stream that received no audio for this long (Google:
            about 10 s); None: unchecked.
        unsupported_models: language -> models Google rejects for it.
        leak_entities: return HTML entities even for ``text/plain`` translations.

    Attributes:
        calls: RPC count per ``"<Service>/<Method>"`` key (Service: Speech, SpeechBeta,
            TextToSpeech, Translation).
        requests: every request message received, with its key.
        stream_audio_bytes: audio bytes received by StreamingRecognize, all connections.
        address: ``127.0.0.1:<port>`` once started.
    """

    def __init__(
        self,
        *,
        project: str = "test-project",
        stream_limit_seconds: float = 305.0,
        max_stream_speed: float | None = None,
        audio_timeout_seconds: float | None = None,
        unsupported_models: dict[str, set[str]] | None = None,
        leak_entities: bool = False,
    ) -> None:
        self.project = project
        self.stream_limit_seconds = stream_limit_seconds
        self.max_stream_speed = max_stream_speed
        self.audio_timeout_seconds = audio_timeout_seconds
        self.unsupported_models = unsupported_models or {"gsw-CH": {"latest_long"}}
        self.leak_entities = leak_entities
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: list[tuple[str, Any]] = []
        self.stream_audio_bytes = 0
        self._break_stream_after: float | None = None
        self._failures: dict[str, collections.deque[Abort]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self._channels: list[grpc.Channel] = []
        self._text = TextServices(self)
        self.address = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGoogle:
        """Listen on a free port of 127.0.0.1 (`address`)."""
        # Google's own limit is checked in the handlers; gRPC's 4 MB default must not hit first.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        for service, table in self._handlers().items():
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, table),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server, self.address = server, f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        """Close the channels made by `voice` and stop the server."""
        for channel in self._channels:
            channel.close()
        self._channels.clear()
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

    def voice(self, **options: Any) -> GoogleVoice:
        """A `GoogleVoice` on a channel to this fake (closed by `stop`).

        `options` go to `GoogleVoice` (``timeout``, ``max_calls``…); retries do not pause.
        """
        from integrations.voice.google import GoogleVoice

        channel = self.channel()
        self._channels.append(channel)
        options = {"project_id": self.project, "backoff": 0, "sleep": lambda _: None, **options}
        return GoogleVoice(channel=channel, **options)

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
        """Make the next `times` calls of `method` (e.g. ``"Speech/Recognize"``) fail.

        `retry_after` attaches a ``google.rpc.RetryInfo`` (as Google does on quota errors).
        """
        with self._lock:
            self._failures[method].extend(Abort(code, message, retry_after) for _ in range(times))

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
        """Recognize calls, v1 and v1p1beta1."""
        return self.count("Speech/Recognize", "SpeechBeta/Recognize")

    def reset(self) -> None:
        """Forget calls, requests, queued failures and the audio count."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self._failures.clear()
            self.stream_audio_bytes = 0
            self._break_stream_after = None

    # ------------------------------------------------------------------ plumbing

    def _handlers(self) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
        s1, sb, tts, tr = speech_v1, speech_v1p1beta1, texttospeech_v1, translate_v3
        text = self._text
        # (service, short name, method, handler, request class, response class)
        unary: list[tuple[str, str, str, Callable[[Any], Any], Any, Any]] = [
            (_SPEECH, "Speech", "Recognize", self._recognize_v1, s1.RecognizeRequest,
             s1.RecognizeResponse),
            (_SPEECH_BETA, "SpeechBeta", "Recognize", self._recognize_beta, sb.RecognizeRequest,
             sb.RecognizeResponse),
            (_TTS, "TextToSpeech", "ListVoices", text.list_voices, tts.ListVoicesRequest,
             tts.ListVoicesResponse),
            (_TTS, "TextToSpeech", "SynthesizeSpeech", text.synthesize,
             tts.SynthesizeSpeechRequest, tts.SynthesizeSpeechResponse),
            (_TRANSLATE, "Translation", "TranslateText", text.translate,
             tr.TranslateTextRequest, tr.TranslateTextResponse),
            (_TRANSLATE, "Translation", "DetectLanguage", text.detect,
             tr.DetectLanguageRequest, tr.DetectLanguageResponse),
            (_TRANSLATE, "Translation", "GetSupportedLanguages", text.supported,
             tr.GetSupportedLanguagesRequest, tr.SupportedLanguages),
        ]  # fmt: skip
        tables: dict[str, dict[str, grpc.RpcMethodHandler]] = collections.defaultdict(dict)
        for service, short, name, handler, request, response in unary:
            tables[service][name] = grpc.unary_unary_rpc_method_handler(
                self._unary(f"{short}/{name}", handler),
                request_deserializer=request.deserialize,
                response_serializer=response.serialize,
            )
        tables[_SPEECH]["StreamingRecognize"] = grpc.stream_stream_rpc_method_handler(
            self._streaming,
            request_deserializer=s1.StreamingRecognizeRequest.deserialize,
            response_serializer=s1.StreamingRecognizeResponse.serialize,
        )
        return tables

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
            except Abort as failure:
                abort(context, failure)

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
            raise Abort(_INVALID, "Invalid recognition 'config': language_code is required.")
        if len(content) > SYNC_LIMIT_BYTES:
            raise Abort(_INVALID, "Request payload size exceeds the limit: 10485760 bytes.")
        if not content:
            raise Abort(_INVALID, "RecognitionAudio not set.")
        check_model(config.model, config.language_code, self.unsupported_models)
        encoding = speech_v1.RecognitionConfig.AudioEncoding(int(config.encoding)).name
        samples = validated_samples(content, encoding, config, api)
        if len(samples) / 16000 > 60.0:
            raise Abort(
                _INVALID,
                "Sync input too long. For audio longer than 1 min use "
                "LongRunningRecognize with a 'uri' parameter.",
            )
        count = len(word_spans(samples, 16000))
        if count == 0:
            return []
        return [
            speech_v1.SpeechRecognitionResult(
                alternatives=[
                    {"transcript": words(config.language_code, count), "confidence": 0.92}
                ],
                language_code=config.language_code.lower(),
                result_end_time=datetime.timedelta(seconds=len(samples) / 16000),
            )
        ]

    def _streaming(self, requests: Any, context: grpc.ServicerContext) -> Any:
        try:
            first = next(requests, None)
            self._record("Speech/StreamingRecognize", first)
            with self._lock:
                limits = StreamLimits(
                    self.stream_limit_seconds,
                    self.max_stream_speed,
                    self.audio_timeout_seconds,
                    self._break_stream_after,
                )
                self._break_stream_after = None
            if first is not None and "streaming_config" in first:
                check_model(
                    first.streaming_config.config.model,
                    first.streaming_config.config.language_code,
                    self.unsupported_models,
                )
            yield from StreamSession(first, limits, self._received).run(requests)
        except Abort as failure:
            abort(context, failure)

    def _received(self, size: int) -> None:
        with self._lock:
            self.stream_audio_bytes += size
