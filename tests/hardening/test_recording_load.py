"""`Recording.load` on anything: a clear `RecordingError` naming the line and the fix, never another exception.

The CLI's ``replay`` and ``metrics`` turn it into one line on stderr and exit status 2. The property tests
feed arbitrary bytes and arbitrary JSON lines (a few hundred examples each in CI; set
``VOICELAB_HYPOTHESIS_EXAMPLES=100000`` for the long run, see benchmarks/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from voicelab.errors import VoicelabError, VoicelabWarning
from voicelab.recording import Recording, RecordingError

EXAMPLES = int(os.environ.get("VOICELAB_HYPOTHESIS_EXAMPLES", "300"))
SESSION = '{"t":0.0,"kind":"session","provider":"pulse","version":1}'
FIX = "record="  # every message names how to get a real recording


@pytest.mark.parametrize(("content", "match"), [
    (bytes(range(128, 256)) + bytes(range(128)), r"line 1 is not UTF-8 text \(byte 0x80 at column 1\)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "line 1 is not UTF-8"),
    (b"", "is empty"),
    (b"\n\n  \n", "is empty"),
    (b"\xef\xbb\xbf", "holds no entries"),  # only a byte-order mark (found by the property test below)
    (b"\xef\xbb\xbf\n \n", "holds no entries"),
    (b"[1, 2, 3]\n", "line 1 is JSON list, not an object"),
    (b"42\n", "line 1 is JSON int, not an object"),
    (b"null\n", "line 1 is JSON null, not an object"),
    (b'"text"\n', "line 1 is JSON str, not an object"),
    (b'{"kind":"session","provider":"pulse"}\n', r'line 1 has no "t"'),
    (b'{"t":"soon","kind":"session","provider":"pulse"}\n', r'line 1 has "t": .*not a number'),
    (b'{"t":true,"kind":"session","provider":"pulse"}\n', r'line 1 has "t": true'),
    (b'{"t":NaN,"kind":"session","provider":"pulse"}\n', r'line 1 has "t": NaN'),
    (b'{"t":0,"provider":"pulse"}\n', r'line 1 has no "kind"'),
    (b'{"t":0,"kind":"session"}\n', "line 1 has no provider"),
    (b'{"t":0,"kind":"chunk"}\n', "line 1 is a 'chunk' entry: a recording starts with a session line"),
    ((SESSION + "\n[]\n").encode(), "line 2 is JSON list"),
    ((SESSION + '\n{"t":1,"kind":"recv"}\nnot json\n').encode(), r"line 3 is not JSON \(cut short\?\)"),
    ((SESSION + "\nnot json\n" + SESSION + "\n").encode(), r"line 2 is not JSON: 'not json'"),
    ((SESSION + "\n" + "[" * 100_000 + "\n").encode(), "line 2 is not JSON"),
    (b"{" + b'"t":1,' * 2 + b"\n", "line 1 is not JSON"),  # a torn *first* line is not a recording
])
def test_garbage_gets_a_recording_error_naming_the_line_and_fix(tmp_path, content, match):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=match) as info:
        Recording.load(path)
    assert FIX in str(info.value) or "is empty" not in match
    assert str(path) in str(info.value)


def test_a_directory_and_an_unreadable_file(tmp_path):
    with pytest.raises(RecordingError, match="is a directory, not a recording"):
        Recording.load(tmp_path)
    locked = tmp_path / "locked.jsonl"
    locked.write_text(SESSION + "\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything
            pytest.skip("running as root")
        with pytest.raises(RecordingError, match="cannot read the recording"):
            Recording.load(locked)
    finally:
        locked.chmod(0o600)


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "torn.jsonl"
    path.write_bytes((SESSION + '\n{"t":0.5,"kind":"connect"}\n{"t":1.0,"kind":"re').encode())
    with pytest.warns(VoicelabWarning, match="line 3 was cut short"):
        rec = Recording.load(path)
    assert [e.kind for e in rec] == ["session", "connect"]
    # a multi-byte character cut in two is a torn line too
    path.write_bytes((SESSION + '\n{"t":1.0,"kind":"recv","message":"caf').encode() + "é".encode()[:1])
    with pytest.warns(VoicelabWarning, match="line 2 was cut short"):
        assert [e.kind for e in Recording.load(path)] == ["session"]


def test_line_separators_inside_strings_do_not_split_lines(tmp_path):
    # Entries are written with ensure_ascii=False: U+2028, U+0085 or a form feed may sit raw inside a string
    path = tmp_path / "sep.jsonl"
    text = "one\u2028two\x85three\x0cfour\x1cfive"
    path.write_text(SESSION + "\n" + json.dumps({"t": 1.0, "kind": "note", "text": text}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = Recording.load(path)
    assert rec.of("note")[0]["text"] == text


def test_a_real_recording_round_trips(tmp_path):
    rec = Recording(tmp_path / "r.jsonl", provider="pulse")
    rec.log("connect", attempt=1, url="ws://x/y?token=abc")
    rec.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Recording.load(tmp_path / "r.jsonl")
    assert [e.kind for e in loaded] == ["session", "connect"] and loaded.provider == "pulse"


@pytest.mark.parametrize("command", ["replay", "metrics"])
@pytest.mark.parametrize("content", [b"\x00\xff garbage", b"[1]\n", b""])
def test_cli_prints_one_line_and_exits_2(tmp_path, command, content):
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "voicelab.cli", command, str(path)], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"voicelab {command}: "), r.stderr
    assert "Traceback" not in r.stderr and str(path) in lines[0] and "unexpected" not in lines[0]


@pytest.mark.parametrize("command", ["replay", "metrics"])
def test_cli_on_a_directory(tmp_path, command):
    r = subprocess.run([sys.executable, "-m", "voicelab.cli", command, str(tmp_path)], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "is a directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ properties

_PROPS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VoicelabWarning)
        try:
            return Recording.load(path)
        except VoicelabError:
            return None


@_PROPS
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_voicelab_errors(tmp_path, data):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    rec = _load_quietly(path)
    assert rec is None or (isinstance(rec, Recording) and rec.header.kind == "session")
    assert path.read_bytes() == data  # loading never writes to its input


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_entry = st.fixed_dictionaries(
    {}, optional={"t": _json | st.floats(), "kind": _json | st.sampled_from(["session", "chunk", "recv", ""]),
                  "provider": _json | st.just("pulse")},
).flatmap(lambda d: st.dictionaries(st.text(max_size=6), _json, max_size=3).map(lambda extra: {**extra, **d}))
_line = st.one_of(_entry.map(json.dumps), _json.map(json.dumps), st.text(max_size=40))


@_PROPS
@given(lines=st.lists(_line, max_size=8), header=st.booleans(), newline=st.booleans())
def test_arbitrary_lines_raise_only_voicelab_errors(tmp_path, lines, header, newline):
    path = tmp_path / "fuzz.jsonl"
    text = "\n".join(([SESSION] if header else []) + lines) + ("\n" if newline else "")
    path.write_text(text, encoding="utf-8", newline="")
    rec = _load_quietly(path)
    if rec is not None:  # whatever loads is a Recording with a provider and numeric times
        assert rec.header.kind == "session" and isinstance(rec.provider, str)
        assert all(isinstance(e.t, float) and isinstance(e.kind, str) for e in rec)
