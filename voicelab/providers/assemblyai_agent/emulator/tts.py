"""Speech for the emulated voice agent: text → 24 kHz mono PCM16 with per-word timings.

Two engines implement `Synthesizer`:

* `EspeakSynthesizer` runs ``espeak-ng --stdout -v VOICE -s WPM --stdin`` in a subprocess (with a
  timeout; the text goes on standard input, so its length is not bounded by the command line),
  reads its streaming WAV (22050 Hz, the RIFF sizes are placeholders) with `voicelab.audio.riff`
  and `voicelab.audio.codecs`, and resamples it to 24 kHz with `voicelab.audio.convert.resample`.
* `SyntheticSynthesizer` needs nothing installed: a clearly non-speech, vowel-like harmonic tone
  per word, labelled ``engine="synthetic (espeak-ng not installed)"``.

Word timings. The espeak-ng command line does not report word boundaries (``-x``/``-X`` print
phonemes without durations; ``--pho`` only works with MBROLA voices), so `EspeakSynthesizer`
*estimates* them (``Speech.timing == "estimate"``): the voiced span of the output is found from
its energy, the pauses espeak-ng inserts at clause punctuation (``, . ; : ? !``) are located as the
longest silent runs inside that span, and each clause's time is shared among its words in
proportion to a spoken-length weight (letters, with digits counted as spoken number words).
Measured against espeak-ng's own word events (read from libespeak-ng through ctypes in
``tests/emulator/test_agent_parts.py``), word starts are off by 0.06-0.13 s on average (at most
~0.25 s) on sentences of 13-16 words at 175 wpm: good enough to cut an interrupted reply at a
word. The synthetic engine's timings are exact (``timing == "exact"``).

`spoken_text` cuts a reply back to "what was actually spoken" for an interrupted
``transcript.agent``; `chunk_speech` encodes a reply in the session's ``output.format.encoding``
(the wire encoding → voicelab encoding and rate table is
`voicelab.providers.assemblyai_agent.config.ENCODING_RATES`; ``audio/pcmu``/``audio/pcma`` are
8 kHz G.711) and cuts it into the ~50 ms ``reply.audio`` payloads. `synthesizer` is the
process-wide engine the emulator's sessions share.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voicelab.audio.clip import Clip
from voicelab.audio.codecs import decode_pcm, encode_pcm
from voicelab.audio.convert import float_to_pcm, pcm_to_float, resample
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.audio.riff import parse_wav_header
from voicelab.errors import VoicelabError
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES, MAX_GREETING_CHARS
from voicelab.providers.assemblyai_agent.emulator.errors import AgentOptionError, SynthesisError

__all__ = [
    "DEFAULT_ESPEAK_VOICE",
    "ESPEAK_VOICES",
    "MAX_TEXT_CHARS",
    "OUTPUT_RATE",
    "EspeakSynthesizer",
    "Speech",
    "Synthesizer",
    "SyntheticSynthesizer",
    "WordTiming",
    "chunk_speech",
    "espeak_voice",
    "get_synthesizer",
    "spoken_text",
    "synthesizer",
]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: The agent's output rate for ``audio/pcm``, in Hz [DOC]
#: (https://assemblyai.com/docs/voice-agents/voice-agent-api/audio-format).
OUTPUT_RATE = ENCODING_RATES["audio/pcm"][1]

#: AssemblyAI voice name → espeak-ng voice (``language+variant``). English text throughout, so every
#: voice stays an English espeak voice; the variant only changes the timbre (f* female, m* male).
ESPEAK_VOICES: Mapping[str, str] = {
    "ivy": "en-us+f3",
    "james": "en-us+m3",
    "tyler": "en-us+m1",
    "winter": "en-us+f2",
    "bella": "en-us+f4",
    "david": "en-gb+m3",
    "kyle": "en-us+m2",
    "helen": "en-gb+f3",
    "martha": "en-gb+f2",
    "river": "en-us+f5",
    "emma": "en-gb+f4",
    "victor": "en-gb+m1",
    "eleanor": "en-gb+f1",
    "arjun": "en-us+m4",
    "dmitri": "en-us+m5",
    "pierre": "en-us+m6",
    "giulia": "en-us+f1",
    "luca": "en-us+m7",
    "lucia": "en-gb+f5",
    "mateo": "en-gb+m2",
    "diego": "en-gb+m4",
    "anna": "en-us+f2",
}
#: Longest text one `Synthesizer.synthesize` call speaks, in characters (about 4 minutes of speech).
#: `voicelab.providers.assemblyai_agent.config` refuses longer greetings with ``invalid_value`` first.
MAX_TEXT_CHARS = MAX_GREETING_CHARS

#: The espeak-ng voice for ``voice=None`` or a name not in `ESPEAK_VOICES`.
DEFAULT_ESPEAK_VOICE = "en-us+f3"


def espeak_voice(voice: str | None) -> str:
    """Map an API voice name (``ivy``, ``james`` …) to an espeak-ng voice, deterministically.

    Args:
        voice: The session's ``output.voice``; ``None`` means the API default.

    Returns:
        An espeak-ng ``-v`` argument such as ``"en-us+f3"``; unknown names get `DEFAULT_ESPEAK_VOICE`.
    """
    if voice is None:
        return DEFAULT_ESPEAK_VOICE
    return ESPEAK_VOICES.get(voice.strip().lower(), DEFAULT_ESPEAK_VOICE)


@dataclass(frozen=True)
class WordTiming:
    """One word of a `Speech`: its text, its span in the audio and its span in the text.

    Attributes:
        word: The word as written (punctuation included).
        start: Audio time the word starts, in seconds.
        end: Audio time the word ends, in seconds.
        char_start: Index of its first character in `Speech.text`.
        char_end: Index one past its last character in `Speech.text`.
    """

    word: str
    start: float
    end: float
    char_start: int
    char_end: int


@dataclass(frozen=True, eq=False)
class Speech:
    """Synthesised speech: mono int16 PCM at `samplerate`, with the words it says and when.

    Attributes:
        pcm: int16 samples, mono.
        samplerate: Hz (always 24000 from the synthesizers here).
        text: The text that was spoken.
        engine: Which engine made it, e.g. ``"espeak-ng 1.51 (en-us+f3)"``.
        words: Word timings in order.
        timing: ``"exact"`` (the engine placed the words) or ``"estimate"`` (see the module docs).
        voice: The API voice name asked for, if any.
    """

    pcm: npt.NDArray[np.int16]
    samplerate: int
    text: str
    engine: str
    words: tuple[WordTiming, ...]
    timing: str = "estimate"
    voice: str | None = None
    _bytes: list[bytes] = field(default_factory=list, repr=False)

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.pcm) / self.samplerate

    def to_bytes(self) -> bytes:
        """The audio as PCM16 little-endian bytes (``audio/pcm``)."""
        if not self._bytes:
            self._bytes.append(self.pcm.astype("<i2").tobytes())
        return self._bytes[0]

    def to_float(self) -> npt.NDArray[np.float32]:
        """The audio as float32 in [-1, 1]."""
        return pcm_to_float(self.pcm)

    def to_clip(self) -> Clip:
        """The audio as a `voicelab.audio.Clip` (float32 with its rate)."""
        return Clip(self.pcm, samplerate=self.samplerate)


# --------------------------------------------------------------------------- text → word weights

_WORD = re.compile(r"\S+")
_CLAUSE_END = re.compile(r"[,.;:?!]+[\"')\]]*$")
_ONES = "zero one two three four five six seven eight nine".split()


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _weight(word: str) -> float:
    """Spoken-length weight of a written word: letters, plus ~4 letters per digit, plus a boundary."""
    letters = sum(ch.isalpha() for ch in word)
    digits = sum(ch.isdigit() for ch in word)
    return letters + 4.5 * digits + 1.0


def _is_clause_end(word: str) -> bool:
    return _CLAUSE_END.search(word) is not None


# --------------------------------------------------------------------------- interface


class Synthesizer(ABC):
    """Text to 24 kHz mono PCM16 speech with word timings; results are cached by (text, voice).

    Subclasses implement `_synthesize`; `synthesize` adds validation and a bounded LRU cache that is
    safe to share between threads.

    Args:
        cache_size: Number of (text, voice) results kept; ``None`` disables the limit, 0 disables caching.
    """

    #: The engine's name, reported in `Speech.engine`.
    engine: str = "synthesizer"

    def __init__(self, *, cache_size: int | None = 128) -> None:
        if cache_size is not None and cache_size < 0:
            raise AgentOptionError(f"cache_size={cache_size!r} is negative; pass 0 to disable caching or None")
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str | None], Speech] = OrderedDict()
        self._lock = threading.Lock()

    def synthesize(self, text: str, *, voice: str | None = None) -> Speech:
        """Speak `text` in `voice`.

        Args:
            text: What to say; surrounding whitespace is ignored. Empty text gives empty audio.
            voice: The API voice name (``ivy`` …); mapped with `espeak_voice`.

        Returns:
            The `Speech` (24 kHz mono int16 with word timings).

        Raises:
            AgentOptionError: `text` is not a string, or longer than `MAX_TEXT_CHARS`.
            SynthesisError: The engine failed.
        """
        if not isinstance(text, str):
            raise AgentOptionError(f"text={text!r} is not a string; pass the reply text as str")
        if len(text) > MAX_TEXT_CHARS:
            raise AgentOptionError(
                f"text of {len(text):,} characters is longer than the {MAX_TEXT_CHARS:,} one reply may speak; "
                "split it into several replies"
            )
        key = (text, voice)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        speech = self._synthesize(text.strip(), voice=voice) if text.strip() else self._empty(text, voice)
        if speech.text != text:
            # Word spans refer to the stripped text; shift them so they index the text as given.
            shift = len(text) - len(text.lstrip())
            words = tuple(
                WordTiming(w.word, w.start, w.end, w.char_start + shift, w.char_end + shift) for w in speech.words
            )
            speech = Speech(speech.pcm, speech.samplerate, text, speech.engine, words, speech.timing, voice)
        if self._cache_size != 0:
            with self._lock:
                self._cache[key] = speech
                self._cache.move_to_end(key)
                while self._cache_size is not None and len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return speech

    def _empty(self, text: str, voice: str | None) -> Speech:
        return Speech(np.zeros(0, np.int16), OUTPUT_RATE, text, self.engine, (), "exact", voice)

    @abstractmethod
    def _synthesize(self, text: str, *, voice: str | None) -> Speech:
        """Synthesise non-empty, stripped text."""


# --------------------------------------------------------------------------- espeak-ng


def _read_espeak_wav(data: bytes) -> Clip:
    """Read espeak-ng's ``--stdout`` WAV, whose RIFF and data sizes are placeholders, as a `Clip`."""
    header = parse_wav_header(data)
    if header is None:
        raise SynthesisError(
            f"espeak-ng wrote {len(data)} bytes that do not start with a RIFF/WAVE header "
            f"({data[:12]!r}); check `espeak-ng --stdout hello | file -`"
        )
    if header.format_tag != 1 or header.channels != 1 or header.bits_per_sample != 16:
        raise SynthesisError(
            f"espeak-ng produced format tag {header.format_tag}, {header.channels} channels, "
            f"{header.bits_per_sample} bits; expected PCM mono 16-bit. Reinstall espeak-ng (apt-get install espeak-ng)"
        )
    if header.data_offset is None:
        raise SynthesisError("espeak-ng output has no 'data' chunk; reinstall espeak-ng")
    raw = data[header.data_offset :]  # the size field is a placeholder in streaming output: read to the end
    raw = raw[: len(raw) - len(raw) % 2]
    try:
        return Clip(decode_pcm(raw, encoding="linear16"), samplerate=header.samplerate)
    except VoicelabError as exc:
        raise SynthesisError(f"espeak-ng output could not be read as 16-bit PCM ({exc}); reinstall espeak-ng") from exc


def _frame_levels(x: npt.NDArray[np.float32], hop: int) -> npt.NDArray[np.float64]:
    n = len(x) // hop
    if n == 0:
        return np.zeros(0)
    frames = x[: n * hop].astype(np.float64).reshape(n, hop)
    return np.asarray(np.sqrt(np.mean(frames**2, axis=1)), dtype=np.float64)


def _estimate_words(text: str, audio: npt.NDArray[np.float32], samplerate: int) -> tuple[WordTiming, ...]:
    """Place the words of `text` in `audio`: voiced span, clause pauses, then letter-weighted shares."""
    words = _words(text)
    if not words:
        return ()
    hop = max(1, samplerate // 100)  # 10 ms frames
    level = _frame_levels(audio, hop)
    total = len(audio) / samplerate
    if len(level) == 0 or level.max() <= 0:
        return tuple(WordTiming(w, 0.0, total, a, b) for w, a, b in words)
    voiced = level > max(level.max() * 0.02, 1e-4)
    idx = np.flatnonzero(voiced)
    first, last = int(idx[0]), int(idx[-1]) + 1
    # Silent runs inside the voiced span, longest first, as candidate clause pauses.
    runs: list[tuple[int, int]] = []
    i = first
    while i < last:
        if not voiced[i]:
            j = i
            while j < last and not voiced[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    boundaries = [k for k, (w, _, _) in enumerate(words[:-1]) if _is_clause_end(w)]
    pauses = sorted(sorted(runs, key=lambda r: r[0] - r[1])[: len(boundaries)])
    pauses = [p for p in pauses if (p[1] - p[0]) * hop / samplerate >= 0.06]
    if len(pauses) != len(boundaries):
        boundaries, pauses = [], []
    # Clause segments: (word index range, frame range).
    segments: list[tuple[int, int, int, int]] = []
    w0, f0 = 0, first
    for b, (p0, p1) in zip(boundaries, pauses, strict=True):
        segments.append((w0, b + 1, f0, p0))
        w0, f0 = b + 1, p1
    segments.append((w0, len(words), f0, last))
    out: list[WordTiming] = []
    for wa, wb, fa, fb in segments:
        weights = np.array([_weight(w) for w, _, _ in words[wa:wb]])
        edges = fa + (fb - fa) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        for k, (w, a, b) in enumerate(words[wa:wb]):
            out.append(WordTiming(w, float(edges[k]) * hop / samplerate, float(edges[k + 1]) * hop / samplerate, a, b))
    return tuple(out)


class EspeakSynthesizer(Synthesizer):
    """Real (robotic but intelligible) speech from the ``espeak-ng`` program.

    Args:
        executable: Path or name of espeak-ng.
        words_per_minute: espeak-ng ``-s`` (80-450).
        timeout: Seconds one synthesis may take; ``None`` disables the limit.
        cache_size: See `Synthesizer`.

    Raises:
        AgentOptionError: espeak-ng is not found or `words_per_minute` is out of range.
    """

    def __init__(
        self,
        *,
        executable: str = "espeak-ng",
        words_per_minute: int = 175,
        timeout: float | None = 10.0,
        cache_size: int | None = 128,
    ) -> None:
        super().__init__(cache_size=cache_size)
        path = shutil.which(executable)
        if path is None:
            raise AgentOptionError(
                f"executable={executable!r} was not found on PATH; install it (apt-get install espeak-ng) "
                "or use SyntheticSynthesizer"
            )
        if not 80 <= words_per_minute <= 450:
            raise AgentOptionError(f"words_per_minute={words_per_minute!r} is outside espeak-ng's 80-450")
        self._exe = path
        self._wpm = int(words_per_minute)
        self._timeout = timeout
        self._resampler_lock = threading.Lock()
        self.version = self._version()
        self.engine = f"espeak-ng {self.version}".strip()

    def _version(self) -> str:
        try:
            out = subprocess.run(
                [self._exe, "--version"], capture_output=True, text=True, timeout=self._timeout, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""
        m = re.search(r"text-to-speech:\s*(\S+)", out)
        return m.group(1) if m else ""

    def _synthesize(self, text: str, *, voice: str | None) -> Speech:
        ev = espeak_voice(voice)
        # The text goes on standard input, never on the command line: an argument is limited by the
        # kernel (a 200,000-character text failed with "Argument list too long"), and text starting
        # with "-" cannot be taken for an option. Same audio as the argument form, byte for byte.
        cmd = [self._exe, "--stdout", "-v", ev, "-s", str(self._wpm), "-b", "1", "--stdin"]
        try:
            proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=self._timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(
                f"espeak-ng took longer than timeout={self._timeout!r} s for {len(text)} characters; "
                "shorten the reply or raise the timeout"
            ) from exc
        except OSError as exc:
            raise SynthesisError(f"espeak-ng at {self._exe!r} could not run ({exc}); reinstall it") from exc
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()[:300]
            raise SynthesisError(f"espeak-ng -v {ev} exited with {proc.returncode}: {err or 'no message'}")
        clip = _read_espeak_wav(proc.stdout)
        if clip.frames:
            clip = resample(clip, OUTPUT_RATE)
        audio = clip.samples
        out = float_to_pcm(audio, dtype="int16")
        words = _estimate_words(text, audio, OUTPUT_RATE)
        logger.debug("espeak-ng %s: %d chars → %.2f s", ev, len(text), len(out) / OUTPUT_RATE)
        return Speech(out, OUTPUT_RATE, text, f"{self.engine} ({ev})", words, "estimate", voice)


# --------------------------------------------------------------------------- synthetic fallback


class SyntheticSynthesizer(Synthesizer):
    """A labelled non-speech stand-in: one vowel-like harmonic tone per word, 60 ms gaps between.

    A word lasts 0.12 s plus 0.055 s per spoken-length unit (see the module docs), so the audio's length
    follows the text like speech would (~0.3-0.5 s per word). Timings are exact. The voice name
    shifts the pitch deterministically.

    Args:
        cache_size: See `Synthesizer`.
    """

    engine = "synthetic (espeak-ng not installed)"
    _GAP = 0.06

    def _synthesize(self, text: str, *, voice: str | None) -> Speech:
        names = sorted(ESPEAK_VOICES)
        f0 = 110.0 + 15.0 * (names.index(voice) % 8 if voice in names else 3)
        parts: list[npt.NDArray[np.float32]] = []
        words: list[WordTiming] = []
        t = 0.0
        for w, a, b in _words(text):
            dur = 0.12 + 0.055 * (_weight(w) - 1.0)
            n = round(dur * OUTPUT_RATE)
            tt = np.arange(n) / OUTPUT_RATE
            wave = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6))
            ramp = np.minimum(1.0, np.minimum(tt, tt[::-1]) / 0.015)
            parts.append((0.25 * wave * ramp).astype(np.float32))
            words.append(WordTiming(w, t, t + n / OUTPUT_RATE, a, b))
            t += n / OUTPUT_RATE
            gap = round(self._GAP * OUTPUT_RATE)
            parts.append(np.zeros(gap, np.float32))
            t += gap / OUTPUT_RATE
        pcm = float_to_pcm(np.concatenate(parts), dtype="int16")
        return Speech(pcm, OUTPUT_RATE, text, self.engine, tuple(words), "exact", voice)


def get_synthesizer(*, prefer: str | None = None, cache_size: int | None = 128) -> Synthesizer:
    """Pick the best available engine: espeak-ng when ``shutil.which("espeak-ng")`` finds it, else synthetic.

    Args:
        prefer: ``"espeak"`` or ``"synthetic"`` to force one; ``None`` chooses automatically.
        cache_size: See `Synthesizer`.

    Returns:
        A `Synthesizer`; which one is logged at INFO.

    Raises:
        AgentOptionError: `prefer` is unknown, or ``"espeak"`` was forced and espeak-ng is missing.
    """
    if prefer not in (None, "espeak", "synthetic"):
        raise AgentOptionError(f"prefer={prefer!r} is not one of None, 'espeak', 'synthetic'")
    if prefer == "espeak" or (prefer is None and shutil.which("espeak-ng")):
        synth: Synthesizer = EspeakSynthesizer(cache_size=cache_size)
        logger.info("agent speech: %s", synth.engine)
    else:
        synth = SyntheticSynthesizer(cache_size=cache_size)
        logger.info("agent speech: %s; install espeak-ng (apt-get install espeak-ng) for real speech", synth.engine)
    return synth


_shared_lock = threading.Lock()
_shared: Synthesizer | None = None


def synthesizer() -> Synthesizer:
    """The process-wide speech engine every emulated agent session shares (its cache too).

    The first call picks the engine with `get_synthesizer`; when espeak-ng is missing it logs, once,
    that replies are clearly-labelled synthetic (non-speech) audio.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = get_synthesizer()
            if isinstance(_shared, SyntheticSynthesizer):
                logger.warning(
                    "espeak-ng is not installed: the emulated agent answers with clearly-labelled synthetic "
                    "tones instead of speech (%s); install it with `apt-get install espeak-ng`",
                    _shared.engine,
                )
        return _shared


# --------------------------------------------------------------------------- using speech


def spoken_text(speech: Speech, played_seconds: float) -> str:
    """The part of the reply a listener heard when playback stopped after `played_seconds`.

    A word counts as spoken when at least half of it had been played. The result is a prefix of
    `Speech.text` ending at a word end (its punctuation kept), ``""`` if no word was heard.

    Args:
        speech: The reply's speech.
        played_seconds: Audio seconds sent/played before the interruption.

    Returns:
        The spoken prefix, for ``transcript.agent`` with ``interrupted: true``.
    """
    end = 0
    for w in speech.words:
        if played_seconds >= (w.start + w.end) / 2:
            end = w.char_end
        else:
            break
    return speech.text[:end].rstrip()


def _output_format(encoding: str) -> tuple[str, int]:
    """The voicelab encoding and rate of an ``output.format.encoding`` (from `ENCODING_RATES`)."""
    if encoding not in ENCODING_RATES:
        raise AgentOptionError(
            f"encoding={encoding!r} is not an output encoding; use one of {sorted(ENCODING_RATES)} "
            "(session.output.format.encoding)"
        )
    return ENCODING_RATES[encoding]


def chunk_speech(speech: Speech, *, chunk_seconds: float = 0.05, encoding: str = "audio/pcm") -> list[bytes]:
    """Split speech into ``reply.audio`` payloads of `chunk_seconds` each (the last may be shorter).

    At the defaults a chunk is 2,400 bytes (50 ms of 24 kHz PCM16); for ``audio/pcmu``/``audio/pcma``
    the whole reply is encoded first (one resampling pass, no edge clicks), then cut into 400-byte chunks.

    Args:
        speech: The reply's speech.
        chunk_seconds: Audio per chunk in seconds; pace sending at one chunk per `chunk_seconds`.
        encoding: The session's ``output.format.encoding``.

    Returns:
        The chunks, in order; together they hold every sample.

    Raises:
        AgentOptionError: `chunk_seconds` is not positive or gives less than one sample, or bad encoding.
    """
    kind, rate = _output_format(encoding)
    if not chunk_seconds > 0:
        raise AgentOptionError(f"chunk_seconds={chunk_seconds!r} must be a positive number of seconds (e.g. 0.05)")
    per = round(chunk_seconds * rate)
    if per < 1:
        raise AgentOptionError(f"chunk_seconds={chunk_seconds!r} is shorter than one sample at {rate} Hz")
    clip = speech.to_clip()
    if clip.frames and clip.samplerate != rate:
        clip = resample(clip, rate)
    data = encode_pcm(clip.samples, encoding=kind)
    step = per * BYTES_PER_SAMPLE[kind]
    return [data[i : i + step] for i in range(0, len(data), step)]
