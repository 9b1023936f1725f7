"""Voice benchmark: header sniffing against PyAV probing, Speech calls per request, and the
realtime interpreter's latency and translation cost.

Run from the repository root: ``python -m benchmarks.voice``. Prints

    sniff: ours X files/s, baseline Y files/s, ratio R
    calls <fixture>: N        (one line per generated fixture)
    realtime_latency: first interim after X s, final after Y s of audio end
    realtime_latency_in_process: first interim after X s, final after Y s of audio end
    translate_calls: N per minute of speech
    translate_calls_every_interim: N per minute of speech

The sniff baseline opens the same bytes with PyAV and reads format, codec, rate and
channels (no decoding), measured in the same run. Calls are Recognize RPCs (v1 and
v1p1beta1) that `GoogleVoice.speech_to_text` makes against the validating fake server;
fixtures rejected before any call (truncated, random) count 0.

Latency: a client streams speech (headerless PCM, 100 ms frames at real time) through the
interpreter WebSocket of the voice service (uvicorn on 127.0.0.1, `FakeGoogle` behind it);
"first interim" counts from the start of the first word, "final" from the end of the last
word (the fake, like Google, finalises after 0.6 s of quiet). The in-process line runs
`interpret_stream` directly in the same rounds, alternating: the difference is the cost of
the service. Translate calls: a minute of speech in sentences through `interpret_stream`
with the service's default interim translation (at most every 2 s of audio, when grown),
and, in the same run, translating every changed interim (the former behaviour).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable

import av
import numpy as np
from websockets.sync.client import connect

from integrations.errors import IntegrationError
from integrations.voice.config import VoiceServiceSettings
from integrations.voice.google import GoogleVoice
from integrations.voice.headers import sniff
from integrations.voice.interface import VoiceInterface
from integrations.voice.realtime import StreamOptions, interpret_stream
from integrations.voice.server import running
from integrations.voice.service import voice_app
from integrations.voice.testing import FakeGoogle, fixtures, speech_like
from integrations.voice.testing.audio import GAP_SECONDS, LEAD_SECONDS, WORD_SECONDS

MIN_SECONDS = 1.0
RATE = 16000
FRAME = int(RATE * 0.1) * 2
LATENCY_WORDS = 6
LATENCY_ROUNDS = 3


def _pyav_probe(data: bytes) -> tuple[str, str, int, int]:
    with av.open(io.BytesIO(data)) as container:
        context = container.streams.audio[0].codec_context
        return container.format.name, context.name, context.sample_rate, context.channels


def _files_per_second(probe: Callable[[bytes], object], files: list[bytes]) -> float:
    done, start = 0, time.perf_counter()
    while True:
        for data in files:
            probe(data)
        done += len(files)
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return done / elapsed


def bench_sniff() -> str:
    files = [fx.data for fx in fixtures().values() if fx.valid]
    ours = _files_per_second(sniff, files)
    baseline = _files_per_second(_pyav_probe, files)
    return (
        f"sniff: ours {ours:,.0f} files/s, baseline {baseline:,.0f} files/s, "
        f"ratio {ours / baseline:.1f}"
    )


def bench_calls() -> list[str]:
    lines = []
    with FakeGoogle() as fake:
        channel = fake.channel()
        voice = GoogleVoice(channel=channel, project_id=fake.project, backoff=0)
        for name, fixture in fixtures().items():
            fake.reset()
            # A fixture rejected before calling raises; the count says how many calls it took.
            with contextlib.suppress(IntegrationError):
                voice.speech_to_text(fixture.data, "de-DE")
            lines.append(f"calls {name}: {fake.recognize_calls}")
        channel.close()
    return lines


# ---------------------------------------------------------------------------- realtime

SPEECH_START = LEAD_SECONDS
SPEECH_END = LEAD_SECONDS + LATENCY_WORDS * WORD_SECONDS + (LATENCY_WORDS - 1) * GAP_SECONDS


def _latency_audio() -> list[bytes]:
    samples = np.concatenate([speech_like(LATENCY_WORDS, RATE), np.zeros(2 * RATE, np.float32)])
    pcm = (samples * 32767).astype("<i2").tobytes()
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


def _over_websocket(url: str, frames: list[bytes]) -> tuple[float, float]:
    """(first interim after speech start, first final after speech end), in seconds."""
    interim = final = None
    query = "from=en-US&to=de-DE&rate=16000"
    with connect(f"{url}/ws/realtime-interpreter?{query}", open_timeout=10) as socket:
        start = time.perf_counter()
        for index, frame in enumerate(frames):
            socket.send(frame)
            while final is None:  # read what arrived while waiting for the next frame
                wait = start + (index + 1) * 0.1 - time.perf_counter()
                try:
                    kind = json.loads(socket.recv(timeout=max(wait, 0)))["type"]
                except TimeoutError:
                    break
                now = time.perf_counter() - start
                interim = now if kind == "interim" and interim is None else interim
                final = now if kind == "final" else final
        socket.send(json.dumps({"type": "stop"}))
        for message in socket:
            if final is None and json.loads(message)["type"] == "final":
                final = time.perf_counter() - start
    assert interim is not None and final is not None
    return interim - SPEECH_START, final - SPEECH_END


def _in_process(voice: GoogleVoice, frames: list[bytes]) -> tuple[float, float]:
    async def run() -> tuple[float, float]:
        start = time.perf_counter()

        async def chunks() -> AsyncIterator[bytes]:
            for index, frame in enumerate(frames):
                await asyncio.sleep(max(start + index * 0.1 - time.perf_counter(), 0))
                yield frame

        interim = final = None
        async for event in interpret_stream(voice, chunks(), "en-US", "de-DE", sample_rate=RATE):
            now = time.perf_counter() - start
            interim = now if event.kind == "interim" and interim is None else interim
            final = now if event.kind == "final" and final is None else final
        assert interim is not None and final is not None
        return interim - SPEECH_START, final - SPEECH_END

    return asyncio.run(run())


def _latency_line(name: str, rounds: list[tuple[float, float]]) -> str:
    interim = statistics.median(r[0] for r in rounds)
    final = statistics.median(r[1] for r in rounds)
    return f"{name}: first interim after {interim:.2f} s, final after {final:.2f} s of audio end"


def bench_realtime() -> list[str]:
    frames = _latency_audio()
    service, direct = [], []
    with FakeGoogle(max_stream_speed=1.5, audio_timeout_seconds=10.0) as fake:
        voice = fake.voice(timeout=30)
        app = voice_app(VoiceInterface(voice))
        with running(app) as url:
            for _ in range(LATENCY_ROUNDS):  # alternating, so both see the same machine load
                service.append(_over_websocket(url.replace("http://", "ws://"), frames))
                direct.append(_in_process(voice, frames))
    return [
        _latency_line("realtime_latency", service),
        _latency_line("realtime_latency_in_process", direct),
    ]


def _speech_minute() -> bytes:
    """A minute of speech: sentences of 4-12 words, a pause of 0.8 s after each."""
    parts, total, seed = [], 0, 0
    while total < 60 * RATE:
        sentence = speech_like(4 + seed % 9, RATE, seed=seed)
        parts += [sentence, np.zeros(int(0.8 * RATE), np.float32)]
        total += len(sentence) + int(0.8 * RATE)
        seed += 1
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


def _translate_calls(fake: FakeGoogle, pcm: bytes, interval: float) -> float:
    voice = fake.voice(timeout=30)
    fake.reset()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), FRAME):
            yield pcm[start : start + FRAME]

    async def run() -> None:
        options = StreamOptions(pace=None)  # as fast as the fake answers: counts, not time
        events = interpret_stream(
            voice, chunks(), "en-US", "de-DE", sample_rate=RATE, options=options,
            interim_interval=interval,
        )  # fmt: skip
        async for _ in events:
            pass

    asyncio.run(run())
    return fake.count("Translation/TranslateText") / (len(pcm) / 2 / RATE / 60)


def bench_translate_calls() -> list[str]:
    pcm = _speech_minute()
    default = VoiceServiceSettings().interim_interval
    with FakeGoogle() as fake:
        ours = _translate_calls(fake, pcm, default)
        every = _translate_calls(fake, pcm, 0.0)
    return [
        f"translate_calls: {ours:.0f} per minute of speech",
        f"translate_calls_every_interim: {every:.0f} per minute of speech",
    ]


def main() -> None:
    fixtures()  # generate outside the timings
    print(bench_sniff())
    for line in bench_calls():
        print(line)
    for line in bench_realtime():
        print(line)
    for line in bench_translate_calls():
        print(line)


if __name__ == "__main__":
    main()
