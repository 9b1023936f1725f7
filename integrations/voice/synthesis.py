"""Text-to-Speech helpers without I/O: byte-limited text chunks, voice choice, WAV payloads.

Google limits ``input.text`` to 5,000 *bytes* (UTF-8), not characters: an umlaut or a
CJK character counts two or three times. `split_text` cuts at sentence ends first, then
at spaces, and only then inside a word: between grapheme clusters (Unicode's extended
graphemes, via the ``regex`` module), never inside one, so a flag, a ZWJ emoji sequence
or a letter with combining accents stays whole.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from integrations.errors import InvalidRequest, UnsupportedAudio
from integrations.voice._optional import missing_extra
from integrations.voice.results import Voice

try:
    import regex
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_extra(_exc) from _exc

__all__ = ["TTS_LIMIT_BYTES", "choose_voice", "split_text", "wav_payload"]

TTS_LIMIT_BYTES = 5000
_FULL_WIDTH_ENDS = "\u3002\uff01\uff1f"  # ideographic full stop, full-width ! and ?
_SENTENCE_END = re.compile(rf"(?<=[.!?…;])\s+|(?<=[{_FULL_WIDTH_ENDS}])\s*")
_VOICE_RANK = ("Neural2", "Wavenet", "Standard")
_GRAPHEME = regex.compile(r"\X")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int = TTS_LIMIT_BYTES) -> list[str]:
    """Cut `text` into pieces of at most `limit` UTF-8 bytes, preferring sentence ends."""
    text = text.strip()
    if _size(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for piece in _pieces(filter(None, _SENTENCE_END.split(text)), limit):
        joiner = "" if current.endswith(tuple(_FULL_WIDTH_ENDS)) else " "
        candidate = f"{current}{joiner}{piece}" if current else piece
        if _size(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(sentences: Iterable[str], limit: int) -> Iterable[str]:
    """Sentences, with any sentence over `limit` broken at spaces, then at characters."""
    for sentence in sentences:
        if _size(sentence) <= limit:
            yield sentence
            continue
        for word in sentence.split():
            if _size(word) <= limit:
                yield word
                continue
            piece = ""
            for grapheme in _GRAPHEME.findall(word):
                if piece and _size(piece + grapheme) > limit:
                    yield piece
                    piece = ""
                piece += grapheme  # a single cluster over the limit goes out whole
            if piece:
                yield piece


def choose_voice(
    voices: list[Voice], language: str, name: str | None, gender: str | None, strict: bool
) -> Voice:
    """Pick a voice by name, else by gender, else the best-ranked one (unless `strict`).

    Raises:
        InvalidRequest: no voice fits; the message lists the available ones.
    """
    available = ", ".join(f"{v.name} ({v.gender})" for v in voices) or "none"
    if name:
        for voice in voices:
            if voice.name.lower() == name.lower():
                return voice
        raise InvalidRequest(
            f"voice {name!r} is not available for {language}; available: {available}"
        )
    candidates = voices
    if gender:
        candidates = [v for v in voices if v.gender.upper() == gender.upper()]
        if not candidates:
            raise InvalidRequest(
                f"no {gender.upper()} voice for {language}; available: {available}"
            )
    elif strict:
        # The original component's behaviour: no voice, no default.
        raise InvalidRequest(
            f"no default voice: pass a voice name or gender for {language}; available: {available}"
        )
    if not candidates:
        raise InvalidRequest(f"no Text-to-Speech voice for {language}")
    return min(candidates, key=_rank)


def _rank(voice: Voice) -> tuple[int, str]:
    for position, kind in enumerate(_VOICE_RANK):
        if kind in voice.name:
            return position, voice.name
    return len(_VOICE_RANK), voice.name


def wav_payload(data: bytes) -> tuple[bytes, int]:
    """The PCM samples and rate of a mono 16-bit WAV (Google's LINEAR16 output has a header).

    Raises:
        UnsupportedAudio: not a 16-bit mono PCM WAV.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise UnsupportedAudio(f"expected a WAV from Text-to-Speech, got {data[:12]!r}")
    pos, rate = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt ":
            tag, channels, rate = struct.unpack_from("<HHI", data, pos + 8)
            bits = struct.unpack_from("<H", data, pos + 22)[0]
            if (tag, channels, bits) != (1, 1, 16):
                raise UnsupportedAudio(
                    f"expected 16-bit mono PCM, got format {tag}, {channels} channels, {bits} bits"
                )
        elif chunk == b"data" and rate is not None:
            end = len(data) if size in (0, 0xFFFFFFFF) else pos + 8 + size
            return data[pos + 8 : end], rate
        pos += 8 + size + (size & 1)
    raise UnsupportedAudio("WAV from Text-to-Speech without fmt and data chunks")
