"""Record the cassettes in ``data/cassettes/``: two short sessions, played against voicelab's own emulator.

Run from the repository root::

    .venv-test/bin/python data/make_cassettes.py           # record both, check them, then install
    .venv-test/bin/python data/make_cassettes.py --check   # only check the files already in data/cassettes/

A cassette is a `voicelab.Recording` saved as JSONL: every chunk sent and every message received, on one
clock. `voicelab.replay` plays it back through the same event API with no network and no key, and
`voicelab.diagnose` reads it like a live session. Tutorial 10 (``notebooks/10-your-api-key.ipynb``) uses
these two when no API key is set.

* ``pulse_fox.jsonl``: ``speech/s01_fox_16k.flac`` streamed to the emulator's Smallest AI Pulse
  route at real time, the audio as sent kept (``keep_audio_seconds=None``) so `diagnose` checks it.
* ``agent_fox.jsonl``: ``speech/s01_fox_24k.flac`` spoken to the emulator's AssemblyAI Voice Agent route,
  which answers with speech (about 700 KB, most of it the agent's reply audio). All audio is kept: a
  Recording that drops the agent's reply audio (``keep_audio_seconds`` shorter than the session) parses each
  stripped ``reply.audio`` as a ``malformed_message`` error and `voicelab.plot.timeline` cannot draw it.

They are recorded against the local emulator (faster-whisper tiny.en plays the recognizer, espeak-ng the
agent's voice), never against the vendors: CI has no key and no network to them. The emulator is given a
made-up key, and the files are checked to hold neither it nor anything shaped like a key. Every run records
new sessions (new session ids, times and, from whisper, possibly other words), so the files change; the
checks in `check` are what must hold. Needs the ``emulator`` extra (faster-whisper, espeak-ng on PATH).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CASSETTES = DATA_DIR / "cassettes"

#: Anything shaped like a vendor key or a credential in a URL or header: a cassette must hold none.
KEY_SHAPES = re.compile(r"sk_[0-9A-Za-z_]{8,}|(?i:bearer\s+[^*\s\"]{6,})|(?i:[?&](?:token|api_key|key)=[^*&\"\s])")


@dataclass(frozen=True)
class Cassette:
    """One session to record: the file name, the provider, the speech sent and the Recording's audio setting."""

    name: str
    provider: str
    speech: str
    keep_audio_seconds: float | None
    final_timeout: float


CASSETTE_SET = (
    Cassette("pulse_fox.jsonl", "pulse", "speech/s01_fox_16k.flac", None, 15.0),
    Cassette("agent_fox.jsonl", "assemblyai-agent", "speech/s01_fox_24k.flac", None, 30.0),
)


def record(cassette: Cassette, *, url: str, api_key: str, dest: Path) -> None:
    """Stream ``cassette.speech`` to the emulator at ``url`` and write the Recording to ``dest``.

    Args:
        cassette: What to record.
        url: The running emulator's base URL (``ws://127.0.0.1:PORT``).
        api_key: The key the emulator accepts (made up; it must not reach the file).
        dest: The JSONL file to write.
    """
    import voicelab as vl

    stream = vl.stream(DATA_DIR / cassette.speech, provider=cassette.provider, url=url, api_key=api_key,
                       record=dest, keep_audio_seconds=cassette.keep_audio_seconds,
                       final_timeout=cassette.final_timeout)
    stream.wait(120)
    stream.recording.close()


def check(path: Path, *, provider: str, api_key: str | None = None) -> None:
    """Check one cassette: it loads, is one clean session from the emulator, and holds no key.

    Args:
        path: The cassette.
        provider: The provider it must be a session of.
        api_key: The key it was recorded with, when known (right after recording).

    Raises:
        AssertionError: If any check fails (the message says which).
    """
    import voicelab as vl

    text = path.read_text(encoding="utf-8")
    assert api_key is None or api_key not in text, f"{path.name}: the emulator's key is in the file"
    shaped = KEY_SHAPES.search(text)
    assert shaped is None, f"{path.name}: something shaped like a key: {shaped.group(0)[:12]}…"
    rec = vl.Recording.load(path)
    assert rec.provider == provider, (path.name, rec.provider)
    assert str(rec.header["endpoint"]).startswith("ws://127.0.0.1:"), f"{path.name}: not recorded on the emulator"
    summary = rec.summary()
    assert len(summary["session_ids"]) == 1, (path.name, summary["session_ids"])
    assert [c["code"] for c in summary["closes"]] == [1000], (path.name, summary["closes"])
    assert rec.stats.finals >= 1 and rec.transcript.strip(), f"{path.name}: no final transcript"
    assert rec.stats.errors == 0, f"{path.name}: {rec.stats.errors} error events"
    assert not [f for f in vl.diagnose(rec) if f.severity == "error"], f"{path.name}: diagnose finds an error"
    replayed = vl.replay(rec).wait(30)
    assert [ev for _, ev in replayed.events] == [ev for _, ev in rec.events()], f"{path.name}: replay differs"


def build(dest: Path) -> None:
    """Record every cassette against a fresh emulator, check each, then move them into ``dest``.

    Args:
        dest: The cassettes directory (created if missing).
    """
    import voicelab as vl

    key = "sk_cassette_" + secrets.token_hex(12)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cassettes.", dir=dest) as tmp, \
            vl.serve(engine="whisper", api_key=key, announce=False) as server:
        staged = []
        for cassette in CASSETTE_SET:
            path = Path(tmp) / cassette.name
            record(cassette, url=server.url, api_key=key, dest=path)
            check(path, provider=cassette.provider, api_key=key)
            staged.append((path, dest / cassette.name))
            print(f"recorded {cassette.name}: {path.stat().st_size / 1024:.0f} KiB, "
                  f"{vl.Recording.load(path).transcript!r}")
        for path, target in staged:
            os.replace(path, target)


def main(argv: list[str] | None = None) -> int:
    """Record the cassettes (or, with ``--check``, only check them); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the cassettes already in data/cassettes/")
    args = parser.parse_args(argv)
    if not args.check:
        build(CASSETTES)
    for cassette in CASSETTE_SET:
        check(CASSETTES / cassette.name, provider=cassette.provider)
    print(f"{len(CASSETTE_SET)} cassettes in {CASSETTES} check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
