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
``import voicelab`` stays light and free of asyncio. So are the errors they define:
every error a caller can meet is importable from here (``except voicelab.ConnectError``),
and `voicelab.errors` draws the whole hierarchy.
"""

from typing import Any

from voicelab import audio, providers  # providers: registers the built-in providers and their targets
from voicelab.audio import Clip, RawFormat, Report, inspect, load, save
from voicelab.errors import (
    AudioFormatError,
    AudioLoadError,
    ChunkError,
    CodecError,
    CodecUnavailableError,
    ConversionError,
    EmptyAudioError,
    OutputIsInputError,
    TargetError,
    VoicelabError,
    VoicelabWarning,
)
from voicelab.protocols.errors import MessageError, ParameterError, ProtocolError, SessionConfigError
from voicelab.providers.errors import ProviderError, UnknownProviderError
from voicelab.recording import Recording, RecordingError

__all__ = [
    "AudioFormatError",
    "AudioLoadError",
    "AuthenticationError",
    "ChunkError",
    "Clip",
    "CodecError",
    "CodecUnavailableError",
    "ConnectError",
    "ConnectionDropped",
    "ConversionError",
    "DiagnoseError",
    "DoctorSetupError",
    "EmptyAudioError",
    "EmulatorError",
    "FaultSpecError",
    "HandshakeError",
    "InsecureContextError",
    "LiveSourceClosedError",
    "LiveSourceOverrunError",
    "LiveSourceTimeoutError",
    "MessageError",
    "MicrophoneError",
    "MicrophonePermissionError",
    "NoMicrophoneError",
    "NoTapSessionError",
    "NoTranscriptError",
    "OutputIsInputError",
    "PacingError",
    "PreflightError",
    "ParameterError",
    "ProtocolError",
    "ProviderError",
    "RateLimitError",
    "RawFormat",
    "Recording",
    "RecordingError",
    "RecorderNotFinishedError",
    "Report",
    "RetryPolicyError",
    "SampleRateMismatchError",
    "ServerClosedError",
    "ServerConfigError",
    "ServerStartError",
    "SessionConfigError",
    "SessionError",
    "StreamSetupError",
    "StreamTimeout",
    "TapConfigError",
    "TapError",
    "TapStartError",
    "TargetError",
    "UnknownProviderError",
    "ViewError",
    "VoicelabError",
    "VoicelabWarning",
    "__version__",
    "audio",
    "client",
    "diagnose",
    "doctor",
    "emulator",
    "inspect",
    "load",
    "plot",
    "providers",
    "replay",
    "save",
    "serve",
    "stream",
    "tap",
    "widgets",
]

__version__ = "0.1.0"

_MODULES = ("client", "emulator", "plot", "widgets")
_LAZY = {
    "stream": ("voicelab.client", "stream"),
    "replay": ("voicelab.client", "replay"),
    "serve": ("voicelab.emulator", "serve"),
    "doctor": ("voicelab.diagnosis", "doctor"),
    "tap": ("voicelab.proxy", "tap"),
    "diagnose": ("voicelab.diagnosis", "diagnose"),
}
# Errors defined where `import voicelab` does not reach (the I/O layers, plot, widgets), by module.
_LAZY_ERRORS = {
    "voicelab.client.errors": ("AuthenticationError", "ConnectError", "ConnectionDropped", "HandshakeError",
                               "NoTranscriptError", "RateLimitError", "ServerClosedError", "SessionError",
                               "StreamTimeout"),
    "voicelab.client.front": ("StreamSetupError",),
    "voicelab.client.preflight": ("PreflightError",),
    "voicelab.client.pacing": ("PacingError",),
    "voicelab.client.retry": ("RetryPolicyError",),
    "voicelab.plot.model": ("ViewError",),
    "voicelab.widgets.recorder": ("InsecureContextError", "MicrophoneError", "MicrophonePermissionError",
                                  "NoMicrophoneError", "RecorderNotFinishedError"),
    "voicelab.widgets.live_source": ("LiveSourceClosedError", "LiveSourceOverrunError", "LiveSourceTimeoutError",
                                     "SampleRateMismatchError"),
    "voicelab.emulator.errors": ("EmulatorError", "FaultSpecError", "ServerConfigError", "ServerStartError"),
    "voicelab.diagnosis.doctor": ("DoctorSetupError",),
    "voicelab.proxy.errors": ("NoTapSessionError", "TapConfigError", "TapError", "TapStartError"),
    "voicelab.diagnosis.recorded": ("DiagnoseError",),
}
_LAZY.update({name: (module, name) for module, names in _LAZY_ERRORS.items() for name in names})


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        return importlib.import_module(f"voicelab.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'voicelab' has no attribute {name!r}")
