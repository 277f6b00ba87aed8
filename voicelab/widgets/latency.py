"""`LatencyChart`: audio-cursor lag per message over time, first-partial and final-latency markers."""

from __future__ import annotations

from typing import Any

from voicelab.widgets._base import ASSETS
from voicelab.widgets._live import SessionWidget

__all__ = ["LatencyChart"]


class LatencyChart(SessionWidget):
    """Latency over a session: audio-cursor lag per message, first partial and final latency.

    Each figure is labelled with its definition and speech-end source, with P50/P95/P99 and n.

    Fills in live while a Stream runs, sending only new points (see `voicelab.widgets._live`).

    Args:
        source: A `voicelab.client.Stream` (live) or a `voicelab.Recording`.
        live: Follow a running Stream on a background thread.
        max_rate: Most updates per second.
        height: Canvas height in pixels.
    """

    _esm = ASSETS / "latency.js"

    def __init__(self, source: Any, *, live: bool = True, max_rate: float = 20.0, height: int = 260) -> None:
        super().__init__(source, live=live, max_rate=max_rate, height=height)

    def _select(self, items: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": [], "points": points}

    def _state(self, done: bool) -> dict[str, Any]:
        return {**super()._state(done), "stats": self._log.stats()}

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin (`voicelab.plot.latency`)."""
        from voicelab.plot import latency

        return latency(self._rec, **kwargs)
