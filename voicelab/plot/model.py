"""The data behind every view, shared by the widgets and the static figures (numpy only, no frontend).

* `Envelope`: a min/max pyramid of a Clip, computed once; `Envelope.window` returns the
  level that fits a visible range and a pixel width, so an hour draws at once.
* `stft_magnitude` and `SpectrogramImage`: a short-time Fourier transform with the same
  framing and scaling as ``scipy.signal.stft`` (Hann window, zero boundary, padded), kept
  as an 8-bit dB image.
* `SessionLog`: turns Recording entries, fed incrementally, into timeline items and
  latency points; a live widget feeds it only the new entries, a static figure feeds it all.

Times are seconds as floats; ``a`` in an item is the *audio cursor*: seconds of audio sent
when the message arrived, so everything can be drawn against audio time.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from voicelab.audio.clip import Clip
from voicelab.errors import VoicelabError
from voicelab.protocols.events import (
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Closed,
    Error,
    Event,
    Final,
    Partial,
    SpeechStarted,
    SpeechStopped,
    TurnEnd,
)
from voicelab.providers.registry import get_provider
from voicelab.recording.log import Entry, Recording

try:  # scipy's pocketfft is ~4x faster than numpy's for batched float32 rffts
    from scipy import fft as _fft
except ImportError:  # pragma: no cover - scipy is optional
    _fft = np.fft  # type: ignore[no-redef]

__all__ = [
    "DB_FLOOR",
    "Envelope",
    "SessionLog",
    "SpectrogramImage",
    "ViewError",
    "check_clip",
    "default_fft_size",
    "envelope_bytes",
    "stft_magnitude",
]

#: Lowest level drawn in spectrograms, dB re a full-scale sine.
DB_FLOOR = -100.0
RAW_CHARS = 1200


class ViewError(VoicelabError, TypeError):
    """A view or plot was given something it cannot show."""


def check_clip(value: Any, *, what: str = "clip") -> Clip:
    """Return ``value`` if it is a Clip, else raise `ViewError` naming it and the fix."""
    if isinstance(value, Clip):
        return value
    hint = ""
    if isinstance(value, np.ndarray):
        hint = "wrap the array: vl.Clip(samples, samplerate=16000)"
    elif isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        hint = "load it first: vl.load(path)"
    else:
        hint = "pass a voicelab Clip (vl.load(path) or vl.Clip(samples, samplerate=...))"
    raise ViewError(f"{what} must be a voicelab Clip, got {type(value).__name__} {_short(value)}; {hint}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _mono_view(clip: Clip) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(lowest, highest) sample per frame across channels (the same array twice for mono)."""
    s = clip.samples
    if s.ndim == 1:
        return s, s
    return s.min(axis=1), s.max(axis=1)


# -- waveform envelope --------------------------------------------------------------------------
class Envelope:
    """A min/max pyramid of a Clip: level k holds the min and max of bins of ``base * factor**k`` frames.

    Args:
        clip: The audio (all channels are folded into one envelope).
        base: Frames per bin at the finest level.
        factor: How many bins of one level make a bin of the next.
    """

    def __init__(self, clip: Clip, *, base: int = 16, factor: int = 4) -> None:
        self.clip = check_clip(clip)
        self.samplerate = clip.samplerate
        self.frames = clip.frames
        lo, hi = _mono_view(clip)
        self._raw = (lo, hi)
        self.bins: list[int] = []
        self.levels: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]] = []
        size, mins, maxs = base, lo, hi
        step = base
        while True:
            mins, maxs = _reduce(mins, maxs, step)
            self.bins.append(size)
            self.levels.append((mins, maxs))
            if len(mins) <= 1:
                break
            size *= factor
            step = factor

    def window(self, start: float, end: float, *, max_bins: int) -> tuple[float, float, np.ndarray, np.ndarray]:
        """The finest level that gives at most ``max_bins`` bins between ``start`` and ``end`` seconds.

        Args:
            start: Visible start, seconds.
            end: Visible end, seconds.
            max_bins: Most bins wanted (about twice the pixel width).

        Returns:
            ``(t0, step, mins, maxs)``: the first bin's start and the bin width in seconds, and
            float32 minimum and maximum per bin (raw samples when zoomed in far enough).
        """
        sr = self.samplerate
        a = min(max(int(math.floor(start * sr)), 0), self.frames)
        b = min(max(int(math.ceil(end * sr)), a), self.frames)
        max_bins = max(int(max_bins), 1)
        if b - a <= max_bins:
            lo, hi = self._raw
            return a / sr, 1 / sr, lo[a:b], hi[a:b]
        for size, (mins, maxs) in zip(self.bins, self.levels, strict=True):
            i, j = a // size, -(-b // size)
            if j - i <= max_bins or size == self.bins[-1]:
                return i * size / sr, size / sr, mins[i:j], maxs[i:j]
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def nbytes(self) -> int:
        """Memory held by the pyramid, bytes."""
        return sum(m.nbytes + x.nbytes for m, x in self.levels)


def _reduce(mins: np.ndarray, maxs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max over consecutive bins of ``size`` (the last bin may be shorter)."""
    n = len(mins)
    full = n // size * size
    lo, hi = mins[:full], maxs[:full]
    if size & (size - 1) == 0:  # pairwise halving: contiguous SIMD passes, much faster than reshape().min(axis=1)
        while len(lo) > full // size:
            lo = np.minimum(lo[0::2], lo[1::2])
            hi = np.maximum(hi[0::2], hi[1::2])
    else:
        lo = lo.reshape(-1, size).min(axis=1)
        hi = hi.reshape(-1, size).max(axis=1)
    if full < n:
        lo = np.append(lo, mins[full:].min())
        hi = np.append(hi, maxs[full:].max())
    return lo.astype(np.float32, copy=False), hi.astype(np.float32, copy=False)


def envelope_bytes(mins: np.ndarray, maxs: np.ndarray) -> bytes:
    """Interleave min/max as little-endian int16 (full scale 32767, clipped) for the frontend."""
    out = np.empty(2 * len(mins), dtype="<i2")
    out[0::2] = np.clip(np.round(mins * 32767), -32767, 32767)
    out[1::2] = np.clip(np.round(maxs * 32767), -32767, 32767)
    return out.tobytes()


# -- spectrogram --------------------------------------------------------------------------------
def default_fft_size(samplerate: int) -> int:
    """A power of two near 32 ms of audio (512 at 16 kHz, 1024 at 24/44.1 kHz, 2048 at 48 kHz)."""
    return int(2 ** round(math.log2(0.032 * samplerate)))


def _hann(n: int) -> npt.NDArray[np.float32]:
    """Periodic Hann window (``scipy.signal.get_window('hann', n)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def _frames(x: npt.NDArray[np.float32], n_fft: int, hop: int) -> np.ndarray:
    """Frames as ``scipy.signal.stft`` cuts them: n_fft//2 zeros each side, zero-padded to whole hops."""
    half = n_fft // 2
    n = len(x) + 2 * half
    extra = (-(n - n_fft) % hop) % n_fft
    padded = np.zeros(n + extra, dtype=np.float32)
    padded[half:half + len(x)] = x
    return np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]


def stft_magnitude(samples: npt.ArrayLike, *, n_fft: int, hop: int) -> npt.NDArray[np.float32]:
    """Magnitude STFT, shape ``(frames, n_fft // 2 + 1)``, scaled as ``scipy.signal.stft``.

    Equals ``abs(scipy.signal.stft(x, window='hann', nperseg=n_fft, noverlap=n_fft - hop)[2]).T``
    within float32 rounding: Hann window, divided by its sum, zero boundary, padded.

    Args:
        samples: Mono samples.
        n_fft: Frame length in samples.
        hop: Frame step in samples.
    """
    x = np.ascontiguousarray(samples, dtype=np.float32)
    frames = _frames(x, n_fft, hop)
    win = _hann(n_fft) / np.float32(_hann(n_fft).sum())
    out = np.empty((len(frames), n_fft // 2 + 1), dtype=np.float32)
    for i in range(0, len(frames), 4096):
        spec = _fft.rfft(frames[i:i + 4096] * win, axis=1)
        out[i:i + 4096] = np.abs(spec)
    return out


class SpectrogramImage:
    """An STFT of a Clip in dB, quantised to 8 bits: ``image[frame, bin]``, 0 = `DB_FLOOR`, 255 = 0 dB.

    0 dB is a full-scale sine (``20 log10(2 |X| / sum(window))``); one step is 100/255 dB.
    Channels are averaged first.

    Args:
        clip: The audio.
        n_fft: Frame length in samples; default `default_fft_size` (about 32 ms).
        hop: Frame step in samples; default ``n_fft // 4`` up to 10 minutes of audio, else ``n_fft // 2``.
    """

    def __init__(self, clip: Clip, *, n_fft: int | None = None, hop: int | None = None) -> None:
        self.clip = check_clip(clip)
        self.samplerate = clip.samplerate
        self.n_fft = int(n_fft or default_fft_size(clip.samplerate))
        self.hop = int(hop or (self.n_fft // 4 if clip.duration <= 600 else self.n_fft // 2))
        x = clip.samples if clip.channels == 1 else clip.samples.mean(axis=1, dtype=np.float32)
        self.image = _db_image(x, self.n_fft, self.hop)

    @property
    def frame_step(self) -> float:
        """Seconds between frames."""
        return self.hop / self.samplerate

    @property
    def frequencies(self) -> npt.NDArray[np.float64]:
        """Bin centre frequencies, Hz."""
        return np.arange(self.n_fft // 2 + 1, dtype=np.float64) * (self.samplerate / self.n_fft)

    def times(self) -> npt.NDArray[np.float64]:
        """Frame centre times, seconds (frame k is centred on k * hop samples)."""
        return np.arange(self.image.shape[0], dtype=np.float64) * np.float64(self.frame_step)

    def window(self, start: float, end: float, *, max_cols: int) -> tuple[float, float, np.ndarray]:
        """Frames between ``start`` and ``end`` seconds, max-pooled to at most ``max_cols`` columns.

        Returns:
            ``(t0, step, image)``: the first column's centre time, seconds per column, and a
            C-contiguous uint8 array ``(columns, bins)``.
        """
        n = self.image.shape[0]
        i = min(max(int(math.floor(start / self.frame_step)), 0), n)
        j = min(max(int(math.ceil(end / self.frame_step)) + 1, i), n)
        part = self.image[i:j]
        group = max(1, -(-len(part) // max(int(max_cols), 1)))
        if group > 1 and len(part):
            part = np.maximum.reduceat(part, np.arange(0, len(part), group), axis=0)
        return i * self.frame_step, group * self.frame_step, np.ascontiguousarray(part)


def _db_image(x: npt.NDArray[np.float32], n_fft: int, hop: int) -> npt.NDArray[np.uint8]:
    frames = _frames(np.ascontiguousarray(x, dtype=np.float32), n_fft, hop)
    win = _hann(n_fft)
    win = win * np.float32(2.0 / win.sum())  # a full-scale sine peaks at |X| = 1
    out = np.empty((len(frames), n_fft // 2 + 1), dtype=np.uint8)
    scale = np.float32(255.0 / -DB_FLOOR)
    floor_power = np.float32(10 ** (DB_FLOOR / 10))
    for i in range(0, len(frames), 4096):
        spec = _fft.rfft(frames[i:i + 4096] * win, axis=1)
        power = spec.real * spec.real
        power += spec.imag * spec.imag
        np.maximum(power, floor_power, out=power)
        level = np.log10(power)
        level *= np.float32(10.0) * scale
        level += np.float32(255.0)
        np.clip(level, 0, 255, out=level)
        out[i:i + 4096] = level
    return out


# -- session log ----------------------------------------------------------------------------
@dataclass
class _Cursor:
    """Audio sent so far and when each audio end was first sent."""

    sent: float = 0.0
    first_chunk: float | None = None

    def __post_init__(self) -> None:
        self.ends: list[float] = []
        self.times: list[float] = []

    def chunk(self, t: float, end: float) -> None:
        if self.first_chunk is None:
            self.first_chunk = t
        if end > self.sent:
            self.sent = end
            self.ends.append(end)
            self.times.append(t)

    def sent_at(self, audio_time: float) -> float | None:
        i = bisect.bisect_left(self.ends, audio_time - 1e-9)
        return self.times[i] if i < len(self.ends) else None


def _raw(entry: Entry) -> str:
    msg = entry.get("message")
    text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= RAW_CHARS else text[:RAW_CHARS - 1] + "…"


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


class SessionLog:
    """Timeline items and latency points from Recording entries, fed in order, any number at a time.

    Items are small JSON-ready dicts, appended and never changed (a partial's end is the next
    item's arrival), so a live view sends only new items. Every item has ``i`` (its index),
    ``k`` (kind), ``t`` (receive time, seconds on the Recording clock) and ``a`` (audio seconds
    sent by then). Kinds:

    * ``partial`` / ``final``: ``text``, ``w`` = ``[[word, start, end], ...]`` in audio seconds
      (may be empty), ``raw``.
    * ``vad``: ``on`` (speech started or stopped), ``at`` (provider's audio time or null), ``raw``.
    * ``conn``: ``what`` = ``connect`` / ``open`` / ``close`` / ``gap`` / ``reject``, ``code``, ``reason``.
    * ``error``: ``code``, ``text``, ``raw``.
    * ``agent``: ``what`` (``reply`` / ``said`` / ``done``), ``text``, ``raw``.

    Latency points (`SessionLog.latency` after each `feed`) are dicts with ``k``:

    * ``lag``: audio-cursor lag at a transcript message with word times: ``v`` = audio sent - last word end.
    * ``first_partial``: ``v`` = first non-empty partial - first chunk sent.
    * ``final``: ``v`` = final arrival - send time of its speech end; ``end`` = the speech end (audio s),
      ``src`` = where speech end came from.

    Args:
        provider: The Recording's provider (chooses the parser).
    """

    LAG = ("audio_cursor_lag", "audio seconds sent at the message", "transcript end time in it")
    FIRST = ("first_partial", "first audio chunk sent", "first non-empty partial")
    FINAL = ("final_latency", "speech end sent", "final covering it")

    def __init__(self, *, provider: str) -> None:
        self._parse = get_provider(provider).parse
        self.provider = provider
        self.items: list[dict[str, Any]] = []
        self.latency: list[dict[str, Any]] = []
        self.cursor = _Cursor()
        self.offset = 0.0
        self.last_t = 0.0
        self.entries_seen = 0
        self._first_partial = False
        self._last_stop: float | None = None

    @classmethod
    def of(cls, recording: Recording) -> SessionLog:
        """A log fed with every entry of ``recording``."""
        log = cls(provider=recording.provider)
        log.feed(recording.entries)
        return log

    def feed(self, entries: Iterable[Entry]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Take new entries; return the timeline items and latency points they added."""
        n_items, n_lat = len(self.items), len(self.latency)
        for e in entries:
            self.entries_seen += 1
            self.last_t = max(self.last_t, e.t)
            kind = e.kind
            if kind == "chunk":
                self.cursor.chunk(e.t, float(e["audio_end"]))
            elif kind == "recv" and e.get("message") is not None:
                for ev in self._parse(e["message"]):
                    self._event(e, ev)
            elif kind == "connect":
                self._add(e, "conn", what="connect", code=None, reason=f"attempt {e.get('attempt', 1)}")
            elif kind == "handshake":
                if e.get("ok"):
                    self.offset = float(e.get("audio_offset") or 0.0)
                    self._add(e, "conn", what="open", code=e.get("status"),
                              reason="resumed" if e.get("resumed") else "")
                else:
                    self._add(e, "conn", what="reject", code=e.get("status"), reason=str(e.get("reason") or ""))
            elif kind == "close":
                self._add(e, "conn", what="close", code=e.get("code"), reason=str(e.get("reason") or e.get("by") or ""))
            elif kind == "gap":
                self._add(e, "conn", what="gap", code=e.get("close_code"), reason=str(e.get("reason") or ""),
                          at=_r(e.get("audio_time")))
        return self.items[n_items:], self.latency[n_lat:]

    def _add(self, e: Entry, k: str, **fields: Any) -> dict[str, Any]:
        item = {"i": len(self.items), "k": k, "t": _r(e.t), "a": _r(self.cursor.sent), **fields}
        self.items.append(item)
        return item

    def _words(self, ev: Partial | Final) -> list[list[Any]]:
        off = self.offset
        return [[w.word, _r(w.start + off), _r(w.end + off)] for w in ev.words]

    def _event(self, e: Entry, ev: Event) -> None:
        if isinstance(ev, (Partial, Final)):
            words = self._words(ev)
            final = isinstance(ev, Final)
            if final and not ev.text.strip() and not words:
                return  # an empty terminal final carries nothing to draw
            self._add(e, "final" if final else "partial", text=ev.text, w=words, raw=_raw(e))
            if words:
                self._point(e, "lag", v=self.cursor.sent - float(words[-1][2]), src="provider word timestamps")
            if not final and ev.text.strip() and not self._first_partial and self.cursor.first_chunk is not None:
                self._first_partial = True
                self._point(e, "first_partial", v=e.t - self.cursor.first_chunk)
            if final and ev.text.strip():
                self._final_latency(e, words)
        elif isinstance(ev, (SpeechStarted, SpeechStopped)):
            at = None if ev.audio_time is None else ev.audio_time + self.offset
            if isinstance(ev, SpeechStopped) and at is not None:
                self._last_stop = at
            self._add(e, "vad", on=isinstance(ev, SpeechStarted), at=_r(at), raw=_raw(e))
        elif isinstance(ev, Error):
            self._add(e, "error", code=ev.code, text=ev.message, raw=_raw(e))
        elif isinstance(ev, Closed):
            pass  # the close entry draws it
        elif isinstance(ev, AgentReplyStarted):
            self._add(e, "agent", what="reply", text="", raw=_raw(e))
        elif isinstance(ev, AgentTranscript):
            self._add(e, "agent", what="said", text=ev.text, raw=_raw(e))
        elif isinstance(ev, AgentReplyDone):
            self._add(e, "agent", what="done", text=ev.status, raw=_raw(e))
        elif isinstance(ev, TurnEnd):
            pass

    def _point(self, e: Entry, k: str, **fields: Any) -> None:
        self.latency.append({"k": k, "t": _r(e.t), "a": _r(self.cursor.sent),
                             **{key: (_r(v) if isinstance(v, float) else v) for key, v in fields.items()}})

    def _final_latency(self, e: Entry, words: Sequence[Sequence[Any]]) -> None:
        if words:
            end, src = float(words[-1][2]), "provider word timestamps (last word of each final)"
        elif self._last_stop is not None:
            end, src = self._last_stop, "provider VAD speech_stopped"
        else:
            return
        sent = self.cursor.sent_at(end)
        if sent is not None and e.t >= sent:
            self._point(e, "final", v=e.t - sent, end=end, src=src)

    def stats(self) -> dict[str, dict[str, Any]]:
        """P50/P95/P99 and n of each latency kind, with its definition (seconds)."""
        out: dict[str, dict[str, Any]] = {}
        for key, (name, start, end) in (("lag", self.LAG), ("first_partial", self.FIRST), ("final", self.FINAL)):
            pts = [p for p in self.latency if p["k"] == key]
            vals = np.array([p["v"] for p in pts], dtype=float)
            src = pts[-1].get("src") if pts else None
            pct = {f"p{q}": (_r(float(np.percentile(vals, q))) if len(vals) else None) for q in (50, 95, 99)}
            out[key] = {"name": name, "start": start, "end": end, "source": src, "n": len(vals), **pct}
        return out
