"""Identify audio bytes from their magic bytes and headers, without decoding.

`sniff(data)` reads only container and codec headers (microseconds, pure Python, no
optional dependency), so it is safe to call on every request before anything expensive.
It reports what Google Speech v1 needs to know: format, codec, sample rate, channels and
the Speech v1 encoding the bytes can be sent as (`speech_encoding`, None when the audio
has to be converted first).

Formats: WAV (RIFF/WAVE, incl. WAVE_FORMAT_EXTENSIBLE), FLAC (STREAMINFO), MP3 (ID3v2
skipped, MPEG frame header), Ogg (Opus or Vorbis, from the first packet), WebM/Matroska
(EBML, first audio track entry), MP4/M4A (ftyp/moov, sample entry) and raw AAC (ADTS);
the two box formats (EBML elements, MP4 atoms) are walked in `_header_boxes`.

Errors: `integrations.errors.UnsupportedAudio`, naming what was seen, for empty,
unknown or truncated data.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from integrations.errors import UnsupportedAudio
from integrations.voice._header_boxes import mp4_fields, webm_fields
from integrations.voice._header_boxes import truncated as _truncated

__all__ = ["AudioInfo", "sniff"]


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What the headers say about a piece of audio.

    Attributes:
        format: container: ``wav``, ``flac``, ``mp3``, ``ogg``, ``webm``, ``matroska``,
            ``mp4`` or ``aac`` (ADTS).
        codec: ``pcm_s16le``, ``pcm_mulaw``, ``flac``, ``mp3``, ``opus``, ``vorbis``, ``aac``…
        sample_rate: Hz as the header states it (for Opus: the encoder's input rate).
        channels: channel count.
        bits_per_sample: for PCM and FLAC.
        duration: seconds, when the header states it (browser WebM does not).
        speech_encoding: the Speech v1 ``AudioEncoding`` name the bytes can be sent as
            unchanged, or None when they must be converted first.
        details: format-specific facts (MPEG version and channel mode, Opus pre-skip…).
    """

    format: str
    codec: str
    sample_rate: int | None = None
    channels: int | None = None
    bits_per_sample: int | None = None
    duration: float | None = None
    speech_encoding: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True when Speech v1 accepts the bytes as they are."""
        return self.speech_encoding is not None


def sniff(data: bytes) -> AudioInfo:
    """Identify `data` from its headers.

    Raises:
        UnsupportedAudio: empty, unknown or truncated data; the message says what was seen.
    """
    if not data:
        raise UnsupportedAudio("empty audio: 0 bytes")
    data = bytes(data)  # bytearray / memoryview callers get the same parsing
    head = data[:12]
    for test, parser in _PARSERS:
        if test(head):
            return parser(data)
    raise UnsupportedAudio(f"unrecognised audio: {_describe(data)}")


# --------------------------------------------------------------------------- helpers


def _describe(data: bytes) -> str:
    """Name what the first bytes look like, for error messages."""
    head = bytes(data[:16])
    size = f"{len(data)} bytes"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"text, not audio ({size}, starts {head.decode('ascii')!r})"
    return f"{size}, first bytes {head.hex(' ')}"


# --------------------------------------------------------------------------- WAV

_WAV_CODECS = {1: "pcm", 3: "pcm_f", 6: "pcm_alaw", 7: "pcm_mulaw"}
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def _wav(data: bytes) -> AudioInfo:
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise _truncated("WAV (RIFF without WAVE)", data, 12)
    pos, fmt, data_size, data_start = 12, None, None, 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if body + 16 > len(data):
                raise _truncated("WAV fmt chunk", data, body + 16)
            fmt = data[body : body + min(size, 40)]
        elif chunk_id == b"data":
            data_size, data_start = size, body
            break
        pos = body + size + (size & 1)
    if fmt is None:
        raise UnsupportedAudio(f"truncated WAV: no fmt chunk in {len(data)} bytes")
    if data_size is None or data_start >= len(data):
        raise UnsupportedAudio(f"truncated WAV: no samples (data chunk) in {len(data)} bytes")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    base = _WAV_CODECS.get(tag)
    if base == "pcm":
        codec = "pcm_u8" if bits == 8 else f"pcm_s{bits}le"
    elif base == "pcm_f":
        codec = f"pcm_f{bits}le"
    else:
        codec = base or f"wav_format_0x{tag:04x}"
    # A streaming writer leaves the size 0 or 0xFFFFFFFF; a cut file holds less than declared.
    available = len(data) - data_start
    present = available if data_size in (0, 0xFFFFFFFF) else min(data_size, available)
    duration = present / block_align / rate if block_align and rate else None
    details: dict[str, object] = {"format_tag": tag}
    if data_size not in (0, 0xFFFFFFFF) and available < data_size:
        details["truncated"] = True
    encoding = {"pcm_s16le": "LINEAR16", "pcm_mulaw": "MULAW"}.get(codec)
    return AudioInfo("wav", codec, rate, channels, bits, duration, encoding, details)


# --------------------------------------------------------------------------- FLAC


def _flac(data: bytes, offset: int = 0) -> AudioInfo:
    body = offset + 8
    if len(data) < body + 18:
        raise _truncated("FLAC (STREAMINFO)", data, body + 18)
    if data[offset + 4] & 0x7F != 0:
        raise UnsupportedAudio("FLAC without STREAMINFO as its first metadata block")
    (packed,) = struct.unpack_from(">Q", data, body + 10)
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & 0xFFFFFFFFF
    duration = total / rate if total and rate else None
    if offset == 0 or data[:4] == b"ID3":
        _require_flac_frames(data, offset)
    encoding = "FLAC" if bits in (16, 24) else None
    return AudioInfo("flac", "flac", rate, channels, bits, duration, encoding)


def _require_flac_frames(data: bytes, offset: int) -> None:
    """Walk the metadata blocks; a file that ends before the first frame is truncated."""
    pos = offset + 4
    while pos + 4 <= len(data):
        last, size = data[pos] & 0x80, int.from_bytes(data[pos + 1 : pos + 4], "big")
        pos += 4 + size
        if last:
            if pos < len(data):
                return
            break
    raise UnsupportedAudio(f"truncated FLAC: metadata only, no audio frames in {len(data)} bytes")


# --------------------------------------------------------------------------- MP3 / ADTS

_MPEG_VERSIONS = {0: "2.5", 2: "2", 3: "1"}
_MPEG_RATES = {"1": (44100, 48000, 32000), "2": (22050, 24000, 16000), "2.5": (11025, 12000, 8000)}
_MPEG_BITRATES = {  # kbit/s by (version 1?, layer), index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_BITRATES[(False, 3)] = _MPEG_BITRATES[(False, 2)]
_CHANNEL_MODES = ("stereo", "joint_stereo", "dual_channel", "mono")


@dataclass(frozen=True, slots=True)
class _MpegFrame:
    version: str
    layer: int
    rate: int
    bitrate: int
    channel_mode: str
    length: int
    samples: int


def _mpeg_frame(data: bytes, pos: int) -> _MpegFrame | None:
    """Parse the 4-byte MPEG audio frame header at `pos`, None when it is not one."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    version = _MPEG_VERSIONS.get((b1 >> 3) & 3)
    layer = 4 - ((b1 >> 1) & 3)
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if version is None or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    v1 = version == "1"
    bitrate = _MPEG_BITRATES[(v1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 1:
        samples, length = 384, (12 * bitrate // rate + padding) * 4
    else:
        samples = 1152 if layer == 2 or v1 else 576
        length = samples // 8 * bitrate // rate + padding
    return _MpegFrame(version, layer, rate, bitrate, _CHANNEL_MODES[b3 >> 6], length, samples)


def _id3_end(data: bytes) -> int:
    if len(data) < 10:
        raise _truncated("ID3v2 tag", data, 10)
    size = 0
    for b in data[6:10]:
        size = (size << 7) | (b & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)


def _after_id3(data: bytes) -> AudioInfo:
    """Audio behind an ID3v2 tag: usually MP3, sometimes FLAC or ADTS."""
    start = _id3_end(data)
    if start >= len(data):
        raise UnsupportedAudio(f"truncated MP3: ID3v2 tag of {start} bytes, file {len(data)}")
    if data[start : start + 4] == b"fLaC":
        return _flac(data, start)
    limit = min(len(data) - 3, start + 65536)  # padding after the tag is common
    for pos in range(start, limit):
        if data[pos] == 0xFF and (frame := _confirmed_frame(data, pos)) is not None:
            return _mp3_info(data, pos, frame)
    if (partial := _mpeg_frame(data, start)) is not None:
        raise _truncated("MP3 (first frame)", data, start + partial.length)
    raise UnsupportedAudio(f"ID3v2 tag ({start} bytes) followed by no MPEG audio frame")


def _confirmed_frame(data: bytes, pos: int) -> _MpegFrame | None:
    """A frame header at `pos` whose successor (when present) is also a frame header."""
    frame = _mpeg_frame(data, pos)
    if frame is None or pos + frame.length > len(data):
        return None
    nxt = pos + frame.length
    if nxt + 4 <= len(data) and _mpeg_frame(data, nxt) is None:
        return None
    return frame


def _mp3(data: bytes) -> AudioInfo:
    frame = _confirmed_frame(data, 0)
    if frame is None:
        raise UnsupportedAudio(f"MPEG frame sync without a valid frame: {_describe(data)}")
    return _mp3_info(data, 0, frame)


def _mp3_info(data: bytes, pos: int, frame: _MpegFrame) -> AudioInfo:
    channels = 1 if frame.channel_mode == "mono" else 2
    duration = None
    side = (17 if channels == 1 else 32) if frame.version == "1" else (9 if channels == 1 else 17)
    xing = pos + 4 + side
    if data[xing : xing + 4] in (b"Xing", b"Info") and len(data) >= xing + 12:
        flags, frames = struct.unpack_from(">II", data, xing + 4)
        if flags & 1:
            duration = frames * frame.samples / frame.rate
    elif frame.bitrate:
        duration = (len(data) - pos) * 8 / frame.bitrate  # constant-bitrate estimate
    codec = {1: "mp1", 2: "mp2", 3: "mp3"}[frame.layer]
    details = {
        "mpeg_version": frame.version,
        "layer": frame.layer,
        "channel_mode": frame.channel_mode,
        "bitrate": frame.bitrate,
    }
    encoding = "MP3" if frame.layer == 3 else None
    return AudioInfo("mp3", codec, frame.rate, channels, None, duration, encoding, details)


_ADTS_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def _adts(data: bytes) -> AudioInfo:
    if len(data) < 7:
        raise _truncated("AAC ADTS header", data, 7)
    rate_index = (data[2] >> 2) & 0xF
    channels = ((data[2] & 1) << 2) | (data[3] >> 6)
    rate = _ADTS_RATES[rate_index] if rate_index < len(_ADTS_RATES) else None
    return AudioInfo("aac", "aac", rate, channels or None, details={"profile": data[2] >> 6})


def _mpeg_sync(data: bytes) -> AudioInfo:
    # Layer bits 00 after the 12-bit sync mean ADTS AAC; anything else is MPEG audio.
    if len(data) >= 2 and data[1] & 0xF6 == 0xF0:
        return _adts(data)
    return _mp3(data)


# --------------------------------------------------------------------------- Ogg


def _ogg_pages(data: bytes, pos: int = 0) -> tuple[int, int, bytes]:
    """Parse the Ogg page at `pos`: (granule position, serial, first packet bytes)."""
    if len(data) < pos + 27:
        raise _truncated("Ogg page header", data, pos + 27)
    granule, serial = struct.unpack_from("<qI", data, pos + 6)
    segments = data[pos + 26]
    table_end = pos + 27 + segments
    if len(data) < table_end:
        raise _truncated("Ogg segment table", data, table_end)
    packet_len = 0
    for lacing in data[pos + 27 : table_end]:
        packet_len += lacing
        if lacing < 255:
            break
    if len(data) < table_end + packet_len:
        raise _truncated("Ogg first packet", data, table_end + packet_len)
    return granule, serial, data[table_end : table_end + packet_len]


def _last_granule(data: bytes, serial: int) -> int | None:
    pos = data.rfind(b"OggS")
    while pos > 0:
        if len(data) >= pos + 27 and struct.unpack_from("<I", data, pos + 14)[0] == serial:
            granule = struct.unpack_from("<q", data, pos + 6)[0]
            return granule if granule >= 0 else None
        pos = data.rfind(b"OggS", 0, pos)
    return None


def _ogg(data: bytes) -> AudioInfo:
    _, serial, packet = _ogg_pages(data)
    if packet.startswith(b"OpusHead"):
        if len(packet) < 19:
            raise _truncated("Ogg OpusHead", packet, 19)
        channels, pre_skip, input_rate = packet[9], *struct.unpack_from("<HI", packet, 10)
        rate = input_rate or 48000
        granule = _last_granule(data, serial)
        duration = max(granule - pre_skip, 0) / 48000 if granule else None
        details = {"pre_skip": pre_skip, "input_sample_rate": input_rate, "decode_rate": 48000}
        return AudioInfo("ogg", "opus", rate, channels, None, duration, "OGG_OPUS", details)
    if packet.startswith(b"\x01vorbis"):
        if len(packet) < 16:
            raise _truncated("Ogg Vorbis identification header", packet, 16)
        channels, rate = packet[11], struct.unpack_from("<I", packet, 12)[0]
        granule = _last_granule(data, serial)
        duration = granule / rate if granule and rate else None
        return AudioInfo("ogg", "vorbis", rate, channels, None, duration)
    if packet.startswith(b"\x7fFLAC") and len(packet) >= 13 + 8 + 18:
        info = _flac(packet, 13)
        return AudioInfo(
            "ogg", "flac", info.sample_rate, info.channels, info.bits_per_sample, info.duration
        )
    if packet.startswith(b"Speex   ") and len(packet) >= 52:
        rate, _, _, channels = struct.unpack_from("<IIII", packet, 36)
        return AudioInfo("ogg", "speex", rate, channels)
    raise UnsupportedAudio(f"Ogg stream of unknown codec, first packet {packet[:8]!r}")


# --------------------------------------------------------------------------- dispatch

_PARSERS: tuple[tuple[Callable[[bytes], bool], Callable[[bytes], AudioInfo]], ...] = (
    (lambda h: h[:4] == b"RIFF", _wav),
    (lambda h: h[:4] == b"fLaC", _flac),
    (lambda h: h[:4] == b"OggS", _ogg),
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", lambda d: AudioInfo(**webm_fields(d))),
    (lambda h: h[:3] == b"ID3", _after_id3),
    (lambda h: h[4:8] == b"ftyp", lambda d: AudioInfo(**mp4_fields(d))),
    (lambda h: len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0, _mpeg_sync),
)
