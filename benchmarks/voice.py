"""Voice benchmark: header sniffing against PyAV probing, and Speech calls per request.

Run from the repository root: ``python -m benchmarks.voice``. Prints

    sniff: ours X files/s, baseline Y files/s, ratio R
    calls <fixture>: N        (one line per generated fixture)

The baseline opens the same bytes with PyAV and reads format, codec, rate and channels
(no decoding), measured in the same run. Calls are Recognize RPCs (v1 and v1p1beta1) that
`GoogleVoice.speech_to_text` makes against the validating fake server; fixtures rejected
before any call (truncated, random) count 0.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable

import av

from integrations.errors import IntegrationError
from integrations.voice.google import GoogleVoice
from integrations.voice.sniff import sniff
from integrations.voice.testing.audio import fixtures
from integrations.voice.testing.google import FakeGoogle

MIN_SECONDS = 1.0


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


def main() -> None:
    fixtures()  # generate outside the timings
    print(bench_sniff())
    for line in bench_calls():
        print(line)


if __name__ == "__main__":
    main()
