"""Text-to-Speech helpers: byte-limited splitting, voice choice, WAV payloads."""

from __future__ import annotations

import pytest

from integrations.errors import InvalidRequest, UnsupportedAudio
from integrations.voice.codec import pcm_to_wav
from integrations.voice.results import Voice
from integrations.voice.synthesis import choose_voice, split_text, wav_payload


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def test_short_text_is_one_chunk() -> None:
    assert split_text("  Hallo Welt.  ") == ["Hallo Welt."]
    assert split_text("   ") == []


def test_limit_is_bytes_not_characters() -> None:
    sentence = "Grüße aus Zürich, schöne Größe. "  # 32 characters, 37 bytes
    text = sentence * 150  # 4,800 characters, 5,550 bytes
    assert len(text) < 5000 < _bytes(text)
    chunks = split_text(text)
    assert len(chunks) == 2
    assert all(_bytes(c) <= 5000 for c in chunks)
    assert all(c.endswith(".") for c in chunks)  # cut at a sentence end
    assert " ".join(chunks).split() == text.split()


def test_sentences_without_spaces_split_at_full_stops() -> None:
    text = "これは音声合成のテストです。" * 150  # 2,100 characters, 6,300 bytes
    chunks = split_text(text)
    assert len(chunks) == 2
    assert all(_bytes(c) <= 5000 and c.endswith("。") for c in chunks)
    assert "".join(chunks) == text


def test_a_sentence_over_the_limit_is_cut_at_spaces_then_inside_words() -> None:
    words = " ".join(["wort"] * 30)  # one 149-byte sentence, no full stop
    chunks = split_text(words, limit=40)
    assert all(_bytes(c) <= 40 for c in chunks)
    assert " ".join(chunks).split() == words.split()
    long_word = "ä" * 50  # 100 bytes, never cut inside a UTF-8 sequence
    pieces = split_text(long_word, limit=15)
    assert "".join(pieces) == long_word
    assert all(_bytes(p) <= 15 for p in pieces)


GRAPHEMES = {
    "flags": "\U0001f1e9\U0001f1ea\U0001f1e8\U0001f1ed\U0001f1eb\U0001f1f7",  # DE CH FR
    "zwj family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "combining accents": "e\u0301\u0302a\u0308\u0304o\u0303",
    "hangul jamo": "\u1100\u1161\u11a8\u1100\u1161\u11a8",
}


@pytest.mark.parametrize("kind", GRAPHEMES)
def test_words_are_cut_between_grapheme_clusters_only(kind: str) -> None:
    import regex

    text = GRAPHEMES[kind] * 20  # one long "word", no spaces
    clusters = regex.findall(r"\X", GRAPHEMES[kind])
    for limit in range(max(_bytes(c) for c in clusters), 3 * _bytes(GRAPHEMES[kind])):
        pieces = split_text(text, limit=limit)
        assert "".join(pieces) == text
        assert all(_bytes(p) <= limit for p in pieces)
        for piece in pieces:  # each piece is whole clusters: it splits into the same clusters
            assert "".join(regex.findall(r"\X", piece)) == piece
            assert regex.findall(r"\X", piece)[0] in clusters


VOICES = [
    Voice(
        name="de-DE-Standard-A",
        language_codes=("de-DE",),
        gender="FEMALE",
        natural_sample_rate=24000,
    ),
    Voice(
        name="de-DE-Standard-B", language_codes=("de-DE",), gender="MALE", natural_sample_rate=24000
    ),
    Voice(
        name="de-DE-Neural2-C",
        language_codes=("de-DE",),
        gender="FEMALE",
        natural_sample_rate=24000,
    ),
]


def test_voice_by_name_gender_or_rank() -> None:
    assert choose_voice(VOICES, "de-DE", "de-de-standard-a", None, False).name == "de-DE-Standard-A"
    assert choose_voice(VOICES, "de-DE", None, "male", False).name == "de-DE-Standard-B"
    assert choose_voice(VOICES, "de-DE", None, "FEMALE", False).name == "de-DE-Neural2-C"
    assert choose_voice(VOICES, "de-DE", None, None, False).name == "de-DE-Neural2-C"


def test_no_fitting_voice_lists_the_available_ones() -> None:
    with pytest.raises(InvalidRequest, match=r"'de-DE-Foo'.*de-DE-Standard-A \(FEMALE\)"):
        choose_voice(VOICES, "de-DE", "de-DE-Foo", None, False)
    with pytest.raises(InvalidRequest, match="no NEUTRAL voice for de-DE; available: de-DE-"):
        choose_voice(VOICES, "de-DE", None, "neutral", False)
    with pytest.raises(InvalidRequest, match="no default voice"):
        choose_voice(VOICES, "de-DE", None, None, True)
    with pytest.raises(InvalidRequest, match="no Text-to-Speech voice for xx-XX"):
        choose_voice([], "xx-XX", None, None, False)


def test_wav_payload() -> None:
    pcm = b"\x01\x00\x02\x00" * 10
    assert wav_payload(pcm_to_wav(pcm, 24000)) == (pcm, 24000)
    with pytest.raises(UnsupportedAudio, match="expected a WAV"):
        wav_payload(b"ID3\x04" + b"\x00" * 40)
