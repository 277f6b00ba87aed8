"""The local emulator: offline servers that speak each provider's protocol.

`serve` runs one server hosting Smallest Pulse (``/waves/v1/stt/live``, ``/waves/v1/pulse/get_text``)
and the AssemblyAI Voice Agent API (``/v1/ws``, ``GET /v1/token``) on a background thread::

    import voicelab

    with voicelab.serve() as server:          # 127.0.0.1, a free port, a random key
        url, key = server.url_for("pulse"), server.api_key

Recognizers live in `voicelab.emulator.recognizers`; faults in `voicelab.emulator.faults`; the
asyncio core (`EmulatorServer`, `ConnectionContext`, `Route`) in `voicelab.emulator.server`; the
audio → recognizer loop every route shares (`EngineFeed`) in `voicelab.emulator.engine_feed`.
This package imports websockets lazily: importing it costs nothing until `serve` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voicelab.emulator.config import Limits, ServerConfig
from voicelab.emulator.errors import EmulatorError, FaultSpecError, ServerConfigError, ServerStartError
from voicelab.emulator.faults import Faults, parse_faults

if TYPE_CHECKING:
    from voicelab.emulator.background import RunningServer

__all__ = [
    "EmulatorError",
    "FaultSpecError",
    "Faults",
    "Limits",
    "RunningServer",
    "ServerConfig",
    "ServerConfigError",
    "ServerStartError",
    "parse_faults",
    "serve",
]


def serve(**kwargs: Any) -> RunningServer:
    """Start the local emulator on a background thread; see `voicelab.emulator.background.serve`."""
    from voicelab.emulator.background import serve as _serve

    return _serve(**kwargs)


def __getattr__(name: str) -> Any:
    if name == "RunningServer":
        from voicelab.emulator.background import RunningServer

        return RunningServer
    raise AttributeError(f"module 'voicelab.emulator' has no attribute {name!r}")
