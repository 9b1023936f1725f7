"""Voice: audio sniffing and analysis, Google speech/translate/text-to-speech, realtime.

Modules: `sniff` (headers only, no dependencies), `analysis` and `codec` (PyAV), `google`
(`GoogleVoice`), `interface` (`VoiceInterface`, structured results), `realtime`
(`interpret_stream`), `websocket` (ASGI endpoint), `cli` (``connectors voice``), `testing`
(`FakeGoogle` and audio generators for your own tests).

Names are imported on first access, so ``import integrations.voice`` stays cheap and works
without the optional ``voice`` extra; using a feature that needs it raises
`MissingVoiceExtra` with the install hint.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported eagerly (pure Python, microseconds): the function must win over the submodule
# of the same name as the package attribute.
from integrations.voice.sniff import AudioInfo, sniff

__all__ = [
    "AudioAnalysis",
    "AudioInfo",
    "GoogleVoice",
    "MissingVoiceExtra",
    "VoiceInterface",
    "analyse",
    "interpret_stream",
    "sniff",
    "to_linear16",
]

_LOCATIONS = {
    "AudioAnalysis": "analysis",
    "analyse": "analysis",
    "to_linear16": "analysis",
    "GoogleVoice": "google",
    "VoiceInterface": "interface",
    "interpret_stream": "realtime",
    "MissingVoiceExtra": "_optional",
}


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LOCATIONS[name]}"), name)
