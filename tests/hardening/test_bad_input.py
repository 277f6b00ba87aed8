"""A corpus of bad input: each case names the error class (or wire code) it must get, under a timeout.

Layers: numpy arrays, raw specs, raw bytes, files, ``voicelab convert``, ``stream`` (API and CLI),
Recordings (the cases that already fail cleanly), the CLI's top-level handler, and the emulator's
wire (a real server on 127.0.0.1, port 0, sphinx engine). A hang fails through ``pytest.mark.timeout``.

Left for part B (voicelab/recording): ``Recording.load`` still raises builtins on random bytes
(UnicodeDecodeError), non-object JSON lines (TypeError/AttributeError), a line without ``t``
(KeyError), a non-number ``t`` (ValueError) and a directory (IsADirectoryError); see
`RECORDING_NOT_CLEAN_YET`. Through the CLI they already end in one line and exit 2 (tested here).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import voicelab as vl
from voicelab.cli import main
from voicelab.errors import (
    AudioFormatError,
    AudioLoadError,
    ChunkError,
    ConversionError,
    EmptyAudioError,
    OutputIsInputError,
    VoicelabError,
)
from voicelab.protocols.errors import ParameterError, SessionConfigError
from voicelab.recording import Recording, RecordingError

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "data" / "speech" / "s01_fox_16k.flac"
CANARY = "sk_CANARY_7f3a9c1e5b"
DEAD_URL = "ws://127.0.0.1:9"  # nothing listens: every case below must fail before connecting

pytestmark = pytest.mark.timeout(30)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    t = np.arange(8000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, subtype="PCM_16")
    return path


@pytest.fixture
def empty_wav(tmp_path: Path) -> Path:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    return path


# --------------------------------------------------------------------------------------------- arrays
def test_int64_from_python_ints_is_refused_with_the_dtype_to_use():
    with pytest.raises(AudioFormatError) as info:
        vl.load(np.array([1, 2, 3000, -3000]), samplerate=16000)
    text = str(info.value)
    assert "int64" in text and "astype(np.int16)" in text and "-3000 to 3000" in text


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64"])
def test_wide_unsigned_integers_are_refused(dtype):
    with pytest.raises(AudioFormatError, match=dtype):
        vl.load(np.array([0, 100, 40000 if dtype != "uint16" else 65535], dtype=dtype), samplerate=16000)


def test_int64_beyond_32_bits_says_to_scale_to_floats():
    with pytest.raises(AudioFormatError, match="floats in"):
        vl.Clip(np.array([0, 1 << 40]), samplerate=16000)


def test_int8_is_read_as_8bit_pcm_with_a_warning():
    with pytest.warns(UserWarning, match="int8 samples are read as 8-bit signed PCM"):
        clip = vl.load(np.array([-128, 0, 64], dtype=np.int8), samplerate=8000)
    assert clip.samples.tolist() == [-1.0, 0.0, 0.5]


def test_uint8_is_read_as_offset_binary_with_a_warning():
    with pytest.warns(UserWarning, match="offset-binary"):
        clip = vl.Clip(np.array([0, 128, 192], dtype=np.uint8), samplerate=8000)
    assert clip.samples.tolist() == [-1.0, 0.0, 0.5]


@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_int16_and_int32_stay_silent_and_full_scale(dtype):
    full = 1 << (15 if dtype == "int16" else 31)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clip = vl.load(np.array([-full, full // 2], dtype=dtype), samplerate=16000)
    assert clip.samples.tolist() == [-1.0, 0.5]


@pytest.mark.parametrize("shape", [(0,), (0, 2)])
def test_an_empty_array_is_refused(shape):
    with pytest.raises(EmptyAudioError, match="empty"):
        vl.load(np.zeros(shape, np.float32), samplerate=16000)


def test_an_empty_python_list_array_is_refused_as_empty():
    with pytest.raises(EmptyAudioError):
        vl.load(np.array([]), samplerate=16000)


@pytest.mark.parametrize(
    "array",
    [
        np.array([True, False]),
        np.array([1j, 0j]),
        np.array(["a", "b"]),
        np.array([object(), object()], dtype=object),
        np.zeros((4, 2, 2), np.float32),
        np.array(0.5, np.float32),
        np.zeros((2, 16000), np.float32),
        np.array([0.1, np.nan], np.float32),
        np.array([0.1, np.inf], np.float32),
    ],
    ids=["bool", "complex", "str", "object", "3d", "0d", "channels_first", "nan", "inf"],
)
def test_arrays_that_are_not_audio_are_refused(array):
    with pytest.raises(AudioFormatError):
        vl.load(array, samplerate=16000)


@pytest.mark.parametrize("rate", [None, 0, -16000, float("nan"), float("inf"), "16000", 16000.5, True, 10**9],
                         ids=lambda r: repr(r))
def test_bad_samplerates_are_refused(rate):
    with pytest.raises(AudioFormatError, match="samplerate"):
        vl.load(np.zeros(16, np.float32), samplerate=rate)


def test_numpy_integer_samplerate_is_accepted():
    assert vl.load(np.zeros(16, np.float32), samplerate=np.int64(16000)).samplerate == 16000


def test_a_list_is_not_a_source():
    with pytest.raises(AudioLoadError, match="numpy array"):
        vl.load([0.1, 0.2], samplerate=16000)


# ------------------------------------------------------------------------------------------ raw specs
@pytest.mark.parametrize(
    "spec, needle",
    [
        ("", "1 part"),
        ("linear16", "1 part"),
        ("linear16:", "RATE ''"),
        ("linear16:abc", "RATE 'abc'"),
        ("linear16:16k", "16k"),
        ("linear16:16_000", "16_000"),
        ("linear16:1e4", "1e4"),
        ("linear16:\uff11\uff16\uff10\uff10\uff10", "not a whole number"),
        ("linear16:0", "between 1 and 768000"),
        ("linear16:-5", "RATE '-5'"),
        ("linear16:16000:0", "channels"),
        ("linear16:16000:65", "channels"),
        ("linear16:16000:x", "CHANNELS 'x'"),
        ("linear16:16000:1:2", "4 parts"),
        ("pcm24:16000", "unknown encoding"),
        (":16000", "names no encoding"),
        ("linear16:" + "9" * 5000, "far out of range"),
    ],
)
def test_bad_raw_specs_say_what_is_wrong(spec, needle):
    with pytest.raises(AudioFormatError) as info:
        vl.load(b"\x00\x01" * 100, raw=spec)
    assert needle in str(info.value)
    assert len(str(info.value)) < 400  # the spec is quoted cut, never in full


@pytest.mark.parametrize("spec", [None, 5, b"linear16:16000"], ids=repr)
def test_raw_spec_parse_refuses_non_strings(spec):
    with pytest.raises(AudioFormatError, match="must be a string"):
        vl.RawFormat.parse(spec)


def test_a_huge_unknown_encoding_is_quoted_short():
    with pytest.raises(AudioFormatError) as info:
        vl.RawFormat.parse("x" * 100_000 + ":16000")
    assert len(str(info.value)) < 400


# ------------------------------------------------------------------------------------------ raw bytes
@pytest.mark.parametrize(
    "data, raw, needle",
    [
        (b"", "linear16:16000", "empty"),
        (b"\x00\x01\x02", "linear16:16000", "whole number"),
        (b'{"audio": "AAAA", "type": "x"}', "linear16:16000", "JSON"),
        (b"UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA=" * 4, "linear16:16000", "base64"),
        (bytes(range(256)) * 2, "opus:48000", "Opus"),
    ],
    ids=["empty", "partial_sample", "json", "base64", "raw_opus"],
)
def test_bad_raw_bytes_are_refused(data, raw, needle):
    with pytest.raises(AudioFormatError, match=needle):
        vl.load(data, raw=raw)


def test_wav_bytes_declared_raw_are_refused(wav):
    with pytest.raises(AudioFormatError, match="RIFF/WAVE header"):
        vl.load(wav.read_bytes(), raw="linear16:16000:1")


def test_raw_and_encoding_together_are_refused():
    with pytest.raises(AudioFormatError, match="not both"):
        vl.load(b"\x00\x00", raw="linear16:16000", encoding="linear16")


def test_encoding_without_samplerate_is_refused():
    with pytest.raises(AudioFormatError, match="samplerate="):
        vl.load(b"\x00\x00", encoding="linear16")


# ---------------------------------------------------------------------------------------------- files
def test_missing_file(tmp_path):
    with pytest.raises(AudioLoadError, match="no such file"):
        vl.load(tmp_path / "missing.wav")


def test_directory(tmp_path):
    with pytest.raises(AudioLoadError, match="directory"):
        vl.load(tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(AudioLoadError, match="empty"):
        vl.load(tmp_path / "zero.wav")


def test_random_bytes_file(tmp_path):
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(1).bytes(4000))
    with pytest.raises(AudioLoadError, match="could not read"):
        vl.load(tmp_path / "noise.wav")


def test_text_file_named_wav(tmp_path):
    (tmp_path / "text.wav").write_text("hello, this is not audio at all\n" * 10)
    with pytest.raises(AudioLoadError, match="looks like text"):
        vl.load(tmp_path / "text.wav")


def test_truncated_wav_header(tmp_path, wav):
    (tmp_path / "cut.wav").write_bytes(wav.read_bytes()[:20])
    with pytest.raises(AudioLoadError):
        vl.load(tmp_path / "cut.wav")


def test_raw_suffix_without_a_format(tmp_path):
    (tmp_path / "x.raw").write_bytes(b"\x00" * 64)
    with pytest.raises(AudioFormatError, match="raw="):
        vl.load(tmp_path / "x.raw")


def test_text_mode_file_object(wav):
    with open(wav) as f, pytest.raises(AudioLoadError, match="binary mode"):
        vl.load(f)


def test_a_zero_frame_wav_loads_and_inspect_reports_it(empty_wav):
    clip = vl.load(empty_wav)  # allowed: a well-formed file; inspect() names the problem
    assert clip.frames == 0
    assert [f.code for f in vl.inspect(empty_wav).findings][:1] == ["empty"]


# -------------------------------------------------------------------------------------------- convert
def convert(*args: str) -> int:
    return main(["convert", *map(str, args)])


def assert_clean_cli(capsys, prefix: str) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.startswith(f"voicelab {prefix}: "), err
    return err


def test_convert_onto_itself_is_refused_and_the_input_survives(wav, capsys):
    before = digest(wav)
    assert convert(wav, wav, "--target", "pulse") == 2
    assert "OutputIsInputError" not in (err := assert_clean_cli(capsys, "convert")) and "destroy the input" in err
    assert digest(wav) == before and sorted(p.name for p in wav.parent.iterdir()) == ["in.wav"]


def test_convert_onto_the_same_path_spelled_differently(wav, capsys):
    (wav.parent / "sub").mkdir()
    assert convert(wav, wav.parent / "sub" / ".." / "in.wav", "--target", "pulse") == 2
    assert_clean_cli(capsys, "convert")


def test_convert_onto_a_symlink_to_the_input(wav, capsys):
    (wav.parent / "link.raw").symlink_to(wav)
    before = digest(wav)
    assert convert(wav, wav.parent / "link.raw", "--target", "pulse") == 2
    assert "through a link" in assert_clean_cli(capsys, "convert") and digest(wav) == before
    assert (wav.parent / "link.raw").is_symlink()


def test_convert_onto_a_hard_link_to_the_input(wav, capsys):
    os.link(wav, wav.parent / "hard.wav")
    before = digest(wav)
    assert convert(wav, wav.parent / "hard.wav", "--target", "pulse") == 2
    assert_clean_cli(capsys, "convert")
    assert digest(wav) == before


def test_output_is_input_error_is_the_class(wav):
    from voicelab.audio.io import check_output_path

    with pytest.raises(OutputIsInputError):
        check_output_path(wav, str(wav))
    assert check_output_path(wav.parent / "other.wav", wav) == wav.parent / "other.wav"


@pytest.mark.parametrize("rate", ["0", "-8000", "99999999"])
def test_convert_bad_samplerate_is_refused_not_ignored(wav, capsys, rate):
    assert convert(wav, wav.parent / "out.raw", "--target", "pulse", "--samplerate", rate) == 2
    assert "--samplerate" in assert_clean_cli(capsys, "convert")
    assert not (wav.parent / "out.raw").exists()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--samplerate", "16000", "--target", "assemblyai-agent"], "expects"),
        (["--target", "pulse", "--encoding", "pcm24"], "unknown encoding"),
        (["--target", "pulse", "--normalize", "3"], "peak_dbfs"),
        (["--target", "pulse", "--normalize", "nan"], "peak_dbfs"),
        (["--target", "pulse", "--raw", "linear16:16k"], "16k"),
    ],
    ids=["rate_not_accepted", "unknown_encoding", "normalize_positive", "normalize_nan", "bad_raw_spec"],
)
def test_convert_bad_options(wav, capsys, extra, needle):
    assert convert(wav, wav.parent / "out.raw", *extra) == 2
    assert needle in assert_clean_cli(capsys, "convert")
    assert sorted(p.name for p in wav.parent.iterdir()) == ["in.wav"]  # no output, no partial file


def test_convert_an_empty_wav_is_refused(empty_wav, capsys):
    assert convert(empty_wav, empty_wav.parent / "out.raw", "--target", "pulse") == 2
    assert "no audio" in assert_clean_cli(capsys, "convert")
    assert not (empty_wav.parent / "out.raw").exists()


def test_convert_into_a_missing_directory_or_onto_a_directory(wav, capsys):
    assert convert(wav, wav.parent / "nodir" / "x.raw", "--target", "pulse") == 2
    assert "does not exist" in assert_clean_cli(capsys, "convert")
    assert convert(wav, wav.parent, "--target", "pulse") == 2
    assert "is a directory" in assert_clean_cli(capsys, "convert")


def test_convert_raw_input_without_raw(tmp_path, capsys):
    (tmp_path / "a.raw").write_bytes(b"\x00" * 3200)
    assert convert(tmp_path / "a.raw", tmp_path / "b.wav", "--target", "pulse") == 2
    assert "raw=" in assert_clean_cli(capsys, "convert")


# ---------------------------------------------------------------------------------------- stream (API)
@pytest.mark.parametrize("key", [CANARY + "\n", CANARY + " ", " " + CANARY, CANARY[:6] + "\t" + CANARY[6:],
                                 CANARY + "\x00", CANARY + "\u00e9"],
                         ids=["newline", "trailing_space", "leading_space", "tab", "nul", "non_ascii"])
def test_stream_refuses_a_key_with_whitespace_or_control_chars_without_showing_it(key):
    with pytest.raises(vl.StreamSetupError) as info:
        vl.stream(SPEECH, provider="pulse", url=DEAD_URL, api_key=key)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert "strip" in str(info.value)


def test_stream_refuses_a_bad_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", CANARY + "\n")
    with pytest.raises(vl.StreamSetupError, match=r"\$ASSEMBLYAI_API_KEY") as info:
        vl.stream(SPEECH, provider="assemblyai-agent", url=DEAD_URL)
    assert CANARY not in repr(info.value)


@pytest.mark.parametrize("provider", ["pulse", "assemblyai-agent"])
def test_build_connect_refuses_a_bad_key_without_showing_it(provider):
    from voicelab.providers import assemblyai_agent, pulse

    build = pulse.build_connect if provider == "pulse" else assemblyai_agent.build_connect
    with pytest.raises(ParameterError) as info:
        build(api_key=CANARY + "\r\n", base_url="ws://127.0.0.1:1")
    assert CANARY not in str(info.value) and CANARY not in repr(info.value) and "strip()" in str(info.value)


def test_agent_build_connect_refuses_a_bad_temporary_token():
    from voicelab.providers import assemblyai_agent

    with pytest.raises(ParameterError, match="token") as info:
        assemblyai_agent.build_connect(token=CANARY + "\n", base_url="ws://127.0.0.1:1")
    assert CANARY not in repr(info.value)


def test_stream_refuses_empty_audio(empty_wav):
    with pytest.raises(EmptyAudioError, match="nothing to stream"):
        vl.stream(empty_wav, provider="pulse", url=DEAD_URL, api_key="sk_x")
    with pytest.raises(EmptyAudioError):
        vl.stream(vl.Clip(np.zeros(0, np.float32), samplerate=16000), provider="pulse", url=DEAD_URL, api_key="k")
    with pytest.raises(EmptyAudioError):
        vl.stream(np.zeros(0, np.float32), samplerate=16000, provider="pulse", url=DEAD_URL, api_key="k")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"source": np.array([1, 2, 3] * 100), "samplerate": 16000}, AudioFormatError),
        ({"url": "https://api.smallest.ai"}, vl.StreamSetupError),
        ({"provider": "nope"}, vl.StreamSetupError),
        ({"source": b"\x00" * 100}, vl.StreamSetupError),
        ({"chunk_bytes": 4096, "chunk_seconds": 0.1}, vl.StreamSetupError),
        ({"chunk_bytes": 0}, ChunkError),
        ({"chunk_bytes": 4095}, ChunkError),
        ({"source": 42}, vl.StreamSetupError),
        ({"source": b"\x00\x01" * 100, "raw": "linear16:16k"}, AudioFormatError),
        ({"api_key": ""}, vl.StreamSetupError),
    ],
    ids=["int64_array", "https_url", "unknown_provider", "bytes_without_raw", "both_chunk_sizes", "chunk_bytes_0",
         "chunk_bytes_odd", "int_source", "bad_raw", "no_key"],
)
def test_stream_bad_arguments(kwargs, error, monkeypatch):
    monkeypatch.delenv("SMALLEST_API_KEY", raising=False)
    args = {"source": SPEECH, "provider": "pulse", "url": DEAD_URL, "api_key": "sk_x"} | kwargs
    source = args.pop("source")
    with pytest.raises(error):
        vl.stream(source, **args)


# ---------------------------------------------------------------------------------------- stream (CLI)
def test_cli_stream_with_a_newline_key_in_the_environment_never_prints_it(monkeypatch, capsys):
    monkeypatch.setenv("SMALLEST_API_KEY", CANARY + "\n")
    assert main(["stream", str(SPEECH), "--url", DEAD_URL]) == 2
    out, err = capsys.readouterr()
    assert CANARY not in out + err and "Traceback" not in out + err and err.startswith("voicelab stream: ")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["{empty}", "--url", DEAD_URL], "no audio"),
        (["{missing}", "--url", DEAD_URL], "no such file"),
        (["{speech}", "--url", "http://127.0.0.1:9"], "ws://"),
        (["{speech}", "--url", DEAD_URL, "--chunk-bytes", "0"], "chunk_bytes"),
        (["{speech}", "--url", DEAD_URL, "--raw", "linear16:16k"], "16k"),
    ],
    ids=["empty", "missing", "http_url", "chunk_bytes_0", "bad_raw"],
)
def test_cli_stream_bad_input(args, needle, empty_wav, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMALLEST_API_KEY", "sk_fine")
    names = {"{empty}": str(empty_wav), "{missing}": str(tmp_path / "missing.wav"), "{speech}": str(SPEECH)}
    assert main(["stream", *[names.get(a, a) for a in args]]) == 2
    assert needle in assert_clean_cli(capsys, "stream")


# ----------------------------------------------------------------------------------------- recordings
RECORDING_NOT_CLEAN_YET = {  # part B: Recording.load should raise RecordingError for each (in progress)
    "random_bytes": np.random.default_rng(7).bytes(3000),
    "json_list_line": b"[1, 2]\n",
    "json_null_line": b"null\n",
    "object_without_t": b'{"a": 1}\n',
    "t_not_a_number": b'{"t": "x"}\n',
}


@pytest.mark.parametrize("content", [b"", b'{"t": 0, "kind": "header"}\n'], ids=["empty_file", "no_session_line"])
def test_recording_load_clean_errors(tmp_path, content):
    (tmp_path / "r.jsonl").write_bytes(content)
    with pytest.raises(RecordingError, match="voicelab recording"):
        Recording.load(tmp_path / "r.jsonl")


def test_recording_load_missing(tmp_path):
    with pytest.raises(RecordingError, match="no such recording"):
        Recording.load(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("command", ["replay", "metrics", "diagnose"])
@pytest.mark.parametrize("case", [*RECORDING_NOT_CLEAN_YET, "directory", "missing"])
def test_cli_gives_one_line_for_a_garbage_recording(command, case, tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    if case == "directory":
        path.mkdir()
    elif case != "missing":
        path.write_bytes(RECORDING_NOT_CLEAN_YET[case])
    assert main([command, str(path)]) == 2
    err = assert_clean_cli(capsys, command)
    assert err.count("\n") == 1


# ------------------------------------------------------------------------------ the CLI in a subprocess
@pytest.mark.timeout(60)
def test_cli_subprocess_never_prints_a_traceback(wav, tmp_path):
    (tmp_path / "g.jsonl").write_bytes(RECORDING_NOT_CLEAN_YET["random_bytes"])
    env = os.environ | {"SMALLEST_API_KEY": CANARY + "\n"}
    cases = [
        ["convert", str(wav), str(wav), "--target", "pulse"],
        ["replay", str(tmp_path / "g.jsonl")],
        ["stream", str(SPEECH), "--url", DEAD_URL],
    ]
    for args in cases:
        r = subprocess.run([sys.executable, "-m", "voicelab", *args], capture_output=True, text=True, timeout=50,
                           env=env)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout and CANARY not in r.stderr + r.stdout
        assert r.stderr.startswith(f"voicelab {args[0]}: ")
    r = subprocess.run([sys.executable, "-m", "voicelab", "replay", str(tmp_path / "g.jsonl"), "--debug"],
                       capture_output=True, text=True, timeout=50)
    assert r.returncode == 2 and "Traceback" in r.stderr  # --debug shows it


def test_unexpected_errors_print_one_line_and_the_debug_hint(wav, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug: " + "x" * 5000)

    monkeypatch.setattr("voicelab.cli.inspect", broken)  # stands for any bug nothing translated
    assert main(["inspect", str(wav)]) == 2
    err = assert_clean_cli(capsys, "inspect")
    assert "unexpected ZeroDivisionError" in err and "--debug" in err and len(err) < 2200 and err.count("\n") == 1
    assert main(["inspect", str(wav), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ agent limits (API)
def test_a_204000_character_greeting_is_invalid_value():
    from voicelab.providers.assemblyai_agent import config

    with pytest.raises(SessionConfigError) as info:
        config.validate_session({"greeting": "hello " * 34_000})
    assert info.value.code == "invalid_value" and "204,000 characters" in str(info.value)
    assert len(str(info.value)) < 300
    config.validate_session({"greeting": "x" * config.MAX_GREETING_CHARS})  # the limit itself is fine


def test_an_oversized_system_prompt_is_invalid_value():
    from voicelab.providers.assemblyai_agent import config

    with pytest.raises(SessionConfigError) as info:
        config.validate_session({"system_prompt": "x" * (config.MAX_SYSTEM_PROMPT_CHARS + 1)})
    assert info.value.code == "invalid_value"


# ------------------------------------------------------------------------------------ the emulator's wire
@pytest.fixture(scope="module")
def server():
    import voicelab.emulator as emulator

    with emulator.serve(engine="sphinx", announce=False, port=0) as running:
        yield running


async def _exchange(url, headers, frames, *, until=None, timeout=8.0):
    """Send ``frames``; collect messages until ``until(msg)`` is true or the server closes."""
    import websockets
    from websockets.exceptions import InvalidStatus

    messages: list = []
    try:
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            for frame in frames:
                await ws.send(frame)
            try:
                async with asyncio.timeout(timeout):
                    async for raw in ws:
                        msg = json.loads(raw) if isinstance(raw, str) else raw
                        messages.append(msg)
                        if until is not None and until(msg):
                            break
            except websockets.ConnectionClosed:
                pass
            await ws.close()
            return ws.close_code if until is None else None, messages
    except InvalidStatus as exc:
        return exc.response.status_code, [json.loads(exc.response.body or b"{}")]


def _pulse(server, frames, *, query="", headers=None):
    hdrs = {"Authorization": f"Bearer {server.api_key}"} if headers is None else headers
    return asyncio.run(_exchange(server.url_for("pulse") + query, hdrs, frames))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "frame, code, needle",
    [
        ("{", 1003, "not JSON"),
        ("[]", 1003, "not JSON"),
        ('{"type": 5}', 1003, "unsupported message type"),
        ('{"type": "nope"}', 1003, "unsupported message type"),
        (b"\x00" * (1100 * 1024), 1009, "exceeds"),
    ],
    ids=["not_json", "json_list", "type_int", "unknown_type", "oversize"],
)
def test_pulse_wire_malformed_frames(server, frame, code, needle):
    close, messages = _pulse(server, [frame])
    assert close == code
    assert messages[-1]["type"] == "error" and needle in messages[-1]["message"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "query, headers, status, needle",
    [
        ("&sample_rate=abc", None, 400, "sample_rate"),
        ("&sample_rate=16k", None, 400, "sample_rate"),
        ("&encoding=wav", None, 400, "encoding"),
        ("&token=bogus", {}, 401, "unauthorized"),
        ("", {"Authorization": "Token whatever"}, 401, "unauthorized"),
    ],
    ids=["rate_abc", "rate_16k", "encoding_wav", "bogus_token", "token_scheme"],
)
def test_pulse_wire_bad_query_and_auth(server, query, headers, status, needle):
    got, body = _pulse(server, [], query=query, headers=headers)
    assert got == status and needle in json.dumps(body)


def _agent(server, frames, *, until):
    return asyncio.run(_exchange(server.url_for("assemblyai-agent"), {"Authorization": f"Bearer {server.api_key}"},
                                 frames, until=until))


def _error(msg) -> bool:
    return isinstance(msg, dict) and msg.get("type") == "session.error"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "frame, code",
    [
        ("{", "invalid_format"),
        (b"\x00\x01", "invalid_format"),
        ("[]", "invalid_format"),
        ("{}", "invalid_format"),
        ('{"type": "input.audio", "audio": "!!!"}', "invalid_audio"),
        ('{"type": "session.update", "session": []}', "invalid_format"),
        (json.dumps({"type": "session.update", "session": {"greeting": "hello " * 34_000}}), "invalid_value"),
        (json.dumps({"type": "session.update", "session": {"system_prompt": "x" * 100_001}}), "invalid_value"),
    ],
    ids=["not_json", "binary", "json_list", "no_type", "bad_base64", "session_not_object", "greeting_204k",
         "system_prompt_100k"],
)
def test_agent_wire_malformed_frames(server, frame, code):
    _, messages = _agent(server, [frame], until=_error)
    assert messages and _error(messages[-1]) and messages[-1]["code"] == code, messages


@pytest.mark.timeout(30)
def test_agent_wire_oversize_frame_is_1009(server):
    close, messages = asyncio.run(_exchange(server.url_for("assemblyai-agent"),
                                            {"Authorization": f"Bearer {server.api_key}"}, ["x" * (1100 * 1024)]))
    assert close == 1009


@pytest.mark.timeout(30)
def test_agent_wire_bogus_token_is_1008(server):
    close, messages = asyncio.run(_exchange(server.url_for("assemblyai-agent") + "?token=bogus", {}, []))
    assert close == 1008 and messages[0]["code"] == "UNAUTHORIZED"


@pytest.mark.timeout(60)
def test_agent_a_4000_character_greeting_is_spoken(server):
    """At the limit the greeting goes to espeak-ng on stdin and is spoken (an argument this long worked too,
    but 204,000 characters did not: "Argument list too long")."""
    greeting = ("The weather today is sunny with a light breeze. " * 90)[:4000]
    update = json.dumps({"type": "session.update", "session": {"greeting": greeting}})
    _, messages = _agent(server, [update], until=lambda m: isinstance(m, dict) and m.get("type") == "reply.audio")
    assert [m["type"] for m in messages if isinstance(m, dict)][-1] == "reply.audio", messages


# --------------------------------------------------------------------------------------- TTS (engine)
@pytest.mark.timeout(60)
def test_espeak_speaks_text_at_the_limit_and_refuses_beyond_it():
    import shutil

    from voicelab.providers.assemblyai_agent.emulator.errors import AgentOptionError
    from voicelab.providers.assemblyai_agent.emulator.tts import MAX_TEXT_CHARS, EspeakSynthesizer

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    synth = EspeakSynthesizer(cache_size=0)
    text = ("-5 degrees. " + "word " * MAX_TEXT_CHARS)[:MAX_TEXT_CHARS]  # a leading "-" is text, not an option
    speech = synth.synthesize(text)
    assert speech.duration > 60 and speech.text == text and speech.words[0].word == "-5"
    with pytest.raises(AgentOptionError, match="longer than"):
        synth.synthesize("x" * (MAX_TEXT_CHARS + 1))


def test_espeak_is_never_given_the_text_as_an_argument(monkeypatch):
    """The command line is checked directly: the text must not appear in argv (ARG_MAX is 128 KiB per argument)."""
    import shutil
    import subprocess as sp

    from voicelab.providers.assemblyai_agent.emulator import tts

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    seen: list = []
    real = sp.run

    def spy(cmd, *args, **kwargs):
        seen.append((list(cmd), kwargs.get("input")))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(tts.subprocess, "run", spy)
    text = "Hello there, how can I help?"
    tts.EspeakSynthesizer(cache_size=0).synthesize(text)
    cmd, stdin = seen[-1]
    assert text not in cmd and "--stdin" in cmd and stdin == text.encode()


def test_text_io_object_is_refused():
    with pytest.raises(AudioLoadError):
        vl.load(io.StringIO("abc"))


def test_every_error_here_is_a_voicelab_error():
    for cls in (AudioFormatError, AudioLoadError, ChunkError, ConversionError, EmptyAudioError, OutputIsInputError,
                ParameterError, SessionConfigError, RecordingError):
        assert issubclass(cls, VoicelabError)


def test_written_files_get_the_permissions_of_an_ordinary_file(tmp_path, wav):
    """Atomic writes go through a private temporary file; the result must not stay private (mode 0600)."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.flac"
        vl.load(wav).save(out)
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)
