"""`vl.plot.compare`: a good clip next to broken readings of the same bytes, on shared axes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import voicelab as vl  # noqa: E402
from voicelab.errors import VoicelabError  # noqa: E402
from voicelab.plot import ViewError  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def good() -> vl.Clip:
    return vl.load(DATA / "speech" / "s02_weather_16k.flac")


@pytest.fixture(scope="module")
def rate48() -> vl.Clip:
    """48 kHz bytes read at the 16 kHz they were declared as: 3x longer, energy squeezed below 4 kHz."""
    return vl.load(DATA / "broken" / "weather_48k_labelled_16k.raw", raw="linear16:16000:1")


@pytest.fixture(scope="module")
def swapped() -> vl.Clip:
    return vl.load(DATA / "broken" / "weather_byteswapped.raw", raw="linear16:16000:1")


def _image(ax: Any) -> tuple[np.ndarray, np.ndarray]:
    """A spectrogram panel's dB image (rows = frequency) and each row's centre frequency, Hz."""
    im = ax.images[0]
    db = np.asarray(im.get_array())
    top = im.get_extent()[3]
    return db, (np.arange(db.shape[0]) + 0.5) * top / db.shape[0]


def _png(fig: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")).std() > 5  # not blank
    return buf.getvalue()


def test_two_by_two_grid_with_rates_in_titles_and_shared_axes(good: vl.Clip, rate48: vl.Clip) -> None:
    fig = vl.plot.compare(good, rate48, labels=["good", "48 kHz read as 16 kHz"])
    assert len(fig.axes) == 5  # 2 waveforms, 2 spectrograms, 1 colorbar
    waves, specs = fig.axes[:2], fig.axes[2:4]
    titles = [ax.get_title(loc="left") for ax in waves]
    assert titles[0].startswith("good\n") and "16000 Hz mono, 5.53 s" in titles[0]
    assert titles[1].startswith("48 kHz read as 16 kHz\n") and "16000 Hz mono, 16.59 s" in titles[1]
    # one time axis for all four panels, long enough for the slowed-down clip
    xlims = {ax.get_xlim() for ax in waves + specs}
    assert len(xlims) == 1 and xlims.pop()[1] == pytest.approx(rate48.duration)
    # one full-scale amplitude axis, one frequency axis (the lowest Nyquist), one dB scale
    assert all(ax.get_ylim() == pytest.approx((-1.12, 1.12)) for ax in waves)
    assert all(ax.get_ylim() == pytest.approx((0, 8000)) for ax in specs)
    assert all(ax.images[0].get_clim() == (-100.0, 0.0) for ax in specs)
    assert "dB" in fig.axes[4].get_ylabel()


def test_wrong_rate_spectrogram_is_empty_above_4k(good: vl.Clip, rate48: vl.Clip) -> None:
    fig = vl.plot.compare(good, rate48)
    (g, gf), (b, bf) = _image(fig.axes[2]), _image(fig.axes[3])
    assert g[gf > 4000].max() > -40  # the good speech has energy up to 8 kHz
    assert b[bf > 4000].max() == -100  # read 3x too slowly, it all sits below 8000 / 3 Hz
    assert b[bf < 3000].max() > -40


def test_byte_swapped_spectrogram_is_loud_noise(good: vl.Clip, swapped: vl.Clip) -> None:
    fig = vl.plot.compare(good, swapped)
    (g, gf), (b, bf) = _image(fig.axes[2]), _image(fig.axes[3])
    assert g.shape == b.shape
    assert np.median(b) > np.median(g) + 25  # white noise over the whole band
    assert np.median(b[bf > 4000]) > -40 > np.median(g[gf > 4000])


def test_levels_show_on_the_shared_full_scale_axis() -> None:
    clips = [vl.load(DATA / "broken" / n) for n in ("dc_offset.wav", "quiet.wav", "silent.wav")]
    fig = vl.plot.compare(*clips)
    assert len(fig.axes) == 2 * 3 + 1
    titles = [ax.get_title(loc="left") for ax in fig.axes[:3]]
    assert [t.split("\n")[0] for t in titles] == ["dc_offset.wav", "quiet.wav", "silent.wav"]  # default labels

    def ys(ax: Any) -> np.ndarray:
        return np.concatenate([p.vertices[:, 1] for c in ax.collections for p in c.get_paths()])

    dc, quiet, silent = (ys(ax) for ax in fig.axes[:3])
    assert np.median(dc) == pytest.approx(0.2, abs=0.02)  # the waveform sits 0.2 above zero
    assert np.abs(quiet).max() < 0.01  # -42 dBFS: a flat line at full scale
    assert np.abs(silent).max() == 0


def test_more_columns_render_to_a_small_png(good: vl.Clip, rate48: vl.Clip, swapped: vl.Clip) -> None:
    for dark in (False, True):
        fig = vl.plot.compare(good, rate48, swapped, labels=("a", "b", "c"), dark=dark)
        assert len(fig.axes) == 7
        assert fig.get_size_inches()[0] == pytest.approx(10.8)
        assert 20_000 < len(_png(fig)) < 400_000  # a saved notebook keeps every figure


def test_view_range_and_max_hz(good: vl.Clip, swapped: vl.Clip) -> None:
    fig = vl.plot.compare(good, swapped, view_range=(1.0, 2.0), max_hz=4000)
    assert all(ax.get_xlim() == (1.0, 2.0) for ax in fig.axes[:4])
    assert all(ax.get_ylim() == (0, 4000) for ax in fig.axes[2:4])


@pytest.mark.parametrize(
    ("kwargs", "broken", "match"),
    [
        ({}, (), "at least one clip"),
        ({}, (np.zeros(100),), r"broken #1\) must be a voicelab Clip, got ndarray"),
        ({}, ("data/broken/quiet.wav",), r"got str 'data/broken/quiet.wav'.*vl.load\(path\)"),
        ({"labels": ["only one"]}, (None,), r"2 strings.*\['only one'\]"),
        ({"labels": "ab"}, (None,), r"got 'ab'"),
        ({"max_hz": -5}, (None,), r"max_hz.*got -5"),
        ({"max_hz": float("nan")}, (None,), r"max_hz.*got nan"),
        ({"view_range": (2.0, 1.0)}, (None,), r"view_range.*\(2.0, 1.0\)"),
    ],
)
def test_bad_input_raises_view_error_naming_it(good: vl.Clip, kwargs: dict[str, Any], broken: tuple[Any, ...],
                                               match: str) -> None:
    broken = tuple(good if b is None else b for b in broken)
    with pytest.raises(ViewError, match=match) as info:
        vl.plot.compare(good, *broken, **kwargs)
    assert isinstance(info.value, VoicelabError)


def test_good_must_be_a_clip(good: vl.Clip) -> None:
    with pytest.raises(ViewError, match=r"compare\(good\) must be a voicelab Clip, got list"):
        vl.plot.compare([0.0, 0.1], good)
