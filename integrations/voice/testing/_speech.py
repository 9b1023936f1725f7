"""Speech validation of the fake, as Google documents and answers it.

`validated_samples` checks a RecognitionConfig against the audio bytes the way Speech v1
does (``RecognitionConfig.AudioEncoding``: WAV/FLAC rate and channels must match the
header, Opus rates are one of 8000/12000/16000/24000/48000, MP3 only on v1p1beta1 at the
file's rate, the encoding must match the bytes); `StreamSession` is one
StreamingRecognize connection. Error wording is Google's where known.
"""

from __future__ import annotations

import datetime
import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from google.cloud import speech_v1

from integrations.voice.codec import pcm_to_wav
from integrations.voice.testing._language import MODELS, words
from integrations.voice.testing._status import Abort
from integrations.voice.testing.audio import decode_mono, word_spans

__all__ = [
    "BAD_ENCODING",
    "OPUS_RATES",
    "StreamLimits",
    "StreamSession",
    "check_model",
    "validated_samples",
]

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
BAD_ENCODING = "Invalid recognition 'config': bad encoding.."
TOO_FAST = (
    "Audio data is being streamed too fast. Please stream audio data approximately at real time."
)
AUDIO_TIMEOUT = (
    "Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to "
    "real time."
)
_INVALID = grpc.StatusCode.INVALID_ARGUMENT


def check_model(model: str, language: str, unsupported: dict[str, set[str]]) -> None:
    """Reject a model Google does not know, or does not offer for `language`."""
    if not model:
        return
    if model not in MODELS or model in unsupported.get(language, set()):
        raise Abort(
            _INVALID,
            f"Invalid recognition 'config': The requested model \"{model}\" is "
            f"currently not supported for language : {language}.",
        )


def _probe(content: bytes) -> tuple[str, str, int, int] | None:
    """(container, codec, header rate, channels) as PyAV sees them; None if unreadable."""
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


def validated_samples(content: bytes, encoding: str, config: Any, api: str) -> np.ndarray:
    """Check the config against the bytes like Google does; the first channel at 16 kHz.

    Without per-channel recognition Google transcribes the first channel only, and so
    does the fake.
    """
    rate, channels = config.sample_rate_hertz, config.audio_channel_count or 1
    if encoding == "LINEAR16" and content[:4] != b"RIFF":
        if content[:4] in _CONTAINER_MAGIC or content[4:8] == b"ftyp":
            raise Abort(_INVALID, BAD_ENCODING)  # a compressed file declared as raw PCM
        if not rate:
            raise Abort(
                _INVALID,
                "Invalid recognition 'config': sample_rate_hertz is required "
                "for LINEAR16 audio without a WAV header.",
            )
        return decode_mono(pcm_to_wav(content[: len(content) // 2 * 2], rate))
    probe = _probe(content)
    if probe is None:
        raise Abort(_INVALID, BAD_ENCODING)
    container, codec, header_rate, header_channels = probe
    if container in ("wav", "flac"):
        _check_lossless(container, codec, encoding, rate, channels, header_rate, header_channels)
    elif codec == "opus" and (container == "ogg" or "webm" in container):
        expected = "OGG_OPUS" if container == "ogg" else "WEBM_OPUS"
        if encoding != expected:
            raise Abort(_INVALID, BAD_ENCODING)
        if rate not in OPUS_RATES:
            raise Abort(
                _INVALID,
                f"Invalid recognition 'config': sample_rate_hertz ({rate}) "
                f"must be one of 8000, 12000, 16000, 24000, or 48000 for {expected}.",
            )
    elif container == "mp3" and codec.startswith("mp3"):
        if encoding != "MP3":
            raise Abort(_INVALID, BAD_ENCODING)
        if api != "v1p1beta1":
            raise Abort(
                _INVALID,
                "Invalid recognition 'config': MP3 encoding is only supported in v1p1beta1.",
            )
        if rate != header_rate:
            raise Abort(
                _INVALID,
                f"sample_rate_hertz ({rate}) in RecognitionConfig must match "
                f"the sample rate of the MP3 file ({header_rate}).",
            )
    else:
        raise Abort(_INVALID, BAD_ENCODING)
    return decode_mono(content)


def _check_lossless(
    container: str,
    codec: str,
    encoding: str,
    rate: int,
    channels: int,
    header_rate: int,
    header_channels: int,
) -> None:
    expected = {"pcm_s16le": "LINEAR16", "pcm_mulaw": "MULAW", "flac": "FLAC"}.get(codec)
    if expected is None or encoding not in ("ENCODING_UNSPECIFIED", expected):
        raise Abort(_INVALID, BAD_ENCODING)
    kind = container.upper()
    if rate and rate != header_rate:
        raise Abort(
            _INVALID,
            f"sample_rate_hertz ({rate}) in RecognitionConfig must either be omitted or "
            f"match the value in the {kind} header ( {header_rate}).",
        )
    if header_channels > 1 and channels == 1:
        raise Abort(
            _INVALID,
            f"Must use single channel (mono) audio, but {kind} header indicates "
            f"{header_channels} channels.",
        )
    if channels != header_channels:
        raise Abort(
            _INVALID,
            f"Invalid audio channel count: audio_channel_count ({channels}) does not match "
            f"the {kind} header ({header_channels}).",
        )


@dataclass
class StreamLimits:
    """What ends a StreamingRecognize connection early, as Google does.

    Attributes:
        duration: seconds of audio after which the stream ends with OUT_OF_RANGE
            (Google: about 305).
        max_speed: audio seconds per wall-clock second (after a 2 s allowance) beyond which
            the stream ends with OUT_OF_RANGE "streamed too fast"; None: not checked.
        audio_timeout: wall-clock seconds without a request after which the stream ends
            with OUT_OF_RANGE "Audio Timeout Error" (Google: about 10); None: not checked.
        break_after: seconds of audio after which the connection fails with UNAVAILABLE
            (an injected fault); None: never.
    """

    duration: float = 305.0
    max_speed: float | None = None
    audio_timeout: float | None = None
    break_after: float | None = None


BURST_ALLOWANCE = 2.0  # seconds of audio a client may send ahead of the clock


class StreamSession:
    """One StreamingRecognize connection: interim results every half second of audio (as
    Google sends them, several a second, each a longer guess), a final result when a pause
    ends an utterance and when the client closes its side."""

    PAUSE = 0.6  # seconds of quiet that end an utterance
    INTERIM_EVERY = 0.5  # seconds of audio between interim results

    def __init__(self, first: Any, limits: StreamLimits, received: Callable[[int], None]) -> None:
        if first is None or "streaming_config" not in first:
            raise Abort(
                _INVALID,
                "Invalid streaming request: the first message must carry streaming_config.",
            )
        self.config = first.streaming_config.config
        self.interim = first.streaming_config.interim_results
        encoding = speech_v1.RecognitionConfig.AudioEncoding(int(self.config.encoding)).name
        if encoding != "LINEAR16" or not self.config.sample_rate_hertz:
            raise Abort(_INVALID, "This fake streams LINEAR16 with sample_rate_hertz only.")
        self.limits, self.received = limits, received
        self.rate = self.config.sample_rate_hertz
        self.pcm = bytearray()
        self.finalised = 0  # words already sent in a final result
        self.next_interim = self.INTERIM_EVERY

    def run(self, requests: Iterator[Any]) -> Iterator[Any]:
        started = time.monotonic()
        for request in _with_timeout(requests, self.limits.audio_timeout):
            if "streaming_config" in request:
                raise Abort(_INVALID, "streaming_config is only allowed in the first request.")
            self.pcm.extend(request.audio_content)
            self.received(len(request.audio_content))
            seconds = len(self.pcm) / 2 / self.rate
            self._check(seconds, time.monotonic() - started)
            spans = word_spans(np.frombuffer(bytes(self.pcm), "<i2") / 32768.0, self.rate)
            if spans and seconds - spans[-1][1] >= self.PAUSE and len(spans) > self.finalised:
                yield self._result(len(spans), final=True, end=spans[-1][1])
            elif self.interim and seconds >= self.next_interim and len(spans) > self.finalised:
                yield self._result(len(spans), final=False, end=seconds)
            if seconds >= self.next_interim:
                self.next_interim = seconds + self.INTERIM_EVERY
        spans = word_spans(np.frombuffer(bytes(self.pcm), "<i2") / 32768.0, self.rate)
        if len(spans) > self.finalised:
            yield self._result(len(spans), final=True, end=len(self.pcm) / 2 / self.rate)

    def _check(self, seconds: float, elapsed: float) -> None:
        limits = self.limits
        if seconds > limits.duration:
            raise Abort(
                grpc.StatusCode.OUT_OF_RANGE,
                f"Exceeded maximum allowed stream duration of {limits.duration:g} seconds.",
            )
        if limits.max_speed is not None and seconds > BURST_ALLOWANCE + elapsed * limits.max_speed:
            raise Abort(grpc.StatusCode.OUT_OF_RANGE, TOO_FAST)
        if limits.break_after is not None and seconds >= limits.break_after:
            raise Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")

    def _result(self, count: int, *, final: bool, end: float) -> Any:
        text = words(self.config.language_code, count - self.finalised, self.finalised)
        if final:
            self.finalised = count
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


_END = object()


def _with_timeout(requests: Iterator[Any], timeout: float | None) -> Iterator[Any]:
    """The requests; Abort(OUT_OF_RANGE) when none came for `timeout` seconds."""
    if timeout is None:
        yield from requests
        return
    inbox: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            for request in requests:
                inbox.put(request)
        except Exception as exc:  # the client cancelled: end the session's loop too
            inbox.put(exc)
        inbox.put(_END)

    threading.Thread(target=read, daemon=True, name="fake-speech-reader").start()
    while True:
        try:
            item = inbox.get(timeout=timeout)
        except queue.Empty:
            raise Abort(grpc.StatusCode.OUT_OF_RANGE, AUDIO_TIMEOUT) from None
        if item is _END or isinstance(item, Exception):
            return
        yield item
