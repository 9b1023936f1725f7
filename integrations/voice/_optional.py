"""Optional dependencies of the voice package, imported only when a feature needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from integrations.errors import IntegrationError

__all__ = ["INSTALL_HINT", "MissingVoiceExtra", "missing_extra", "require"]

INSTALL_HINT = "pip install 'connectors-layer[voice]'"


class MissingVoiceExtra(IntegrationError, ImportError):
    """A package of the `voice` extra (PyAV, numpy, grpcio, google-cloud-*) is not installed."""


def missing_extra(exc: ImportError) -> MissingVoiceExtra:
    """The error to raise (``from exc``) when an import of the voice extra failed."""
    module = exc.name or "a dependency"
    return MissingVoiceExtra(
        f"{module} is not installed; the voice features need the optional 'voice' extra: "
        f"{INSTALL_HINT}"
    )


def require(module: str) -> ModuleType:
    """Import `module`, or raise MissingVoiceExtra with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(exc) from exc
