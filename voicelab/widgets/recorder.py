"""`Recorder`: record the browser's microphone from a notebook and stream it while it records.

The browser captures the microphone with ``getUserMedia``, resamples it to ``target_rate`` inside an
AudioWorklet (so the rate the browser picked for its AudioContext, 44.1 or 48 kHz, or whatever Safari
decided, never matters) and sends int16 little-endian mono PCM to the kernel in chunks of
``chunk_seconds``, as binary buffers of custom widget messages. The kernel side collects them into a
`Clip` (`Recorder.clip`) and hands them out live as `Chunk` objects (`Recorder.chunks`), so a recording can
be streamed to an API while it is being made (`Recorder.stream_to`).

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

import asyncio
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from voicelab.audio.chunking import Chunk
from voicelab.audio.clip import Clip, Provenance
from voicelab.errors import VoicelabError
from voicelab.widgets._base import VoicelabWidget

if TYPE_CHECKING:
    from voicelab.client.session import Session

__all__ = [
    "InsecureContextError",
    "MicrophoneError",
    "MicrophonePermissionError",
    "NoMicrophoneError",
    "Recorder",
    "RecordingNotFinishedError",
]

log = logging.getLogger("voicelab.widgets.recorder")

_HERE = Path(__file__).parent

#: The dtype of the PCM the browser sends: int16, little-endian, mono.
PCM_DTYPE = np.dtype("<i2")


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


class RecordingNotFinishedError(VoicelabError, RuntimeError):
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


# -- one recording -----------------------------------------------------------------------------------------
class _Take:
    """The chunks of one recording, shared by the comm handler (producer) and any number of readers."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.chunks: list[Chunk] = []
        self.started = False
        self.finished = False
        self.error: MicrophoneError | None = None
        self.info: dict[str, Any] = {}
        self.frames = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def _notify(self) -> None:  # with self.cond held
        self.cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_resolve, fut)

    def begin(self, info: Mapping[str, Any]) -> None:
        with self.cond:
            self.started = True
            self.info = dict(info)
            self._notify()

    def add(self, data: bytes, *, rate: int) -> Chunk:
        with self.cond:
            frames = len(data) // PCM_DTYPE.itemsize
            c = Chunk(len(self.chunks), data, "linear16", rate, 1, self.frames / rate, (self.frames + frames) / rate)
            self.chunks.append(c)
            self.frames += frames
            self._notify()
            return c

    def finish(self, error: MicrophoneError | None = None) -> None:
        with self.cond:
            self.finished = True
            self.error = error
            self._notify()

    @property
    def ended(self) -> bool:
        return self.finished or self.error is not None

    def async_waiter(self) -> asyncio.Future[None]:  # with self.cond held
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append((loop, fut))
        return fut


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _ChunkStream(Iterator[Chunk], AsyncIterator[Chunk]):
    """Chunks of one take as they arrive: iterate with ``for`` (blocking) or ``async for``."""

    def __init__(self, take: _Take, *, timeout: float | None) -> None:
        self._take = take
        self._next = 0
        self._timeout = timeout

    def __iter__(self) -> _ChunkStream:
        return self

    def __next__(self) -> Chunk:
        take = self._take
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        with take.cond:
            while True:
                item = self._ready()
                if item is not None:
                    return item
                if _in_kernel_cell():
                    raise RecordingNotFinishedError(_BLOCKING_IN_CELL.format(what="Iterating rec.chunks()"))
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no microphone audio for {self._timeout} s; is the Recorder recording?")
                take.cond.wait(0.1 if remaining is None else min(0.1, remaining))

    def __aiter__(self) -> _ChunkStream:
        return self

    async def __anext__(self) -> Chunk:
        take = self._take
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            with take.cond:
                try:
                    item = self._ready()
                except StopIteration:
                    raise StopAsyncIteration from None
                if item is not None:
                    return item
                fut = take.async_waiter()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"no microphone audio for {self._timeout} s; is the Recorder recording?")
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                continue

    def _ready(self) -> Chunk | None:  # with the take's lock held
        take = self._take
        if self._next < len(take.chunks):
            self._next += 1
            return take.chunks[self._next - 1]
        if take.error is not None:
            raise take.error
        if take.finished:
            raise StopIteration
        return None


# -- the widget --------------------------------------------------------------------------------------------
_CSS = """
.vl-rec { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px; line-height: 1.4;
  color: var(--jp-ui-font-color1, #1f2328); background: var(--jp-layout-color1, #fff);
  border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 8px; padding: 12px 16px 14px;
  max-width: 720px; box-sizing: border-box; }
.vl-rec-head { display: flex; align-items: center; justify-content: space-between; margin-bottom: 12px; }
.vl-rec-title { font-weight: 600; font-size: 14px; }
.vl-rec-state { font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  padding: 2px 9px; border-radius: 999px; background: #eaeef2; color: #57606a; }
.vl-rec-state[data-state="recording"] { background: #ffebe9; color: #cf222e; }
.vl-rec-state[data-state="requesting"], .vl-rec-state[data-state="stopping"] { background: #fff8c5; color: #7d4e00; }
.vl-rec-state[data-state="done"] { background: #dafbe1; color: #1a7f37; }
.vl-rec-state[data-state="error"] { background: #cf222e; color: #fff; }
.vl-rec-main { display: flex; align-items: center; gap: 16px; }
.vl-rec-button { display: inline-flex; align-items: center; gap: 8px; min-width: 136px; justify-content: center;
  padding: 7px 14px; border-radius: 6px; border: 1px solid #d0d7de; background: #fff; color: #1f2328;
  font: inherit; font-weight: 600; cursor: pointer; box-shadow: 0 1px 0 rgba(31, 35, 40, .04); }
.vl-rec-button:hover:not(:disabled) { background: #f3f4f6; }
.vl-rec-button:focus-visible { outline: 2px solid #0969da; outline-offset: 2px; }
.vl-rec-button:disabled { opacity: .6; cursor: default; }
.vl-rec-icon { width: 11px; height: 11px; border-radius: 50%; background: #cf222e; flex: none; }
.vl-rec[data-state="recording"] .vl-rec-button { background: #cf222e; border-color: #a40e26; color: #fff; }
.vl-rec[data-state="recording"] .vl-rec-button:hover { background: #a40e26; }
.vl-rec[data-state="recording"] .vl-rec-icon { border-radius: 2px; background: #fff;
  animation: vl-rec-pulse 1.2s ease-in-out infinite; }
@keyframes vl-rec-pulse { 50% { opacity: .45; } }
.vl-rec-meter { flex: 1; min-width: 160px; padding-top: 14px; }
.vl-rec-meter-bar { position: relative; height: 10px; border-radius: 5px; overflow: hidden;
  background: #eaeef2; box-shadow: inset 0 0 0 1px rgba(31, 35, 40, .06); }
.vl-rec-meter-fill { position: absolute; left: 0; top: 0; bottom: 0; width: 0; background: #2da44e;
  transition: width 60ms linear; }
.vl-rec-meter-fill[data-zone="hot"] { background: #bf8700; }
.vl-rec-meter-fill[data-zone="clip"] { background: #cf222e; }
.vl-rec-meter-peak { position: absolute; top: 0; bottom: 0; width: 2px; left: 0; opacity: 0; background: #57606a; }
.vl-rec-meter-scale { position: relative; height: 14px; margin-top: 2px; font-size: 10px;
  color: var(--jp-ui-font-color2, #6e7781); font-variant-numeric: tabular-nums; }
.vl-rec-meter-scale span { position: absolute; transform: translateX(-50%); }
.vl-rec-meter-scale span:first-child { transform: none; }
.vl-rec-meter-scale span:last-child { transform: translateX(-100%); }
.vl-rec-readout { display: flex; flex-direction: column; align-items: flex-end; min-width: 104px;
  font-variant-numeric: tabular-nums; }
.vl-rec-time { font-size: 18px; font-weight: 600; }
.vl-rec-db { font-size: 11px; color: var(--jp-ui-font-color2, #6e7781); white-space: nowrap; }
.vl-rec-db[data-zone="clip"] { color: #cf222e; font-weight: 600; }
.vl-rec .vl-rec-facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 14px 0 0;
  padding: 12px 0 0; border: 0; border-top: 1px solid #d8dee4; }
.vl-rec .vl-rec-facts dt { color: var(--jp-ui-font-color2, #6e7781); margin: 0; padding: 0; font-weight: 400;
  white-space: nowrap; }
.vl-rec .vl-rec-facts dd { margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 2px 8px; align-items: baseline;
  font-variant-numeric: tabular-nums; }
.vl-rec-chip { font-size: 11px; line-height: 16px; padding: 1px 7px; border-radius: 4px; border: 1px solid #d0d7de;
  background: #f6f8fa; color: #57606a; font-family: var(--jp-code-font-family, monospace); }
.vl-rec-chip[data-on="true"] { border-color: #4ac26b; background: #dafbe1; color: #116329; }
.vl-rec-muted { color: var(--jp-ui-font-color2, #6e7781); }
.vl-rec-stats:empty, .vl-rec-muted:empty { display: none; }
.vl-rec-line { flex-basis: 100%; }
.vl-rec-stats { font-size: 11px; color: var(--jp-ui-font-color2, #6e7781); white-space: nowrap; }
.vl-rec-error { margin-top: 12px; padding: 10px 12px; border-radius: 6px; border: 1px solid #ff8182;
  background: #ffebe9; color: #82071e; }
.vl-rec-error[hidden] { display: none; }
.vl-rec-error-title { font-weight: 600; margin-bottom: 4px; }
.vl-rec-error-fix { color: #1f2328; }
.vl-rec-error-raw { display: block; margin-top: 6px; font-size: 11px; color: #6e7781; white-space: pre-wrap;
  font-family: var(--jp-code-font-family, monospace); }
"""


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

    _esm = _HERE / "recorder.js"
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    _uid = traitlets.Unicode(help="Identifies the model to the ESM across anywidget's per-view proxies.").tag(sync=True)
    _worklet = traitlets.Unicode((_HERE / "recorder_worklet.js").read_text(encoding="utf-8")).tag(sync=True)

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
        if not take.started:
            take.begin({"target_rate": self.target_rate, "context_rate": self.context_rate,
                        "track_settings": dict(self.track_settings), "label": ""})
        data = b"".join(buffers)
        if len(data) % PCM_DTYPE.itemsize:
            log.warning("recorder: chunk %s has an odd byte count (%d); dropping the last byte",
                        content.get("seq"), len(data))
            data = data[: len(data) - 1]
        expected = content.get("seq")
        if expected is not None and expected != len(take.chunks):
            log.warning("recorder: chunk %s arrived as number %d; a chunk was lost", expected, len(take.chunks))
        rate = int(take.info.get("target_rate") or self.target_rate)
        chunk = take.add(data, rate=rate)
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
        if frames is not None and frames != take.frames:
            log.warning("recorder: the browser sent %s frames but %d arrived", frames, take.frames)
        take.finish()
        with self._lock:
            self._last_done = take
        log.info("recorder: recorded %.2f s (%s)", take.frames / int(take.info["target_rate"]),
                 content.get("reason", "stop"))

    def _on_error(self, content: Mapping[str, Any]) -> None:
        err = microphone_error(str(content.get("name") or "Error"), str(content.get("message") or ""))
        take = self._take
        if take.ended:  # an error before anything started (e.g. a second click after a failure)
            with self._lock:
                self._take = take = _Take()
        take.finish(err)
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
            RecordingNotFinishedError: Nothing has been recorded yet, or recording is still going on.
        """
        take = self._take
        if take.error is not None:
            raise take.error
        if take.finished:
            return _clip_of(take)
        if take.started:
            raise RecordingNotFinishedError(
                f"still recording ({take.frames / int(take.info['target_rate']):.1f} s so far): press Stop in the "
                "widget, call rec.stop(), or wait with rec.wait()")
        done = self._last_done
        if done is not None:
            return _clip_of(done)
        raise RecordingNotFinishedError(
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
            RecordingNotFinishedError: Called in a notebook cell before the recording finished.
        """
        take = self._take
        if not take.ended and _in_kernel_cell():
            raise RecordingNotFinishedError(_BLOCKING_IN_CELL.format(what="rec.wait()"))
        deadline = None if timeout is None else time.monotonic() + timeout
        with take.cond:
            while not take.ended:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    state = f"recording, {take.frames / self.target_rate:.1f} s so far" if take.started \
                        else "not started: press Record"
                    raise TimeoutError(f"the recording did not finish within {timeout} s ({state})")
                take.cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return self.clip

    def chunks(self, *, timeout: float | None = None) -> _ChunkStream:
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
        """
        with self._lock:
            take = self._take
        return _ChunkStream(take, timeout=timeout)

    def stream_to(
        self,
        *,
        provider: str = "pulse",
        url: str | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> Session:
        """Stream the current (or next) recording live with `voicelab.stream`, paced by the microphone.

        Args:
            provider: ``pulse`` or ``assemblyai-agent``.
            url: The API's URL (``server.url`` for the local emulator); ``None`` uses the vendor's host.
            api_key: The key; see `voicelab.stream`.
            **kwargs: More `voicelab.stream` arguments (``params``, ``session``, ``record``, ``on_event`` …).
                For Pulse, ``params`` get ``sample_rate=target_rate`` and ``encoding='linear16'`` unless given.

        Returns:
            The running Session; it ends when the recording is done and the last final has arrived.

        Raises:
            StreamSetupError: The arguments are inconsistent, e.g. the AssemblyAI agent needs
                ``target_rate=24000``.
        """
        from voicelab.client.session import StreamSetupError, stream

        if "speed" in kwargs:
            raise StreamSetupError("stream_to() is paced by the microphone's clock; do not pass speed=")
        if provider == "pulse":
            params = {"sample_rate": self.target_rate, "encoding": "linear16", **dict(kwargs.pop("params", None) or {})}
            if params["sample_rate"] != self.target_rate or params["encoding"] != "linear16":
                raise StreamSetupError(
                    f"the Recorder sends linear16 at {self.target_rate} Hz but params ask for "
                    f"{params['encoding']} at {params['sample_rate']} Hz; set Recorder(target_rate=...) instead")
            kwargs["params"] = params
        elif provider == "assemblyai-agent" and self.target_rate != 24000:
            raise StreamSetupError(
                f"the Voice Agent API expects PCM16 at 24000 Hz but this Recorder sends {self.target_rate} Hz; "
                "use Recorder(target_rate=24000)")
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
    rate = int(take.info.get("target_rate") or 16000)
    with take.cond:
        data = b"".join(c.data for c in take.chunks)
    samples = np.frombuffer(data, dtype=PCM_DTYPE)
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
    return Clip(samples, samplerate=rate, provenance=prov)


def _check_options(*, target_rate: int, chunk_seconds: float, max_seconds: float | None) -> None:
    from voicelab.errors import AudioFormatError

    if isinstance(target_rate, bool) or not isinstance(target_rate, int) or not 3000 <= target_rate <= 384000:
        raise AudioFormatError(f"target_rate must be a whole number of Hz between 3000 and 384000, got {target_rate!r}")
    if not isinstance(chunk_seconds, (int, float)) or not 0.005 <= chunk_seconds <= 10:
        raise AudioFormatError(f"chunk_seconds must be between 0.005 and 10 seconds, got {chunk_seconds!r}")
    if max_seconds is not None and (not isinstance(max_seconds, (int, float)) or not max_seconds > 0):
        raise AudioFormatError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")
