"""Python side of the widgets: traits, messages, sizes, incremental live updates (no frontend needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("anywidget")
scipy_signal = pytest.importorskip("scipy.signal")

import voicelab  # noqa: E402
from voicelab.audio.clip import Clip  # noqa: E402
from voicelab.errors import VoicelabError  # noqa: E402
from voicelab.plot.model import Envelope, SessionLog, SpectrogramImage, stft_magnitude  # noqa: E402
from voicelab.recording.log import Recording  # noqa: E402
from voicelab.widgets import LatencyChart, Spectrogram, Timeline, ViewError, Waveform, link  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "speech"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def capture(widget: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    """Record every custom message the widget sends (no frontend attached)."""
    sent: list[tuple[dict[str, Any], list[Any]]] = []
    widget.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    return sent


def tone(seconds: float = 3.0, sr: int = 16000) -> Clip:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < seconds / 2) + 0.05 * np.random.default_rng(1).standard_normal(len(t))
    return Clip(x.astype(np.float32), samplerate=sr)


def pulse(text: str, *, final: bool, words: list[tuple[str, float, float]] = ()) -> dict[str, Any]:
    return {"type": "transcription", "status": "success", "session_id": "s1", "transcript": text,
            "is_final": final, "is_last": False,
            "words": [{"word": w, "start": s, "end": e} for w, s, e in words]}


# -- waveform ----------------------------------------------------------------------------------
def test_envelope_bins_equal_numpy_minmax() -> None:
    clip = tone(7.3)
    env = Envelope(clip)
    x = clip.samples
    for size, (mins, maxs) in zip(env.bins, env.levels, strict=True):
        n = -(-len(x) // size)
        ref_lo = np.array([x[i * size:(i + 1) * size].min() for i in range(n)])
        ref_hi = np.array([x[i * size:(i + 1) * size].max() for i in range(n)])
        np.testing.assert_array_equal(mins, ref_lo)
        np.testing.assert_array_equal(maxs, ref_hi)
    assert env.bins[:3] == [16, 64, 256]


def test_envelope_window_fits_width_and_covers_range() -> None:
    env = Envelope(tone(60.0))
    for a, b, w in ((0, 60, 800), (10, 11, 800), (10, 10.01, 800), (0, 60, 50)):
        t0, step, mins, maxs = env.window(a, b, max_bins=2 * w)
        assert len(mins) <= 2 * w
        assert t0 <= a + 1e-9 and t0 + len(mins) * step >= min(b, 60) - step
    t0, step, mins, _ = env.window(10, 10.01, max_bins=1600)
    assert step == 1 / 16000 and len(mins) == 160  # raw samples when zoomed in


def test_waveform_traits_selection_and_sizes() -> None:
    clip = voicelab.load(DATA / "s02_weather_16k.flac")
    w = Waveform(clip)
    assert w.duration == pytest.approx(clip.duration) and w.view_range == (0.0, clip.duration)
    assert len(w.envelope) <= 4 * 2 * 2 * w.width  # int16 min/max, <= 2 bins per pixel
    w.view_range = (1.0, 1.5)
    assert w.envelope_t0 <= 1.0 and len(w.envelope) <= 4 * 2 * w.width
    assert w.selected_clip is None
    w.selection = (2.5, 1.25)
    sel = w.selected_clip
    assert sel is not None and sel == clip.slice(start=1.25, end=2.5)
    assert sel.duration == pytest.approx(1.25)
    with pytest.raises(ViewError):
        w.view_range = (2.0, 1.0)


def test_waveform_play_sends_pcm_of_the_range() -> None:
    clip = tone(2.0)
    w = Waveform(clip)
    sent = capture(w)
    w._on_custom(w, {"type": "play", "start": 0.5, "end": 1.0}, [])
    (msg, bufs), = sent
    assert msg == {"type": "pcm", "start": 0.5, "samplerate": 16000, "frames": 8000}
    pcm = np.frombuffer(bufs[0], dtype="<i2")
    np.testing.assert_array_equal(pcm, clip.slice(start=0.5, end=1.0).to_int16())


def test_one_hour_waveform_sends_a_screenful() -> None:
    clip = Clip(np.zeros(16000 * 3600, dtype=np.float32), samplerate=16000)
    w = Waveform(clip)
    assert len(w.envelope) <= 2 * w.width * 4


def test_non_clip_is_a_voicelab_error_naming_the_fix() -> None:
    with pytest.raises(VoicelabError, match=r"got ndarray.*vl.Clip\(samples, samplerate"):
        Waveform(np.zeros(10))
    with pytest.raises(ViewError, match="vl.load"):
        Spectrogram("data/speech/s02_weather_16k.flac")
    with pytest.raises(ViewError, match="Stream or Recording"):
        Timeline([1, 2, 3])
    with pytest.raises(ViewError, match="two or more"):
        link(Waveform(tone(1.0)))


# -- spectrogram -------------------------------------------------------------------------------
@pytest.mark.parametrize(("n_fft", "hop"), [(512, 128), (512, 256), (400, 160)])
def test_stft_matches_scipy(n_fft: int, hop: int) -> None:
    x = tone(2.0).samples[: 16000 + 123]
    ours = stft_magnitude(x, n_fft=n_fft, hop=hop)
    _, _, ref = scipy_signal.stft(x.astype(np.float64), window="hann", nperseg=n_fft, noverlap=n_fft - hop)
    assert ours.shape == ref.T.shape
    np.testing.assert_allclose(ours, np.abs(ref.T), atol=2e-6 * np.abs(ref).max(), rtol=1e-4)


def test_spectrogram_image_is_quantised_db() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    spec = SpectrogramImage(Clip(np.sin(2 * np.pi * 1000 * t).astype(np.float32), samplerate=sr), n_fft=512, hop=128)
    mid = spec.image[len(spec.image) // 2]
    assert int(np.argmax(mid)) == 32  # 1 kHz bin
    assert mid.max() >= 250  # a full-scale sine is ~0 dB (255)
    assert np.median(mid) < 60


def test_spectrogram_links_to_waveform_and_sends_at_most_width_columns() -> None:
    clip = voicelab.load(DATA / "s02_weather_16k.flac")
    w = Waveform(clip)
    s = Spectrogram(clip, link=w)
    assert s.image_cols <= s.width and len(s.image) == s.image_cols * s.image_bins
    w.view_range = (1.0, 2.0)
    assert s.view_range == (1.0, 2.0) and s.image_t0 <= 1.0
    s.view_range = (0.5, 1.5)
    assert w.view_range == (0.5, 1.5)
    assert len(s.colormap) == 768


# -- timeline and latency: protocol ------------------------------------------------------------
def synthetic_recording() -> tuple[Recording, FakeClock]:
    clock = FakeClock()
    rec = Recording(provider="pulse", clock=clock, wall_clock=lambda: 0.0)
    rec.log("connect", attempt=1, t=0.0)
    rec.log("handshake", ok=True, status=101, audio_offset=0.0, t=0.2)
    return rec, clock


def step(rec: Recording, k: int, *, chunk: float = 0.05) -> None:
    """Entries of one 50 ms step of a simulated real-time session (chunk, partials, a final every 5 s)."""
    t = 0.2 + (k + 1) * chunk
    rec.chunk(seq=k, audio_start=k * chunk, audio_end=(k + 1) * chunk, nbytes=1600, t=t)
    if k % 2 == 1:
        rec.message_in(json.dumps(pulse(f"word{k % 100} " * 3, final=False)), t=t + 0.01)
    if k % 100 == 99:
        s = (k - 99) * chunk
        words = [(f"w{j}", s + j * 0.4, s + j * 0.4 + 0.3) for j in range(12)]
        rec.message_in(json.dumps(pulse(" ".join(w for w, _, _ in words), final=True, words=words)), t=t + 0.02)


def test_updates_carry_only_new_items_and_revisions_are_consecutive() -> None:
    rec, _ = synthetic_recording()
    tl, lc = Timeline(rec, live=False), LatencyChart(rec, live=False)
    sent_tl, sent_lc = capture(tl), capture(lc)
    tl._on_custom(tl, {"type": "snapshot?"}, [])
    (snap, _), = sent_tl
    assert snap["type"] == "snapshot" and [i["k"] for i in snap["items"]] == ["conn", "conn"]
    seen = len(snap["items"])
    for k in range(400):
        step(rec, k)
        before = len(tl.log.items)
        tl.flush()
        lc.flush()
        new = len(tl.log.items) - before
        if new:
            msg = sent_tl[-1][0]
            assert msg["type"] == "append" and msg["rev"] == snap["rev"] + len(sent_tl) - 1
            assert [i["i"] for i in msg["items"]] == list(range(seen, seen + new))
            seen += new
    assert tl.flush() == 0  # nothing new, nothing sent
    finals = [i for i in tl.log.items if i["k"] == "final"]
    assert len(finals) == 4 and len(finals[0]["w"]) == 12
    # the latency chart sends points, not timeline items
    pts = [p for m, _ in sent_lc for p in m["points"]]
    assert {p["k"] for p in pts} == {"lag", "first_partial", "final"}
    assert all(not m["items"] for m, _ in sent_lc)
    stats = sent_lc[-1][0]["state"]["stats"]
    assert stats["final"]["n"] == 4 and stats["final"]["source"].startswith("provider word timestamps")
    # a fresh view gets the same items in one snapshot
    tl._on_custom(tl, {"type": "snapshot?"}, [])
    assert sent_tl[-1][0]["items"] == tl.log.items


def test_ten_minute_session_at_20_updates_per_second_stays_bounded() -> None:
    rec, _ = synthetic_recording()
    tl = Timeline(rec, live=False)
    sizes = []
    capture(tl)
    for k in range(12000):  # 600 s of 50 ms steps, one flush per step = 20 updates/s
        step(rec, k)
        sizes.append(tl.flush())
    sizes_arr = np.array([s for s in sizes if s])
    assert len(sizes_arr) == 12000
    assert sizes_arr.max() < 3000, sizes_arr.max()
    first, last = sizes_arr[:1000].mean(), sizes_arr[-1000:].mean()
    assert last < 1.5 * first, (first, last)  # per-update bytes do not grow with history
    assert tl.bytes_sent < 12000 * 1000
    assert len(tl.log.items) == 2 + 6000 + 120


def test_session_log_matches_compute_metrics() -> None:
    rec, _ = synthetic_recording()
    for k in range(300):
        step(rec, k)
    assert_matches_metrics(rec)


def assert_matches_metrics(rec: Recording) -> None:
    from voicelab.recording.metrics import compute_metrics

    log = SessionLog.of(rec)
    report = compute_metrics(rec)
    stats = log.stats()
    for key, name in (("lag", "audio_cursor_lag"), ("first_partial", "first_partial"), ("final", "final_latency")):
        assert stats[key]["n"] == report[name].n
        if report[name].n:
            assert stats[key]["p50"] == pytest.approx(report[name].p50, abs=2e-4)


# -- live, against the emulator ----------------------------------------------------------------
@pytest.fixture(scope="module")
def emulator() -> Any:
    pytest.importorskip("pocketsphinx")
    with voicelab.serve(engine="sphinx") as server:
        yield server


def test_live_timeline_fills_in_from_an_emulator_session(emulator: Any) -> None:
    session = voicelab.stream(DATA / "s02_weather_16k.flac", url=emulator.url, api_key=emulator.api_key)
    tl = Timeline(session, max_rate=20.0)
    lc = LatencyChart(session)
    sent = capture(tl)
    assert tl.status == "live"
    session.wait(timeout=60)
    tl.wait(timeout=5)
    lc.wait(timeout=5)
    assert tl.status == "done" and lc.status == "done"
    appends = [m for m, _ in sent if m["type"] == "append"]
    assert len(appends) >= 3
    assert [m["rev"] for m in appends] == list(range(appends[0]["rev"], appends[0]["rev"] + len(appends)))
    kinds = {i["k"] for i in tl.log.items}
    assert {"conn", "partial", "final"} <= kinds
    assert any(i["k"] == "final" and i["w"] for i in tl.log.items)
    assert appends[-1]["state"]["done"] is True
    assert tl.snapshot_data["rev"] == appends[-1]["rev"] and tl.snapshot_data["items"] == tl.log.items
    assert lc.snapshot_data["state"]["done"] is True and lc.snapshot_data["points"] == lc.log.latency
    # the updates together carry each item exactly once
    streamed = [i["i"] for m in appends for i in m["items"]]
    assert len(streamed) == len(set(streamed))
    assert lc.log.stats()["final"]["n"] >= 1
    assert_matches_metrics(session.recording)
    # the same figures from the finished Recording
    assert SessionLog.of(session.recording).items == tl.log.items


# -- timeline and latency: state in traits (render with no kernel round trip, saved notebooks) -------------
class FakeSession:
    """What the views need of a Stream: its Recording, ``on`` and ``done`` (the test ends it)."""

    def __init__(self, rec: Recording) -> None:
        self.recording = rec
        self.done = False

    def on(self, callback: Any, *, replay: bool = True) -> None:
        pass


def test_snapshot_trait_comes_with_the_model_and_holds_the_final_state() -> None:
    rec, _ = synthetic_recording()
    for k in range(10):
        step(rec, k)
    session = FakeSession(rec)
    tl, lc = Timeline(session, live=False), LatencyChart(session, live=False)
    # a view rendered now (kernel busy or not) reads everything so far from the model's state
    state = tl.get_state()
    assert state["snapshot_data"]["rev"] == 0 and state["snapshot_data"]["items"] == tl.log.items
    assert state["snapshot_data"]["state"]["done"] is False and tl.status == "live"
    assert len(state["_uid"]) == 32 and state["_uid"] != lc.get_state()["_uid"]
    changes: list[dict[str, Any]] = []
    tl.observe(lambda ch: changes.append(ch["new"]), "snapshot_data")
    sent = capture(tl)
    capture(lc)
    for k in range(10, 400):
        step(rec, k)
        tl.flush()
        lc.flush()
    assert not changes  # live updates are appends only: bytes per update stay proportional to what is new
    assert all(m["type"] == "append" for m, _ in sent)
    session.done = True
    tl.flush()
    lc.flush()
    assert tl.status == lc.status == "done"
    (final,) = changes  # once, when the session ended
    assert final["rev"] == sent[-1][0]["rev"] and final["items"] == tl.log.items
    assert final["state"]["done"] is True and final["state"]["n_items"] == len(tl.log.items)
    assert tl.snapshot_bytes > 0
    # the chart keeps points and the figures, not timeline items
    data = lc.snapshot_data
    assert data["items"] == [] and data["points"] == lc.log.latency and data["state"]["stats"]["final"]["n"] == 4
    # appends from the trait's revision on rebuild exactly the log (what the frontend store does)
    items = list(state["snapshot_data"]["items"])
    for m, _ in sent:
        items.extend(m["items"])
    assert items == tl.log.items


def test_view_of_a_finished_recording_has_everything_in_its_state() -> None:
    rec, _ = synthetic_recording()
    for k in range(200):
        step(rec, k)
    tl = Timeline(rec)
    data = tl.get_state()["snapshot_data"]
    assert tl.status == "done" and data["state"]["done"] is True
    assert [i["k"] for i in data["items"]].count("final") == 2 and data["items"] == SessionLog.of(rec).items
    json.dumps(data)  # JSON as saved in a notebook's widget state


def test_stop_stores_what_the_view_has() -> None:
    rec, _ = synthetic_recording()
    session = FakeSession(rec)
    tl = Timeline(session, live=False)
    capture(tl)
    for k in range(120):
        step(rec, k)
    tl.flush()
    tl.stop()
    assert tl.snapshot_data["items"] == tl.log.items and tl.snapshot_data["rev"] == 1
