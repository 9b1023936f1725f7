"""sniff(): every fixture format identified from its headers alone."""

from __future__ import annotations

import struct

import pytest

from integrations.errors import InvalidRequest, UnsupportedAudio
from integrations.voice.headers import AudioInfo, sniff
from integrations.voice.testing.audio import AudioFixture, encode, fixtures, speech_like

VALID = [name for name, fx in fixtures().items() if fx.valid]
INVALID = [name for name, fx in fixtures().items() if not fx.valid]


@pytest.mark.parametrize("name", VALID)
def test_fixture_format_codec_rate_and_channels(audio: dict[str, AudioFixture], name: str) -> None:
    fixture = audio[name]
    info = sniff(fixture.data)
    assert (info.format, info.codec, info.sample_rate, info.channels) == (
        fixture.format,
        fixture.codec,
        fixture.sample_rate,
        fixture.channels,
    )
    assert info.accepted is fixture.accepted


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("wav_16k_mono", "LINEAR16"),
        ("wav_44k_stereo", "LINEAR16"),
        ("flac", "FLAC"),
        ("mp3", "MP3"),
        ("ogg_opus", "OGG_OPUS"),
        ("webm_opus", "WEBM_OPUS"),
        ("ogg_vorbis", None),
        ("m4a_aac", None),
    ],
)
def test_speech_encoding(audio: dict[str, AudioFixture], name: str, encoding: str | None) -> None:
    assert sniff(audio[name].data).speech_encoding == encoding


def test_browser_webm_has_no_duration_but_headers_with_one_report_it(
    audio: dict[str, AudioFixture],
) -> None:
    assert sniff(audio["webm_opus"].data).duration is None
    seekable = encode(speech_like(3, 48000), 48000, container="webm", codec="libopus")
    duration = sniff(seekable).duration
    assert duration is not None and duration == pytest.approx(1.85, abs=0.05)


@pytest.mark.parametrize("name", ["wav_16k_mono", "flac", "mp3", "ogg_opus", "m4a_aac"])
def test_duration_from_headers(audio: dict[str, AudioFixture], name: str) -> None:
    duration = sniff(audio[name].data).duration
    assert duration == pytest.approx(2.9, abs=0.1)  # 5 words of speech_like()


def test_mp3_frame_header_details(audio: dict[str, AudioFixture]) -> None:
    details = sniff(audio["mp3"].data).details
    assert details["mpeg_version"] == "1"
    assert details["layer"] == 3
    assert details["channel_mode"] == "mono"


def test_mpeg2_stereo_mp3_without_id3() -> None:
    data = encode(speech_like(2, 22050), 22050, container="mp3", codec="libmp3lame", channels=2)
    bare = data[_id3_size(data) :]
    info = sniff(bare)
    assert (info.sample_rate, info.channels, info.details["mpeg_version"]) == (22050, 2, "2")
    assert info.details["channel_mode"] in ("stereo", "joint_stereo")


def _id3_size(data: bytes) -> int:
    size = 0
    for b in data[6:10]:
        size = (size << 7) | b
    return 10 + size


def test_opus_reports_the_encoders_input_rate() -> None:
    data = encode(speech_like(2, 16000), 16000, container="ogg", codec="libopus")
    info = sniff(data)
    assert info.sample_rate == 16000
    assert info.details["decode_rate"] == 48000


def _wav(
    tag: int,
    bits: int,
    channels: int = 1,
    rate: int = 8000,
    extensible: bool = False,
    frames: int = 100,
) -> bytes:
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack(
            "<HHIIHHHHI16s",
            0xFFFE,
            channels,
            rate,
            rate * block,
            block,
            bits,
            22,
            bits,
            0,
            struct.pack("<H", tag) + b"\x00" * 14,
        )
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    data = b"\x00" * frames * block
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("data", "codec", "encoding"),
    [
        (_wav(1, 16), "pcm_s16le", "LINEAR16"),
        (_wav(1, 16, extensible=True), "pcm_s16le", "LINEAR16"),
        (_wav(1, 24, channels=2), "pcm_s24le", None),
        (_wav(1, 8), "pcm_u8", None),
        (_wav(3, 32, extensible=True), "pcm_f32le", None),
        (_wav(7, 8), "pcm_mulaw", "MULAW"),
        (_wav(6, 8), "pcm_alaw", None),
    ],
)
def test_wav_format_tags(data: bytes, codec: str, encoding: str | None) -> None:
    info = sniff(data)
    assert (info.codec, info.speech_encoding, info.sample_rate) == (codec, encoding, 8000)
    assert info.duration == pytest.approx(100 / 8000)


def test_wav_cut_in_the_data_chunk_is_marked_and_timed_by_what_is_there() -> None:
    whole = _wav(1, 16, frames=800)
    info = sniff(whole[: len(whole) // 2])
    assert info.details["truncated"] is True
    assert info.duration is not None and info.duration < 800 / 8000


def test_adts_aac_is_recognised_and_not_accepted() -> None:
    header = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC])  # AAC LC, 44.1 kHz, 2 ch
    info = sniff(header + b"\x00" * 64)
    assert (info.format, info.codec, info.sample_rate, info.channels) == ("aac", "aac", 44100, 2)
    assert not info.accepted


@pytest.mark.parametrize("name", INVALID)
def test_invalid_fixtures_raise_unsupported_audio(
    audio: dict[str, AudioFixture], name: str
) -> None:
    with pytest.raises(UnsupportedAudio):
        sniff(audio[name].data)


@pytest.mark.parametrize(
    ("name", "cut", "seen"),
    [
        ("wav_16k_mono", 30, "truncated WAV"),
        ("wav_16k_mono", 50, "no samples"),
        ("flac", 30, "truncated FLAC"),
        ("mp3", 200, "truncated MP3"),
        ("ogg_opus", 30, "truncated Ogg"),
        ("webm_opus", 200, "truncated webm"),
        ("webm_opus", 300, "truncated webm"),
        ("m4a_aac", 2000, "no moov"),
    ],
)
def test_truncated_data_names_what_was_seen(
    audio: dict[str, AudioFixture], name: str, cut: int, seen: str
) -> None:
    with pytest.raises(UnsupportedAudio, match=seen):
        sniff(audio[name].data[:cut])


def test_unknown_bytes_are_described() -> None:
    with pytest.raises(UnsupportedAudio, match=r"4096 bytes, first bytes fe 55 18"):
        sniff(fixtures()["random_bytes"].data)
    with pytest.raises(UnsupportedAudio, match="text, not audio"):
        sniff(b"<html><body>not audio</body></html>")
    with pytest.raises(UnsupportedAudio, match="empty"):
        sniff(b"")


def test_unsupported_audio_is_an_invalid_request() -> None:
    assert issubclass(UnsupportedAudio, InvalidRequest)


def test_bytearray_and_memoryview_are_accepted(audio: dict[str, AudioFixture]) -> None:
    data = audio["flac"].data
    assert sniff(bytearray(data)) == sniff(memoryview(data)) == sniff(data)
    assert isinstance(sniff(data), AudioInfo)


def test_mp4_channels_come_from_the_decoder_configuration(audio: dict[str, AudioFixture]) -> None:
    data = bytearray(audio["m4a_aac"].data)
    entry = data.index(b"mp4a") - 4  # the AudioSampleEntry inside stsd
    assert data[entry + 24 : entry + 26] == b"\x00\x01"
    data[entry + 24 : entry + 26] = b"\x00\x02"  # the placeholder many muxers write
    info = sniff(bytes(data))
    assert info.channels == 1  # from the esds AudioSpecificConfig, which the decoder uses
    stereo = encode(speech_like(2, 44100), 44100, container="ipod", codec="aac", channels=2)
    assert sniff(stereo).channels == 2


def test_fragmented_mp4_has_an_unknown_duration() -> None:
    fragmented = encode(
        speech_like(2, 48000),
        48000,
        container="mp4",
        codec="aac",
        container_options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
    )
    info = sniff(fragmented)
    assert (info.format, info.codec, info.channels) == ("mp4", "aac", 1)
    assert info.duration is None  # not 0.0: a recorder's MP4 does not say how long it is
