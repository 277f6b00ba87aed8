"""The base of the session views: observe a Stream or Recording and send only what is new.

Update protocol (JSON custom messages, Python → JS unless noted):

* The ``snapshot_data`` trait ``{"rev": r, "items": [...], "points": [...], "state": {...}}`` holds
  everything up to revision ``r``. It is set when the widget is created, when the Stream ends (and by
  `SessionWidget.stop` / `SessionWidget.store_snapshot`), so it arrives with the model: a view renders
  from it without asking the kernel (which may be busy in ``session.wait()``), and a notebook saved with
  its widget state shows the finished session with no kernel at all.
* ``{"type": "append", "rev": r, "items": [...new], "points": [...new], "state": {...}}`` — only what
  arrived since revision ``r - 1``, at most ``max_rate`` times a second. The frontend keeps one store per
  model (fed from ``initialize``, so appends count even before a view renders); every view draws from it.
* JS → Python ``{"type": "snapshot?"}`` only when the store sees a revision other than its last + 1 (a
  missed append); the answer is ``{"type": "snapshot", ...}`` with the same fields as the trait.

``state`` is constant-size: ``t`` (last entry time, s), ``audio`` (audio seconds sent), ``done``,
``n_items``, ``n_points``; the LatencyChart adds ``stats`` (P50/P95/P99/n and the definition of each figure).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import traitlets as t

from voicelab.plot.model import SessionLog
from voicelab.recording.log import Recording
from voicelab.widgets._base import LivePump, ViewError, ViewWidget, log

__all__ = ["SessionWidget", "resolve_source"]


def resolve_source(source: Any, *, what: str) -> tuple[Recording, Any]:
    """``(recording, session or None)`` from a Stream or a Recording; `ViewError` otherwise."""
    if isinstance(source, Recording):
        return source, None
    pick = getattr(source, "live_session", None)
    if callable(pick):  # a source of several sessions (a `voicelab.tap` Tap) is viewed through its latest one
        source = pick()
    rec = getattr(source, "recording", None)
    if isinstance(rec, Recording) and callable(getattr(source, "on", None)):
        return rec, source
    raise ViewError(
        f"{what} needs a voicelab Stream or Recording, got {type(source).__name__}; pass the result of "
        "vl.stream(...) or vl.replay(...), or session.recording, or Recording.load(path)")


class SessionWidget(ViewWidget):
    """Shared machinery of `Timeline` and `LatencyChart` (see the module docstring for the protocol)."""

    provider = t.Unicode("").tag(sync=True)
    status = t.Unicode("live", help="'live' while the Stream runs, then 'done'.").tag(sync=True)
    snapshot_data = t.Dict(help="Everything up to revision 'rev' ({rev, items, points, state}): set on creation "
                                "and when the Stream ends; live updates go as 'append' messages.").tag(sync=True)
    _uid = t.Unicode(help="Identifies the model to the ESM across anywidget's per-view proxies.").tag(sync=True)
    height = t.Int(260).tag(sync=True)
    width = t.Int(800).tag(sync=True)
    max_rate = t.Float(20.0, help="Most updates per second.")

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 260) -> None:
        rec, session = resolve_source(source, what=type(self).__name__)
        super().__init__(provider=rec.provider, max_rate=max_rate, height=height, _uid=uuid.uuid4().hex)
        self._rec = rec
        self._session = session
        self._lock = threading.RLock()
        self._pos = 0
        self._rev = 0
        self._log = SessionLog(provider=rec.provider)
        self.bytes_sent = 0
        self.updates_sent = 0
        self.snapshot_bytes = 0
        self._pump: LivePump | None = None
        self._ingest()
        if session is None or session.done:
            self.status = "done"
        self.store_snapshot()
        if session is not None and not session.done and live:
            self._pump = LivePump(self.flush, is_done=lambda: bool(session.done), max_rate=max_rate,
                                  name=f"voicelab-{type(self).__name__}").start()
            session.on(lambda _t, _ev: self._pump.wake() if self._pump else None, replay=False)

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
        if len(self._rec) <= self._pos:
            return [], []
        new = self._rec.entries_since(self._pos)
        self._pos += len(new)
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
                with self.hold_sync():
                    self.status = "done"
                    self.store_snapshot()
            return size

    def snapshot(self) -> dict[str, Any]:
        """The ``snapshot`` message: everything so far."""
        with self._lock:
            self._ingest()
            return {"type": "snapshot", "rev": self._rev, **self._select(self._log.items, self._log.latency),
                    "state": self._state(self._done())}

    def store_snapshot(self) -> int:
        """Put everything sent so far into the ``snapshot_data`` trait; returns its size in bytes.

        Done for you when the widget is created and when the Stream ends, so views render without a
        kernel round trip and a notebook saved with its widget state shows the session. Call it to save
        a view of a Recording you follow with `flush`. It does not read new entries (`flush` does), so
        the trait never runs ahead of the ``append`` messages.
        """
        with self._lock:
            # copies: the log's lists grow, and the trait must stay what revision ``rev`` was
            sel = self._select(list(self._log.items), list(self._log.latency))
            data = {"rev": self._rev, **sel, "state": self._state(self._done() and self.status == "done")}
            self.snapshot_data = data
            size = len(json.dumps(data, separators=(",", ":")))
            self.snapshot_bytes += size
            return size

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
        """Stop following the Stream; the view keeps what it has, which is also stored in ``snapshot_data``."""
        if self._pump is not None:
            self._pump.stop()
            self._pump.join(5.0)
        self.store_snapshot()

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the live thread has sent its last update (for scripts and tests)."""
        if self._pump is not None:
            self._pump.join(timeout)
