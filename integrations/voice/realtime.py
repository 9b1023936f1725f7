"""The realtime interpreter: audio chunks in, interim and final translated transcripts out.

`interpret_stream` runs three stages connected by queues:

1. the caller's async chunks (raw 16-bit PCM at a given rate, or a container stream such
   as a browser's MediaRecorder WebM/Opus, decoded by PyAV in a thread) become 100 ms
   blocks of mono LINEAR16 (`_stream_input`);
2. a thread feeds the blocks to Speech ``streaming_recognize``, paced at real time: Google
   ends a stream with OUT_OF_RANGE when audio arrives much faster than real time, and
   gRPC would otherwise read far ahead of what Google has received. When the client
   pauses, 100 ms of silence goes out every `keepalive` seconds (Google gives up after
   about 10 s without audio). Google ends a stream after about 305 s (sometimes sooner),
   so each connection is closed before `stream_limit` (at the first quiet block once
   within `switch_window` of it): closing the request side makes Google finalise all it
   heard, and the blocks not yet sent stay for the next connection. If a connection
   breaks or is ended early instead, the audio Google had not finalised is sent again on
   the next one, at most `max_replay` seconds of it: beyond that, the last interim result
   is kept as final and only the audio after it is resent. The session fails after three
   consecutive connections that ended without finalising anything;
3. results are translated (``GoogleVoice.translate``; interim ones at most every
   `interim_interval` seconds of audio, and only when they grew by a word) and yielded as
   `InterpretEvent`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from integrations.errors import IntegrationError, InvalidRequest, ServiceUnavailable
from integrations.voice._stream_input import (
    RATE,
    Blocks,
    Decoder,
    Rechunker,
    quiet,
    silence,
)
from integrations.voice.google import GoogleVoice, translation_language
from integrations.voice.results import InterpretEvent

__all__ = ["StreamOptions", "interpret_stream"]

log = logging.getLogger(__name__)

_DONE = object()
PACE_LEAD_SECONDS = 1.0  # audio a connection may send ahead of the clock (replays, bursts)
MAX_BROKEN_CONNECTIONS = 3


@dataclass(frozen=True)
class StreamOptions:
    """How audio is fed to Speech streaming connections (see the module docstring).

    Attributes:
        stream_limit: seconds after which a connection is replaced (Google stops at ~305).
        switch_window: how early before `stream_limit` a quiet moment may be used.
        pace: audio seconds sent per wall-clock second (1.0: real time, as Google wants;
            None: as fast as the audio comes, for replaying files against a fake).
        keepalive: seconds without client audio after which 100 ms of silence is sent.
        max_replay: most seconds of audio resent after a connection broke.
    """

    stream_limit: float = 290.0
    switch_window: float = 10.0
    pace: float | None = 1.0
    keepalive: float = 2.0
    max_replay: float = 10.0


class _Heard(NamedTuple):
    """A streaming result, which connection produced it and where it ends in the audio."""

    stream: int
    offset: float
    result: Any
    promoted: bool = False  # an interim result kept as final when its stream broke


class _Streams:
    """Feed blocks to consecutive streaming_recognize connections (runs in a thread)."""

    def __init__(
        self,
        voice: GoogleVoice,
        config: dict[str, Any],
        blocks: Blocks,
        rate: int,
        options: StreamOptions,
        emit: Callable[[object], None],
    ) -> None:
        self.voice, self.config, self.blocks, self.rate = voice, config, blocks, rate
        self.options, self.emit = options, emit
        self.offset = 0.0  # seconds of audio taken from the buffer (or made up) so far
        self.unfinalised: list[tuple[float, bytes]] = []  # (start offset, block), this stream
        self.last_interim: _Heard | None = None
        self.progressed = False  # this connection finalised something
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.connections = 0

    def run(self) -> None:
        broken, replay = 0, list[bytes]()
        try:
            while not self.stopped.is_set():
                if not replay and not self.blocks.wait(0.2):
                    continue  # no audio yet: do not open a connection for nothing
                if not replay and self.blocks.exhausted:
                    break
                stream, self.connections = self.connections, self.connections + 1
                try:
                    self._one_stream(stream, replay)
                    broken, replay = 0, []  # a clean close: Google finalised it all
                except IntegrationError as exc:
                    if not _reconnectable(exc):
                        raise
                    replay = self._replay(stream)
                    broken = 0 if self.progressed else broken + 1
                    if broken >= MAX_BROKEN_CONNECTIONS:
                        raise
                    log.warning(
                        "speech stream %d ended (%s); resending %.1f s",
                        stream,
                        exc,
                        sum(len(b) for b in replay) / 2 / self.rate,
                    )
            self.emit(_DONE)
        except Exception as exc:  # handed to the async side, which raises it
            self.emit(exc)

    def _one_stream(self, stream: int, replay: list[bytes]) -> None:
        base = self.offset - sum(len(b) for b in replay) / 2 / self.rate
        dead = threading.Event()
        with self.lock:
            self.unfinalised, self.last_interim, self.progressed = [], None, False
        try:
            audio = self._audio(replay, base, dead)
            for response in self.voice.streaming_recognize(self.config, audio):
                for result in response.results:
                    end = result.result_end_time.total_seconds()
                    heard = _Heard(stream, base + end, result)
                    if result.is_final:
                        self._finalised(base + end)
                    elif result.alternatives:
                        with self.lock:
                            self.last_interim = heard
                    if result.alternatives:
                        self.emit(heard)
        finally:
            with self.lock:
                dead.set()

    def _finalised(self, until: float) -> None:
        """Forget the audio Google has finalised (up to offset `until`), to the sample."""
        with self.lock:
            self._forget(until)
            self.progressed = True
            self.last_interim = None

    def _forget(self, until: float) -> None:
        kept = []
        for start, block in self.unfinalised:
            cut = round((until - start) * self.rate) * 2
            if cut <= 0:
                kept.append((start, block))
            elif cut < len(block):
                kept.append((until, block[cut:]))
        self.unfinalised = kept

    def _replay(self, stream: int) -> list[bytes]:
        """The audio to resend after `stream` broke: what Google did not finalise, bounded."""
        limit = self.options.max_replay
        with self.lock:
            pending = sum(len(b) for _, b in self.unfinalised) / 2 / self.rate
            interim = self.last_interim
            if pending > limit and interim is not None:
                # Keep what Google already heard as final rather than resend it all again.
                self.emit(interim._replace(promoted=True))
                self._forget(interim.offset)
                self.progressed = True
            blocks = [block for _, block in self.unfinalised]
        budget, kept = int(limit * self.rate) * 2, list[bytes]()
        for block in reversed(blocks):
            if budget <= 0:
                log.warning("speech stream %d: dropping unfinalised audio over %g s", stream, limit)
                break
            kept.append(block[-budget:])
            budget -= len(block)
        return kept[::-1]

    def _audio(self, replay: list[bytes], base: float, dead: threading.Event) -> Iterator[bytes]:
        """The request side of one connection (gRPC consumes it from its own thread)."""
        started, sent = time.monotonic(), 0.0
        for old in replay:
            self._pace(started, sent)
            with self.lock:
                self.unfinalised.append((base + sent, old))
            sent += len(old) / 2 / self.rate
            yield old
        last_audio = time.monotonic()
        options = self.options
        while not self.stopped.is_set():
            try:
                block = self.blocks.get(timeout=0.2)
            except TimeoutError:
                if time.monotonic() - last_audio < options.keepalive:
                    continue
                block = silence(self.rate)  # the client paused: keep Google listening
            if block is None:
                return
            self._pace(started, sent)
            with self.lock:
                if dead.is_set():  # the connection ended while we waited: keep it for the next
                    self.blocks.unget([block])
                    return
                self.unfinalised.append((base + sent, block))
            seconds = len(block) / 2 / self.rate
            sent += seconds
            self.offset += seconds
            last_audio = time.monotonic()
            yield block
            age = max(sent, time.monotonic() - started)
            limit = options.stream_limit
            if age >= limit or (age >= limit - options.switch_window and quiet(block)):
                return

    def _pace(self, started: float, sent: float) -> None:
        """Wait until `sent` seconds of audio are no more than a second ahead of the clock."""
        pace = self.options.pace
        if pace is None:
            return
        ahead = sent - PACE_LEAD_SECONDS - (time.monotonic() - started) * pace
        if ahead > 0:
            self.stopped.wait(ahead / pace)


def _reconnectable(exc: Exception) -> bool:
    # OUT_OF_RANGE (InvalidRequest) is how Google ends a stream early: duration, pace, pause.
    text = str(exc)
    early_end = ("stream duration", "too fast", "Audio Timeout")
    return isinstance(exc, ServiceUnavailable) or any(reason in text for reason in early_end)


class _Translator:
    """Translates finals always, interims at most every `interval` s of audio, when grown."""

    def __init__(self, voice: GoogleVoice, source: str, target: str, interval: float | None):
        self.voice, self.source, self.target, self.interval = voice, source, target, interval
        self.words, self.at = 0, -math.inf

    async def __call__(self, text: str, final: bool, offset: float) -> str | None:
        if not text:
            return None
        if final:
            self.words, self.at = 0, -math.inf
        else:
            words = len(text.split())
            if self.interval is None or words <= self.words or offset - self.at < self.interval:
                return None
            self.words, self.at = words, offset
        translation = await asyncio.to_thread(self.voice.translate, text, self.target, self.source)
        return translation.text


async def interpret_stream(
    voice: GoogleVoice,
    chunks: AsyncIterator[bytes],
    from_language: str,
    to_language: str,
    *,
    sample_rate: int | None = None,
    model: str | None = None,
    options: StreamOptions | None = None,
    translate_interim: bool = True,
    interim_interval: float = 2.0,
) -> AsyncIterator[InterpretEvent]:
    """Transcribe and translate audio as it arrives.

    Args:
        voice: the Google connector.
        chunks: audio as it is recorded: headerless 16-bit mono PCM at `sample_rate`, or
            (no `sample_rate`) a container stream such as MediaRecorder's WebM/Opus.
        from_language: the speaker's language, BCP-47 (``de-DE``).
        to_language: the translation's language, BCP-47 (``en-US``).
        model: Speech model (default: Google's choice for streaming).
        options: pacing, reconnection and keep-alive (`StreamOptions`).
        translate_interim: translate interim results too (finals always are).
        interim_interval: seconds of audio between two interim translations; an interim
            result is translated only when it has more words than the last one translated.

    Yields:
        InterpretEvent per interim and final result.

    Raises:
        InvalidRequest: a sample rate outside 8000-48000 Hz.
        IntegrationError: unreadable audio, or Speech/Translation failed after retries.
    """
    if sample_rate is not None and not 8000 <= sample_rate <= 48000:
        raise InvalidRequest(f"sample rate {sample_rate} Hz: Speech takes 8000-48000 Hz")
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[object] = asyncio.Queue()

    def emit(item: object) -> None:
        # After the caller stopped listening the loop may be gone; nothing is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(events.put_nowait, item)

    rate = sample_rate or RATE
    blocks = Blocks()
    rechunker = Rechunker(blocks, rate)
    decoder = None if sample_rate else Decoder(rechunker, emit)
    config: dict[str, Any] = {
        "encoding": "LINEAR16",
        "sample_rate_hertz": rate,
        "language_code": from_language,
    }
    if model:
        config["model"] = model
    streaming = {"config": config, "interim_results": True}
    streams = _Streams(voice, streaming, blocks, rate, options or StreamOptions(), emit)
    worker = threading.Thread(target=streams.run, daemon=True, name="voice-streams")
    worker.start()

    async def pump() -> None:
        try:
            async for chunk in chunks:
                if chunk:
                    (decoder.feed if decoder else rechunker.feed)(bytes(chunk))
        finally:
            if decoder:
                decoder.feed(None)
            else:
                rechunker.finish()

    feeding = asyncio.create_task(pump())
    translate = _Translator(
        voice,
        translation_language(from_language),
        translation_language(to_language),
        interim_interval if translate_interim else None,
    )
    last_interim = ""
    try:
        while True:
            item = await events.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Heard)
            result = item.result
            text = result.alternatives[0].transcript.strip()
            final = bool(result.is_final) or item.promoted
            if not final and (text == last_interim or not text):
                continue
            last_interim = "" if final else text
            yield InterpretEvent(
                kind="final" if final else "interim",
                transcript=text,
                translation=await translate(text, final, item.offset),
                language=from_language,
                confidence=result.alternatives[0].confidence if result.is_final else None,
                stream=item.stream,
                offset=round(item.offset, 3),
            )
        await feeding  # surfaces an error of the caller's chunk iterator
    finally:
        streams.stopped.set()
        blocks.close()
        if not feeding.done():
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
        # The open connection half-closes within a block's wait; let it finish cleanly.
        await asyncio.to_thread(worker.join, 5.0)
