"""Voice: audio sniffing and analysis, Google speech/translate/text-to-speech, realtime.

Modules: `headers` (`sniff`: formats from headers only, no dependencies), `analysis` and
`codec` (PyAV), `google` (`GoogleVoice`), `interface` (`VoiceInterface`, structured
results), `realtime` (`interpret_stream`), `service` (the Starlette app: the original
routes, the interpreter WebSocket of `websocket` and its page), `server` (`serve`:
uvicorn, the demo), `config` (settings models), `testing` (`FakeGoogle` and audio
generators for your own tests).

Names are imported on first access, so ``import integrations.voice`` stays cheap and works
without the optional ``voice`` extra; using a feature that needs it raises
`MissingVoiceExtra` with the install hint.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AudioAnalysis",
    "AudioInfo",
    "GoogleVoice",
    "MissingVoiceExtra",
    "VoiceInterface",
    "VoiceServiceSettings",
    "analyse",
    "interpret_stream",
    "serve",
    "sniff",
    "to_linear16",
    "voice_app",
]

_LOCATIONS = {
    "AudioInfo": "headers",
    "sniff": "headers",
    "AudioAnalysis": "analysis",
    "analyse": "analysis",
    "to_linear16": "analysis",
    "GoogleVoice": "google",
    "VoiceInterface": "interface",
    "interpret_stream": "realtime",
    "MissingVoiceExtra": "_optional",
    "VoiceServiceSettings": "config",
    "voice_app": "service",
    "serve": "server",
}


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LOCATIONS[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
