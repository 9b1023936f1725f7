"""The two box formats `sniff` reads: EBML elements (WebM/Matroska) and MP4 atoms.

Both return the fields of an `AudioInfo` (see `integrations.voice.headers`) or raise
`UnsupportedAudio` naming what was seen.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from integrations.errors import UnsupportedAudio

__all__ = ["mp4_fields", "truncated", "webm_fields"]


def truncated(what: str, data: bytes, needed: int) -> UnsupportedAudio:
    """The error for data that ends before a header does."""
    return UnsupportedAudio(f"truncated {what}: {len(data)} bytes, header needs {needed}")


# --------------------------------------------------------------------------- WebM / Matroska

_EBML_HEADER, _DOCTYPE = 0x1A45DFA3, 0x4282
_SEGMENT, _CLUSTER, _INFO, _TRACKS = 0x18538067, 0x1F43B675, 0x1549A966, 0x1654AE6B
_TIMECODE_SCALE, _DURATION = 0x2AD7B1, 0x4489
_TRACK_ENTRY, _TRACK_TYPE, _CODEC_ID, _CODEC_PRIVATE, _AUDIO = 0xAE, 0x83, 0x86, 0x63A2, 0xE1
_SAMPLING_FREQUENCY, _CHANNELS, _BIT_DEPTH = 0xB5, 0x9F, 0x6264
_MKV_CODECS = {
    "A_OPUS": "opus",
    "A_VORBIS": "vorbis",
    "A_AAC": "aac",
    "A_FLAC": "flac",
    "A_MPEG/L3": "mp3",
    "A_PCM/INT/LIT": "pcm_le",
    "A_PCM/FLOAT/IEEE": "pcm_f",
}
_UNKNOWN = -1


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """Read an EBML variable-length integer: (value, position after it)."""
    if pos >= len(data):
        raise truncated("WebM element header", data, pos + 1)
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > len(data):
        raise truncated("WebM element header", data, pos + min(length, 8))
    value = first if keep_marker else first & (0xFF >> length)
    all_ones = value == (0xFF >> length)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
        all_ones = all_ones and b == 0xFF
    return (_UNKNOWN if all_ones and not keep_marker else value), pos + length


def _elements(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """Yield (id, body start, body end) of the EBML elements in data[pos:end]."""
    while pos < end:
        element_id, pos = _vint(data, pos, keep_marker=True)
        size, pos = _vint(data, pos, keep_marker=False)
        body_end = end if size == _UNKNOWN else pos + size
        yield element_id, pos, body_end
        if size == _UNKNOWN:
            return
        pos = body_end


def _uint(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big")


def _float(data: bytes, start: int, end: int) -> float:
    value: float = struct.unpack(">f" if end - start == 4 else ">d", data[start:end])[0]
    return value


def webm_fields(data: bytes) -> dict[str, Any]:
    """AudioInfo fields of WebM/Matroska: the first audio TrackEntry, Info duration."""
    doc_type, segment = "matroska", None
    for element_id, start, end in _elements(data, 0, len(data)):
        if element_id == _EBML_HEADER:
            for child, c_start, c_end in _elements(data, start, min(end, len(data))):
                if child == _DOCTYPE:
                    doc_type = data[c_start:c_end].rstrip(b"\0").decode("ascii", "replace")
        elif element_id == _SEGMENT:
            segment = (start, min(end, len(data)))
            break
    if segment is None:
        raise UnsupportedAudio(f"truncated {doc_type}: no Segment in {len(data)} bytes")
    scale, duration, track, reached_clusters = 1_000_000, None, None, False
    for element_id, start, end in _elements(data, *segment):
        if element_id == _INFO:
            for child, c_start, c_end in _elements(data, start, min(end, len(data))):
                if child == _TIMECODE_SCALE:
                    scale = _uint(data, c_start, c_end)
                elif child == _DURATION:
                    duration = _float(data, c_start, c_end)
        elif element_id == _TRACKS:
            if end > len(data):
                raise truncated(f"{doc_type} (Tracks)", data, end)
            track, reached_clusters = _audio_track(data, start, end), True
            break
        elif element_id == _CLUSTER:
            reached_clusters = True
            break
    if track is None:
        if not reached_clusters:
            raise UnsupportedAudio(
                f"truncated {doc_type}: track list incomplete in {len(data)} bytes"
            )
        raise UnsupportedAudio(f"{doc_type} without an audio track")
    codec_id, rate, channels, bits = track
    codec = _MKV_CODECS.get(codec_id, codec_id)
    seconds = duration * scale / 1e9 if duration else None
    encoding = "WEBM_OPUS" if codec == "opus" else None
    fmt = "webm" if doc_type == "webm" else "matroska"
    return {
        "format": fmt,
        "codec": codec,
        "sample_rate": rate,
        "channels": channels,
        "bits_per_sample": bits,
        "duration": seconds,
        "speech_encoding": encoding,
        "details": {"codec_id": codec_id},
    }


def _audio_track(
    data: bytes, start: int, end: int
) -> tuple[str, int | None, int, int | None] | None:
    for element_id, t_start, t_end in _elements(data, start, end):
        if element_id != _TRACK_ENTRY:
            continue
        track_type, codec_id, rate, channels, bits = None, "", None, 1, None
        opus_head = b""
        for child, c_start, c_end in _elements(data, t_start, min(t_end, end)):
            if child == _TRACK_TYPE:
                track_type = _uint(data, c_start, c_end)
            elif child == _CODEC_ID:
                codec_id = data[c_start:c_end].rstrip(b"\0").decode("ascii", "replace")
            elif child == _CODEC_PRIVATE:
                opus_head = data[c_start:c_end]
            elif child == _AUDIO:
                for a_id, a_start, a_end in _elements(data, c_start, min(c_end, end)):
                    if a_id == _SAMPLING_FREQUENCY:
                        rate = round(_float(data, a_start, a_end))
                    elif a_id == _CHANNELS:
                        channels = _uint(data, a_start, a_end)
                    elif a_id == _BIT_DEPTH:
                        bits = _uint(data, a_start, a_end)
        if track_type == 2 or codec_id.startswith("A_"):
            if rate is None and opus_head.startswith(b"OpusHead") and len(opus_head) >= 16:
                rate = struct.unpack_from("<I", opus_head, 12)[0] or 48000
            return codec_id, rate or 8000, channels, bits  # Matroska's default rate is 8000
    return None


# --------------------------------------------------------------------------- MP4 / M4A

_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_MP4_CODECS = {
    b"mp4a": "aac",
    b"alac": "alac",
    b"Opus": "opus",
    b"fLaC": "flac",
    b".mp3": "mp3",
    b"ac-3": "ac3",
    b"ec-3": "eac3",
}


def _mp4_boxes(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


def mp4_fields(data: bytes) -> dict[str, Any]:
    """AudioInfo fields of MP4/M4A: the sound track's sample entry and mdhd duration."""
    brand = data[8:12].decode("latin-1").strip()
    found: dict[str, Any] = {}

    def walk(start: int, end: int, in_sound: bool) -> None:
        for kind, b_start, b_end in _mp4_boxes(data, start, end):
            if kind == b"trak":
                walk(b_start, b_end, in_sound=_is_sound_track(data, b_start, b_end))
                if "codec" in found:
                    return
            elif kind in _MP4_CONTAINERS:
                walk(b_start, b_end, in_sound)
            elif kind == b"mdhd" and in_sound and b_end - b_start >= 24:
                if data[b_start] == 1:  # version 1: 64-bit times
                    timescale, length = struct.unpack_from(">IQ", data, b_start + 20)
                else:
                    timescale, length = struct.unpack_from(">II", data, b_start + 12)
                # A fragmented MP4 (a recorder's) states 0 here: the length is unknown.
                found["duration"] = length / timescale if timescale and length else None
            elif kind == b"stsd" and in_sound and b_end - b_start >= 8 + 36:
                found.update(_sample_entry(data, b_start + 8, b_end))

    walk(0, len(data), in_sound=False)
    if "codec" not in found:
        if not any(kind == b"moov" for kind, _, _ in _mp4_boxes(data, 0, len(data))):
            raise UnsupportedAudio(f"truncated MP4 ({brand}): no moov box in {len(data)} bytes")
        raise UnsupportedAudio(f"MP4 ({brand}) without an audio track")
    return {
        "format": "mp4",
        "codec": found["codec"],
        "sample_rate": found["rate"],
        "channels": found["channels"],
        "duration": found.get("duration"),
        "details": {"brand": brand},
    }


def _sample_entry(data: bytes, entry: int, end: int) -> dict[str, Any]:
    """Codec, rate and channels of an AudioSampleEntry (ISO 14496-12 / QuickTime v0, v1).

    The entry's own channel count is often a placeholder 2; the decoder configuration
    (``esds`` for AAC, ``dOps`` for Opus) says what the stream really has.
    """
    fourcc = data[entry + 4 : entry + 8]
    version = struct.unpack_from(">H", data, entry + 16)[0]
    channels = struct.unpack_from(">H", data, entry + 24)[0]
    rate = struct.unpack_from(">I", data, entry + 32)[0] >> 16
    entry_end = min(entry + struct.unpack_from(">I", data, entry)[0], end)
    children = entry + 36 + (16 if version == 1 else 0)
    for kind, b_start, b_end in _mp4_boxes(data, children, entry_end):
        if kind == b"esds":
            channels = _esds_channels(data[b_start + 4 : b_end]) or channels
        elif kind == b"dOps" and b_end - b_start >= 2:
            channels = data[b_start + 1] or channels
    codec = _MP4_CODECS.get(fourcc, fourcc.decode("latin-1"))
    return {"codec": codec, "rate": rate, "channels": channels}


def _esds_channels(esds: bytes) -> int | None:
    """channelConfiguration of the AudioSpecificConfig in an ES_Descriptor (ISO 14496-1)."""
    pos, wanted = 0, 0x03
    while pos + 2 <= len(esds):
        tag, pos = esds[pos], pos + 1
        size = 0
        for _ in range(4):  # expandable size: 7 bits a byte while the top bit is set
            if pos >= len(esds):
                return None
            byte, pos = esds[pos], pos + 1
            size = size << 7 | (byte & 0x7F)
            if not byte & 0x80:
                break
        if tag != wanted:
            pos += size
            continue
        if tag == 0x03:  # ES_Descriptor: ES_ID, flags, then optional fields
            flags = esds[pos + 2] if pos + 2 < len(esds) else 0
            pos += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
            if flags & 0x40 and pos < len(esds):
                pos += 1 + esds[pos]
            wanted = 0x04
        elif tag == 0x04:  # DecoderConfigDescriptor: 13 fixed bytes, then the specific info
            pos += 13
            wanted = 0x05
        else:  # AudioSpecificConfig: object type (5 or 11 bits), rate index (4 [+24]), channels
            bits = int.from_bytes(esds[pos : pos + 6].ljust(6, b"\0"), "big")
            shift = 48 - 5
            if bits >> shift == 31:
                shift -= 6
            shift -= 4
            if (bits >> shift) & 0xF == 15:
                shift -= 24
            shift -= 4
            return (bits >> shift) & 0xF or None
    return None


def _is_sound_track(data: bytes, start: int, end: int) -> bool:
    """True when the trak's mdia/hdlr handler type is 'soun'."""
    for kind, b_start, b_end in _mp4_boxes(data, start, end):
        if kind == b"mdia":
            for child, c_start, _ in _mp4_boxes(data, b_start, b_end):
                if child == b"hdlr":
                    return data[c_start + 8 : c_start + 12] == b"soun"
    return False
