"""Errors raised by the emulator server (not by its recognizers, see `voicelab.emulator.recognizers.errors`).

Every class derives from `voicelab.errors.VoicelabError`; each message names the offending value and the fix.
"""

from __future__ import annotations

from voicelab.errors import VoicelabError

__all__ = ["EmulatorError", "FaultSpecError", "ServerConfigError", "ServerStartError"]


class EmulatorError(VoicelabError):
    """Root of the errors raised by `voicelab.emulator` (server, faults, CLI)."""


class FaultSpecError(EmulatorError, ValueError):
    """A fault specification (``faults=``, ``--fault`` or ``?vl_fault=``) cannot be parsed."""


class ServerConfigError(EmulatorError, ValueError):
    """A server option (host, port, engine, limit) is invalid."""


class ServerStartError(EmulatorError, RuntimeError):
    """The emulator server could not start (port in use, engine failed to load, …)."""
