"""Errors raised by the tap (`voicelab.tap`); every class derives from `voicelab.errors.VoicelabError`.

A bad fault specification raises the emulator's `voicelab.emulator.errors.FaultSpecError`: the tap
reads the emulator's fault syntax with the emulator's parser.
"""

from __future__ import annotations

from voicelab.errors import VoicelabError

__all__ = ["NoTapSessionError", "TapConfigError", "TapError", "TapStartError"]


class TapError(VoicelabError):
    """Root of the errors raised by `voicelab.tap`."""


class TapConfigError(TapError, ValueError):
    """A tap option is invalid (upstream URL, listen address, ``inject_auth`` without a key or off loopback)."""


class TapStartError(TapError, RuntimeError):
    """The tap could not start (the listen address cannot be bound)."""


class NoTapSessionError(TapError, LookupError):
    """No app has connected to the tap yet, so there is no session to show or read."""
