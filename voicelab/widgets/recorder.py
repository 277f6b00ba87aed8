"""`Recorder`: record the browser's microphone from a notebook and stream it while it records.

The browser captures the microphone with ``getUserMedia``, resamples it to ``target_rate`` inside an
AudioWorklet (so the rate the browser picked for its AudioContext, 44.1 or 48 kHz, or whatever Safari
decided, never matters) and sends int16 little-endian mono PCM to the kernel in chunks of
``chunk_seconds``, as binary buffers of custom widget messages. The kernel side collects them into a
`Clip` (`Recorder.clip`) and hands them out live as `Chunk` objects (`Recorder.chunks`), so a recording can
be streamed to an API while it is being made (`Recorder.stream_to`). Each take's chunks live in a
`voicelab.widgets.live_source.LiveAudioSource` (`Recorder.source`), the same buffer other live producers use.

The widget only observes: it never opens a socket. ``stream_to`` passes the chunks to `voicelab.stream`.

Messages from the browser (``content`` of a custom message, plus binary ``buffers``)::

    {"type": "start", "context_rate": 44100, "target_rate": 16000, "dtype": "int16", "byteorder": "little",
     "channels": 1, "chunk_frames": 1600, "label": "...",
     "track_settings": {"echoCancellation": false, "autoGainControl": false, "noiseSuppression": false,
                        "sampleRate": 44100, "channelCount": 1}}
    {"type": "chunk", "seq": 0, "frames": 1600}     buffers: [int16 little-endian mono PCM at target_rate]
    {"type": "done", "frames": 40000, "reason": "stop"}     reason: "stop" | "limit" | "ended"
    {"type": "error", "name": "NotAllowedError", "message": "Permission denied"}

Messages to the browser: ``{"type": "start"}`` and ``{"type": "stop"}``.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from voicelab.audio.clip import Clip, Provenance
from voicelab.errors import VoicelabError
from voicelab.widgets._base import ASSETS, VoicelabWidget, read_asset
from voicelab.widgets.live_source import PCM_DTYPE, LiveAudioReader, LiveAudioSource

if TYPE_CHECKING:
    from voicelab.client.front import Stream

__all__ = [
    "InsecureContextError",
    "MicrophoneError",
    "MicrophonePermissionError",
    "NoMicrophoneError",
    "Recorder",
    "RecorderNotFinishedError",
]

log = logging.getLogger("voicelab.widgets.recorder")


# -- errors ----------------------------------------------------------------------------------------------
class MicrophoneError(VoicelabError):
    """The browser could not record from the microphone.

    Attributes:
        name: The browser's error name (``NotAllowedError``, ``NotFoundError`` …), or
            ``InsecureContextError`` when the page has no ``navigator.mediaDevices``.
        browser_message: The browser's own message, verbatim.
    """

    fix = "Check the browser's console for details, then press Record again."

    def __init__(self, message: str, *, name: str = "Error", browser_message: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.browser_message = browser_message


class MicrophonePermissionError(MicrophoneError, PermissionError):
    """The user or the browser refused microphone access (``NotAllowedError``)."""

    fix = ("Grant the browser permission to use the microphone for this page (the microphone icon in the "
           "address bar, or the browser's site settings), then press Record again.")


class InsecureContextError(MicrophoneError):
    """The page is not a secure context, so the browser hides ``navigator.mediaDevices``."""

    fix = ("Serve JupyterLab over HTTPS, or open it on http://localhost or http://127.0.0.1 "
           "(browsers only allow the microphone in secure contexts).")


class NoMicrophoneError(MicrophoneError):
    """The browser found no microphone (``NotFoundError``) or could not open it (``NotReadableError``)."""

    fix = ("Check the device: connect a microphone, enable it in the system's sound settings, and close other "
           "applications that may hold it; then press Record again.")


class RecorderNotFinishedError(VoicelabError, RuntimeError):
    """`Recorder.clip` was read before a recording finished."""


_ERRORS: dict[str, tuple[type[MicrophoneError], str]] = {
    "NotAllowedError": (MicrophonePermissionError, "microphone permission denied"),
    "PermissionDeniedError": (MicrophonePermissionError, "microphone permission denied"),
    "SecurityError": (MicrophonePermissionError, "microphone access blocked by the page's security policy"),
    "InsecureContextError": (InsecureContextError, "the page is not a secure context, so there is no microphone"),
    "NotFoundError": (NoMicrophoneError, "no microphone found"),
    "DevicesNotFoundError": (NoMicrophoneError, "no microphone found"),
    "NotReadableError": (NoMicrophoneError, "the microphone could not be opened"),
    "OverconstrainedError": (NoMicrophoneError, "no microphone satisfies the requested settings"),
}


def microphone_error(name: str, message: str = "") -> MicrophoneError:
    """Translate a browser error (its ``name`` and ``message``) into a `MicrophoneError` subclass.

    Args:
        name: The DOMException name from the browser, e.g. ``NotAllowedError``.
        message: The browser's message.

    Returns:
        The exception (not raised); its message says what happened and names the fix.
    """
    cls, what = _ERRORS.get(name, (MicrophoneError, f"recording failed ({name})"))
    detail = f" [browser: {name}: {message}]" if message else f" [browser: {name}]"
    return cls(f"{what}. {cls.fix}{detail}", name=name, browser_message=message)


def _in_kernel_cell() -> bool:
    """Whether this is the main thread of an IPython kernel, which cannot receive widget messages while blocked.

    The kernel handles the browser's messages between cells, so a cell that blocks waiting for them waits forever.
    """
    if threading.current_thread() is not threading.main_thread() or "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return getattr(shell, "kernel", None) is not None


_BLOCKING_IN_CELL = (
    "{what} cannot wait inside a notebook cell: the kernel receives the browser's audio only between cells, so "
    "the recording would never arrive. Record first (press Stop, or let max_seconds end it), then read rec.clip "
    "in the next cell; to use the audio while it is recorded, call rec.stream_to(...) or iterate rec.chunks() in "
    "a thread.")


def _refuse_to_block_in_cell() -> None:
    """The wait guard of each take's source: a ``for`` over rec.chunks() must not block a notebook cell."""
    if _in_kernel_cell():
        raise RecorderNotFinishedError(_BLOCKING_IN_CELL.format(what="Iterating rec.chunks()"))


# -- one recording -----------------------------------------------------------------------------------------
class _Take:
    """One recording: its audio (a `LiveAudioSource` the comm handler pushes to) and what the browser said."""

    def __init__(self) -> None:
        # max_seconds=None: the whole take is kept, since `Recorder.clip` returns all of it.
        self.source = LiveAudioSource(max_seconds=None, name="the Recorder", wait_guard=_refuse_to_block_in_cell)
        self.started = False
        self.info: dict[str, Any] = {}

    def begin(self, info: Mapping[str, Any]) -> None:
        self.info = dict(info)
        self.started = True

    @property
    def ended(self) -> bool:
        return self.source.closed

    @property
    def error(self) -> BaseException | None:  # a MicrophoneError: the only error the Recorder closes with
        return self.source.error

    @property
    def finished(self) -> bool:
        return self.source.closed and self.source.error is None


# -- the widget --------------------------------------------------------------------------------------------
class Recorder(VoicelabWidget):
    """Record the browser's microphone; get a `Clip` when done, or `Chunk` objects while recording.

    Display the widget and press Record (or call `start`). The browser sends int16 little-endian mono
    PCM at ``target_rate`` in chunks of ``chunk_seconds``; resampling from the AudioContext's own rate
    happens inside the AudioWorklet.

    Args:
        target_rate: Rate of the PCM sent to the kernel, Hz (Pulse: 16000; AssemblyAI agent: 24000).
        echo_cancellation: Ask the browser for echo cancellation; ``False`` also turns off automatic gain
            control and noise suppression, so the samples are the microphone's own.
        chunk_seconds: Seconds of audio per message to the kernel.
        max_seconds: Stop by itself after this many seconds of audio; ``None`` records until Stop.

    Example::

        rec = Recorder(target_rate=16000)
        rec                                   # press Record, speak, press Stop
        clip = rec.wait()                     # or rec.clip once it is done

        session = rec.stream_to(provider="pulse", url=server.url, api_key=server.api_key)
    """

    _esm = ASSETS / "recorder.js"
    _css = ASSETS / "recorder.css"
    _uid = traitlets.Unicode(help="Identifies the model to the ESM across anywidget's per-view proxies.").tag(sync=True)
    _worklet = traitlets.Unicode(
        read_asset("recorder_worklet.js"), help="The AudioWorklet module (recorder_worklet.js), loaded by recorder.js.",
    ).tag(sync=True)

    # options (written by Python)
    target_rate = traitlets.Int(16000, help="Rate of the PCM sent to the kernel, Hz.").tag(sync=True)
    echo_cancellation = traitlets.Bool(True, help="Echo cancellation, AGC and noise suppression.").tag(sync=True)
    chunk_seconds = traitlets.Float(0.1, help="Seconds of audio per chunk.").tag(sync=True)
    max_seconds = traitlets.Float(None, allow_none=True, help="Stop after this many seconds.").tag(sync=True)

    # what the browser negotiated (written by the browser; read-only in Python)
    state = traitlets.Unicode("idle", help="idle | requesting | recording | stopping | done | error").tag(sync=True)
    context_rate = traitlets.Int(0, help="The AudioContext's sample rate, Hz (0 until recording).").tag(sync=True)
    track_settings = traitlets.Dict(help="MediaTrackSettings: echoCancellation, autoGainControl, "
                                         "noiseSuppression, sampleRate, channelCount.").tag(sync=True)
    error = traitlets.Dict(help="The last error: name, title, fix, message; empty when none.").tag(sync=True)

    # kernel-side mirrors (not synced)
    level = traitlets.Float(-math.inf, help="RMS level of the latest chunk, dBFS.")
    duration = traitlets.Float(0.0, help="Seconds of audio received in the current take.")

    def __init__(
        self,
        *,
        target_rate: int = 16000,
        echo_cancellation: bool = True,
        chunk_seconds: float = 0.1,
        max_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        _check_options(target_rate=target_rate, chunk_seconds=chunk_seconds, max_seconds=max_seconds)
        super().__init__(_uid=uuid.uuid4().hex, target_rate=target_rate, echo_cancellation=echo_cancellation,
                         chunk_seconds=chunk_seconds, max_seconds=max_seconds, **kwargs)
        self._lock = threading.Lock()
        self._take = _Take()
        self._last_done: _Take | None = None

    # -- kernel side of the protocol (VoicelabWidget calls _handle for each custom message) ---------------------
    def _handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        kind = content.get("type")
        if kind == "start":
            self._on_start(content)
        elif kind == "chunk":
            self._on_chunk(content, buffers)
        elif kind == "done":
            self._on_done(content)
        elif kind == "error":
            self._on_error(content)
        else:
            log.warning("recorder: ignoring unknown message %r", content)

    def _on_start(self, content: Mapping[str, Any]) -> None:
        with self._lock:
            if self._take.started or self._take.ended:
                self._take = _Take()
            take = self._take
        dtype, order = content.get("dtype", "int16"), content.get("byteorder", "little")
        if (dtype, order, content.get("channels", 1)) != ("int16", "little", 1):
            log.warning("recorder: the browser announced %s %s-endian %s ch; expected int16 little-endian mono",
                        dtype, order, content.get("channels"))
        info = {"context_rate": int(content.get("context_rate") or 0),
                "target_rate": int(content.get("target_rate") or self.target_rate),
                "track_settings": dict(content.get("track_settings") or {}),
                "label": str(content.get("label") or "")}
        take.begin(info)
        self.duration = 0.0
        self.level = -math.inf
        log.info("recorder: recording at %d Hz (AudioContext %d Hz), track %s",
                 info["target_rate"], info["context_rate"], info["track_settings"])

    def _on_chunk(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        take = self._take
        if take.ended:
            log.warning("recorder: chunk %s arrived after the take ended; dropping it", content.get("seq"))
            return
        if not take.started:
            take.begin({"target_rate": self.target_rate, "context_rate": self.context_rate,
                        "track_settings": dict(self.track_settings), "label": ""})
        data = b"".join(buffers)
        if len(data) % PCM_DTYPE.itemsize:
            log.warning("recorder: chunk %s has an odd byte count (%d); dropping the last byte",
                        content.get("seq"), len(data))
            data = data[: len(data) - 1]
        expected = content.get("seq")
        if expected is not None and expected != take.source.chunk_count:
            log.warning("recorder: chunk %s arrived as number %d; a chunk was lost", expected, take.source.chunk_count)
        rate = int(take.info.get("target_rate") or self.target_rate)
        chunk = take.source.push(data, samplerate=rate)
        pcm = np.frombuffer(data, dtype=PCM_DTYPE).astype(np.float64) / 32768.0
        rms = float(np.sqrt(np.mean(pcm * pcm))) if pcm.size else 0.0
        self.level = 20 * math.log10(rms) if rms > 0 else -math.inf
        self.duration = chunk.end

    def _on_done(self, content: Mapping[str, Any]) -> None:
        take = self._take
        if not take.started:
            take.begin({"target_rate": self.target_rate, "context_rate": self.context_rate,
                        "track_settings": dict(self.track_settings), "label": ""})
        frames = content.get("frames")
        if frames is not None and frames != take.source.frames:
            log.warning("recorder: the browser sent %s frames but %d arrived", frames, take.source.frames)
        take.source.close()
        with self._lock:
            self._last_done = take
        log.info("recorder: recorded %.2f s (%s)", take.source.duration, content.get("reason", "stop"))

    def _on_error(self, content: Mapping[str, Any]) -> None:
        err = microphone_error(str(content.get("name") or "Error"), str(content.get("message") or ""))
        take = self._take
        if take.ended:  # an error before anything started (e.g. a second click after a failure)
            with self._lock:
                self._take = take = _Take()
        take.source.close(err)
        log.warning("recorder: %s", err)

    # -- public API --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start recording, as the Record button does.

        The browser may refuse to start audio without a click on the page; pressing the button always works.
        """
        self.send({"type": "start"})

    def stop(self) -> None:
        """Stop recording, as the Stop button does; the last chunk and ``done`` follow."""
        self.send({"type": "stop"})

    @property
    def recording(self) -> bool:
        """Whether a take has started and not ended yet (as far as the kernel has heard)."""
        take = self._take
        return take.started and not take.ended

    @property
    def clip(self) -> Clip:
        """The finished recording: mono float32 at ``target_rate``, provenance source ``microphone``.

        Raises:
            MicrophoneError: The latest attempt failed (a subclass names the fix).
            RecorderNotFinishedError: Nothing has been recorded yet, or recording is still going on.
        """
        take = self._take
        if take.error is not None:
            raise take.error
        if take.finished:
            return _clip_of(take)
        if take.started:
            raise RecorderNotFinishedError(
                f"still recording ({take.source.duration:.1f} s so far): press Stop in the "
                "widget, call rec.stop(), or wait with rec.wait()")
        done = self._last_done
        if done is not None:
            return _clip_of(done)
        raise RecorderNotFinishedError(
            "nothing recorded yet: display the widget and press Record (or call rec.start()), then rec.wait()")

    def wait(self, timeout: float | None = None) -> Clip:
        """Block until the current (or next) recording finishes and return its `Clip`.

        For scripts and threads. Inside a notebook cell it cannot wait (the kernel receives the browser's
        messages only between cells), so there it returns a finished recording or raises at once.

        Args:
            timeout: Seconds to wait; ``None`` waits as long as it takes.

        Returns:
            The recorded Clip.

        Raises:
            MicrophoneError: The browser could not record (a subclass names the fix).
            TimeoutError: Nothing finished within ``timeout`` seconds.
            RecorderNotFinishedError: Called in a notebook cell before the recording finished.
        """
        take = self._take
        if not take.ended and _in_kernel_cell():
            raise RecorderNotFinishedError(_BLOCKING_IN_CELL.format(what="rec.wait()"))
        if not take.source.wait_closed(timeout):
            state = f"recording, {take.source.duration:.1f} s so far" if take.started else "not started: press Record"
            raise TimeoutError(f"the recording did not finish within {timeout} s ({state})")
        return self.clip

    @property
    def source(self) -> LiveAudioSource:
        """The live audio of the current (or next) recording: what `chunks` reads; it keeps the whole take."""
        with self._lock:
            return self._take.source

    def chunks(self, *, timeout: float | None = None) -> LiveAudioReader:
        """The chunks of the current (or next) recording, as they arrive.

        Each is a `Chunk` of ``linear16`` (int16 little-endian) mono audio at ``target_rate``, with its
        audio-time span. Chunks already received are yielded first, so nothing is missed. Safe to use from
        any thread; works with ``for`` (blocking) and ``async for``. In a notebook cell, ``for`` cannot wait
        for chunks still to come (see `wait`); `stream_to` and ``async for`` on another event loop can.

        Args:
            timeout: Seconds to wait for each next chunk; ``None`` waits as long as it takes.

        Returns:
            An iterator (and async iterator) that ends when the recording is done.

        Raises:
            MicrophoneError: While iterating, when the browser could not record.
            LiveSourceTimeoutError: While iterating, when no chunk came within ``timeout`` (a `TimeoutError`).
            RecorderNotFinishedError: A ``for`` loop in a notebook cell reached audio still to come.
        """
        return self.source.chunks(timeout=timeout)

    def stream_to(
        self,
        *,
        provider: str = "pulse",
        url: str | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> Stream:
        """Stream the current (or next) recording live with `voicelab.stream`, paced by the microphone.

        Args:
            provider: A registered provider (``pulse``, ``assemblyai-agent`` …).
            url: The API's URL (``server.url`` for the local emulator); ``None`` uses the vendor's host.
            api_key: The key; see `voicelab.stream`.
            **kwargs: More `voicelab.stream` arguments (``params``, ``record``, ``on_event`` …). Where the
                provider reads the audio format from ``params`` (Pulse), it is declared as linear16 at
                ``target_rate`` unless given.

        Returns:
            The running Stream; it ends when the recording is done and the last final has arrived.

        Raises:
            StreamSetupError: The arguments are inconsistent, e.g. the AssemblyAI agent needs
                ``target_rate=24000``.
        """
        from voicelab.client.front import StreamSetupError, stream

        if "speed" in kwargs:
            raise StreamSetupError("stream_to() is paced by the microphone's clock; do not pass speed=")
        from voicelab.providers import DriverOptions, ProviderError, get_provider

        try:
            spec = get_provider(provider)
        except ProviderError as exc:
            raise StreamSetupError(str(exc)) from None
        params = spec.declare_audio(dict(kwargs.pop("params", None) or {}), samplerate=self.target_rate,
                                    encoding="linear16")
        driver = spec.make_driver(DriverOptions(params=params))
        if (driver.samplerate, driver.encoding) != (self.target_rate, "linear16"):
            rates = ", ".join(map(str, spec.target.rates_for("linear16")))
            raise StreamSetupError(
                f"{spec.title} expects {driver.encoding} at {driver.samplerate} Hz here, but this Recorder sends "
                f"linear16 at {self.target_rate} Hz; use Recorder(target_rate=...) with one of {rates} Hz, "
                "or leave the audio format out of params")
        kwargs["params"] = params
        return stream(self.chunks(), provider=provider, url=url, api_key=api_key, speed=None,  # type: ignore[arg-type]
                      **kwargs)

    def __repr__(self) -> str:
        ec = "on" if self.echo_cancellation else "off"
        limit = f", max {self.max_seconds:g} s" if self.max_seconds else ""
        text = (f"<Recorder {self.state}: int16 mono @ {self.target_rate} Hz, {self.chunk_seconds:g} s chunks, "
                f"echo cancellation {ec}{limit}")
        if self.context_rate:
            text += f", AudioContext {self.context_rate} Hz"
        if self.duration:
            text += f", {self.duration:.2f} s recorded"
        return text + ">"


def _clip_of(take: _Take) -> Clip:
    rate = take.source.samplerate or int(take.info.get("target_rate") or 16000)
    ctx = int(take.info.get("context_rate") or 0)
    settings = take.info.get("track_settings") or {}
    flags = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    prov = Provenance(
        source="microphone",
        name=take.info.get("label") or "browser microphone",
        container="RAW",
        subtype="linear16",
        dtype="int16",
        byteorder="little",
        samplerate=ctx or rate,
        channels=1,
        history=(f"browser AudioContext {ctx} Hz, track {{{flags}}}, resampled to {rate} Hz in the AudioWorklet",),
    )
    if take.source.samplerate is None:  # stopped before the first chunk
        return Clip(np.zeros(0, dtype=PCM_DTYPE), samplerate=rate, provenance=prov)
    return take.source.clip(provenance=prov)


def _check_options(*, target_rate: int, chunk_seconds: float, max_seconds: float | None) -> None:
    from voicelab.errors import AudioFormatError

    if isinstance(target_rate, bool) or not isinstance(target_rate, int) or not 3000 <= target_rate <= 384000:
        raise AudioFormatError(f"target_rate must be a whole number of Hz between 3000 and 384000, got {target_rate!r}")
    if not isinstance(chunk_seconds, (int, float)) or not 0.005 <= chunk_seconds <= 10:
        raise AudioFormatError(f"chunk_seconds must be between 0.005 and 10 seconds, got {chunk_seconds!r}")
    if max_seconds is not None and (not isinstance(max_seconds, (int, float)) or not max_seconds > 0):
        raise AudioFormatError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")
