"""The evaluation set for the label sniffers: clean speech at every standard rate, and relabelled.

Two groups of voices:

* **tuned**: every espeak-ng recording in ``data/speech`` (its 24 kHz file) and the human
  recording in ``data/human``. The rate check's typical values were read off these.
* **held-out**: voices the check was never tuned on, made here: other espeak-ng voices and
  variants (pitch, speed) reading other text, and the human recording changed with sox
  (pitch shifted ±3-4 semitones, tempo 0.8x and 1.25x).

Each voice is resampled (soxr) to every standard rate in `RATES`: that is the clean case. Each
clean case is then *relabelled*: the same samples declared at 1/3, 1/2, 2 or 3 times their true
rate, whenever that declared rate is plausible (4-96 kHz). Cases are fed to `voicelab.inspect`
as raw linear16 bytes, so the byte-level sniffers (text, container, float32, byte order) run
on them too.

Used by ``tests/audio/test_ratelabel_eval.py`` and ``benchmarks/rate_label.py``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

import voicelab as vl
from voicelab.audio import ratelabel

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"

#: Rates every voice is stored at.
RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
#: Declared rate / true rate of the relabelled cases (2 = declared at twice the true rate: plays sped up).
FACTORS = (1 / 3, 1 / 2, 2.0, 3.0)
DECLARED_RANGE = (4000, 96000)
#: Codes that say "the bytes or the label are not what they were declared to be".
MISLABEL = frozenset({"rate_mismatch", "float32_as_int16", "int16_as_float32", "byte_swapped", "wav_header_in_raw",
                      "stereo_as_mono", "base64_text", "json_text", "text_data", "container_in_raw", "partial_sample",
                      "invalid_float"})

TEXTS = (
    "It was a bright cold day in April, and the clocks were striking thirteen. Nobody in the office "
    "had expected the delivery to arrive before noon, so the boxes stayed in the hallway until evening.",
    "Please remember to water the plants on the balcony while I am away. The small ones need water every "
    "second day, but the large lemon tree only needs it once a week.",
    "Our train was delayed by forty minutes because of a signal failure near the station. We used the time "
    "to finish the crossword and to plan the next morning's walk along the river.",
)
#: (name, espeak-ng arguments, text) of the held-out synthetic voices.
ESPEAK_HELD_OUT = (
    ("en+f3", ("-v", "en+f3"), 0),
    ("en-us+m7", ("-v", "en-us+m7"), 1),
    ("en+f4 -p 70", ("-v", "en+f4", "-p", "70"), 2),
    ("en-gb+m2 -s 130", ("-v", "en-gb+m2", "-s", "130"), 0),
    ("en-us+f5 -s 190", ("-v", "en-us+f5", "-s", "190"), 1),
    ("en+m1 -p 25", ("-v", "en+m1", "-p", "25"), 2),
    ("en-029+m4", ("-v", "en-029+m4"), 0),
    ("en-us+croak", ("-v", "en-us+croak"), 1),
    ("en+f1 -s 120 -p 60", ("-v", "en+f1", "-s", "120", "-p", "60"), 2),
    ("en-us+m5 -s 220", ("-v", "en-us+m5", "-s", "220"), 0),
)
#: (name, sox effect) applied to the human recording for held-out voices.
SOX_HELD_OUT = (
    ("human pitch -300", ("pitch", "-300")),
    ("human pitch +400", ("pitch", "400")),
    ("human tempo 0.8", ("tempo", "0.8")),
    ("human tempo 1.25", ("tempo", "1.25")),
    ("human pitch +250 tempo 1.1", ("pitch", "250", "tempo", "1.1")),
)


@dataclass(frozen=True)
class Voice:
    """One recording of speech at its true rate."""

    name: str
    group: str  # "tuned" or "held-out"
    kind: str  # "synthetic" or "human"
    samples: np.ndarray = field(repr=False)
    samplerate: int


@dataclass(frozen=True)
class Case:
    """One clip as inspect() sees it: a voice stored at `stored` Hz and declared at `declared` Hz."""

    voice: Voice
    stored: int
    declared: int
    factor: float  # declared / stored (1.0 = clean)
    samples: np.ndarray = field(repr=False)

    @property
    def clean(self) -> bool:
        return self.factor == 1.0


@dataclass
class Outcome:
    """What inspect() said about one case."""

    case: Case
    codes: list[str]
    rate_severity: str | None  # severity of rate_mismatch, if any
    likely_samplerate: int | None
    verdict: str
    llr: float  # evidence for the best other rate over the declared one (nats)
    seconds: float

    @property
    def flagged(self) -> bool:
        """Any mislabel finding at all (a false alarm on a clean case)."""
        return bool(MISLABEL & set(self.codes))

    @property
    def caught(self) -> bool:
        """A relabelled case reported as rate_mismatch (error or warning)."""
        return self.rate_severity is not None

    @property
    def other_sniffers(self) -> list[str]:
        return sorted((MISLABEL - {"rate_mismatch"}) & set(self.codes))


def tuned_voices() -> list[Voice]:
    """Every espeak-ng recording in data/speech (24 kHz files) and the human recording."""
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    out = []
    for e in files:
        if (e["kind"] == "speech" and e["samplerate"] == 24000) or e["kind"] == "human":
            x, rate = sf.read(DATA / e["path"], dtype="float32")
            kind = "human" if e["kind"] == "human" else "synthetic"
            voice = e["voice"] if kind == "synthetic" else "human"
            out.append(Voice(f"{e['id']} ({voice})", "tuned", kind, x, rate))
    return out


def tools_available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


#: The short form of the held-out set run in CI: its extremes (deepest, highest, closest calls) and a croak.
HELD_OUT_SHORT = ("en+m1 -p 25", "en+f4 -p 70", "en-us+croak", "human pitch -300", "human pitch +400")


def held_out_voices(cache: Path, *, names: tuple[str, ...] | None = None) -> list[Voice]:
    """Voices not in data/: other espeak-ng voices and the human recording changed by sox (cached in `cache`).

    Args:
        cache: Where the generated audio is kept between calls.
        names: Only these voices (default: all).
    """
    cache.mkdir(parents=True, exist_ok=True)
    specs: list[tuple[str, str, list[str]]] = []
    for name, args, text in ESPEAK_HELD_OUT:
        specs.append((name, "synthetic", ["espeak-ng", *args, "-w", "{out}", TEXTS[text]]))
    human = str(DATA / "human" / "two_cities_48k.flac")
    for name, effect in SOX_HELD_OUT:
        specs.append((name, "human", ["sox", human, "{out}", *effect]))
    if names is not None:
        specs = [spec for spec in specs if spec[0] in names]
    out = []
    for name, kind, cmd in specs:
        path = cache / f"{hashlib.sha1(' '.join(cmd).encode()).hexdigest()[:12]}.wav"
        if not path.exists():
            tmp = path.with_suffix(".tmp.wav")
            subprocess.run([c.replace("{out}", str(tmp)) for c in cmd], check=True, capture_output=True)
            tmp.rename(path)
        x, rate = sf.read(path, dtype="float32")
        out.append(Voice(name, "held-out", kind, x, rate))
    return out


def cases(voice: Voice, *, rates: tuple[int, ...] = RATES, factors: tuple[float, ...] = FACTORS) -> Iterator[Case]:
    """The voice stored at each rate (clean), and each of those declared at each factor (relabelled)."""
    for rate in rates:
        x = voice.samples if rate == voice.samplerate else soxr.resample(voice.samples, voice.samplerate, rate)
        x = np.asarray(x, dtype=np.float32)
        yield Case(voice, rate, rate, 1.0, x)
        for f in factors:
            declared = round(rate * f)
            if DECLARED_RANGE[0] <= declared <= DECLARED_RANGE[1]:
                yield Case(voice, rate, declared, f, x)


def run(case: Case, *, encoding: str = "linear16") -> Outcome:
    """inspect() the case as raw bytes (``linear16`` or ``float32``) declared at its declared rate."""
    pcm = vl.audio.encode(vl.Clip(case.samples, samplerate=case.stored), encoding=encoding)
    t0 = time.perf_counter()
    report = vl.inspect(pcm, raw=f"{encoding}:{case.declared}:1")
    seconds = time.perf_counter() - t0
    rate = next((f for f in report.findings if f.code == "rate_mismatch"), None)
    return Outcome(
        case=case,
        codes=report.codes,
        rate_severity=rate.severity if rate else None,
        likely_samplerate=rate.evidence["likely_samplerate"] if rate else None,
        verdict=report.cues.verdict if report.cues else "none",
        llr=report.cues.log_likelihood_ratio if report.cues else float("nan"),
        seconds=seconds,
    )


def factor_name(f: float) -> str:
    return {1 / 3: "1/3", 1 / 2: "1/2", 1.0: "clean", 2.0: "2x", 3.0: "3x"}.get(f, f"{f:.3g}")


def confusion(outcomes: list[Outcome]) -> dict[str, dict[str, tuple[int, int]]]:
    """{row: {column: (hits, n)}}: clean → flagged, relabelled → caught; rows per voice and "all"."""
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for o in outcomes:
        col = factor_name(o.case.factor)
        hit = o.flagged if o.case.clean else o.caught
        for row in (o.case.voice.name, "all"):
            table[row][col][0] += int(hit)
            table[row][col][1] += 1
    return {r: {c: (v[0], v[1]) for c, v in cols.items()} for r, cols in table.items()}


COLUMNS = ("clean", "1/3", "1/2", "2x", "3x")


def format_table(outcomes: list[Outcome], title: str) -> str:
    """A markdown confusion table: clean → flagged (want 0), each factor → caught (want ≥ 95 %)."""
    table = confusion(outcomes)
    lines = [f"**{title}**", "",
             "| voice | clean → flagged | 1/3 → caught | 1/2 → caught | 2x → caught | 3x → caught |",
             "|---|---|---|---|---|---|"]
    rows = [r for r in table if r != "all"] + ["all"]
    for r in rows:
        cells = []
        for c in COLUMNS:
            hit, n = table[r].get(c, (0, 0))
            cells.append(f"{hit}/{n}" + (f" ({hit / n:.0%})" if n and c != "clean" else "") if n else "–")
        name = f"**{r}**" if r == "all" else r
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sev = defaultdict(int)
    for o in outcomes:
        if not o.case.clean and o.caught:
            sev[o.rate_severity or ""] += 1
    right = sum(1 for o in outcomes if not o.case.clean and o.caught and o.likely_samplerate == o.case.stored)
    caught = sum(1 for o in outcomes if not o.case.clean and o.caught)
    others = sum(1 for o in outcomes if o.other_sniffers)
    clean = [o for o in outcomes if o.case.clean and o.verdict != "unknown"]
    relab = [o for o in outcomes if not o.case.clean and o.verdict != "unknown"]
    if clean and relab:
        c, r = max(clean, key=lambda o: o.llr), min(relab, key=lambda o: o.llr)
        lines += ["", f"Closest calls, in nats of evidence for another rate than the declared one (warning at "
                  f"≥ {ratelabel.POSSIBLE_LLR:.2f}, error at ≥ {ratelabel.DECISIVE_LLR:.2f}): clean "
                  f"{c.llr:+.1f} ({c.case.voice.name} at {c.case.stored} Hz), relabelled {r.llr:+.1f} "
                  f"({r.case.voice.name} at {r.case.stored} Hz declared {r.case.declared} Hz)."]
    lines += ["", f"Caught relabels: {sev['error']} as error, {sev['warning']} as warning (\"possibly\"); likely rate "
              f"right in {right}/{caught}. Other sniffers (float32/int16, byte order, stereo-as-mono, text, "
              f"container) fired on {others}/{len(outcomes)} cases."]
    return "\n".join(lines)


def invariance_breaks(outcomes: list[Outcome]) -> list[str]:
    """Voice/factor pairs whose verdict (flagged or not) depends on the rate the voice is stored at."""
    seen: dict[tuple[str, float], set[bool]] = defaultdict(set)
    for o in outcomes:
        seen[(o.case.voice.name, o.case.factor)].add(o.flagged if o.case.clean else o.caught)
    return [f"{v} {factor_name(f)}: {sorted(s, key=str)}" for (v, f), s in seen.items() if len(s) > 1]
