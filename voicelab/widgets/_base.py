"""Shared pieces of the voicelab widgets: the error type, asset loading, the widget bases and the live pump.

Kept small and stable on purpose: other widgets (e.g. the Recorder) build on it.

One convention for front-end code: every widget's ``_esm`` and ``_css`` is a `pathlib.Path` to a ``.js`` or
``.css`` file beside its Python module (anywidget reads it; no build step, and no file watcher unless a
developer opts in with anywidget's ``ANYWIDGET_HMR=1``). Code a module needs besides its own file travels
as a synced trait read from a file here too: the views' helpers (``_common.js``, `ViewWidget`) and the
Recorder's AudioWorklet (``recorder_worklet.js``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from voicelab.plot.model import ViewError, check_clip

__all__ = ["ASSETS", "LivePump", "ViewError", "ViewWidget", "VoicelabWidget", "check_clip", "log", "read_asset"]

log = logging.getLogger("voicelab.widgets")

#: The folder of the widgets' ``.js`` and ``.css`` files (beside the Python modules).
ASSETS = Path(__file__).parent


def read_asset(name: str) -> str:
    """The text of a ``.js`` or ``.css`` file beside this module (no build step)."""
    return (ASSETS / name).read_text(encoding="utf-8")


class VoicelabWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Base of the voicelab widgets: custom messages go to `_handle`; errors there are logged, not raised."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_custom)

    def _on_custom(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        try:
            self._handle(content, [bytes(b) for b in buffers or []])
        except Exception:  # a bad frontend message must not break the kernel's comm handling
            log.exception("%s could not handle %r", type(self).__name__, content.get("type"))

    def _handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """Handle one custom message from the frontend (override)."""


class ViewWidget(VoicelabWidget):
    """Base of the four views (Waveform, Spectrogram, Timeline, LatencyChart): their stylesheet and helpers.

    A subclass sets ``_esm`` to the path of its own module. That module imports the helpers shared by
    the views (``_common.js``, sent once per model as the ``_common`` trait) from a blob URL, so each
    view stays one file and the helpers one copy.
    """

    _css = ASSETS / "widgets.css"
    _common = traitlets.Unicode(
        read_asset("_common.js"), help="The views' shared helpers (_common.js), imported by each view's module.",
    ).tag(sync=True)


class LivePump:
    """Calls ``flush`` on a daemon thread when woken, at most ``max_rate`` times a second.

    Wake-ups arriving between two flushes are coalesced into one. The thread also flushes every
    ``idle`` seconds (to follow audio sent without messages) and stops after the flush that sees
    ``is_done()`` true.

    Args:
        flush: What to run; its exceptions are logged.
        is_done: Whether the source has finished.
        max_rate: Most flushes per second.
        idle: Seconds between flushes without wake-ups.
        name: Thread name.
    """

    def __init__(self, flush: Callable[[], Any], *, is_done: Callable[[], bool], max_rate: float = 20.0,
                 idle: float = 0.25, name: str = "voicelab-widget") -> None:
        if max_rate <= 0:
            raise ViewError(f"max_rate must be > 0 updates per second, got {max_rate!r}")
        self._flush = flush
        self._is_done = is_done
        self._interval = 1.0 / max_rate
        self._idle = idle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> LivePump:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Ask for a flush soon (thread-safe, cheap; call it from any thread)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the current flush."""
        self._stop.set()
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    def _run(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self._wake.wait(self._idle)
            wait = last + self._interval - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            self._wake.clear()
            done = self._is_done()
            last = time.monotonic()
            try:
                self._flush()
            except Exception:
                log.exception("live widget update failed")
            if done:
                break
