"""`Findings`: what `voicelab.diagnose` finds in a session, live while it runs, then the final diagnosis."""

from __future__ import annotations

import bisect
import json
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import traitlets as t

from voicelab.recording.log import Recording
from voicelab.widgets._base import ASSETS, log
from voicelab.widgets._live import SessionWidget

if TYPE_CHECKING:
    from voicelab.diagnosis.recorded import Diagnosis
    from voicelab.widgets.timeline import Timeline

__all__ = ["Findings", "audio_sent_at", "finding_rows"]

#: Live runs take at most this share of one core: after a run of c seconds the next waits at least c / share.
MAX_CPU_SHARE = 0.2


def audio_sent_at(rec: Recording, times: Iterable[float | None]) -> list[float | None]:
    """Seconds of audio sent by each time on the Recording clock (the Timeline's x position of that time).

    Args:
        rec: The Recording.
        times: Seconds on its clock; ``None`` (no time) stays ``None``.

    Returns:
        One value per time: the largest ``audio_end`` among the chunks sent at or before it (0.0 before the first).
    """
    ts: list[float] = []
    ends: list[float] = []
    top = 0.0
    for c in rec.of("chunk"):
        top = max(top, float(c["audio_end"]))
        ts.append(c.t)
        ends.append(top)
    out: list[float | None] = []
    for x in times:
        if x is None:
            out.append(None)
            continue
        i = bisect.bisect_right(ts, x)
        out.append(round(ends[i - 1], 4) if i else 0.0)
    return out


def finding_rows(diagnosis: Diagnosis | Iterable[Any], rec: Recording | None = None) -> list[dict[str, Any]]:
    """JSON-ready rows of findings: ``code``, ``severity``, ``message``, ``symptom``, ``fix``, ``t``, ``a``.

    ``t`` is the finding's time on the Recording clock (``evidence["t"]``, or ``None``); ``a`` the audio seconds
    sent by then (the Timeline's x axis), when ``rec`` is given.
    """
    rows: list[dict[str, Any]] = []
    times: list[float | None] = []
    for f in diagnosis:
        x = f.evidence.get("t")
        times.append(round(float(x), 4) if isinstance(x, (int, float)) and math.isfinite(x) else None)
        rows.append({"code": f.code, "severity": f.severity, "message": f.message, "symptom": f.symptom_text,
                     "fix": f.fix, "t": times[-1]})
    audio = audio_sent_at(rec, times) if rec is not None else [None] * len(rows)
    for r, a in zip(rows, audio, strict=True):
        r["a"] = a
    return rows


class Findings(SessionWidget):
    """The findings of `voicelab.diagnose` for a session: severity, code, message, fix and time, live.

    While a Stream runs, `diagnose` is re-run on its Recording so far, at most ``max_rate`` times a second, only
    when new entries arrived, and never taking more than `MAX_CPU_SHARE` of a core (about 200 ms per run on a
    60 s session with the audio checks, 10-16 ms without, on a 2-core machine). The rows are replaced each
    time (a finding can appear, change or go away as the session goes on: ``no_transcripts`` early in a
    session may just be latency), and the last run, when the Stream ends, is the final diagnosis. A Recording
    (or a finished Stream) is diagnosed once.

    The view's state is the ``findings`` and ``summary`` traits, replaced as a whole on each run (no append
    protocol: the list is small and not append-only). Being synced traits, they are saved with the notebook's
    widget state, so a saved notebook shows the last diagnosis without a kernel. The static twin is the
    diagnosis' own HTML (``vl.diagnose(x)`` in a cell; `diagnosis`).

    Click a finding's time to select it (``selected``); with ``timeline=`` the Timeline marks every finding
    at its time and zooms to the one selected.

    Args:
        source: A `voicelab.client.Stream` (live), a `voicelab.Recording`, or a tap (its latest session).
        live: Follow a running Stream on a background thread.
        max_rate: Most diagnoses per second.
        audio: Check the audio sent (``diagnose(..., audio=...)``); ``False`` is cheaper.
        timeline: A `Timeline` of the same session whose ``findings`` markers this view keeps up to date.
        height: Height of the rows' scroll area, pixels.

    Attributes:
        findings: One dict per finding, most severe first: ``code``, ``severity``, ``message``, ``symptom``,
            ``fix``, ``t`` (seconds on the Recording clock, or ``None``), ``a`` (audio seconds sent by ``t``).
        summary: ``ok``, counts per severity, ``entries`` diagnosed, ``t`` (last entry time), ``runs``,
            ``cost_ms`` (the last run's wall time) and ``done`` (the final diagnosis).
        selected: The code of the finding clicked (``""`` for none).
    """

    _esm = ASSETS / "findings.js"
    _css = ASSETS / "findings.css"

    findings = t.List(t.Dict(), help="The findings of the last run (see the class docstring).").tag(sync=True)
    summary = t.Dict(help="ok, counts, entries, t, runs, cost_ms, done of the last run.").tag(sync=True)
    selected = t.Unicode("", help="Code of the finding whose time was clicked.").tag(sync=True)

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 1.0, audio: bool = True,
                 timeline: Timeline | None = None, height: int = 320) -> None:
        self._check_audio = audio
        self._timeline = timeline
        self._seen = -1
        self._runs = 0
        self._next_run = 0.0
        self._diagnosis: Diagnosis | None = None
        self.cost_seconds: list[float] = []
        super().__init__(source, live=live, max_rate=max_rate, height=height)
        self.observe(self._on_selected, names="selected")

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The last `voicelab.diagnosis.Diagnosis` (HTML in a notebook: the static twin)."""
        return self._diagnosis

    # SessionWidget's SessionLog is not needed: this view reads the Recording through diagnose.
    def _ingest(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [], []

    def _run(self, done: bool) -> int:
        """Diagnose the Recording so far and publish the rows; returns the size of the rows in bytes."""
        from voicelab.diagnosis.recorded import diagnose

        n = len(self._rec)
        start = time.perf_counter()
        d = diagnose(self._rec, audio=self._check_audio)
        cost = time.perf_counter() - start
        self._seen = n
        self._runs += 1
        self._diagnosis = d
        self.cost_seconds.append(cost)
        self._next_run = time.monotonic() + cost / MAX_CPU_SHARE
        rows = finding_rows(d, self._rec)
        counts = d.by_severity()
        summary = {"ok": d.ok, "error": counts.get("error", 0), "warning": counts.get("warning", 0),
                   "info": counts.get("info", 0), "entries": n, "t": round(d.duration, 3), "runs": self._runs,
                   "cost_ms": round(cost * 1000, 1), "done": done}
        with self.hold_sync():
            self.findings = rows
            self.summary = summary
        if self._timeline is not None:
            self._timeline.mark(rows)
        log.debug("Findings: diagnosed %d entries in %.1f ms: %s", n, cost * 1000, d.codes)
        return len(json.dumps(rows, separators=(",", ":")))

    def flush(self) -> int:
        """Re-run the diagnosis if entries arrived since the last run (or the Stream just ended).

        Called by the live thread at most ``max_rate`` times a second (and, following a Stream, no sooner than
        `MAX_CPU_SHARE` allows after the last run); call it yourself to follow a Recording being written.
        Returns the size of the rows in bytes, 0 when nothing was new.
        """
        with self._lock:
            done = self._done()
            final = done and self.status != "done"
            if len(self._rec) == self._seen and not final:
                return 0
            if self._session is not None and not final and time.monotonic() < self._next_run:
                return 0  # live, after a costly run: wait (the live thread comes back)
            size = self._run(done) if len(self._rec) != self._seen else 0
            if final:
                with self.hold_sync():
                    self.summary = {**self.summary, "done": True}
                    self.status = "done"
            return size

    def store_snapshot(self) -> int:
        """Bring ``findings`` and ``summary`` up to the whole Recording so far (they are the synced snapshot).

        Done for you when the widget is created and when the Stream ends. Returns the size of the rows in bytes.
        """
        with self._lock:
            if len(self._rec) != self._seen:
                self._run(self._done() and self.status == "done")
            size = len(json.dumps(self.findings, separators=(",", ":")))
            self.snapshot_bytes += size
            return size

    def snapshot(self) -> dict[str, Any]:
        """The ``snapshot`` message: the rows and the summary."""
        with self._lock:
            return {"type": "snapshot", "findings": list(self.findings), "summary": dict(self.summary)}

    def _on_selected(self, change: dict[str, Any]) -> None:
        if self._timeline is None or not change["new"]:
            return
        row = next((r for r in self.findings if r["code"] == change["new"]), None)
        if row is not None and row.get("a") is not None:
            a = float(row["a"])
            self._timeline.view_range = (max(0.0, a - 2.0), a + 2.0)
