"""Decode, resample and encode audio with PyAV (the optional `voice` extra).

Everything is in memory: bytes in, bytes or numpy arrays out. PyAV errors are translated
to `UnsupportedAudio` here, so callers see one error type for audio they cannot use.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import cast

from integrations.errors import UnsupportedAudio
from integrations.voice._optional import missing_extra

try:
    import av
    import numpy as np
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = [
    "DecodedAudio",
    "decode",
    "encode_pcm",
    "pcm_to_wav",
    "resample_linear16",
    "split_linear16",
]


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """Audio decoded once: float32 mono samples at the source's own rate.

    Attributes:
        samples: float32 in [-1, 1], channels mixed down to mono.
        sample_rate: the rate the decoder produced (Opus: 48000).
        channels: channels in the source.
        codec: the decoder's name (``pcm_s16le``, ``opus``…).
        container: the demuxer's name (``wav``, ``matroska,webm``…), ``raw`` for PCM.
    """

    samples: np.ndarray
    sample_rate: int
    channels: int
    codec: str
    container: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(data: bytes, *, raw_rate: int | None = None) -> DecodedAudio:
    """Decode `data` (any container and codec PyAV reads) to mono float samples.

    Args:
        data: the audio bytes.
        raw_rate: treat `data` as headerless 16-bit little-endian mono PCM at this rate.

    Raises:
        UnsupportedAudio: PyAV cannot open or decode the bytes, or they hold no audio.
    """
    if raw_rate is not None:
        if len(data) % 2:
            raise UnsupportedAudio(f"raw 16-bit PCM of odd length ({len(data)} bytes)")
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
        return DecodedAudio(samples, raw_rate, 1, "pcm_s16le", "raw")
    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            if not source.streams.audio:
                raise UnsupportedAudio(f"no audio stream in {source.format.name} data")
            stream = source.streams.audio[0]
            context = stream.codec_context
            rate = context.sample_rate or 48000
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            for frame in source.decode(stream):
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))
            channels, codec, container = (
                context.layout.nb_channels,
                context.name,
                source.format.name,
            )
    except av.FFmpegError as exc:
        raise UnsupportedAudio(f"cannot decode audio ({len(data)} bytes): {exc}") from exc
    if not chunks:
        raise UnsupportedAudio(f"no audio samples decoded from {container} ({len(data)} bytes)")
    return DecodedAudio(np.concatenate(chunks), rate, channels, codec, container)


def resample_linear16(audio: DecodedAudio, rate: int = 16000) -> bytes:
    """The decoded audio as mono 16-bit little-endian PCM at `rate`."""
    if audio.sample_rate == rate:
        return _to_int16(audio.samples).tobytes()
    frame = av.AudioFrame.from_ndarray(audio.samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = audio.sample_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    out = [f.to_ndarray()[0] for f in resampler.resample(frame)]
    out.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return b"".join(part.astype("<i2").tobytes() for part in out)


def split_linear16(
    pcm: bytes, rate: int, max_seconds: float, search_seconds: float = 10.0
) -> list[bytes]:
    """Cut mono 16-bit PCM into pieces of at most `max_seconds`, each at a quiet moment.

    Each cut falls in the quietest 100 ms window of the last `search_seconds` before the
    limit, so words are rarely split; the pieces joined give back `pcm` exactly.
    """
    samples = np.frombuffer(pcm, "<i2")
    limit = int(max_seconds * rate)
    window = max(rate // 10, 1)
    pieces, start = [], 0
    while len(samples) - start > limit:
        lo = start + max(limit - int(search_seconds * rate), window)
        hi = start + limit
        region = samples[lo:hi].astype(np.float64) ** 2
        usable = len(region) // window * window
        energy = region[:usable].reshape(-1, window).sum(axis=1)
        cut = lo + int(np.argmin(energy)) * window + window // 2 if len(energy) else hi
        pieces.append(samples[start:cut].tobytes())
        start = cut
    pieces.append(samples[start:].tobytes())
    return pieces


def _to_int16(samples: np.ndarray) -> np.ndarray:
    scaled: np.ndarray = (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2")
    return scaled


def pcm_to_wav(pcm: bytes, rate: int) -> bytes:
    """Wrap mono 16-bit PCM in a WAV header."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


# Text-to-Speech encodings, as Google returns them: (container, codec, rate or None = keep).
_ENCODERS: dict[str, tuple[str, str, int | None]] = {
    "MP3": ("mp3", "libmp3lame", None),
    "OGG_OPUS": ("ogg", "libopus", 48000),
    "MULAW": ("wav", "pcm_mulaw", None),
    "ALAW": ("wav", "pcm_alaw", None),
    "M4A": ("ipod", "aac", None),
}


def encode_pcm(pcm: bytes, rate: int, encoding: str) -> bytes:
    """Encode mono 16-bit PCM as a Text-to-Speech ``AudioEncoding`` name would deliver it.

    ``LINEAR16`` is a WAV file (Google includes the header), ``PCM`` the bare samples.

    Raises:
        UnsupportedAudio: an encoding this function does not produce.
    """
    if encoding == "LINEAR16":
        return pcm_to_wav(pcm, rate)
    if encoding == "PCM":
        return pcm
    if encoding not in _ENCODERS:
        raise UnsupportedAudio(f"cannot encode to {encoding}; known: LINEAR16, PCM, {_known()}")
    container, codec, target_rate = _ENCODERS[encoding]
    samples = np.frombuffer(pcm, "<i2")
    if target_rate and target_rate != rate:
        decoded = DecodedAudio(samples.astype(np.float32) / 32768.0, rate, 1, "pcm_s16le", "raw")
        samples, rate = np.frombuffer(resample_linear16(decoded, target_rate), "<i2"), target_rate
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as sink:
        stream = cast(av.AudioStream, sink.add_stream(codec, rate=rate))
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out.getvalue()


def _known() -> str:
    return ", ".join(_ENCODERS)
