"""Speech-like audio generated with PyAV, in every format the voice code meets.

Nothing is downloaded and no ffmpeg binary or espeak is needed: `speech_like()` synthesises
"words" (voiced bursts: a harmonic series under a smooth envelope) separated by pauses, and
`encode()` writes them with the PyAV encoders of the installed wheel; `speech_wav()` and
`speech_pcm()` are the two shortcuts most tests need. `count_words()` is the inverse that
`FakeGoogle` uses as its "recogniser", so a transcript's word count proves the audio
reached it intact (right rate, right channel, nothing dropped at a chunk seam).

`fixtures()` builds one sample of every format (valid, truncated, random) once per process.
"""

from __future__ import annotations

import functools
import io
import random
from dataclasses import dataclass
from typing import cast

import av
import numpy as np

__all__ = [
    "AudioFixture",
    "count_words",
    "decode_mono",
    "encode",
    "fixtures",
    "speech_like",
    "speech_pcm",
    "speech_wav",
    "word_spans",
]

WORD_SECONDS = 0.3
GAP_SECONDS = 0.25
LEAD_SECONDS = 0.2


@dataclass(frozen=True)
class AudioFixture:
    """Generated audio and what sniffing it must report (None fields: invalid audio)."""

    name: str
    data: bytes
    format: str | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    words: int = 0
    accepted: bool = False  # Speech v1 takes the bytes unchanged

    @property
    def valid(self) -> bool:
        return self.format is not None


def speech_like(
    words: int,
    rate: int,
    *,
    word_seconds: float = WORD_SECONDS,
    gap_seconds: float = GAP_SECONDS,
    lead_seconds: float = LEAD_SECONDS,
    seed: int = 7,
) -> np.ndarray:
    """`words` voiced bursts separated by pauses, float32 mono in [-1, 1]."""
    rng = np.random.default_rng(seed)
    total = lead_seconds * 2 + words * word_seconds + max(words - 1, 0) * gap_seconds
    out = rng.normal(0.0, 0.0008, int(total * rate)).astype(np.float32)  # room noise
    n = int(word_seconds * rate)
    t = np.arange(n) / rate
    envelope = np.sin(np.pi * t / word_seconds) ** 2
    for i in range(words):
        f0 = 110 + 15 * (i % 7) + 20 * np.sin(2 * np.pi * 3 * t)  # intonation
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 9))
        start = int((lead_seconds + i * (word_seconds + gap_seconds)) * rate)
        out[start : start + n] += (0.35 * envelope * voiced).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


def word_spans(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(start, end) seconds of voiced bursts: 10 ms frames above the noise, pauses >= 80 ms.

    A burst still sounding at the end of `samples` ends at the end of `samples`.
    """
    frame = max(rate // 100, 1)  # 10 ms
    usable = len(samples) // frame * frame
    if usable == 0:
        return []
    frames = samples[:usable].astype(np.float64).reshape(-1, frame)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = db > max(db.max() - 30.0, -45.0)
    spans: list[list[int]] = []
    for index in np.flatnonzero(loud):
        if spans and index - spans[-1][1] <= 8:  # a pause under 80 ms is inside a word
            spans[-1][1] = int(index)
        else:
            spans.append([int(index), int(index)])
    return [(start / 100, (end + 1) / 100) for start, end in spans]


def count_words(samples: np.ndarray, rate: int) -> int:
    """How many words (voiced bursts) the fake recogniser hears."""
    return len(word_spans(samples, rate))


def _to_int16(samples: np.ndarray) -> np.ndarray:
    scaled: np.ndarray = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return scaled


class _NoSeek:
    """A write-only sink: muxers then write like a live recorder (no duration, no cues)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)


def encode(
    samples: np.ndarray,
    rate: int,
    *,
    container: str,
    codec: str,
    channels: int = 1,
    balance: tuple[float, float] = (1.0, 0.5),
    live: bool = False,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """Encode mono float samples with PyAV (any container and codec of the installed wheel).

    Args:
        samples: float mono samples in [-1, 1].
        rate: their sample rate.
        container: PyAV's container name (``"webm"``, ``"ogg"``…).
        codec: PyAV's codec name (``"libopus"``, ``"flac"``…).
        channels: 1, or 2 with the samples scaled by `balance` (left, right) on each side.
        live: write like a live recorder (no seeking back: no duration, no cues).
        options: encoder options.
        container_options: muxer options (``{"movflags": "frag_keyframe+empty_moov"}``
            writes a fragmented MP4 as a browser's recorder does).
    """
    pcm = _to_int16(samples)
    layout = "stereo" if channels == 2 else "mono"
    if channels == 2:
        left, right = (_to_int16(samples * gain) for gain in balance)
        planes = np.stack([left, right]).T.reshape(1, -1)
    else:
        planes = pcm.reshape(1, -1)
    sink: _NoSeek | io.BytesIO = _NoSeek() if live else io.BytesIO()
    muxer = {"live": "1"} if live else {}
    with av.open(
        sink, mode="w", format=container, container_options={**muxer, **(container_options or {})}
    ) as out:
        stream = cast(av.AudioStream, out.add_stream(codec, rate=rate, options=options or {}))
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(planes, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return (sink.buffer if isinstance(sink, _NoSeek) else sink).getvalue()


def decode_mono(data: bytes, rate: int = 16000) -> np.ndarray:
    """Decode anything PyAV reads to float32 mono at `rate` (first channel only)."""
    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as source:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        stream = source.streams.audio[0]
        if stream.codec_context.layout.nb_channels == 1:
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        for frame in source.decode(stream):
            chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def speech_wav(words: int, rate: int = 16000, *, gap_seconds: float = GAP_SECONDS) -> bytes:
    """A mono 16-bit WAV of `words` speech-like bursts, `gap_seconds` apart."""
    samples = speech_like(words, rate, gap_seconds=gap_seconds)
    return encode(samples, rate, container="wav", codec="pcm_s16le")


def speech_pcm(words: int, rate: int = 16000, *, gap_seconds: float = GAP_SECONDS) -> bytes:
    """Headerless mono 16-bit little-endian PCM of `words` bursts, as a microphone sends it."""
    return _to_int16(speech_like(words, rate, gap_seconds=gap_seconds)).astype("<i2").tobytes()


WORDS = 5


@functools.cache
def fixtures() -> dict[str, AudioFixture]:
    """Every fixture, generated once per process."""
    s16, s44, s48 = (speech_like(WORDS, r) for r in (16000, 44100, 48000))

    def fx(name: str, data: bytes, fmt: str, codec: str, rate: int, ch: int, ok: bool) -> None:
        result[name] = AudioFixture(name, data, fmt, codec, rate, ch, WORDS, ok)

    result: dict[str, AudioFixture] = {}
    wav16 = encode(s16, 16000, container="wav", codec="pcm_s16le")
    fx("wav_16k_mono", wav16, "wav", "pcm_s16le", 16000, 1, True)
    fx(
        "wav_44k_stereo",
        encode(s44, 44100, container="wav", codec="pcm_s16le", channels=2),
        "wav",
        "pcm_s16le",
        44100,
        2,
        True,
    )
    fx("flac", encode(s16, 16000, container="flac", codec="flac"), "flac", "flac", 16000, 1, True)
    fx("mp3", encode(s44, 44100, container="mp3", codec="libmp3lame"), "mp3", "mp3", 44100, 1, True)
    fx(
        "ogg_opus",
        encode(s48, 48000, container="ogg", codec="libopus"),
        "ogg",
        "opus",
        48000,
        1,
        True,
    )
    vorbis = encode(
        s44, 44100, container="ogg", codec="vorbis", channels=2, options={"strict": "experimental"}
    )
    fx("ogg_vorbis", vorbis, "ogg", "vorbis", 44100, 2, False)
    webm = encode(s48, 48000, container="webm", codec="libopus", live=True)
    fx("webm_opus", webm, "webm", "opus", 48000, 1, True)
    fx("m4a_aac", encode(s44, 44100, container="ipod", codec="aac"), "mp4", "aac", 44100, 1, False)
    silence = encode(np.zeros(16000 * 2, np.float32), 16000, container="wav", codec="pcm_s16le")
    result["silence"] = AudioFixture("silence", silence, "wav", "pcm_s16le", 16000, 1, 0, True)
    result["truncated_wav"] = AudioFixture("truncated_wav", wav16[:30], None, None, None, None)
    result["truncated_webm"] = AudioFixture("truncated_webm", webm[:200], None, None, None, None)
    noise = random.Random(6).randbytes(4096)
    result["random_bytes"] = AudioFixture("random_bytes", noise, None, None, None, None)
    return result
