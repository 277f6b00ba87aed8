"""Errors about providers themselves (not about a session with one)."""

from __future__ import annotations

from voicelab.errors import VoicelabError

__all__ = ["ProviderError", "UnknownProviderError"]


class ProviderError(VoicelabError):
    """A provider cannot do what was asked (no emulator route, a bad registration, …)."""


class UnknownProviderError(ProviderError, KeyError):
    """A provider name is not registered; the message lists the registered names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""
