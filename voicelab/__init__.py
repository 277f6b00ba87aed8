"""voicelab: see, stream and debug real-time voice WebSocket APIs from JupyterLab.

Typical use::

    import voicelab as vl

    clip = vl.load("data/speech/s02_weather_16k.flac")
    clip.inspect(target="pulse")
    with vl.serve() as server:                       # the offline emulator
        session = vl.stream(clip, provider="pulse", url=server.url, api_key=server.api_key)
        session.wait()
    session.metrics()

The I/O layers (`stream`, `serve`, `replay`) are imported on first use, so
``import voicelab`` stays light and free of asyncio.
"""

from typing import Any

from voicelab import audio, providers  # providers: registers the built-in providers and their targets
from voicelab.audio import Clip, RawFormat, Report, inspect, load, save
from voicelab.errors import VoicelabError
from voicelab.recording import Recording

__all__ = [
    "Clip",
    "RawFormat",
    "Recording",
    "Report",
    "VoicelabError",
    "__version__",
    "audio",
    "client",
    "emulator",
    "inspect",
    "load",
    "plot",
    "providers",
    "replay",
    "save",
    "serve",
    "stream",
    "widgets",
]

__version__ = "0.1.0"

_MODULES = ("client", "emulator", "plot", "widgets")
_LAZY = {
    "stream": ("voicelab.client", "stream"),
    "replay": ("voicelab.client", "replay"),
    "serve": ("voicelab.emulator", "serve"),
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        return importlib.import_module(f"voicelab.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'voicelab' has no attribute {name!r}")
