"""Static figures render to PNG, for a Clip and for a real Recording of an emulator session."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import voicelab  # noqa: E402
import voicelab.plot as vp  # noqa: E402
from voicelab.plot import ViewError  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "speech"


def png(fig: Any) -> tuple[int, int, int]:
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    img = Image.open(io.BytesIO(data))
    assert np.asarray(img.convert("L")).std() > 5  # not blank
    return len(data), *img.size


@pytest.fixture(scope="module")
def clip() -> voicelab.Clip:
    return voicelab.load(DATA / "s02_weather_16k.flac")


@pytest.fixture(scope="module")
def recording() -> voicelab.Recording:
    pytest.importorskip("pocketsphinx")
    with voicelab.serve(engine="sphinx") as server:
        session = voicelab.stream(DATA / "s06_short_16k.flac", url=server.url, api_key=server.api_key)
        session.wait(timeout=60)
    return session.recording


@pytest.mark.parametrize("dark", [False, True])
def test_clip_figures(clip: voicelab.Clip, dark: bool) -> None:
    for fig in (vp.waveform(clip, selection=(1.0, 2.0), dark=dark), vp.spectrogram(clip, dark=dark),
                vp.waveform(clip, view_range=(1.0, 1.02), dark=dark)):
        size, w, h = png(fig)
        assert size > 10_000 and 600 <= w <= 1400 and 150 <= h <= 600


@pytest.mark.parametrize("dark", [False, True])
def test_recording_figures(recording: voicelab.Recording, dark: bool) -> None:
    for fig in (vp.timeline(recording, dark=dark), vp.latency(recording, dark=dark)):
        size, w, h = png(fig)
        assert size > 10_000 and 600 <= w <= 1400 and 200 <= h <= 700


def test_widget_figure_twins(clip: voicelab.Clip, recording: voicelab.Recording) -> None:
    pytest.importorskip("anywidget")
    from voicelab.widgets import LatencyChart, Spectrogram, Timeline, Waveform

    w = Waveform(clip)
    w.view_range = (0.5, 2.5)
    for fig in (w.figure(), Spectrogram(clip, link=w).figure(), Timeline(recording).figure(),
                LatencyChart(recording).figure()):
        assert png(fig)[0] > 10_000
    assert w.figure().axes[0].get_xlim() == (0.5, 2.5)


def test_plot_rejects_wrong_inputs(clip: voicelab.Clip) -> None:
    with pytest.raises(ViewError, match="vl.Clip"):
        vp.waveform(np.zeros(100))
    with pytest.raises(ViewError, match="Recording"):
        vp.timeline(clip)


def test_plot_does_not_import_anywidget() -> None:
    import subprocess

    code = "import sys, voicelab.plot; assert 'anywidget' not in sys.modules, 'anywidget imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
