"""`Spectrogram`: an 8-bit dB STFT image of a Clip, zoomable and linkable to a `Waveform`."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from voicelab.audio.clip import Clip
from voicelab.plot.model import DB_FLOOR, SpectrogramImage
from voicelab.widgets._base import ASSETS, ViewError, ViewWidget, check_clip

__all__ = ["Spectrogram", "colormap_bytes"]


def colormap_bytes(name: str = "magma") -> bytes:
    """256 RGB triples of a matplotlib colormap (a grey ramp without matplotlib)."""
    try:
        from matplotlib import colormaps
    except ImportError:  # pragma: no cover - matplotlib is optional for widgets
        ramp = np.arange(256, dtype=np.uint8)
        return np.repeat(ramp, 3).tobytes()
    rgb = colormaps[name](np.linspace(0, 1, 256))[:, :3]
    return (rgb * 255 + 0.5).astype(np.uint8).tobytes()


class Spectrogram(ViewWidget):
    """A Clip's spectrogram: wheel to zoom, drag to pan; ``link=waveform`` keeps both on one range.

    Args:
        clip: The audio to show.
        link: A `Waveform` (or any view with ``view_range``) to follow and drive.
        n_fft: Frame length in samples (default about 32 ms).
        hop: Frame step in samples (default ``n_fft // 4``; ``n_fft // 2`` above 10 minutes).
        height: Canvas height in pixels.
        colormap: A matplotlib colormap name.
        max_hz: Highest frequency shown, Hz (default Nyquist).
    """

    _esm = ASSETS / "spectrogram.js"

    duration = t.Float(0.0).tag(sync=True)
    samplerate = t.Int(16000).tag(sync=True)
    n_fft = t.Int(512).tag(sync=True)
    hop = t.Int(128).tag(sync=True)
    db_floor = t.Float(DB_FLOOR).tag(sync=True)
    max_hz = t.Float(8000.0).tag(sync=True)
    height = t.Int(180).tag(sync=True)
    width = t.Int(800).tag(sync=True)
    view_range = t.Tuple(t.Float(), t.Float(), default_value=(0.0, 0.0)).tag(sync=True)
    playhead = t.Float(0.0).tag(sync=True)
    colormap = t.Bytes(b"", help="256 RGB triples.").tag(sync=True)
    image = t.Bytes(b"", help="uint8 dB levels, row-major (columns, bins); 0 = db_floor, 255 = 0 dB.").tag(sync=True)
    image_cols = t.Int(0).tag(sync=True)
    image_bins = t.Int(0).tag(sync=True)
    image_t0 = t.Float(0.0, help="Centre of the first column, seconds.").tag(sync=True)
    image_step = t.Float(1.0, help="Seconds per column.").tag(sync=True)

    def __init__(self, clip: Clip, *, link: Any = None, n_fft: int | None = None, hop: int | None = None,
                 height: int = 180, colormap: str = "magma", max_hz: float | None = None) -> None:
        clip = check_clip(clip, what="Spectrogram(clip)")
        if clip.frames == 0:
            raise ViewError("Spectrogram(clip) got an empty Clip (0 frames); load or record some audio first")
        self._clip = clip
        self._spec = SpectrogramImage(clip, n_fft=n_fft, hop=hop)
        start = tuple(link.view_range) if link is not None else (0.0, clip.duration)
        super().__init__(duration=clip.duration, samplerate=clip.samplerate, n_fft=self._spec.n_fft,
                         hop=self._spec.hop, height=height, colormap=colormap_bytes(colormap),
                         max_hz=float(max_hz or clip.samplerate / 2), view_range=start)
        self._update_image()
        if link is not None:
            from voicelab.widgets import link as link_views

            link_views(link, self)

    @property
    def clip(self) -> Clip:
        """The Clip shown."""
        return self._clip

    @property
    def data(self) -> SpectrogramImage:
        """The full 8-bit dB image and its axes."""
        return self._spec

    @t.observe("view_range", "width")
    def _on_view(self, _change: Any) -> None:
        self._update_image()

    def _update_image(self) -> None:
        a, b = self.view_range
        if b <= a:
            return
        t0, step, img = self._spec.window(a, b, max_cols=max(self.width, 16))
        with self.hold_sync():
            self.image_t0, self.image_step = t0, step
            self.image_cols, self.image_bins = img.shape[0], img.shape[1] if img.ndim == 2 else 0
            self.image = img.tobytes()

    def figure(self, **kwargs: Any) -> Any:
        """The static matplotlib twin (`voicelab.plot.spectrogram`) over the visible range."""
        from voicelab.plot import spectrogram

        return spectrogram(self._clip, view_range=self.view_range, n_fft=self.n_fft, hop=self.hop, **kwargs)
