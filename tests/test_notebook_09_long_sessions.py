"""Tutorial 09 (memory and long sessions) shows what it promises.

Reads the saved notebook, which nbval has just re-run (see tests/test_notebooks.py);
``VOICELAB_EXECUTE_NOTEBOOKS=1`` executes it here too.
"""

import re

import nbformat
import pytest

from tests.test_notebooks import _clean, _pngs, _run

NAME = "09-long-sessions.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    """A cell's printed text and plain-text results; consecutive stream outputs joined as printed (the kernel
    may split one print into several outputs)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        else:
            parts.append("\n" + out.get("data", {}).get("text/plain", "") + "\n")
    return "".join(parts)


def _cell(code: list[nbformat.NotebookNode], marker: str) -> str:
    """The output text of the first code cell whose source contains ``marker``."""
    return next(_text(c) for c in code if marker in c.source)


def _numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", line)]


@pytest.fixture(scope="module")
def code() -> list[nbformat.NotebookNode]:
    return _clean(_run(NAME))


@pytest.mark.timeout(600)
def test_reading_a_file_block_by_block_stays_flat_and_buffering_grows(code):
    table = _cell(code, "peak traced memory (MB) by file length")
    rows = {line.split("  ")[0].strip(): line for line in table.splitlines() if line.strip()}
    buffered = _numbers(rows["buffer it all"].split("|")[0])
    assert len(buffered) == 4 and buffered == sorted(buffered)
    assert buffered[-1] > 7 * buffered[0], "buffering a file 8x longer should hold ~8x more"
    assert buffered[-1] > 300, buffered  # 20 minutes of 16 kHz: float64 data, a float64 temporary and int16
    for name in ("stream directly (sf.blocks)", "vl.stream's reader"):
        peaks = _numbers(rows[name].split("|")[0])
        assert len(peaks) == 4 and max(peaks) < 2, (name, peaks)
        assert max(peaks) < buffered[0] / 20, (name, peaks)
    text = "\n".join(_text(c) for c in code)
    assert "streaming: peak under 2 MB at every length: True" in text
    assert "streaming: the same peak for 20 minutes as for 2.5: True" in text
    assert "buffer it all, 20 min: more than 100x the streaming peak: True" in text
    assert re.search(r"buffer it all grows by 1[6-8] MB per minute of audio: 2\.\d GB for 2 hours", text)


@pytest.mark.timeout(600)
def test_end_to_end_streaming_peaks_below_half_of_buffering(code):
    runs = _cell(code, "all sent after")
    peaks = {}
    for line in filter(str.strip, runs.splitlines()):
        name = line.split("  ")[0].strip()
        peaks[name] = float(re.search(r"peak traced\s+([\d.]+) MB", line).group(1))
        assert "938 chunks" in line, line
    assert set(peaks) == {"stream directly, speed=None", "stream directly, 10x real time", "buffer it all, speed=None"}
    assert peaks["stream directly, speed=None"] < 0.5 * peaks["buffer it all, speed=None"], peaks
    assert peaks["stream directly, 10x real time"] < 0.5 * peaks["buffer it all, speed=None"], peaks
    text = "\n".join(_text(c) for c in code)
    assert "every run sent the 120 s and got its last final: True" in text
    assert "stream directly (speed=None) peaks below half of buffer it all: True" in text
    assert "speed=None: at most 30 s in flight (plus the last utterance), not the whole file: True" in text
    assert "10x real time: never more than 20 s in flight: True" in text
    assert "audio kept (s): [60.0, 60.0, 120.0] | complete: [False, False, True]" in text
    held = _cell(code, "per_message = ")
    assert re.search(r"held [\d.]+ MB: 2\.6 MB of kept audio and about [\d.]+ KB per message", held), held
    assert "the paced run too: True" in text and "warning faster_than_real_time" in text
    assert "emulator exit code: 0 | its log: empty" in text


@pytest.mark.timeout(600)
def test_session_cap_is_named_and_split_sessions_complete(code):
    text = "\n".join(_text(c) for c in code)
    assert "SessionError - pulse reported an error without a code: maximum session duration of 3 s reached" in text
    assert "close codes: (4002,) | all 40 s sent: False | reconnects: 0" in text
    assert "error server_closed" in text and "session length limit" in text
    split = _cell(code, "pieces = list(zip(")
    assert split.count("close codes (1000,), finals: True") == 3, split
    assert "3 sessions | all 40 s sent: True" in split
    assert "errors diagnosed per session: [[], [], []]" in split


@pytest.mark.timeout(600)
def test_resources_are_released_by_with_and_after_an_error(code):
    text = "\n".join(_text(c) for c in code)
    assert "voicelab client thread in the baseline: True" in text
    assert "sessions open: 2" in text
    assert "both ended on leaving the block: True" in text
    with_cell = next(c for c in code if "sessions open:" in c.source)
    assert "as long_one" in with_cell.source and "as mic" in with_cell.source and ".stop()" not in with_cell.source
    during = _cell(code, "while running, beyond the baseline")
    assert "'.wav': 2" in during and "'.jsonl': 1" in during and "'socket'" in during and "voicelab-emulator" in during
    counts = re.search(r"baseline: threads (\d+) fds (\d+) \| after: threads (\d+) fds (\d+)", during)
    assert counts and counts.group(1, 2) == counts.group(3, 4), during
    assert "while running: the .wav and .jsonl files open: True" in text
    assert "stopped: the audio file and the JSONL log closed: True" in text
    assert "closes: [(1000,), (1000,)]" in text
    assert "nothing left beyond the baseline: True" in text
    assert "2 s later: sessions open 1 | stream done: False | warnings: 0" in text
    assert "ended by the server: ServerClosedError | in stream.error: True" in text
    assert ("after the error, with the Stream still referenced: the microphone's file closed: True "
            "| its reader thread ended: True") in text
    assert "held beyond the baseline: {}" in text
    assert "after del forgotten, beyond the baseline: nothing" in text
    assert "temporary files removed: True" in text


@pytest.mark.timeout(600)
def test_figures_rendered(code):
    assert _pngs(code) >= 3, "the reading, end-to-end memory and timeline figures did not render"
    e2e = next(c for c in code if "audio in flight (s)" in c.source)
    assert any("image/png" in o.get("data", {}) for o in e2e.outputs)
