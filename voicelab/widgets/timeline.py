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
    """

    _esm = ASSETS / "timeline.js"

    view_range = t.Tuple(t.Float(), t.Float(), default_value=None, allow_none=True).tag(sync=True)

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 240) -> None:
        super().__init__(source, live=live, max_rate=max_rate, height=height)

    def _select(self, items: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "points": []}

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin (`voicelab.plot.timeline`)."""
        from voicelab.plot import timeline

        return timeline(self._rec, view_range=self.view_range, **kwargs)
