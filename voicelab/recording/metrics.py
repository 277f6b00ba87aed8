"""Latency and stability metrics computed from a `Recording` alone.

Every figure is labelled with what starts and stops its clock and, where it
uses speech end, where speech end came from. Definitions (all times on the
Recording's one clock; "sent" means the send time of the chunk holding that
audio):

=====================  ====================================  =======================================
metric                 from                                  to
=====================  ====================================  =======================================
connect_time           connect attempt                       handshake done (Pulse) / session.ready
first_response         first audio chunk sent                first transcript message
first_partial          first audio chunk sent                first non-empty partial
word_emission          word's last audio sent                first message containing the word
final_latency (TTFS)   speech end sent                       final covering it
audio_cursor_lag       audio seconds sent (at a message)     transcript end time in that message
=====================  ====================================  =======================================

Partial stability: revisions per word position, words rewritten after they
were first shown, and time from a word's first display to its last change.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicelab.protocols.events import Event, Final, Partial, SessionReady, SpeechStopped
from voicelab.providers.registry import get_provider
from voicelab.recording.log import Recording

__all__ = ["Metric", "MetricsReport", "compute_metrics", "normalize_words"]

_TOKEN = re.compile(r"[a-z0-9']+")


def normalize_words(text: str) -> list[str]:
    """Lower-case word tokens without punctuation (how transcripts are compared)."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


@dataclass(frozen=True)
class Metric:
    """One labelled latency figure over a session.

    Attributes:
        name: Short identifier, e.g. ``final_latency``.
        start: What starts the clock.
        end: What stops it.
        source: Where speech end (or word times) came from, if used.
        values: Each measured value, seconds.
        unit: ``s`` for seconds, ``count`` for counts.
        notes: Anything a reader needs to interpret the numbers.
    """

    name: str
    start: str
    end: str
    values: tuple[float, ...]
    source: str | None = None
    unit: str = "s"
    notes: str = ""

    @property
    def n(self) -> int:
        """Number of measurements."""
        return len(self.values)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100), or ``None`` without values."""
        return float(np.percentile(self.values, q)) if self.values else None

    @property
    def p50(self) -> float | None:
        """Median."""
        return self.percentile(50)

    @property
    def p95(self) -> float | None:
        """95th percentile."""
        return self.percentile(95)

    @property
    def p99(self) -> float | None:
        """99th percentile."""
        return self.percentile(99)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the percentiles."""
        return {"name": self.name, "start": self.start, "end": self.end, "source": self.source, "unit": self.unit,
                "n": self.n, "p50": self.p50, "p95": self.p95, "p99": self.p99, "values": list(self.values),
                "notes": self.notes}


@dataclass(frozen=True, repr=False)
class MetricsReport:
    """All metrics of one Recording; renders as a table (HTML in notebooks, text in terminals)."""

    metrics: tuple[Metric, ...]
    stability: dict[str, float | int | None] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no metric {name!r}; have {', '.join(m.name for m in self.metrics)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"metrics": [m.to_dict() for m in self.metrics], "stability": dict(self.stability)}

    def _rows(self) -> list[list[str]]:
        def f(v: float | None, unit: str) -> str:
            if v is None:
                return "-"
            return f"{v * 1000:.0f} ms" if unit == "s" else f"{v:g}"

        return [[m.name, f(m.p50, m.unit), f(m.p95, m.unit), f(m.p99, m.unit), str(m.n),
                 f"{m.start} → {m.end}" + (f" [{m.source}]" if m.source else "")] for m in self.metrics]

    def __repr__(self) -> str:
        return "\n".join(["<MetricsReport", *(f"  {m.name}: p50 {m.p50}, n {m.n}" for m in self.metrics), ">"])

    def __str__(self) -> str:
        head = ["metric", "p50", "p95", "p99", "n", "definition"]
        rows = [head, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(widths[i]) if i < 5 else c for i, c in enumerate(r)) for r in rows]
        if self.stability:
            lines.append("partial stability: " + ", ".join(f"{k} {v if v is not None else '-'}"
                                                         for k, v in self.stability.items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{h}</th>" for h in ("metric", "p50", "p95", "p99", "n", "definition"))
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self._rows())
        stab = ", ".join(f"{html.escape(k)}: {v if v is not None else '-'}" for k, v in self.stability.items())
        return f"<table><tr>{head}</tr>{body}</table><p>partial stability: {stab}</p>"


class _Timeline:
    """Send times of audio, from the Recording's chunk entries."""

    def __init__(self, rec: Recording) -> None:
        chunks = sorted(rec.of("chunk"), key=lambda e: e.t)
        self.send_t = [c.t for c in chunks]
        self.ends = [float(c["audio_end"]) for c in chunks]
        self.max_end_by_t = list(np.maximum.accumulate(self.ends)) if self.ends else []
        # chunks may be resent after a reconnect: first time each audio end was sent
        order = sorted(range(len(chunks)), key=lambda i: (self.ends[i], self.send_t[i]))
        self.sorted_ends = [self.ends[i] for i in order]
        self.sorted_t = [self.send_t[i] for i in order]
        self.first_t = min(self.send_t) if self.send_t else None

    def sent_at(self, audio_time: float) -> float | None:
        """When the chunk holding ``audio_time`` was (first) sent."""
        i = bisect.bisect_left(self.sorted_ends, audio_time - 1e-9)
        if i >= len(self.sorted_ends):
            return None
        return min(self.sorted_t[i:i + 8])

    def audio_sent_by(self, t: float) -> float:
        """Seconds of audio sent at or before time ``t``."""
        i = bisect.bisect_right(self.send_t, t)
        return float(self.max_end_by_t[i - 1]) if i else 0.0


def _text_events(events: Sequence[tuple[float, Event]]) -> list[tuple[float, Event]]:
    return [(t, ev) for t, ev in events if isinstance(ev, (Partial, Final))]


def _cumulative(events: Sequence[tuple[float, Event]]) -> list[tuple[float, list[str], bool]]:
    """(t, committed finals + current partial as tokens, is_final) at each transcript message."""
    committed: list[str] = []
    out = []
    for t, ev in _text_events(events):
        toks = normalize_words(ev.text)  # type: ignore[attr-defined]
        if isinstance(ev, Final):
            committed = committed + toks
            out.append((t, list(committed), True))
        else:
            out.append((t, committed + toks, False))
    return out


def compute_metrics(
    rec: Recording,
    *,
    reference: Mapping[str, Any] | None = None,
    audio_offset: float = 0.0,
) -> MetricsReport:
    """Compute every metric of design.md from a Recording.

    Args:
        rec: The session's Recording.
        reference: Optional reference timings for the audio that was sent, as in
            ``data/manifest.json`` entries: ``{"words": [{"word","start","end"}],
            "sentences": [{"text","start","end"}]}`` (seconds of audio). With it,
            speech end comes from the reference; without it, from the provider's
            word timestamps when present.
        audio_offset: Where the reference's time 0 sits in the stream's audio time, seconds.

    Returns:
        The labelled metrics with P50/P95/P99 and n.
    """
    events = rec.events()
    tl = _Timeline(rec)
    metrics = [_connect_time(rec, events)]
    texts = _text_events(events)
    first_chunk = tl.first_t
    first_resp = next((t for t, ev in texts if ev.text.strip()), None)  # type: ignore[attr-defined]
    first_part = next((t for t, ev in texts if isinstance(ev, Partial) and ev.text.strip()), None)
    metrics.append(Metric("first_response", "first audio chunk sent", "first transcript message",
                          _one(first_chunk, first_resp)))
    metrics.append(Metric("first_partial", "first audio chunk sent", "first non-empty partial",
                          _one(first_chunk, first_part)))
    words, source = _reference_words(reference, audio_offset, events)
    metrics.append(_word_emission(words, source, tl, events))
    ends, end_source = _speech_ends(reference, audio_offset, events)
    metrics.append(_final_latency(ends, end_source, tl, events))
    metrics.append(_cursor_lag(tl, events))
    return MetricsReport(tuple(metrics), _stability(events))


def _one(a: float | None, b: float | None) -> tuple[float, ...]:
    return (b - a,) if a is not None and b is not None and b >= a else ()


def _connect_time(rec: Recording, events: Sequence[tuple[float, Event]]) -> Metric:
    connects = [e.t for e in rec.of("connect")]
    ready = get_provider(rec.provider).ready_event  # "handshake", or the event after which audio may flow
    waits = ready != "handshake"
    ends = [t for t, ev in events if isinstance(ev, SessionReady)] if waits else \
        [e.t for e in rec.of("handshake") if e.get("ok")]
    values = []
    for c in connects:
        later = [t for t in ends if t >= c]
        if later:
            values.append(min(later) - c)
    return Metric("connect_time", "connect attempt", ready if waits else "handshake done",
                  tuple(values))


def _reference_words(reference: Mapping[str, Any] | None, offset: float,
                     events: Sequence[tuple[float, Event]]) -> tuple[list[tuple[str, float]], str | None]:
    if reference and reference.get("words"):
        out = []
        for w in reference["words"]:
            toks = normalize_words(str(w["word"]))
            for tok in toks:
                out.append((tok, float(w["end"]) + offset))
        return out, "reference word times"
    out = []
    for _, ev in events:
        if isinstance(ev, Final):
            for w in ev.words:
                for tok in normalize_words(w.word):
                    out.append((tok, w.end))
    return out, ("provider word timestamps" if out else None)


def _word_emission(words: list[tuple[str, float]], source: str | None, tl: _Timeline,
                   events: Sequence[tuple[float, Event]]) -> Metric:
    cum = _cumulative(events)
    values = []
    missed = 0
    for k, (tok, end) in enumerate(words):
        sent = tl.sent_at(end)
        hit = next((t for t, toks, _ in cum if len(toks) > k and toks[k] == tok), None)
        if sent is None or hit is None or hit < sent:
            missed += 1
            continue
        values.append(hit - sent)
    note = f"{missed} of {len(words)} words not matched in order (misrecognised or never sent)" if words else ""
    return Metric("word_emission", "word's last audio sent", "first message containing the word", tuple(values),
                  source=source, notes=note)


def _speech_ends(reference: Mapping[str, Any] | None, offset: float,
                 events: Sequence[tuple[float, Event]]) -> tuple[list[float], str | None]:
    if reference and reference.get("sentences"):
        return [float(s["end"]) + offset for s in reference["sentences"]], "reference sentence ends"
    ends = [ev.words[-1].end for _, ev in events if isinstance(ev, Final) and ev.words]
    if ends:
        return ends, "provider word timestamps (last word of each final)"
    stops = [ev.audio_time for _, ev in events if isinstance(ev, SpeechStopped) and ev.audio_time is not None]
    return [float(s) for s in stops if s is not None], ("provider VAD speech_ended" if stops else None)


def _final_latency(ends: list[float], source: str | None, tl: _Timeline,
                   events: Sequence[tuple[float, Event]]) -> Metric:
    finals = [(t, ev) for t, ev in events if isinstance(ev, Final) and ev.text.strip()]
    values = []
    used: set[int] = set()
    for end in sorted(ends):
        sent = tl.sent_at(end)
        if sent is None:
            continue
        for i, (t, ev) in enumerate(finals):
            if i in used or t < sent:
                continue
            covered = not ev.words or ev.words[-1].end >= end - 0.35
            if covered:
                used.add(i)
                values.append(t - sent)
                break
    return Metric("final_latency", "speech end sent", "final covering it", tuple(values), source=source)


def _cursor_lag(tl: _Timeline, events: Sequence[tuple[float, Event]]) -> Metric:
    values = []
    for t, ev in _text_events(events):
        words = ev.words  # type: ignore[attr-defined]
        if words:
            values.append(tl.audio_sent_by(t) - words[-1].end)
    return Metric("audio_cursor_lag", "audio seconds sent at the message", "transcript end time in it",
                  tuple(values), source="provider word timestamps" if values else None,
                  notes="" if values else "needs word timestamps in transcript messages")


def _stability(events: Iterable[tuple[float, Event]]) -> dict[str, float | int | None]:
    """Revisions of partials between finals."""
    revisions: list[int] = []
    rewritten = 0
    shown = 0
    settle: list[float] = []
    current: list[list[str]] = []
    times: list[float] = []

    def close_utterance(final_tokens: list[str], t_final: float) -> None:
        nonlocal rewritten, shown
        if not current:
            return
        n = max(len(final_tokens), max(len(p) for p in current))
        for k in range(n):
            seen = [p[k] for p in current if len(p) > k]
            if not seen:
                continue
            shown += 1
            values = [*seen, final_tokens[k]] if k < len(final_tokens) else seen
            changes = sum(1 for a, b in zip(values, values[1:], strict=False) if a != b)
            revisions.append(changes)
            if changes:
                rewritten += 1
            first = next(i for i, p in enumerate(current) if len(p) > k)
            last_change = first
            for i in range(first + 1, len(current)):
                if len(current[i]) <= k:
                    continue
                prev = current[i - 1][k] if len(current[i - 1]) > k else None
                if current[i][k] != prev:
                    last_change = i
            settle.append(times[last_change] - times[first])

    for t, ev in events:
        if isinstance(ev, Partial):
            toks = normalize_words(ev.text)
            if toks:
                current.append(toks)
                times.append(t)
        elif isinstance(ev, Final):
            close_utterance(normalize_words(ev.text), t)
            current, times = [], []
    return {
        "words_shown": shown,
        "revisions_per_word": round(float(np.mean(revisions)), 3) if revisions else None,
        "words_rewritten_after_display": rewritten,
        "median_time_to_stable_s": round(float(np.median(settle)), 3) if settle else None,
    }
