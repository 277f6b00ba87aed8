"""The exception hierarchy: every error voicelab raises derives from `VoicelabError`.

Errors are translated once, at the boundary where they happen, and always say
three things: *what* value was wrong, *why* it is wrong, and *how* to fix it.

The whole tree, grouped by the module that defines each class. In parentheses:
the other bases, builtins (so ``except ValueError`` works where it did) or an
error from another module (then that one is the parent, not the root). Every
class is also importable as ``voicelab.<Name>`` (``except voicelab.ConnectError``)
except those marked ``[module only]``: a caller of the top-level functions never
meets them (the emulator answers them on the wire or wraps them in
`ServerStartError`); code that uses their modules directly imports them from
there. tests/test_errors.py checks this drawing against the code::

    VoicelabError
        voicelab.errors -- audio in, audio out
            AudioLoadError
            AudioFormatError (ValueError)
                EmptyAudioError
            OutputIsInputError (ValueError)
            CodecError (ValueError)
                CodecUnavailableError
            ConversionError (ValueError)
            ChunkError (ValueError)
            TargetError (KeyError)
            VoicelabWarning (UserWarning)
        voicelab.protocols.errors -- the wire protocols (sans-I/O)
            ProtocolError
                ParameterError (ValueError)
                    SessionConfigError
                MessageError (ValueError)
                    ClientEventError [module only]
                TokenError [module only]
        voicelab.providers.errors -- the provider registry
            ProviderError
                UnknownProviderError (KeyError)
        voicelab.recording.log -- the Recording file
            RecordingError
        voicelab.client.errors -- streaming to an API
            ConnectError
                HandshakeError
                    AuthenticationError
                    RateLimitError
                ConnectionDropped
                ServerClosedError
            SessionError
            StreamTimeout (TimeoutError)
            NoTranscriptError
        voicelab.client.front -- the arguments of stream()
            StreamSetupError (ValueError)
        voicelab.client.preflight -- the check of the audio before its first byte is sent
            PreflightError (StreamSetupError)
        voicelab.client.pacing
            PacingError (ValueError)
        voicelab.client.retry
            RetryPolicyError (ValueError)
        voicelab.plot.model -- plots and widgets given the wrong thing
            ViewError (TypeError)
        voicelab.widgets.recorder -- the microphone
            MicrophoneError
                MicrophonePermissionError (PermissionError)
                InsecureContextError
                NoMicrophoneError
            RecorderNotFinishedError (RuntimeError)
        voicelab.widgets.live_source -- live audio from the microphone to a stream
            SampleRateMismatchError (AudioFormatError)
            LiveSourceClosedError (RuntimeError)
            LiveSourceOverrunError (BufferError)
            LiveSourceTimeoutError (TimeoutError)
        voicelab.diagnosis.doctor -- the arguments of doctor()
            DoctorSetupError (ValueError)
        voicelab.diagnosis.recorded -- the argument of diagnose()
            DiagnoseError (ValueError)
        voicelab.emulator.errors -- the local emulator
            EmulatorError
                FaultSpecError (ValueError)
                ServerConfigError (ValueError)
                ServerStartError (RuntimeError)
        voicelab.proxy.errors -- the recording proxy
            TapError
                TapConfigError (ValueError)
                TapStartError (RuntimeError)
                NoTapSessionError (LookupError)
        voicelab.emulator.recognizers.errors -- its speech recognizers
            RecognizerError [module only]
                RecognizerOptionError (ValueError) [module only]
                EngineUnavailableError (ImportError) [module only]
                ModelNotFoundError (FileNotFoundError) [module only]
                StreamClosedError (RuntimeError) [module only]
        voicelab.providers.assemblyai_agent.emulator.errors -- its scripted voice agent
            AgentError [module only]
                AgentOptionError (ValueError) [module only]
                SynthesisError (RuntimeError) [module only]
                BrainError (ValueError) [module only]

Private exceptions that one module raises and catches itself for control flow
are not errors and are not drawn.

`VoicelabWarning` is the category of the warnings voicelab issues (``warnings.warn``), e.g. a
pre-flight finding in the audio `voicelab.stream` is about to send. It is a `UserWarning`, so the
usual filters apply (``warnings.simplefilter("error", voicelab.VoicelabWarning)`` turns them into
exceptions), and also a `VoicelabError`, so such an exception is still caught by
``except voicelab.VoicelabError``.
"""

from __future__ import annotations

__all__ = [
    "AudioFormatError",
    "AudioLoadError",
    "ChunkError",
    "CodecError",
    "CodecUnavailableError",
    "ConversionError",
    "EmptyAudioError",
    "OutputIsInputError",
    "TargetError",
    "VoicelabError",
    "VoicelabWarning",
]


class VoicelabError(Exception):
    """Root of every exception voicelab raises on purpose."""


class AudioLoadError(VoicelabError):
    """A source could not be read as audio (missing file, unknown container, truncated data)."""


class AudioFormatError(VoicelabError, ValueError):
    """A declared audio format (encoding, rate, channels, dtype) is invalid or inconsistent."""


class EmptyAudioError(AudioFormatError):
    """Audio with no samples where that can only be a mistake (streaming, converting, loading an empty array).

    A 0-frame `Clip` itself is allowed (a slice, an empty reply), and so is loading a container file
    whose header holds 0 frames: ``inspect()`` reports it as the ``empty`` finding.
    """


class OutputIsInputError(VoicelabError, ValueError):
    """An output path resolves to one of the inputs (same path, a symlink or a hard link to it).

    Writing it would destroy the input, so nothing is written.
    """


class CodecError(VoicelabError, ValueError):
    """Bytes could not be encoded or decoded with the requested codec."""


class CodecUnavailableError(CodecError):
    """A codec needs a native library that is not installed on this machine."""


class ConversionError(VoicelabError, ValueError):
    """A conversion (resampling, mixdown, dtype, normalisation) got arguments it cannot honour."""


class ChunkError(VoicelabError, ValueError):
    """Chunking was asked for an impossible size or duration."""


class VoicelabWarning(VoicelabError, UserWarning):
    """The category of voicelab's warnings: something will probably not work as intended (not raised)."""


class TargetError(VoicelabError, KeyError):
    """An unknown API target preset was named."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""
