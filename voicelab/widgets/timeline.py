"""`Timeline`: partials, finals, word boxes, VAD and connection events of a session against audio time."""

from __future__ import annotations

from typing import Any

import traitlets as t

from voicelab.widgets._base import ASSETS
from voicelab.widgets._live import SessionWidget

__all__ = ["Timeline"]


class Timeline(SessionWidget):
    """A session on audio time: partial revisions, finals with word boxes, VAD and connection events.

    Each partial revision is a faint span from its display to its replacement; finals are solid,
    with word boxes where word times exist; hovering shows the raw message.

    Fills in live while a Stream runs, sending only new items (see `voicelab.widgets._live`).

    Args:
        source: A `voicelab.client.Stream` (live) or a `voicelab.Recording`.
        live: Follow a running Stream on a background thread.
        max_rate: Most updates per second.
        height: Canvas height in pixels.

    Attributes:
        view_range: Visible ``(start, end)`` audio seconds, or ``None`` to follow the data.
        findings: Markers of diagnosis findings (`mark`): ``code``, ``severity``, ``t`` (Recording clock),
            ``a`` (audio seconds sent by then: where the marker is drawn), ``message``.
    """

    _esm = ASSETS / "timeline.js"

    view_range = t.Tuple(t.Float(), t.Float(), default_value=None, allow_none=True).tag(sync=True)
    findings = t.List(t.Dict(), help="Finding markers: code, severity, t, a, message (see mark).").tag(sync=True)

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 240) -> None:
        super().__init__(source, live=live, max_rate=max_rate, height=height)

    def _select(self, items: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "points": []}

    def mark(self, findings: Any) -> None:
        """Mark findings on the timeline at their times (a line across the lanes, coloured by severity).

        Args:
            findings: A `voicelab.diagnosis.Diagnosis`, its findings, or the rows of a `Findings` view; ``[]``
                clears the markers. Findings without a time are not drawn.
        """
        from voicelab.widgets.findings import audio_sent_at, finding_rows

        items = list(findings)
        rows = [dict(r) for r in items] if all(isinstance(r, dict) for r in items) else finding_rows(items, self._rec)
        rows = [r for r in rows if r.get("t") is not None]
        missing = [i for i, r in enumerate(rows) if r.get("a") is None]
        for i, a in zip(missing, audio_sent_at(self._rec, [rows[i]["t"] for i in missing]), strict=True):
            rows[i]["a"] = a
        self.findings = [{k: r.get(k) for k in ("code", "severity", "t", "a", "message")} for r in rows]

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin (`voicelab.plot.timeline`)."""
        from voicelab.plot import timeline

        return timeline(self._rec, view_range=self.view_range, **kwargs)
