"""The interpreter page in a real headless Chromium, against the served demo.

Debian's Chromium (``/usr/bin/chromium``, installed by ``make``'s setup where it can) is
driven by Playwright, which never downloads a browser of its own here. Chromium's fake
media devices play a generated speech WAV as the microphone, so the page's real
MediaRecorder (WebM/Opus, 250 ms slices) feeds the real WebSocket of a server process
started as users start it, with the shipped Google fake behind it.

A screenshot of the page is saved to ``build/test-artifacts/voice-interpreter.png``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from integrations.voice.testing import encode, speech_like
from integrations.voice.testing._language import LEXICON

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

if not CHROMIUM.exists():
    if IN_CI:
        raise RuntimeError(f"{CHROMIUM} is missing: `make` installs Debian's chromium package")
    pytest.skip(f"no {CHROMIUM} (make test installs it where it can)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """``connectors voice serve --demo``, in its own process, as users start it."""
    port = _free_port()
    command = [sys.executable, "-m", "connectors", "voice", "serve", "--demo", "--port", str(port)]
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "the demo server exited"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three words, then a pause long enough to end the utterance; Chromium loops it."""
    rate = 48000
    words = speech_like(3, rate)
    samples = np.concatenate([words, np.zeros(int(1.4 * rate), np.float32)])
    path = tmp_path_factory.mktemp("media") / "speech.wav"
    path.write_bytes(encode(samples, rate, container="wav", codec="pcm_s16le"))
    return path


@pytest.fixture(scope="module")
def browser(speech_file: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*FLAGS, f"--use-file-for-fake-audio-capture={speech_file}"],
        )
        yield browser
        browser.close()


def _lexicon_translation(text: str, source: str, target: str) -> str:
    return " ".join(LEXICON[target][LEXICON[source].index(word)] for word in text.split())


def _finals(page: Page, at_least: int) -> list[tuple[str, str]]:
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('[data-kind="translation"]')]
                 .filter(e => e.textContent.trim()).length >= {at_least}""",
        timeout=45_000,
    )
    said = page.locator('[data-kind="final"]').all_text_contents()
    translated = page.locator('[data-kind="translation"]').all_text_contents()
    return list(zip(said, translated, strict=True))


def test_finals_and_translations_appear_live(browser: Browser, demo: str) -> None:
    page = browser.new_page(viewport={"width": 900, "height": 640})
    page.goto(f"{demo}/?from=en-US&to=de-DE&autostart=1")
    expect(page.locator("#record")).to_have_attribute("aria-pressed", "true")
    finals = _finals(page, 1)
    for said, translated in finals:
        assert said and set(said.split()) <= set(LEXICON["en"])
        assert translated == _lexicon_translation(said, "en", "de")
    with page.expect_response("**/voice-google/text-to-speech") as spoken:
        page.locator("#speak").check()  # the next final is read out
    assert spoken.value.status == 200
    assert spoken.value.headers["content-type"] == "audio/mpeg"
    _finals(page, len(finals) + 1)
    expect(page.locator("#status")).to_have_text("Listening…")
    expect(page.locator("#error")).to_be_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "voice-interpreter.png")
    page.locator("#record").click()
    expect(page.locator("#status")).to_have_text("Stopped.", timeout=30_000)
    expect(page.locator("#record")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#error")).to_be_hidden()
    page.close()


class _CuttingProxy:
    """A TCP proxy to the server that cuts the first WebSocket connection mid-stream."""

    def __init__(self, upstream: str, cut_after: float) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream, self.cut_after = (host, int(port)), cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets_seen = 0
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                self.open.append(client)
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        self.open.append(server)
        with contextlib.suppress(OSError):
            first = client.recv(65536)
            cut = False
            if first.startswith(b"GET /ws/realtime-interpreter"):
                self.sockets_seen += 1
                cut = self.sockets_seen == 1
            server.sendall(first)
            threading.Thread(target=_pump, args=(server, client), daemon=True).start()
            if cut:  # no close frame: to the browser the socket just dies (1006)
                threading.Timer(self.cut_after, _cut, args=(client, server)).start()
            _pump(client, server)

    def close(self) -> None:
        self.listener.close()
        for end in self.open:
            end.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)


def _cut(*ends: socket.socket) -> None:
    for end in ends:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def test_a_dropped_socket_is_reconnected_once(browser: Browser, demo: str) -> None:
    proxy = _CuttingProxy(demo, cut_after=2.0)
    try:
        page = browser.new_page()
        page.goto(f"{proxy.url}/?from=de-DE&to=fr-FR&autostart=1")
        expect(page.locator("#status")).to_have_text("Reconnected. Listening…", timeout=30_000)
        for said, translated in _finals(page, 1):
            assert translated == _lexicon_translation(said, "de", "fr")
        assert proxy.sockets_seen == 2
        expect(page.locator("#error")).to_be_hidden()
        page.close()
    finally:
        proxy.close()
