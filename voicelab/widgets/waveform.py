"""`Waveform`: a zoomable min/max envelope of a Clip with playback and a selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from voicelab.audio.clip import Clip
from voicelab.plot.model import Envelope, envelope_bytes
from voicelab.widgets._base import ASSETS, ViewError, ViewWidget, check_clip, log

__all__ = ["Waveform"]

#: Longest stretch of audio sent to the browser for one play request, seconds.
MAX_PLAY_SECONDS = 600.0


class Waveform(ViewWidget):
    """A Clip's waveform: wheel to zoom, drag to pan, shift-drag to select, space or the button to play.

    Python holds a min/max pyramid (`voicelab.plot.model.Envelope`) and sends only the level that
    fits the visible range and width, as int16 min/max pairs, so an hour of audio draws at once.

    Args:
        clip: The audio to show.
        height: Canvas height in pixels.
        view_range: Initial visible range ``(start, end)`` in seconds; default the whole clip.

    Attributes:
        selection: ``(start, end)`` seconds selected in the view, or ``None``.
        view_range: ``(start, end)`` seconds visible; link it to other views with `voicelab.widgets.link`.
    """

    _esm = ASSETS / "waveform.js"

    duration = t.Float(0.0, help="Clip length, seconds.").tag(sync=True)
    samplerate = t.Int(16000, help="Samples per second, Hz.").tag(sync=True)
    channels = t.Int(1).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    height = t.Int(140, help="Canvas height, px.").tag(sync=True)
    width = t.Int(800, help="Canvas width in px, set by the frontend.").tag(sync=True)
    view_range = t.Tuple(t.Float(), t.Float(), default_value=(0.0, 0.0),
                         help="Visible (start, end), seconds.").tag(sync=True)
    selection = t.Tuple(t.Float(), t.Float(), default_value=None, allow_none=True,
                        help="Selected (start, end), seconds, or None.").tag(sync=True)
    playhead = t.Float(0.0, help="Play position, seconds.").tag(sync=True)
    envelope = t.Bytes(b"", help="int16 LE pairs (min, max) per bin, full scale 32767.").tag(sync=True)
    envelope_t0 = t.Float(0.0, help="Start of the first envelope bin, seconds.").tag(sync=True)
    envelope_step = t.Float(1.0, help="Envelope bin width, seconds.").tag(sync=True)

    def __init__(self, clip: Clip, *, height: int = 140, view_range: tuple[float, float] | None = None) -> None:
        clip = check_clip(clip, what="Waveform(clip)")
        if clip.frames == 0:
            raise ViewError("Waveform(clip) got an empty Clip (0 frames); load or record some audio first")
        self._clip = clip
        self._env = Envelope(clip)
        name = clip.provenance.name or ""
        super().__init__(duration=clip.duration, samplerate=clip.samplerate, channels=clip.channels,
                         height=height, title=str(name).rsplit("/", 1)[-1],
                         view_range=tuple(view_range) if view_range else (0.0, clip.duration))
        self._update_envelope()

    @property
    def clip(self) -> Clip:
        """The Clip shown."""
        return self._clip

    @property
    def selected_clip(self) -> Clip | None:
        """The selected part as a new Clip (``clip.slice``), or ``None`` without a selection."""
        if self.selection is None:
            return None
        a, b = sorted(self.selection)
        return self._clip.slice(start=max(a, 0.0), end=min(b, self._clip.duration))

    @t.validate("view_range")
    def _valid_range(self, proposal: Any) -> tuple[float, float]:
        a, b = (float(v) for v in proposal["value"])
        if not (np.isfinite(a) and np.isfinite(b)) or b <= a:
            raise ViewError(f"view_range must be (start, end) seconds with end > start, got {(a, b)!r}")
        return a, b

    @t.observe("view_range", "width")
    def _on_view(self, _change: Any) -> None:
        self._update_envelope()

    def _update_envelope(self) -> None:
        a, b = self.view_range
        t0, step, mins, maxs = self._env.window(a, b, max_bins=2 * max(self.width, 16))
        with self.hold_sync():
            self.envelope_t0, self.envelope_step = t0, step
            self.envelope = envelope_bytes(mins, maxs)

    def _handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if content.get("type") == "play":
            start = max(float(content.get("start", 0.0)), 0.0)
            end = min(float(content.get("end", self._clip.duration)), self._clip.duration, start + MAX_PLAY_SECONDS)
            self.send(*self.pcm_message(start=start, end=end))

    def pcm_message(self, *, start: float, end: float) -> tuple[dict[str, Any], list[bytes]]:
        """The ``pcm`` message answering a play request: mono int16 LE samples of ``[start, end)`` seconds."""
        part = self._clip.slice(start=start, end=max(end, start))
        pcm = part.to_mono().to_int16() if part.channels > 1 else part.to_int16()
        log.debug("sending %.2f s of audio for playback", part.duration)
        return ({"type": "pcm", "start": start, "samplerate": part.samplerate, "frames": part.frames},
                [pcm.astype("<i2").tobytes()])

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin of this view (`voicelab.plot.waveform`) over the visible range."""
        from voicelab.plot import waveform

        return waveform(self._clip, view_range=self.view_range, selection=self.selection, **kwargs)
