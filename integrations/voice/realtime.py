"""The realtime interpreter: audio chunks in, interim and final translated transcripts out.

`interpret_stream` runs three stages connected by queues:

1. the caller's async chunks (raw 16-bit PCM at a given rate, or a container stream such
   as a browser's MediaRecorder WebM/Opus, decoded by PyAV in a thread) become 100 ms
   blocks of mono LINEAR16 in a `_Blocks` buffer;
2. a thread feeds the blocks to Speech ``streaming_recognize``. Google ends a stream after
   about 305 s, so each connection is closed before `stream_limit` (at the first quiet
   block once within `switch_window` of it): closing the request side makes Google
   finalise everything it has heard, and the blocks not yet sent stay in the buffer for
   the next connection. If a connection breaks instead, the blocks Google had not
   finalised are sent again on the next one. No audio is dropped either way;
3. results are translated (``GoogleVoice.translate``) and yielded as `InterpretEvent`s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple, cast

from integrations.errors import IntegrationError, ServiceUnavailable, UnsupportedAudio
from integrations.voice.google import GoogleVoice, translation_language
from integrations.voice.results import InterpretEvent
from integrations.voice.sniff import sniff

__all__ = ["interpret_stream"]

log = logging.getLogger(__name__)

RATE = 16000  # decoded container audio is sent at this rate
BLOCK_SECONDS = 0.1  # Google recommends ~100 ms frames
QUIET_DBFS = -40.0
_DONE = object()


class _Heard(NamedTuple):
    """A streaming result, which connection produced it and where it ends in the audio."""

    stream: int
    offset: float
    result: Any


class _Blocks:
    """A thread-safe FIFO of PCM blocks that a closing stream can hand back (`unget`)."""

    def __init__(self) -> None:
        self._items: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self.closed = False

    def put(self, block: bytes) -> None:
        with self._cond:
            self._items.append(block)
            self._cond.notify_all()

    def unget(self, blocks: list[bytes]) -> None:
        with self._cond:
            self._items.extendleft(reversed(blocks))
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def get(self, timeout: float) -> bytes | None:
        """The next block; None at the end of input; TimeoutError when none came in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self.closed, timeout):
                raise TimeoutError
            return self._items.popleft() if self._items else None

    def wait(self, timeout: float) -> bool:
        """Wait until a block is there or input ended; False on timeout."""
        with self._cond:
            return bool(self._cond.wait_for(lambda: self._items or self.closed, timeout))

    @property
    def exhausted(self) -> bool:
        with self._cond:
            return self.closed and not self._items


class _Rechunker:
    """Cut PCM arriving in arbitrary sizes into fixed blocks."""

    def __init__(self, blocks: _Blocks, rate: int) -> None:
        self.blocks, self.size, self.pending = blocks, int(rate * BLOCK_SECONDS) * 2, b""

    def feed(self, pcm: bytes) -> None:
        self.pending += pcm
        while len(self.pending) >= self.size:
            self.blocks.put(self.pending[: self.size])
            self.pending = self.pending[self.size :]

    def finish(self) -> None:
        if self.pending:
            self.blocks.put(self.pending[: len(self.pending) // 2 * 2])
        self.blocks.close()


class _Decoder:
    """Decode a container byte stream (WebM, Ogg, MP3, WAV…) in a thread as it arrives."""

    HEADER_LIMIT = 256 * 1024  # give up sniffing after this much; let PyAV probe

    def __init__(self, rechunker: _Rechunker, report: Callable[[object], None]) -> None:
        self.rechunker, self.report = rechunker, report
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.header = b""
        self.buffer = b""
        self.ended = False
        self.thread: threading.Thread | None = None

    def feed(self, chunk: bytes | None) -> None:
        """Take the next chunk (None: end of input); start decoding once the header is in."""
        if self.thread is not None:
            self.chunks.put(chunk)
            return
        fmt = None
        if chunk is not None:
            self.header += chunk
            try:
                fmt = sniff(self.header).format
            except UnsupportedAudio:
                if len(self.header) < self.HEADER_LIMIT:
                    return  # wait for the rest of the header
        self.chunks.put(self.header)
        if chunk is None:
            self.chunks.put(None)
        self.thread = threading.Thread(
            target=self._run, args=(fmt,), daemon=True, name="voice-decoder"
        )
        self.thread.start()

    def read(self, size: int) -> bytes:  # the file-like interface PyAV reads from
        while not self.buffer and not self.ended:
            chunk = self.chunks.get()
            if chunk is None:
                self.ended = True
            else:
                self.buffer = chunk
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def _run(self, fmt: str | None) -> None:
        import av

        demuxer = {"webm": "matroska", "mp4": "mp4", "aac": "aac"}.get(fmt or "", fmt)
        try:
            with av.open(
                self,
                mode="r",
                format=demuxer,
                options={"probesize": "32768", "analyzeduration": "0"},
            ) as source:
                stream = source.streams.audio[0]
                resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
                for frame in source.decode(stream):
                    for out in resampler.resample(frame):
                        self.rechunker.feed(out.to_ndarray().tobytes())
                for out in resampler.resample(None):
                    self.rechunker.feed(out.to_ndarray().tobytes())
        except (av.FFmpegError, IndexError) as exc:
            self.report(UnsupportedAudio(f"cannot decode the audio stream: {exc}"))
        finally:
            self.rechunker.finish()


def _quiet(block: bytes) -> bool:
    import numpy as np

    samples = np.frombuffer(block, "<i2").astype(np.float64)
    if not len(samples):
        return True
    rms = float(np.sqrt(np.mean(samples**2))) / 32768
    return rms <= 0 or 20 * np.log10(rms) < QUIET_DBFS


class _Streams:
    """Feed blocks to consecutive streaming_recognize connections (runs in a thread)."""

    def __init__(
        self,
        voice: GoogleVoice,
        config: dict[str, Any],
        blocks: _Blocks,
        rate: int,
        limit: float,
        window: float,
        emit: Callable[[object], None],
    ) -> None:
        self.voice, self.config, self.blocks, self.rate = voice, config, blocks, rate
        self.limit, self.window, self.emit = limit, window, emit
        self.offset = 0.0  # seconds of audio taken from the buffer so far
        self.unfinalised: list[tuple[float, bytes]] = []  # (start offset, block), this stream
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.connections = 0

    def run(self) -> None:
        failures, replay = 0, cast(list[bytes], [])
        try:
            while not self.stopped.is_set():
                if not replay and not self.blocks.wait(0.2):
                    continue  # no audio yet: do not open a connection for nothing
                if not replay and self.blocks.exhausted:
                    break
                stream, self.connections = self.connections, self.connections + 1
                try:
                    self._one_stream(stream, replay)
                    failures, replay = 0, []  # a clean close: Google finalised it all
                except IntegrationError as exc:
                    if not _reconnectable(exc) or failures >= 2:
                        raise
                    failures += 1
                    with self.lock:
                        replay = [block for _, block in self.unfinalised]
                    log.warning(
                        "speech stream %d broke (%s); resending %d blocks", stream, exc, len(replay)
                    )
            self.emit(_DONE)
        except Exception as exc:  # handed to the async side, which raises it
            self.emit(exc)

    def _one_stream(self, stream: int, replay: list[bytes]) -> None:
        base = self.offset - sum(len(b) for b in replay) / 2 / self.rate
        dead = threading.Event()
        with self.lock:
            self.unfinalised = []
        try:
            audio = self._audio(replay, base, dead)
            for response in self.voice.streaming_recognize(self.config, audio):
                for result in response.results:
                    end = result.result_end_time.total_seconds()
                    if result.is_final:
                        self._finalised(base + end)
                    if result.alternatives:
                        self.emit(_Heard(stream, base + end, result))
        finally:
            with self.lock:
                dead.set()

    def _finalised(self, until: float) -> None:
        """Forget the audio Google has finalised (up to offset `until`), to the sample."""
        kept = []
        with self.lock:
            for start, block in self.unfinalised:
                cut = round((until - start) * self.rate) * 2
                if cut <= 0:
                    kept.append((start, block))
                elif cut < len(block):
                    kept.append((until, block[cut:]))
            self.unfinalised = kept

    def _audio(self, replay: list[bytes], base: float, dead: threading.Event) -> Any:
        """The request side of one connection (gRPC consumes it from its own thread)."""
        started, sent = time.monotonic(), 0.0
        for old in replay:
            with self.lock:
                self.unfinalised.append((base + sent, old))
            sent += len(old) / 2 / self.rate
            yield old
        while not self.stopped.is_set():
            try:
                block = self.blocks.get(timeout=0.2)
            except TimeoutError:
                continue
            if block is None:
                return
            with self.lock:
                if dead.is_set():  # the connection ended while we waited: keep it for the next
                    self.blocks.unget([block])
                    return
                self.unfinalised.append((base + sent, block))
            seconds = len(block) / 2 / self.rate
            sent += seconds
            self.offset += seconds
            yield block
            age = max(sent, time.monotonic() - started)
            if age >= self.limit or (age >= self.limit - self.window and _quiet(block)):
                return


def _reconnectable(exc: Exception) -> bool:
    return isinstance(exc, ServiceUnavailable) or "stream duration" in str(exc)


async def interpret_stream(
    voice: GoogleVoice,
    chunks: AsyncIterator[bytes],
    from_language: str,
    to_language: str,
    *,
    sample_rate: int | None = None,
    model: str | None = None,
    stream_limit: float = 290.0,
    switch_window: float = 10.0,
    translate_interim: bool = True,
) -> AsyncIterator[InterpretEvent]:
    """Transcribe and translate audio as it arrives.

    Args:
        voice: the Google connector.
        chunks: audio as it is recorded: headerless 16-bit mono PCM at `sample_rate`, or
            (no `sample_rate`) a container stream such as MediaRecorder's WebM/Opus.
        from_language, to_language: BCP-47 codes (``de-DE``, ``en-US``).
        model: Speech model (default: Google's choice for streaming).
        stream_limit: seconds after which a connection is replaced (Google stops at ~305).
        switch_window: how early before `stream_limit` a quiet moment may be used.
        translate_interim: translate interim results too (finals always are).

    Yields:
        InterpretEvent per interim and final result.

    Raises:
        IntegrationError: unreadable audio, or Speech/Translation failed after retries.
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[object] = asyncio.Queue()

    def emit(item: object) -> None:
        # After the caller stopped listening the loop may be gone; nothing is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(events.put_nowait, item)

    blocks = _Blocks()
    rechunker = _Rechunker(blocks, sample_rate or RATE)
    decoder = None if sample_rate else _Decoder(rechunker, emit)
    config: dict[str, Any] = {
        "encoding": "LINEAR16",
        "sample_rate_hertz": sample_rate or RATE,
        "language_code": from_language,
    }
    if model:
        config["model"] = model
    streams = _Streams(
        voice,
        {"config": config, "interim_results": True},
        blocks,
        sample_rate or RATE,
        stream_limit,
        switch_window,
        emit,
    )
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
    source, target = translation_language(from_language), translation_language(to_language)
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
            final = bool(result.is_final)
            if not final and (text == last_interim or not text):
                continue
            last_interim = "" if final else text
            translated = None
            if text and (final or translate_interim):
                translation = await asyncio.to_thread(voice.translate, text, target, source)
                translated = translation.text
            yield InterpretEvent(
                kind="final" if final else "interim",
                transcript=text,
                translation=translated,
                language=from_language,
                confidence=result.alternatives[0].confidence if final else None,
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
