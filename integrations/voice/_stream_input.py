"""The input side of the realtime interpreter: audio chunks in, 100 ms PCM blocks out.

Headerless 16-bit PCM is cut into blocks by `Rechunker`; a container stream (a browser's
MediaRecorder WebM/Opus, Ogg, MP4…) is decoded as it arrives by `Decoder`, in a thread, and
resampled to 16 kHz mono first. Blocks wait in `Blocks`, a FIFO the stream feeder takes
from and can hand blocks back to (`unget`) when a connection ends under it.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable

from integrations.errors import UnsupportedAudio
from integrations.voice.headers import sniff

__all__ = ["BLOCK_SECONDS", "RATE", "Blocks", "Decoder", "Rechunker", "quiet", "silence"]

RATE = 16000  # decoded container audio is sent at this rate
BLOCK_SECONDS = 0.1  # Google recommends ~100 ms frames
QUIET_DBFS = -40.0


class Blocks:
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


class Rechunker:
    """Cut PCM arriving in arbitrary sizes into fixed blocks."""

    def __init__(self, blocks: Blocks, rate: int) -> None:
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


class Decoder:
    """Decode a container byte stream (WebM, Ogg, MP3, WAV…) in a thread as it arrives."""

    HEADER_LIMIT = 256 * 1024  # give up sniffing after this much; let PyAV probe

    def __init__(self, rechunker: Rechunker, report: Callable[[object], None]) -> None:
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
        if chunk is None and not self.header:
            self.rechunker.finish()  # stopped before any audio: nothing to decode
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
                # Down-mixed: Speech without per-channel recognition hears the first channel only.
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


def quiet(block: bytes) -> bool:
    """True for a block under -40 dBFS: a good moment to switch connections."""
    import numpy as np

    samples = np.frombuffer(block, "<i2").astype(np.float64)
    if not len(samples):
        return True
    rms = float(np.sqrt(np.mean(samples**2))) / 32768
    return rms <= 0 or 20 * np.log10(rms) < QUIET_DBFS


def silence(rate: int) -> bytes:
    """One block of digital silence at `rate` (keeps a paused stream alive)."""
    return bytes(int(rate * BLOCK_SECONDS) * 2)
