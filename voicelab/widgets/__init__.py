"""JupyterLab views of Clips, Sessions and Recordings (anywidget; JS beside the Python, no build step).

Widgets only observe: they never open sockets. Each has a static matplotlib twin, ``.figure()``
(see `voicelab.plot`).

* `Waveform(clip)` and `Spectrogram(clip, link=waveform)`: zoom, pan, play, select.
* `Timeline(session)` and `LatencyChart(session)`: fill in live while a Stream runs.
* `EventLog(session)`: every frame both ways, filterable, with the session-state counters.
* `Findings(session)`: what `voicelab.diagnose` finds, re-run live while a Stream runs, then the final diagnosis.
* `Recorder`: the microphone.
* `LiveAudioSource`: a thread-safe, bounded buffer of live audio that any producer pushes to and
  `voicelab.stream` (or any reader) iterates; the Recorder keeps each take in one.

The widget classes are imported on first use, so ``voicelab.widgets.LiveAudioSource`` works without the
notebook extra (anywidget, ipywidgets).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voicelab.plot.model import ViewError
from voicelab.widgets.live_source import LiveAudioSource

if TYPE_CHECKING:
    import traitlets

    from voicelab.widgets.eventlog import EventLog
    from voicelab.widgets.findings import Findings
    from voicelab.widgets.latency import LatencyChart
    from voicelab.widgets.recorder import Recorder
    from voicelab.widgets.spectrogram import Spectrogram
    from voicelab.widgets.timeline import Timeline
    from voicelab.widgets.waveform import Waveform

__all__ = ["EventLog", "Findings", "LatencyChart", "LiveAudioSource", "Recorder", "Spectrogram", "Timeline",
           "ViewError", "Waveform", "link"]

#: The widget classes, imported on first use (they need anywidget).
_WIDGETS = {
    "EventLog": "voicelab.widgets.eventlog",
    "Findings": "voicelab.widgets.findings",
    "LatencyChart": "voicelab.widgets.latency",
    "Recorder": "voicelab.widgets.recorder",
    "Spectrogram": "voicelab.widgets.spectrogram",
    "Timeline": "voicelab.widgets.timeline",
    "Waveform": "voicelab.widgets.waveform",
}


def link(*views: Any, trait: str = "view_range") -> list[traitlets.link]:
    """Keep the visible range of several views equal (zooming one zooms all).

    Args:
        *views: Two or more widgets with a ``view_range`` trait (Waveform, Spectrogram, Timeline).
        trait: The trait to keep in sync.

    Returns:
        The links; call ``.unlink()`` on them to undo.
    """
    import traitlets

    if len(views) < 2:
        raise ViewError(f"link() needs two or more views, got {len(views)}")
    for v in views:
        if not (isinstance(v, traitlets.HasTraits) and v.has_trait(trait)):
            raise ViewError(f"link() cannot link {type(v).__name__}: it has no {trait!r} trait; "
                            "pass Waveform, Spectrogram or Timeline widgets")
    first = views[0]
    return [traitlets.link((first, trait), (v, trait)) for v in views[1:]]


def __getattr__(name: str) -> Any:
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module 'voicelab.widgets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
