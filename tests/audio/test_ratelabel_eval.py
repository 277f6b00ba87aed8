"""The evaluation set (tests/audio/ratelabel_corpus.py): every sniffer on clean and relabelled speech.

Done when: zero false alarms on clean speech at every standard rate, and ≥ 95 % of the relabelled
cases caught for each factor (1/3, 1/2, 2x, 3x), on the tuned voices (data/) and on held-out voices;
the same verdict whatever rate the audio is stored at. `benchmarks/rate_label.py` prints the tables.

CI runs the whole tuned set and a short form of the held-out set (five voices at three rates);
the whole held-out set runs with ``pytest tests/audio/test_ratelabel_eval.py -m slow``.
"""

from pathlib import Path

import pytest

from tests.audio import ratelabel_corpus as corpus

needs_tools = pytest.mark.skipif(not corpus.tools_available(), reason="espeak-ng and sox make the held-out voices")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("held_out_voices")


def check(outcomes: list[corpus.Outcome], title: str) -> None:
    table = corpus.format_table(outcomes, title)
    false_alarms = [(o.case.voice.name, o.case.stored, o.codes) for o in outcomes if o.case.clean and o.flagged]
    assert not false_alarms, f"clean speech flagged:\n{false_alarms}\n{table}"
    others = [(o.case.voice.name, o.case.stored, o.case.declared, o.other_sniffers)
              for o in outcomes if o.other_sniffers]
    assert not others, f"other sniffers fired on clean or relabelled speech: {others}"
    counts = corpus.confusion(outcomes)["all"]
    for factor in ("1/3", "1/2", "2x", "3x"):
        hit, n = counts[factor]
        assert n and hit / n >= 0.95, f"{factor}: {hit}/{n} caught\n{table}"
    relabelled = [o for o in outcomes if not o.case.clean and o.caught]
    right = sum(o.likely_samplerate == o.case.stored for o in relabelled)
    assert right >= 0.8 * len(relabelled), f"likely rate right in {right}/{len(relabelled)}\n{table}"
    assert not corpus.invariance_breaks(outcomes), corpus.invariance_breaks(outcomes)


def test_tuned_voices_at_every_rate():
    """Every voice in data/ at 8-48 kHz, clean and declared at 1/3, 1/2, 2x and 3x its rate (224 cases)."""
    outcomes = [corpus.run(c) for v in corpus.tuned_voices() for c in corpus.cases(v)]
    assert len(outcomes) == 224
    check(outcomes, "tuned")
    human = [o for o in outcomes if o.case.voice.kind == "human" and o.case.clean]
    assert len(human) == 7 and all(o.verdict == "consistent" for o in human)


def test_float32_bytes_of_the_clean_set_raise_no_false_alarm():
    """The same clean cases as float32 bytes: the float checks (int16_as_float32, invalid_float) stay quiet."""
    outcomes = [corpus.run(c, encoding="float32") for v in corpus.tuned_voices() for c in corpus.cases(v, factors=())]
    assert len(outcomes) == 49
    assert not [(o.case.voice.name, o.case.stored, o.codes) for o in outcomes if o.flagged]


@needs_tools
def test_held_out_voices_short_form(cache):
    voices = corpus.held_out_voices(cache, names=corpus.HELD_OUT_SHORT)
    assert len(voices) == len(corpus.HELD_OUT_SHORT)
    outcomes = [corpus.run(c) for v in voices for c in corpus.cases(v, rates=(8000, 22050, 48000))]
    check(outcomes, "held-out (short form)")


@pytest.mark.slow
@needs_tools
def test_held_out_voices_at_every_rate(cache, request):
    """All 15 held-out voices at every rate (480 cases, ~35 s): run with ``-m slow``."""
    markexpr = request.config.getoption("markexpr") or ""
    if "slow" not in markexpr or "not slow" in markexpr:
        pytest.skip("the whole held-out set runs with -m slow (CI runs the short form)")
    voices = corpus.held_out_voices(cache)
    outcomes = [corpus.run(c) for v in voices for c in corpus.cases(v)]
    assert len(outcomes) == 480
    check(outcomes, "held-out")
