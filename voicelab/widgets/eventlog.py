"""`EventLog`: every frame of a session both ways on the Recording clock, with the session-state counters."""

from __future__ import annotations

from typing import Any

import traitlets as t

from voicelab.plot.frames import MAX_AUDIO_ROWS, MAX_ROWS, FrameLog
from voicelab.widgets._base import ASSETS
from voicelab.widgets._live import SessionWidget, resolve_source

__all__ = ["EventLog"]


class EventLog(SessionWidget):
    """Every frame both ways — the seeds' "enable verbose logging" and "monitor session state" as one view.

    One row per Recording entry: time (seconds on the Recording clock), direction (→ sent, ← received),
    kind, size in bytes, a one-line summary; click a row for its JSON. Above the rows: chunks sent, audio
    sent, messages sent and received, partials, finals, errors, reconnects and close codes, for the whole
    session. Tick kinds to filter; audio chunks are hidden by default but counted.

    Fills in live while a Stream runs, sending only new rows (see `voicelab.widgets._live`). Bounded
    however long the session: the kernel and the browser keep the last `MAX_ROWS` rows of messages and
    connection events and the last `MAX_AUDIO_ROWS` audio chunks (a row "N older rows" says how many were
    let go; the counters always cover everything), and one update carries at most that many rows.

    Args:
        source: A `voicelab.client.Stream` (live), a `voicelab.Recording`, or anything else
            `voicelab.widgets._live.resolve_source` takes.
        live: Follow a running Stream on a background thread.
        max_rate: Most updates per second.
        height: Height of the rows' scroll area, pixels.
        max_rows: Rows kept of messages and connection events.
        max_audio_rows: Rows kept of audio chunks.

    Attributes:
        hidden_kinds: Kinds not shown (synced with the checkboxes); ``["audio"]`` by default.
    """

    _esm = ASSETS / "eventlog.js"
    _css = ASSETS / "eventlog.css"

    hidden_kinds = t.List(t.Unicode(), default_value=["audio"]).tag(sync=True)

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 320,
                 max_rows: int = MAX_ROWS, max_audio_rows: int = MAX_AUDIO_ROWS) -> None:
        rec, _ = resolve_source(source, what=type(self).__name__)
        self._frames = FrameLog(provider=rec.provider, max_rows=max_rows, max_audio_rows=max_audio_rows)
        self._limits = (max_rows, max_audio_rows)
        super().__init__(source, live=live, max_rate=max_rate, height=height)

    @property
    def frames(self) -> FrameLog:
        """The rows kept and the counters."""
        return self._frames

    @property
    def counters(self) -> dict[str, Any]:
        """Chunks sent, messages received, partials, finals, close codes … for the whole session."""
        return self._frames.state()

    # SessionWidget feeds its SessionLog and sends ``items``; the EventLog's items are its rows.
    def _ingest(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if len(self._rec) <= self._pos:
            return [], []
        new = self._rec.entries_since(self._pos)
        self._pos += len(new)
        return self._bounded(self._frames.feed(new)), []

    def _bounded(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of one update that the browser keeps: at most the limits' worth of each class."""
        rows_max, audio_max = self._limits
        if len(rows) <= min(rows_max, audio_max):
            return rows
        audio = [r for r in rows if r["k"] == "audio"][-audio_max:] if audio_max else []
        other = [r for r in rows if r["k"] != "audio"][-rows_max:] if rows_max else []
        return sorted(audio + other, key=lambda r: r["i"])

    def _state(self, done: bool) -> dict[str, Any]:
        return {**self._frames.state(), "done": done}

    def _select(self, items: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "points": []}

    def snapshot(self) -> dict[str, Any]:
        """The ``snapshot`` message: the rows kept and the counters."""
        with self._lock:
            self._ingest()
            return {"type": "snapshot", "rev": self._rev, "items": self._frames.rows, "points": [],
                    "state": self._state(self._done())}

    def store_snapshot(self) -> int:
        """Put the rows kept and the counters into the ``snapshot_data`` trait; returns its size in bytes."""
        import json

        with self._lock:
            data = {"rev": self._rev, "items": self._frames.rows, "points": [],
                    "state": self._state(self._done() and self.status == "done")}
            self.snapshot_data = data
            size = len(json.dumps(data, separators=(",", ":")))
            self.snapshot_bytes += size
            return size

    def flush(self) -> int:
        """Send the rows that arrived since the last update (one ``append`` message); returns its bytes."""
        with self._lock:
            done = self._done()
            rows, _ = self._ingest()
            if not rows and not (done and self.status != "done"):
                return 0
            self._rev += 1
            size = self._emit({"type": "append", "rev": self._rev, "items": rows, "points": [],
                               "state": self._state(done)})
            if done and self.status != "done":
                with self.hold_sync():
                    self.status = "done"
                    self.store_snapshot()
            return size

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin (`voicelab.plot.event_log`)."""
        from voicelab.plot import event_log

        return event_log(self._rec, hidden_kinds=tuple(self.hidden_kinds), **kwargs)
