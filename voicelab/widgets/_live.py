"""The base of the session views: observe a Session or Recording and send only what is new.

Update protocol (JSON custom messages, Python → JS unless noted):

* JS → Python ``{"type": "snapshot?"}`` when a view renders (or detects a missed revision).
* ``{"type": "snapshot", "rev": r, "items": [...], "points": [...], "state": {...}}`` — everything so far.
* ``{"type": "append", "rev": r, "items": [...new], "points": [...new], "state": {...}}`` — only what
  arrived since revision ``r - 1``, at most ``max_rate`` times a second. A view that sees a revision
  other than its last + 1 asks for a snapshot.

``state`` is constant-size: ``t`` (last entry time, s), ``audio`` (audio seconds sent), ``done``,
``n_items``, ``n_points``; the LatencyChart adds ``stats`` (P50/P95/P99/n and the definition of each figure).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import traitlets as t

from voicelab.plot.model import SessionLog
from voicelab.session.recording import Recording
from voicelab.widgets._base import LivePump, ViewError, VoicelabWidget, log

__all__ = ["SessionWidget", "resolve_source"]


def resolve_source(source: Any, *, what: str) -> tuple[Recording, Any]:
    """``(recording, session or None)`` from a Session or a Recording; `ViewError` otherwise."""
    if isinstance(source, Recording):
        return source, None
    rec = getattr(source, "recording", None)
    if isinstance(rec, Recording) and callable(getattr(source, "on", None)):
        return rec, source
    raise ViewError(
        f"{what} needs a voicelab Session or Recording, got {type(source).__name__}; pass the result of "
        "vl.stream(...) or vl.replay(...), or session.recording, or Recording.load(path)")


class SessionWidget(VoicelabWidget):
    """Shared machinery of `Timeline` and `LatencyChart` (see the module docstring for the protocol)."""

    provider = t.Unicode("").tag(sync=True)
    status = t.Unicode("live", help="'live' while the Session runs, then 'done'.").tag(sync=True)
    height = t.Int(260).tag(sync=True)
    width = t.Int(800).tag(sync=True)
    max_rate = t.Float(20.0, help="Most updates per second.")

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 260) -> None:
        rec, session = resolve_source(source, what=type(self).__name__)
        super().__init__(provider=rec.provider, max_rate=max_rate, height=height)
        self._rec = rec
        self._session = session
        self._lock = threading.RLock()
        self._pos = 0
        self._rev = 0
        self._log = SessionLog(provider=rec.provider)
        self.bytes_sent = 0
        self.updates_sent = 0
        self._pump: LivePump | None = None
        self._ingest()
        if session is not None and not session.done:
            if live:
                self._pump = LivePump(self.flush, is_done=lambda: bool(session.done), max_rate=max_rate,
                                      name=f"voicelab-{type(self).__name__}").start()
                session.on(lambda _t, _ev: self._pump.wake() if self._pump else None, replay=False)
        else:
            self.status = "done"

    # -- data ----------------------------------------------------------------------------
    @property
    def recording(self) -> Recording:
        """The Recording observed."""
        return self._rec

    @property
    def log(self) -> SessionLog:
        """Everything ingested so far."""
        return self._log

    def _done(self) -> bool:
        return self._session is None or bool(self._session.done)

    def _ingest(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        n = len(self._rec)
        if n <= self._pos:
            return [], []
        new = self._rec.entries[self._pos:n]
        self._pos = n
        return self._log.feed(new)

    def _state(self, done: bool) -> dict[str, Any]:
        return {"t": round(self._log.last_t, 4), "audio": round(self._log.cursor.sent, 4), "done": done,
                "n_items": len(self._log.items), "n_points": len(self._log.latency)}

    def _select(self, items: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
        """What this view sends of the new items and points (override to trim)."""
        return {"items": items, "points": points}

    # -- protocol --------------------------------------------------------------------------
    def flush(self) -> int:
        """Send what arrived since the last update (one ``append`` message); returns its size in bytes.

        Called by the live thread; call it yourself to follow a Recording that is being written.
        Sends nothing (returns 0) when no item, point or audio arrived.
        """
        with self._lock:
            done = self._done()
            audio = self._log.cursor.sent
            items, points = self._ingest()
            moved = self._log.cursor.sent != audio
            if not items and not points and not moved and not (done and self.status != "done"):
                return 0
            self._rev += 1
            msg = {"type": "append", "rev": self._rev, **self._select(items, points), "state": self._state(done)}
            size = self._emit(msg)
            if done and self.status != "done":
                self.status = "done"
            return size

    def snapshot(self) -> dict[str, Any]:
        """The ``snapshot`` message: everything so far."""
        with self._lock:
            self._ingest()
            return {"type": "snapshot", "rev": self._rev, **self._select(self._log.items, self._log.latency),
                    "state": self._state(self._done())}

    def _emit(self, msg: dict[str, Any]) -> int:
        size = len(json.dumps(msg, separators=(",", ":")))
        self.bytes_sent += size
        self.updates_sent += 1
        self.send(msg)
        return size

    def _handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if content.get("type") == "snapshot?":
            with self._lock:
                self._emit(self.snapshot())
            log.debug("%s sent a snapshot at rev %d", type(self).__name__, self._rev)

    def stop(self) -> None:
        """Stop following the Session (the view keeps what it has)."""
        if self._pump is not None:
            self._pump.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the live thread has sent its last update (for scripts and tests)."""
        if self._pump is not None:
            self._pump.join(timeout)
