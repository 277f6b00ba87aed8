import json

import pytest

from tests.recording.test_recording import Clock, pulse_msg
from voicelab.recording import Recording
from voicelab.recording.metrics import compute_metrics, normalize_words


def build(script):
    """script: list of (t, kind, payload)."""
    clock = Clock()
    clock.t = 0.0
    rec = Recording(provider="pulse", clock=clock)
    for t, kind, payload in script:
        clock.t = t
        if kind == "chunk":
            seq, a, b = payload
            rec.chunk(seq=seq, audio_start=a, audio_end=b, nbytes=3200)
        elif kind == "recv":
            rec.message_in(payload)
        else:
            rec.log(kind, **payload)
    return rec


def test_known_answers():
    # 0.1 s chunks sent in real time from t=1.0: chunk k holds audio [0.1k, 0.1k+0.1) and is sent at 1.0+0.1k
    script = [(0.2, "connect", {"attempt": 1}), (0.5, "handshake", {"ok": True, "status": 101})]
    script += [(1.0 + 0.1 * k, "chunk", (k, 0.1 * k, 0.1 * k + 0.1)) for k in range(30)]
    script += [
        (1.35, "recv", pulse_msg("")),
        (1.62, "recv", pulse_msg("hello")),
        (1.95, "recv", pulse_msg("hello word")),
        (2.45, "recv", pulse_msg("hello world", final=True, words=[("hello", 0.1, 0.5), ("world", 0.6, 1.0)])),
        (3.15, "recv", pulse_msg("again", final=True, words=[("again", 1.5, 1.9)])),
    ]
    rec = build(script)
    ref = {"words": [{"word": "hello", "start": 0.1, "end": 0.5}, {"word": "world", "start": 0.6, "end": 1.0},
                     {"word": "again", "start": 1.5, "end": 1.9}],
           "sentences": [{"text": "hello world", "start": 0.1, "end": 1.0},
                         {"text": "again", "start": 1.5, "end": 1.9}]}
    m = compute_metrics(rec, reference=ref)
    assert m["connect_time"].values == pytest.approx((0.3,))
    assert m["first_response"].values == pytest.approx((0.62,))  # empty transcripts do not count
    assert m["first_partial"].values == pytest.approx((0.62,))
    # "hello" ends at 0.5 s → chunk 4 (0.4-0.5) sent at 1.4; first shown at 1.62
    # "world" ends at 1.0 → chunk 9 sent at 1.9; first *correct* at 2.45 (1.95 had "word")
    # "again" ends at 1.9 → chunk 18 sent at 2.8; shown at 3.15
    em = m["word_emission"]
    assert em.values == pytest.approx((0.22, 0.55, 0.35))
    assert em.source == "reference word times" and em.p50 == pytest.approx(0.35)
    fl = m["final_latency"]
    assert fl.values == pytest.approx((0.55, 0.35)) and fl.source == "reference sentence ends"
    # cursor lag at 2.45: audio sent by then = 1.5 (chunk 14 sent at 2.4), transcript ends at 1.0;
    # at 3.15: 2.2 sent (chunk 21 at 3.1), transcript ends at 1.9
    assert m["audio_cursor_lag"].values == pytest.approx((0.5, 0.3))
    assert m.stability["words_rewritten_after_display"] == 1  # "word" → "world"
    assert m.stability["words_shown"] == 2


def test_without_reference_uses_provider_word_times():
    script = [(1.0 + 0.1 * k, "chunk", (k, 0.1 * k, 0.1 * k + 0.1)) for k in range(12)]
    script += [(2.3, "recv", pulse_msg("hi there", final=True, words=[("hi", 0.2, 0.4), ("there", 0.5, 1.0)]))]
    m = compute_metrics(build(script))
    assert m["final_latency"].values == pytest.approx((0.4,))
    assert "provider word timestamps" in m["final_latency"].source
    assert m["word_emission"].values == pytest.approx((1.0, 0.4))  # "hi" ends at 0.4 → chunk 3 (0.3-0.4) sent at 1.3


def test_empty_session_has_no_values_and_renders():
    m = compute_metrics(build([]))
    assert all(x.n == 0 and x.p50 is None for x in m.metrics)
    assert "final_latency" in str(m) and "<table>" in m._repr_html_()
    json.dumps(m.to_dict())


def test_percentiles():
    from voicelab.recording.metrics import Metric

    mm = Metric("x", "a", "b", tuple(float(i) for i in range(1, 101)))
    assert (mm.n, mm.p50, mm.p99) == (100, 50.5, pytest.approx(99.01))


def test_normalize_words():
    assert normalize_words("Hello, World! It's 22°C.") == ["hello", "world", "it's", "22", "c"]
