import json
import subprocess
import sys

import pytest

from tests.conftest import DATA, entries
from voicelab.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicelab", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("entry", entries("broken"), ids=lambda e: e["path"])
def test_inspect_broken_names_problem_and_fix(entry, capsys):
    args = ["inspect", str(DATA / entry["path"])] + (["--raw", entry["raw"]] if entry["raw"] else [])
    code = main(args)
    text = capsys.readouterr().out
    assert f"] {entry['expect']}:" in text and "fix:" in text
    assert main([*args, "--json"]) == code
    top = json.loads(capsys.readouterr().out)["findings"][0]
    assert top["code"] == entry["expect"] and top["fix"]
    assert code == (1 if top["severity"] == "error" else 0)


@pytest.mark.parametrize("entry", entries("speech")[:4] + entries("human"), ids=lambda e: e["path"])
def test_inspect_good_is_clean(entry, capsys):
    assert main(["inspect", str(DATA / entry["path"]), "--target", "pulse"]) == 0
    assert "[error]" not in capsys.readouterr().out


def test_json_and_exit_codes_in_a_subprocess(tmp_path):
    r = run("inspect", str(DATA / "broken" / "silent.wav"), "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["findings"][0]["code"] == "silence"
    r = run("inspect", str(tmp_path / "missing.wav"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run("inspect", str(DATA / "speech" / "s01_fox_16k.flac"), "--target", "nope")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run("inspect", str(DATA / "broken" / "weather_base64.txt"), "--raw", "linear16:16000")
    assert r.returncode == 1 and "b64decode" in r.stdout


def test_convert_fixes_what_inspect_found(tmp_path, capsys):
    out = tmp_path / "agent.raw"
    assert main(["convert", str(DATA / "broken" / "stereo_44k_float.wav"), str(out), "--target",
                 "assemblyai-agent"]) == 0
    assert main(["inspect", str(out), "--raw", "linear16:24000:1", "--target", "assemblyai-agent"]) == 0
    wav = tmp_path / "pulse.wav"
    assert main(["convert", str(DATA / "broken" / "weather_16k_labelled_8k.raw"), str(wav), "--raw",
                 "linear16:16000:1", "--target", "pulse", "--normalize", "-1"]) == 0
    assert main(["inspect", str(wav), "--target", "pulse"]) == 0
    assert main(["convert", str(wav), str(tmp_path / "x.raw"), "--target", "pulse", "--encoding", "pcm24"]) == 2
    assert main(["convert", str(wav), str(tmp_path / "x.raw"), "--target", "assemblyai-agent", "--samplerate",
                 "16000"]) == 2
    assert main(["convert", str(wav), str(tmp_path / "nodir" / "x.raw"), "--target", "pulse"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.raw", "pulse.wav"]
