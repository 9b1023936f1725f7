"""What is in the audio: exact duration, level and how much of it is speech (decodes once).

Headers cannot answer these: a browser's WebM has no duration, a WAV header does not say
whether anyone spoke. `analyse()` decodes with PyAV (optional `voice` extra) and measures
peak and RMS level in dBFS and a speech-frame ratio from an energy voice-activity detector
(30 ms frames louder than an absolute floor and than the recording's own noise floor,
or simply loud). It errs towards "speech": only audio with nothing in it counts as silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.voice._optional import missing_extra
from integrations.voice.codec import DecodedAudio, decode, resample_linear16

try:
    import numpy as np
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = ["AudioAnalysis", "analyse", "analyse_decoded", "to_linear16"]

FLOOR_DBFS = -120.0  # reported for digital silence instead of -inf
SPEECH_FLOOR_DBFS = -45.0  # a frame quieter than this is never speech
NOISE_MARGIN_DB = 10.0  # ...nor one within this margin of the recording's noise floor,
LOUD_DBFS = -30.0  # ...but a frame louder than this always is (no pause to learn noise from)
SILENT_PEAK_DBFS = -50.0
FRAME_SECONDS = 0.03


@dataclass(frozen=True)
class AudioAnalysis:
    """Measurements of decoded audio.

    Attributes:
        duration: seconds, counted in decoded samples.
        sample_rate: the decoder's output rate.
        channels: channels in the source.
        codec: decoder name.
        peak_dbfs: loudest sample, dB relative to full scale (-120 for digital silence).
        rms_dbfs: average level over the whole recording.
        speech_ratio: share of 30 ms frames the energy detector classes as speech.
        is_silent: nothing worth sending to a recogniser.
    """

    duration: float
    sample_rate: int
    channels: int
    codec: str
    peak_dbfs: float
    rms_dbfs: float
    speech_ratio: float
    is_silent: bool


def _dbfs(value: float) -> float:
    return max(20.0 * float(np.log10(value)), FLOOR_DBFS) if value > 0 else FLOOR_DBFS


def analyse_decoded(audio: DecodedAudio) -> AudioAnalysis:
    """Measure audio that is already decoded."""
    samples = audio.samples.astype(np.float64)
    peak = _dbfs(float(np.max(np.abs(samples)))) if len(samples) else FLOOR_DBFS
    rms = _dbfs(float(np.sqrt(np.mean(samples**2)))) if len(samples) else FLOOR_DBFS
    frame = max(int(audio.sample_rate * FRAME_SECONDS), 1)
    usable = len(samples) // frame * frame
    ratio = 0.0
    if usable:
        energy = np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1)
        db = 10.0 * np.log10(np.maximum(energy, 1e-12))
        noise_floor = float(np.percentile(db, 10))
        threshold = max(SPEECH_FLOOR_DBFS, min(noise_floor + NOISE_MARGIN_DB, LOUD_DBFS))
        ratio = float(np.mean(db > threshold))
    return AudioAnalysis(
        duration=audio.duration,
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        codec=audio.codec,
        peak_dbfs=round(peak, 2),
        rms_dbfs=round(rms, 2),
        speech_ratio=round(ratio, 4),
        is_silent=peak < SILENT_PEAK_DBFS or ratio == 0.0,
    )


def analyse(data: bytes, *, raw_rate: int | None = None) -> AudioAnalysis:
    """Decode `data` once and measure it.

    Args:
        data: audio bytes in any format PyAV decodes.
        raw_rate: treat `data` as headerless 16-bit mono PCM at this rate.

    Raises:
        UnsupportedAudio: the bytes cannot be decoded.
    """
    return analyse_decoded(decode(data, raw_rate=raw_rate))


def to_linear16(data: bytes, rate: int = 16000, *, raw_rate: int | None = None) -> bytes:
    """Convert anything PyAV decodes to headerless mono 16-bit little-endian PCM at `rate`.

    Raises:
        UnsupportedAudio: the bytes cannot be decoded.
    """
    return resample_linear16(decode(data, raw_rate=raw_rate), rate)
