"""`diagnose`: name what went wrong in a recorded session, from its `Recording` alone (post hoc, pure).

The user arrives with a symptom ("connected, no transcripts", "garbled", "drops", "agent interrupts
itself", "billed 30 s more"); `diagnose` reads the Recording of that session — the audio bytes it
kept (`voicelab.recording.Recording.sent_audio`), every chunk's send time, every message in and out,
the connections and their close codes — and reports findings in the same format as
`voicelab.inspect` (code, severity, message, the symptom it explains, evidence with times, fix).

Findings by group (docs/diagnosis.md, "diagnose", lists each code with its meaning and fix):

* audio as sent: the kept bytes decoded as declared and checked with `inspect`'s sniffers
  (``float32_as_int16``, ``int16_as_float32``, ``wav_header_in_raw``, ``byte_swapped``,
  ``stereo_as_mono``, ``rate_mismatch``, ``text_frames``, ``silent_audio``, ``too_quiet``,
  ``clipping``);
* outcome: ``no_transcripts``, ``only_partials``, ``partials_absent``, ``no_end_signal``,
  ``session_end_missing``;
* pacing and latency: ``faster_than_real_time``, ``slower_than_real_time``, ``chunk_too_large``,
  ``chunk_interval_long``, ``high_latency``;
* connection: ``connect_failed``, ``dropped``, ``server_closed``, ``reconnected``, ``resume_failed``,
  ``token_expired``, ``auth_rejected``, ``invalid_audio``, ``invalid_format``, ``provider_error``;
* agent: ``echo_loop``.

Every provider-specific fact comes from the provider's spec and driver: the end signal is whatever
the driver's ``finish``/``finalize`` send, a failed resume is what its ``resume_failed`` says, a
refused credential what ``is_auth_error`` says, a close code's meaning ``explain_close``, whether an
unended session is billed ``ProviderSpec.unended_grace_seconds``, chunk sizes the spec's ``target``.

Pure: no asyncio, no websockets, no widgets.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import html
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from voicelab.audio.codecs import decode_pcm
from voicelab.audio.findings import SEVERITIES, Finding, findings_json, worst
from voicelab.audio.formats import RawFormat
from voicelab.audio.inspection import inspect
from voicelab.errors import VoicelabError
from voicelab.protocols.events import (
    AgentReplyAudio,
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Error,
    Event,
    Final,
    Partial,
    SessionReady,
)
from voicelab.providers import Driver, DriverOptions, ProviderSpec, get_provider
from voicelab.recording.log import Entry, Recording, RecordingError, SentAudio
from voicelab.recording.metrics import compute_metrics, normalize_words

__all__ = ["DIAGNOSE_CODES", "Diagnosis", "DiagnoseError", "diagnose"]

#: Finding code → what it means (stable; docs/diagnosis.md lists each with its fix).
DIAGNOSE_CODES: dict[str, str] = {
    # audio as sent
    "float32_as_int16": "32-bit float samples were sent declared as 16-bit integers",
    "int16_as_float32": "16-bit integer samples were sent declared as 32-bit floats",
    "wav_header_in_raw": "a WAV header was sent as audio inside raw PCM",
    "byte_swapped": "big-endian samples were sent declared little-endian",
    "stereo_as_mono": "interleaved stereo was sent declared as mono",
    "rate_mismatch": "the speech sent does not fit the declared sample rate",
    "text_frames": "text (base64, JSON) was sent where binary audio was expected",
    "silent_audio": "the audio sent is silence",
    "too_quiet": "the audio sent is very quiet",
    "clipping": "the audio sent is clipped",
    # outcome
    "no_transcripts": "audio was sent but no transcript came back",
    "only_partials": "partial transcripts came back, but no final",
    "partials_absent": "finals came back, but no partial transcripts",
    "no_end_signal": "the session was closed without the provider's end message, so the last words may be lost",
    "session_end_missing": "the session was closed without the end message and stays billed for its grace window",
    # pacing and latency
    "faster_than_real_time": "audio was sent faster than it plays",
    "slower_than_real_time": "audio was sent slower than it plays",
    "chunk_too_large": "chunks were larger than the provider recommends",
    "chunk_interval_long": "200 ms or more passed between chunks",
    "high_latency": "transcripts arrived late, with where the time went",
    # connection
    "connect_failed": "a connection attempt was refused or failed",
    "dropped": "the connection dropped without a close frame (1006)",
    "server_closed": "the server closed the connection with an error code",
    "reconnected": "the client reconnected: gaps, audio resent, continuity of audio time",
    "resume_failed": "resuming the session failed",
    "token_expired": "credentials that worked (or a temporary token) were refused",
    "auth_rejected": "the credentials were refused",
    "invalid_audio": "the provider rejected the audio",
    "invalid_format": "the provider rejected a message's format",
    "provider_error": "the provider reported an error",
    # agent
    "echo_loop": "the agent hears itself: its reply audio loops back into the microphone",
}

#: Codes of `inspect` findings on the kept audio → the code diagnose reports (others are not reported).
_AUDIO_CODES = {
    "float32_as_int16": "float32_as_int16", "int16_as_float32": "int16_as_float32",
    "wav_header_in_raw": "wav_header_in_raw", "container_in_raw": "wav_header_in_raw",
    "byte_swapped": "byte_swapped", "stereo_as_mono": "stereo_as_mono", "rate_mismatch": "rate_mismatch",
    "json_text": "text_frames", "base64_text": "text_frames", "text_data": "text_frames",
    "silence": "silent_audio", "too_quiet": "too_quiet", "clipping": "clipping",
}
#: Audio findings that explain a session without transcripts.
_EXPLAINS_SILENCE = ("text_frames", "float32_as_int16", "int16_as_float32", "wav_header_in_raw", "byte_swapped",
                     "silent_audio", "stereo_as_mono", "rate_mismatch", "too_quiet")

#: Close codes that end a connection normally (RFC 6455: normal closure, going away, no status).
CLEAN_CLOSE_CODES = frozenset({1000, 1005})
#: Close code of a connection that ended without a close frame (RFC 6455).
NO_CLOSE_FRAME = 1006

#: Least audio (seconds) sent for the outcome codes to judge that nothing came back.
MIN_AUDIO_FOR_OUTCOME_S = 1.0
#: ``partials_absent`` needs two finals of at least this many words (a one- or two-word utterance can be
#: recognised in one go, with no partial before its final).
PARTIALS_MIN_WORDS = 4
#: Least audio (seconds) over at least `MIN_PACING_CHUNKS` chunks on one connection to judge the pacing.
MIN_AUDIO_FOR_PACING_S = 1.0
MIN_PACING_CHUNKS = 5
#: Audio seconds per wall second above which sending counts as faster than real time (1.0 = real time;
#: 25 % leaves room for a burst after a stall).
FAST_RATIO = 1.25
#: ... and below which it counts as slower than real time.
SLOW_RATIO = 0.8
#: Median wall seconds between chunks at or above which the interval is long (the Pulse page: "every
#: 50 ms, not 200 ms or longer").
LONG_INTERVAL_S = 0.2
#: Without a documented byte range, chunks longer than this many times the target's chunk seconds
#: count as too large.
CHUNK_SECONDS_FACTOR = 4.0
#: Median final latency (speech end sent → final covering it), or word emission, above which latency
#: is high, seconds.
HIGH_LATENCY_S = 1.5
#: Echo loop: normalised correlation of reply audio with the audio sent at or above which the reply
#: is in the microphone signal.
ECHO_SCORE = 0.35
#: Echo loop: with a single reply above `ECHO_SCORE`, the score it needs on its own.
ECHO_SINGLE_SCORE = 0.7
#: Echo loop: the delays searched, seconds (speaker → microphone, plus buffering).
ECHO_MAX_LAG_S = 2.0
ECHO_MIN_LAG_S = -0.1
#: Echo loop: least reply audio (seconds) compared.
ECHO_MIN_REPLY_S = 0.4
#: Echo loop: rate both signals are compared at, Hz.
ECHO_RATE = 8000
#: Echo loop: a user transcript repeats a reply when this share of its words (and at least
#: `ECHO_MIN_WORDS`) appear in order in the reply's spoken text.
ECHO_TEXT_SHARE = 0.5
ECHO_MIN_WORDS = 3
#: Echo loop: seconds after a reply starts in which a user transcript can be its echo.
ECHO_TEXT_WINDOW_S = 10.0

_COLOURS = {"error": "#b42318", "warning": "#b54708", "info": "#175cd3"}


class DiagnoseError(VoicelabError, ValueError):
    """`diagnose` was given something that is not a stream, a Recording or a recording's path."""


# -- the report ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Diagnosis:
    """What `diagnose` found in a recorded session: findings plus the facts support teams ask for.

    Iterating over it (or indexing) gives the findings, most severe first.

    Attributes:
        findings: The findings, most severe first, then by time.
        provider: The provider's registry name.
        endpoint: The URL connected to (credentials redacted).
        started_at: The session's start, ISO 8601 UTC.
        session_ids: Every session id the provider reported.
        close_codes: The close code of each connection, in order.
        duration: Seconds the Recording spans.
        audio: What audio was kept and checked (format, seconds), or ``None``.
        name: The Recording's path, if any.
        closes: Each close: time, code, reason and who closed.
        chunks_sent: Audio chunks the session sent (``None``: not known).
    """

    findings: tuple[Finding, ...]
    provider: str
    endpoint: str | None
    started_at: str | None
    session_ids: tuple[str, ...]
    close_codes: tuple[int | None, ...]
    duration: float
    audio: dict[str, Any] | None = None
    name: str | None = None
    closes: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    chunks_sent: int | None = None

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error``."""
        return worst(self.findings) != "error"

    @property
    def codes(self) -> list[str]:
        """The finding codes, in order."""
        return [f.code for f in self.findings]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, i: int) -> Finding:
        return self.findings[i]

    def by_severity(self) -> dict[str, int]:
        """How many findings of each severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: the facts, ``ok`` and the findings."""
        return {
            "name": self.name,
            "provider": self.provider,
            "endpoint": self.endpoint,
            "started_at": self.started_at,
            "session_ids": list(self.session_ids),
            "close_codes": list(self.close_codes),
            "closes": [dict(c) for c in self.closes],
            "duration": self.duration,
            "audio": self.audio,
            "chunks_sent": self.chunks_sent,
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The diagnosis as JSON text."""
        return findings_json(self.to_dict(), indent=indent)

    def _facts(self) -> list[tuple[str, str]]:
        closes = ", ".join("-" if c is None else str(c) for c in self.close_codes) or "none"
        rows = [("provider", self.provider), ("endpoint", self.endpoint or "-"),
                ("started at", self.started_at or "-"),
                ("session ids", ", ".join(self.session_ids) or "none reported"),
                ("close codes", closes), ("duration", f"{self.duration:.2f} s")]
        if self.audio:
            a = self.audio
            rows.append(("audio checked", f"{a['seconds']:.2f} s of {a['format']}"
                         + ("" if a.get("complete") else " (the first part kept)")))
        elif self.chunks_sent == 0:
            rows.append(("audio checked", "none: no audio was sent"))
        else:
            rows.append(("audio checked", "none kept (keep_audio_seconds=0 or an older recording)"))
        return rows

    def __repr__(self) -> str:
        what = ", ".join(f"{f.severity} {f.code}" for f in self.findings) or "no findings"
        return f"<Diagnosis {self.provider}: {what}>"

    def __str__(self) -> str:
        lines = [f"diagnosis of {self.name or 'a recorded session'}"]
        lines += [f"  {k:<14} {v}" for k, v in self._facts()]
        if self.findings:
            lines.append(f"  findings ({len(self.findings)}):")
            for f in self.findings:
                at = _at(f)
                lines.append(f"    [{f.severity}] {f.code}{f' (at {at})' if at else ''}: {f.message}")
                lines.append(f"        causes: {f.symptom_text}")
                lines.append(f"        fix:    {f.fix}")
        else:
            lines.append("  findings: none — the session looks healthy")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        facts = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                        for k, v in self._facts())
        # anchors: each finding's time links to its tick on the strip, each tick back to its finding; the ids
        # are derived from the content (a re-run gives the same HTML) and data-t carries the time in seconds
        key = self._anchor()
        items = "".join(
            f"<li id='{key}-{i}'><b style='color:{_COLOURS[f.severity]}'>{esc(f.severity)}</b> "
            f"<code>{esc(f.code)}</code>"
            + (f" <small>at <a href='#{key}-t{i}' data-t='{_t_of(f):.3f}' title='seconds on the Recording clock; "
               f"the tick on the strip above'>{esc(_at(f))}</a></small>" if _at(f) else "")
            + f": {esc(f.message)}<br><small>causes: {esc(f.symptom_text)}</small><br>"
            f"<small>fix: <code>{esc(f.fix)}</code></small></li>"
            for i, f in enumerate(self.findings))
        verdict = ("<p style='color:#067647'>No findings: the session looks healthy.</p>" if not self.findings
                   else f"{_strip_svg(self.findings, self.duration, anchor=key)}<ul>{items}</ul>")
        return (f"<div class='voicelab-diagnosis'><b>diagnosis of {esc(self.name or 'a recorded session')}</b>"
                f"<table>{facts}</table>{verdict}</div>")

    def _anchor(self) -> str:
        """A short id prefix for the HTML anchors, the same for the same diagnosis."""
        text = json.dumps([self.name, self.started_at, self.session_ids, [(f.code, _at(f)) for f in self.findings]],
                          default=str)
        return "vl-dx-" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]


def _at(f: Finding) -> str:
    t = f.evidence.get("t")
    return f"{t:.2f} s" if isinstance(t, (int, float)) and math.isfinite(t) else ""


def _strip_svg(findings: Sequence[Finding], duration: float, *, anchor: str | None = None) -> str:
    """A small timeline (SVG, no matplotlib) with a tick per finding at its time: readable in a saved notebook.

    With ``anchor``, tick ``i`` has the id ``{anchor}-t{i}`` and links to the finding's row ``#{anchor}-{i}``.
    """
    width, height = 600, 22
    span = max(duration, 1e-3)
    ticks = []
    for i, f in enumerate(findings):
        t = f.evidence.get("t")
        if not isinstance(t, (int, float)) or not math.isfinite(t):
            continue
        x = 4 + (width - 8) * min(max(t / span, 0.0), 1.0)
        ident = f" id='{anchor}-t{i}'" if anchor else ""
        tick = (f"<line{ident} x1='{x:.1f}' y1='3' x2='{x:.1f}' y2='19' stroke='{_COLOURS[f.severity]}' "
                f"stroke-width='3'>"
                f"<title>{html.escape(f.code)} at {t:.2f} s</title></line>")
        ticks.append(f"<a href='#{anchor}-{i}'>{tick}</a>" if anchor else tick)
    if not ticks:
        return ""
    return (f"<svg width='{width}' height='{height}' role='img' aria-label='findings on the session timeline'>"
            f"<line x1='4' y1='11' x2='{width - 4}' y2='11' stroke='#98a2b3'/>{''.join(ticks)}"
            f"<text x='4' y='21' font-size='8'>0 s</text>"
            f"<text x='{width - 30}' y='21' font-size='8'>{duration:.1f} s</text></svg>")


# -- the entry point -----------------------------------------------------------------------------------------
def diagnose(source: Any, *, audio: bool = True) -> Diagnosis:
    """Diagnose a recorded session: what went wrong, which symptom it explains, and the fix.

    Args:
        source: A `voicelab.Stream` (live or finished: its Recording so far is read), a `Recording`,
            or the path of a Recording's JSONL file.
        audio: Check the audio the Recording kept (decoding and sniffing up to 60 s costs a few hundred
            ms); ``False`` skips the audio-as-sent checks and the audio part of ``echo_loop``.

    Returns:
        A `Diagnosis`: iterable findings (most severe first) with ``ok``, ``to_dict``/``to_json``, text
        with ``str()`` and HTML in a notebook; it also states the session ids, close codes, start time
        and endpoint.

    Raises:
        DiagnoseError: ``source`` is none of those.
        RecordingError: The file is not a voicelab Recording.
    """
    rec = _as_recording(source)
    return _Diagnoser(rec, check_audio=audio).run()


def _as_recording(source: Any) -> Recording:
    if isinstance(source, Recording):
        return source
    if isinstance(source, (str, os.PathLike)):
        return Recording.load(source)
    rec = getattr(source, "recording", None)
    if isinstance(rec, Recording):
        return rec
    raise DiagnoseError(f"diagnose() takes a Stream, a Recording or the path of a recording, "
                        f"not a {type(source).__name__}")


@dataclass
class _Connection:
    """One connection attempt of the Recording, from its ``connect`` entry to the next one."""

    t: float
    url: str | None
    ok: bool = False
    handshake: Entry | None = None
    close: Entry | None = None
    chunks: list[Entry] = field(default_factory=list)
    sends: list[Entry] = field(default_factory=list)
    events: list[tuple[float, Event]] = field(default_factory=list)


class _Diagnoser:
    def __init__(self, rec: Recording, *, check_audio: bool) -> None:
        self.rec = rec
        self.check_audio = check_audio
        self.spec: ProviderSpec = get_provider(rec.provider)
        self.driver: Driver = self.spec.make_driver(DriverOptions())
        self.entries = rec.entries
        self.events = rec.events()
        self.chunks = [e for e in self.entries if e.kind == "chunk"]
        self.connections = self._connections()
        self.findings: list[Finding] = []
        self.sent: SentAudio | None = None
        self.audio_findings: list[Finding] = []

    # -- structure -----------------------------------------------------------------------------
    def _connections(self) -> list[_Connection]:
        conns: list[_Connection] = []
        by_t = iter(self.events)
        pending = next(by_t, None)
        for e in self.entries:
            if e.kind == "connect":
                conns.append(_Connection(t=e.t, url=e.get("url")))
                continue
            if not conns:
                if e.kind in ("chunk", "send", "recv"):  # a Recording written by hand, without connect entries
                    conns.append(_Connection(t=e.t, url=self.rec.header.get("endpoint"), ok=True))
                else:
                    continue
            c = conns[-1]
            if e.kind == "handshake":
                c.handshake = e
                c.ok = bool(e.get("ok"))
            elif e.kind == "close" and c.close is None:
                c.close = e
            elif e.kind == "chunk":
                c.chunks.append(e)
            elif e.kind == "send":
                c.sends.append(e)
            elif e.kind == "recv":
                while pending is not None and pending[0] <= e.t:
                    c.events.append(pending)
                    pending = next(by_t, None)
        if conns:
            while pending is not None:
                conns[-1].events.append(pending)
                pending = next(by_t, None)
        return conns

    def _sent_new_chunks(self) -> list[Entry]:
        """Chunks of new audio (a resend of audio already sent counts once, at its first sending)."""
        seen: set[float] = set()
        out = []
        for c in self.chunks:
            a = float(c["audio_start"])
            if a in seen:
                continue
            seen.add(a)
            out.append(c)
        return out

    def run(self) -> Diagnosis:
        if self.check_audio:
            self._audio()
        self._connection_findings()
        self._outcome()
        self._pacing()
        self._latency()
        self._echo()
        summary = self.rec.summary()
        dur = float(summary.get("duration_seconds") or 0.0)
        order = {s: i for i, s in enumerate(SEVERITIES)}
        findings = sorted(_dedupe(self.findings), key=lambda f: (order[f.severity], _t_of(f)))
        audio = None if self.sent is None else {
            "format": self.sent.format, "seconds": round(self.sent.duration, 3), "complete": self.sent.complete,
            "bytes": len(self.sent.data)}
        closes = tuple({"t": round(c.t, 3), "code": c.get("code"), "reason": c.get("reason"), "by": c.get("by")}
                       for c in self.rec.of("close"))
        return Diagnosis(findings=tuple(findings), provider=self.rec.provider, endpoint=summary.get("endpoint"),
                         started_at=summary.get("started_at"), session_ids=tuple(summary.get("session_ids") or ()),
                         close_codes=tuple(c["code"] for c in closes), duration=dur, audio=audio,
                         name=None if self.rec.path is None else str(self.rec.path), closes=closes,
                         chunks_sent=len(self.rec.of("chunk")))

    def add(self, code: str, severity: str, message: str, symptom: str, fix: str, **evidence: Any) -> Finding:
        f = Finding(code=code, severity=severity, message=message, symptom=symptom, fix=fix,  # type: ignore[arg-type]
                    evidence={k: v for k, v in evidence.items() if v is not None})
        self.findings.append(f)
        return f

    # -- audio as sent -------------------------------------------------------------------------
    def _audio(self) -> None:
        try:
            self.sent = self.rec.sent_audio()
        except RecordingError:
            self.sent = None
        sent = self.sent
        if sent is None or not sent.data:
            return
        try:
            fmt = RawFormat(encoding=sent.encoding, samplerate=sent.samplerate, channels=sent.channels)
        except (VoicelabError, ValueError, TypeError):
            return
        try:
            report = inspect(sent.data, raw=fmt, target=None)
        except (VoicelabError, ValueError) as exc:  # not decodable as declared at all
            self.audio_findings.append(self.add(
                "invalid_audio", "error", f"the audio sent cannot be decoded as declared ({sent.format}): {exc}",
                "invalid_audio", "check what the source really holds: vl.inspect(data, raw=...)",
                t=sent.sends[0][0] if sent.sends else None))
            return
        first_t = sent.sends[0][0] if sent.sends else None
        where = f"the audio sent ({sent.duration:.1f} s of {sent.format}{'' if sent.complete else ', first part'})"
        for f in report.findings:
            code = _AUDIO_CODES.get(f.code)
            if code is None:
                continue
            message = f.message
            for name in ("the data", f"the {len(sent.data)} bytes", "the audio", "the clip"):
                if message.startswith(name):
                    message = where + message[len(name):]
                    break
            else:
                message = f"{where}: {message}"
            fix = f.fix
            if code == "rate_mismatch":
                fix = (f"the source's real rate is not what was declared: load it with its real rate, e.g. "
                       f"vl.load(path) for a file, or raw='linear16:<real rate>:1' for raw bytes (voicelab "
                       f"resamples to {sent.samplerate} Hz); for a microphone, open it at the rate you declare. "
                       f"Inspect it first: {f.fix}")
            evidence = dict(f.evidence)
            evidence.update(t=first_t, audio_format=sent.format, sniffer_code=f.code)
            self.audio_findings.append(self.add(code, f.severity, message, f.symptom, fix, **evidence))

    # -- connection -------------------------------------------------------------------------------
    def _explain(self, code: int) -> str:
        try:
            exp = self.driver.explain_close(code)
        except (NotImplementedError, VoicelabError, KeyError, ValueError):
            return ""
        return f"{exp.title}: {exp.cause}. Fix: {exp.fix}"

    def _connection_findings(self) -> None:
        conns = self.connections
        accepted_before = False
        last = len(conns) - 1
        for i, c in enumerate(conns):
            final = i == last
            h = c.handshake
            auth_refused: Error | None = next(
                (ev for _, ev in c.events if isinstance(ev, Error) and self.driver.is_auth_error(ev)), None)
            if h is not None and not c.ok:
                status = h.get("status")
                if status in (401, 403) or auth_refused is not None:
                    self._auth(c, status=status, accepted_before=accepted_before)
                else:
                    exp = ""
                    if isinstance(status, int):
                        try:
                            e = self.driver.explain_status(status)
                            exp = f" ({e.title}: {e.cause}. Fix: {e.fix})"
                        except (NotImplementedError, VoicelabError, KeyError, ValueError):
                            exp = ""
                    what = f"HTTP {status}" if status else f"{h.get('error') or 'failure'}: {h.get('message') or ''}"
                    self.add("connect_failed", "error" if final else "warning",
                             f"connection attempt {i + 1} failed at the upgrade: {what}{exp}",
                             "cannot_connect",
                             "run vl.doctor(url, provider=...) to check the URL, DNS, TCP, TLS, the upgrade and "
                             "the key step by step", t=h.t, status=status, body=(h.get("body") or "")[:300] or None)
                continue
            if auth_refused is not None:
                self._auth(c, status=None, accepted_before=accepted_before, error=auth_refused)
            elif c.ok and any(isinstance(ev, SessionReady) for _, ev in c.events) or (c.ok and c.chunks):
                accepted_before = True
            self._errors(c)
            self._close(c, final=final, index=i)
        self._reconnects()
        self._resume()

    def _auth(self, c: _Connection, *, status: Any, accepted_before: bool, error: Error | None = None) -> None:
        t = (error and next((tt for tt, ev in c.events if ev is error), None)) or (c.handshake.t if c.handshake
                                                                                    else c.t)
        token_in_url = bool(c.url and ("token=" in c.url))
        what = f"HTTP {status}" if status else f"the provider's error {error.code!r}" if error else "a refusal"
        if accepted_before or token_in_url:
            self.add("token_expired", "error",
                     f"the credentials were refused ({what})"
                     + (" although an earlier connection of this session was accepted: a temporary token expired "
                        "or a single-use token was used twice" if accepted_before else
                        " on a connection made with a temporary token: it expired or was already used"),
                     "auth_rejected",
                     "fetch a fresh token right before each connection (never store or reuse one); with voicelab, "
                     "stream(..., use_token=True) mints one per connection; keep the token's lifetime at "
                     "60-300 s", t=t, status=status, error_code=error.code if error else None)
        else:
            self.add("auth_rejected", "error", f"the credentials were refused ({what})", "auth_rejected",
                     "check the API key and its form (Authorization: Bearer <key>, not Token/Key): "
                     "vl.doctor(url, provider=..., api_key=...) names what is wrong", t=t, status=status,
                     error_code=error.code if error else None)

    def _errors(self, c: _Connection) -> None:
        for t, ev in c.events:
            if not isinstance(ev, Error) or self.driver.is_auth_error(ev) or self.driver.resume_failed(ev):
                continue
            code = (ev.code or "").lower()
            behind = [f.code for f in self.audio_findings if f.severity == "error"]
            if code in ("invalid_audio", "invalid_format"):
                fix = ("send raw PCM16 mono at the declared rate, base64-encoded in input.audio (no WAV header, "
                       "no float32): vl.inspect(data, raw=...) shows what the bytes are"
                       if code == "invalid_audio" else
                       "every message needs a JSON object with 'type'; input.audio needs 'audio' (base64) and comes "
                       "after session.ready; audio goes in text frames, never binary frames")
                what = "the audio" if code == "invalid_audio" else "a message"
                shows = f" (the audio sent shows: {', '.join(behind)})" if behind else ""
                self.add(code, "error", f"the provider rejected {what}: {ev.message or code}{shows}",
                         code, fix, t=t, provider_code=ev.code, audio_findings=behind or None)
            elif code == "malformed_message":
                continue  # a message the client could not parse: the client kept going
            else:
                self.add("provider_error", "error" if ev.fatal else "warning",
                         f"the provider reported an error{f' {ev.code!r}' if ev.code else ''}: {ev.message}"
                         + (f" (the audio sent shows: {', '.join(behind)})" if behind else ""),
                         "invalid_audio" if behind else "dropped",
                         ev.fix or "see the message; the audio findings above, if any, name the cause",
                         t=t, provider_code=ev.code, close_code=ev.close_code, audio_findings=behind or None)

    def _close(self, c: _Connection, *, final: bool, index: int) -> None:
        if not c.ok or c.close is None:
            return
        code = c.close.get("code")
        if code in CLEAN_CLOSE_CODES:
            return
        t = c.close.t
        if code is None or code == NO_CLOSE_FRAME:
            self.add("dropped", "error" if final else "warning",
                     f"connection {index + 1} dropped without a close frame "
                     f"(1006, {c.close.get('reason') or 'no reason'})"
                     + ("" if final else "; the client reconnected"),
                     "dropped",
                     "reconnect with backoff and resend the audio no final covered (voicelab does this: "
                     "stream(..., reconnect=True)); check the network path (proxy, VPN, mobile) and that the "
                     "audio is valid (an invalid stream can make a server drop it)", t=t, close_code=code,
                     recovered=not final)
            return
        exp = self._explain(int(code))
        self.add("server_closed", "error" if final else "warning",
                 f"the server closed connection {index + 1} with code {code}"
                 + (f" ({c.close.get('reason')})" if c.close.get("reason") else "")
                 + (f" — {exp}" if exp else "") + ("" if final else "; the client reconnected"),
                 "dropped", exp.split("Fix: ", 1)[1] if "Fix: " in exp else
                 "see the close code's meaning; reconnect with backoff for codes other than 1000",
                 t=t, close_code=code, reason=c.close.get("reason"), recovered=not final)

    def _reconnects(self) -> None:
        gaps = [e for e in self.entries if e.kind == "gap"]
        ok = [c for c in self.connections if c.ok and c.handshake is not None]
        if not gaps and len(ok) <= 1:
            return
        resent = sum(int(c.handshake.get("resent_chunks") or 0) for c in ok if c.handshake is not None)
        holes = []
        for g in gaps:
            covered = float(g.get("audio_time") or 0.0)
            nxt = next((c for c in ok if c.t > g.t), None)
            if nxt is not None and nxt.handshake is not None:
                offset = float(nxt.handshake.get("audio_offset") or 0.0)
                if offset > covered + 0.01:
                    holes.append({"from": covered, "to": offset})
        continuous = not holes
        if not gaps and len(ok) > 1:
            t0 = ok[1].t
        else:
            t0 = gaps[0].t if gaps else ok[0].t
        self.add("reconnected", "info" if continuous else "warning",
                 f"the client reconnected {max(len(gaps), len(ok) - 1)} time(s); {resent} chunk(s) of audio no final "
                 f"covered were sent again; audio time "
                 + ("continued without a hole" if continuous else
                    "has holes: " + ", ".join(f"{h['from']:.2f}-{h['to']:.2f} s" for h in holes) + " never reached "
                    "the server"),
                 "dropped" if continuous else "lost_audio",
                 "nothing to do if the transcript is complete; otherwise find the cause of the drops (the "
                 "'dropped'/'server_closed' findings)", t=t0, gaps=len(gaps), resent_chunks=resent,
                 holes=holes or None,
                 gap_times=[round(g.t, 3) for g in gaps] or None)

    def _resume(self) -> None:
        for i, c in enumerate(self.connections):
            for t, ev in c.events:
                if isinstance(ev, Error) and self.driver.resume_failed(ev):
                    later = self.connections[i + 1:]
                    fell_back = any(x.ok and any(isinstance(e2, SessionReady) for _, e2 in x.events)
                                    for x in later) or any(isinstance(e2, SessionReady) and t2 > t
                                                           for t2, e2 in c.events)
                    self.add("resume_failed", "warning" if fell_back else "error",
                             f"resuming the session failed with {ev.code!r}: {ev.message}; "
                             + ("the client started a fresh session (the conversation's context is lost)"
                                if fell_back else "no fresh session was started"),
                             "resume_failed",
                             "on session_not_found / session_forbidden / session_expired start a fresh session "
                             "without session.resume (voicelab does); resume within the grace window and with "
                             "the same account's key",
                             t=t, provider_code=ev.code, fell_back=fell_back)

    # -- outcome ------------------------------------------------------------------------------------
    def _outcome(self) -> None:
        new = self._sent_new_chunks()
        audio_s = sum(float(c["audio_end"]) - float(c["audio_start"]) for c in new)
        user = [(t, ev) for t, ev in self.events if isinstance(ev, (Partial, Final))]
        partials = [(t, ev) for t, ev in user if isinstance(ev, Partial) and ev.text.strip()]
        finals = [(t, ev) for t, ev in user if isinstance(ev, Final) and ev.text.strip()]
        first_t = new[0].t if new else None
        if audio_s >= MIN_AUDIO_FOR_OUTCOME_S and not partials and not finals:
            explained = [f for f in self.audio_findings if f.code in _EXPLAINS_SILENCE
                         and f.severity in ("error", "warning")]
            cause = explained[0] if explained else None
            self.add("no_transcripts", "error",
                     f"{audio_s:.1f} s of audio went out but no transcript came back"
                     + (f": the audio sent is the cause ({cause.code}: {cause.message})" if cause else
                        "; the audio kept shows no mislabelling" if self.sent is not None else
                        "; no audio was kept to check (keep_audio_seconds=0)"),
                     "no_transcripts",
                     cause.fix if cause else
                     "check the declared encoding and sample rate against the audio (vl.inspect(data, raw=...)), "
                     "that the audio holds speech, and that binary frames (not text) carry it",
                     t=first_t, audio_seconds=round(audio_s, 3),
                     explained_by=[f.code for f in explained] or None)
            self._end_signal(new)  # billing and lost words do not depend on transcripts having come back
            return
        if partials and not finals and self._session_over():
            self.add("only_partials", "error",
                     f"{len(partials)} partial transcript(s) came back, but no final: the session ended before "
                     "the provider finalised the speech",
                     "no_final",
                     f"end the session with {', '.join(self.driver.finish()) or 'the provider end message'} and wait "
                     "for the last final before closing (voicelab's stream() and stop() do); if the connection "
                     "dropped, reconnect and resend the audio no final covered", t=partials[-1][0],
                     partials=len(partials))
        if not partials and sum(len(normalize_words(ev.text)) >= PARTIALS_MIN_WORDS for _, ev in finals) >= 2:
            sizes = [float(c["audio_end"]) - float(c["audio_start"]) for c in new]
            big = float(np.median(sizes)) if sizes else 0.0
            self.add("partials_absent", "warning",
                     f"{len(finals)} final(s) came back but no partial transcript: the display can only update "
                     "once per utterance"
                     + (f"; each chunk held {big:.1f} s of audio, so whole utterances arrived at once and left no "
                        "room for partials" if big >= 1.0 else ""),
                     "no_partials",
                     "send chunks of 50-100 ms, and handle both kinds of transcript messages: show each partial "
                     "as the live line and replace it with each final (vl.widgets.Timeline shows both)",
                     t=finals[0][0], finals=len(finals))
        self._end_signal(new)

    def _session_over(self) -> bool:
        last = self.connections[-1] if self.connections else None
        return last is not None and last.close is not None

    def _end_signal(self, new: list[Entry]) -> None:
        """The last connection closed without the driver's end (or finalize) message after its last chunk."""
        if not new or not self.connections:
            return
        last = self.connections[-1]
        if not last.ok or last.close is None:
            return
        code = last.close.get("code")
        if code is not None and code not in CLEAN_CLOSE_CODES:
            return  # a drop or an error close: `dropped`/`server_closed` name the cause
        signals = {_norm(m) for m in [*self.driver.finish(), *self.driver.finalize()]}
        if not signals:
            return
        last_chunk_t = last.chunks[-1].t if last.chunks else (new[-1].t if new else 0.0)
        sent_signal = [s for s in last.sends if s.t >= last_chunk_t - 1e-6 and _norm(s.get("message")) in signals]
        if sent_signal:
            return
        finish = ", ".join(self.driver.finish())
        grace = float(self.spec.unended_grace_seconds or 0.0)
        if grace > 0:
            self.add("session_end_missing", "warning",
                     f"the session was closed without {finish}: the provider keeps it open for {grace:.0f} s "
                     "for a resume, and that grace window is billed",
                     "billed_after_hangup",
                     f"send {finish} before closing the socket on every intentional end (hang-up, 'End call', "
                     "page unload) and wait for the provider's answer; voicelab's stream() and stop() do",
                     t=last.close.t, close_code=code, grace_seconds=grace)
        else:
            self.add("no_end_signal", "warning",
                     f"the session was closed (code {code}) without {finish} after the last audio: audio the "
                     "provider had not finalised yet is lost",
                     "lost_words",
                     f"end every session with {finish} and wait for the last final before closing "
                     "(voicelab's stream() and stop() do)",
                     t=last.close.t, close_code=code)

    # -- pacing and latency --------------------------------------------------------------------------
    def _pacing(self) -> None:
        target = self.spec.target
        ratios: list[tuple[float, float, float]] = []  # (audio seconds, wall seconds, t of first chunk)
        intervals: list[float] = []
        sizes: list[tuple[int, float]] = []
        seen: set[float] = set()
        for c in self.connections:
            fresh = []
            for ch in c.chunks:
                a = float(ch["audio_start"])
                if a in seen:
                    continue  # audio resent after a reconnect goes out in a burst, on purpose
                seen.add(a)
                fresh.append(ch)
            sizes += [(int(ch["bytes"]), float(ch["audio_end"]) - float(ch["audio_start"]))
                      for ch in (fresh[:-1] if len(fresh) > 1 else fresh)]
            if len(fresh) < 2:
                continue
            a0, a1 = float(fresh[0]["audio_start"]), float(fresh[-1]["audio_start"])
            wall = fresh[-1].t - fresh[0].t
            ratios.append((a1 - a0, wall, fresh[0].t))
            intervals += [b.t - a.t for a, b in zip(fresh, fresh[1:], strict=False)]
        audio = sum(r[0] for r in ratios)
        wall = sum(r[1] for r in ratios)
        n = len(intervals) + len(ratios)
        if audio >= MIN_AUDIO_FOR_PACING_S and n >= MIN_PACING_CHUNKS:
            t0 = ratios[0][2]
            ratio = audio / wall if wall > 0 else math.inf
            if ratio >= FAST_RATIO:
                speed = "as fast as possible" if not math.isfinite(ratio) or ratio > 50 else f"{ratio:.2f}x real time"
                self.add("faster_than_real_time", "warning",
                         f"audio was sent {speed} ({audio:.1f} s of audio in {wall:.2f} s): latency figures are "
                         "meaningless and the server may buffer, drop or throttle (the Pulse page's own example, "
                         "4096 B every 50 ms at 16 kHz, is 2.56x real time)",
                         "latency",
                         "pace chunks by their audio time: stream(..., speed=1.0) (the default); in your own "
                         "client send chunk k at t0 + k * chunk_seconds, not after a fixed sleep",
                         t=t0, ratio=None if not math.isfinite(ratio) else round(ratio, 3),
                         audio_seconds=round(audio, 3), wall_seconds=round(wall, 3))
            elif ratio <= SLOW_RATIO:
                self.add("slower_than_real_time", "warning",
                         f"audio was sent at {ratio:.2f}x real time ({audio:.1f} s of audio over {wall:.2f} s): "
                         "the server waits for audio, so every transcript comes later and later",
                         "latency",
                         "send audio as it is produced: a chunk every 50-100 ms, scheduled from audio time "
                         "(stream(..., speed=1.0)); check that the sending loop is not blocked by other work",
                         t=t0, ratio=round(ratio, 3), audio_seconds=round(audio, 3), wall_seconds=round(wall, 3))
        if sizes:
            med_bytes = float(np.median([s[0] for s in sizes]))
            med_dur = float(np.median([s[1] for s in sizes]))
            too_large = (med_bytes > target.chunk_bytes_range[1] if target.chunk_bytes_range else
                         target.chunk_seconds is not None and med_dur > CHUNK_SECONDS_FACTOR * target.chunk_seconds)
            if too_large:
                lo_hi = target.chunk_bytes_range
                rec_size = (f"{target.chunk_bytes} B (range {lo_hi[0]}-{lo_hi[1]} B)" if lo_hi else "")
                rec_size = (rec_size
                            if target.chunk_bytes_range else f"about {target.chunk_seconds * 1000:.0f} ms"
                            if target.chunk_seconds else "smaller chunks")
                self.add("chunk_too_large", "warning",
                         f"chunks were {med_bytes:.0f} B ({med_dur * 1000:.0f} ms of audio) each; {target.title} "
                         f"recommends {rec_size}: each chunk's audio waits for the whole chunk before it is sent",
                         "latency",
                         f"send smaller chunks: stream(..., chunk_bytes={target.chunk_bytes})"
                         if target.chunk_bytes_range and target.chunk_bytes else
                         f"send smaller chunks: stream(..., chunk_seconds={target.chunk_seconds})",
                         t=self.chunks[0].t if self.chunks else None, median_bytes=med_bytes,
                         median_seconds=round(med_dur, 4))
        if len(intervals) >= MIN_PACING_CHUNKS:
            med = float(np.median(intervals))
            if med >= LONG_INTERVAL_S:
                self.add("chunk_interval_long", "warning",
                         f"chunks went out every {med * 1000:.0f} ms (median): the server hears each word up to "
                         f"{med * 1000:.0f} ms late",
                         "latency",
                         "send a chunk every 50-100 ms: smaller chunks (e.g. 4096 B at 16 kHz linear16 is 128 ms; "
                         "stream(..., chunk_seconds=0.05)), sent as soon as they are recorded",
                         t=self.chunks[0].t if self.chunks else None, median_interval=round(med, 4))

    def _latency(self) -> None:
        if not self.chunks or any(f.code == "faster_than_real_time" for f in self.findings):
            return  # latency figures of unpaced audio mean nothing (and faster_than_real_time says so)
        try:
            m = compute_metrics(self.rec)
        except (VoicelabError, ValueError, IndexError):
            return
        final = m["final_latency"].p50
        word = m["word_emission"].p50
        worst_s = max(v for v in (final, word, 0.0) if v is not None)
        if worst_s <= HIGH_LATENCY_S:
            return
        connect = m["connect_time"].p50 or 0.0
        sizes = [float(c["audio_end"]) - float(c["audio_start"]) for c in self.chunks]
        chunking = float(np.median(sizes)) if sizes else 0.0
        pacing = 0.0
        new = self._sent_new_chunks()
        if len(new) >= 2:
            behind = [(c.t - new[0].t) - (float(c["audio_start"]) - float(new[0]["audio_start"])) for c in new]
            pacing = max(0.0, float(np.median(behind)))
        server = max(0.0, worst_s - chunking - pacing - connect / 2)
        parts = {"chunking": round(chunking, 3), "pacing": round(pacing, 3),
                 "connect_round_trip": round(connect, 3), "server": round(server, 3)}
        biggest = max(parts, key=lambda k: parts[k])
        fixes = {
            "chunking": "send smaller chunks, every 50-100 ms (stream(..., chunk_seconds=0.05))",
            "pacing": "send audio in real time as it is produced (stream(..., speed=1.0)); the sender fell behind",
            "connect_round_trip": "connect from closer to the provider's region (region=...), or check the network "
                                  "(vl.doctor reports the TCP connect time)",
            "server": "the provider took the time: try another region, smaller chunks, or check for the emulator's "
                      "slowdown fault; compare with vl.plot.latency(rec)",
        }
        label = "final latency" if final is not None and final >= (word or 0.0) else "word emission latency"
        self.add("high_latency", "warning",
                 f"{label} is {worst_s:.2f} s (median): chunking {parts['chunking']:.2f} s, pacing "
                 f"{parts['pacing']:.2f} s, connect round trip {parts['connect_round_trip']:.2f} s, server about "
                 f"{parts['server']:.2f} s — mostly {biggest.replace('_', ' ')}",
                 "latency", fixes[biggest], t=self.chunks[0].t, final_latency_p50=final,
                 word_emission_p50=word, attribution=parts, mostly=biggest)

    # -- echo loop ------------------------------------------------------------------------------------
    def _echo(self) -> None:
        replies = _replies(self.events)
        if not replies:
            return
        users = [(t, ev.text) for t, ev in self.events if isinstance(ev, Final) and ev.text.strip()]
        scored = self._echo_audio(replies) if self.check_audio else {}
        details = []
        for r in replies:
            spoken = normalize_words(r["text"])
            rep = None
            for t, text in users:
                if t < r["t"] or t > r["t"] + ECHO_TEXT_WINDOW_S:
                    continue
                words = normalize_words(text)
                if not words or not spoken:
                    continue
                sm = difflib.SequenceMatcher(a=words, b=spoken, autojunk=False)
                matched = sum(b.size for b in sm.get_matching_blocks())
                if matched >= ECHO_MIN_WORDS and matched / len(words) >= ECHO_TEXT_SHARE:
                    rep = {"t": round(t, 3), "text": text, "share": round(matched / len(words), 3)}
                    break
            score = scored.get(r["id"])
            details.append({"reply_id": r["id"], "t": round(r["t"], 3), "interrupted": r["interrupted"],
                            "interrupted_after": None if r["after"] is None else round(r["after"], 3),
                            "text": r["text"], "repeated_by_user": rep,
                            "score": None if score is None else round(score[0], 3),
                            "lag": None if score is None else round(score[1], 3)})
        best = max((d for d in details if d["score"] is not None), key=lambda d: d["score"], default=None)
        strong = [d for d in details if d["score"] is not None and d["score"] >= ECHO_SCORE]
        # one reply correlating by chance (two short utterances of one synthetic voice) is not a loop: a loop
        # shows in every reply, so ask for two, or for one that is nearly a copy
        audio_echo = best is not None and (len(strong) >= 2 or best["score"] >= ECHO_SINGLE_SCORE)
        interrupted = [d for d in details if d["interrupted"]]
        repeated_interrupted = [d for d in interrupted if d["repeated_by_user"]]
        # The audio decides when it was kept: a user who repeats themselves ("it was the age of wisdom, it
        # was the age of foolishness") repeats the agent's echo of their words without any loop. Without
        # audio, two interrupted replies repeated by the user are a warning ("possibly").
        if best is not None:
            if not audio_echo:
                return
            severity = "error"
        elif len(repeated_interrupted) >= 2:
            severity = "warning"
        else:
            return
        echoed = [d for d in details if (d["score"] or 0) >= ECHO_SCORE or d["repeated_by_user"]]
        first = echoed[0] if echoed else details[0]
        afters = [d["interrupted_after"] for d in interrupted if d["interrupted_after"] is not None]
        parts = []
        if interrupted:
            parts.append(f"{len(interrupted)} of {len(details)} replies were interrupted"
                         + (f", {float(np.median(afters)):.1f} s in (median)" if afters else ""))
        echoed_text = [d["repeated_by_user"] for d in details if d["repeated_by_user"]]
        if echoed_text:
            parts.append(f"the user transcript repeats the agent's reply {len(echoed_text)} time(s) "
                         f"(\"{str(echoed_text[0]['text'])[:60]}\")")
        if audio_echo and best is not None:
            parts.append(f"the audio sent contains the reply audio {best['lag'] * 1000:.0f} ms later "
                         f"(correlation {best['score']:.2f})")
        self.add("echo_loop", severity,
                 ("the agent hears itself: " if severity == "error" else
                  "the agent possibly hears itself (no audio was kept to confirm it): ") + "; ".join(parts),
                 "echo",
                 "use headphones, or capture with echo cancellation (in the browser: getUserMedia({audio: "
                 "{echoCancellation: true}}), which vl.widgets.Recorder uses); terminal apps (sounddevice) get no "
                 "acoustic echo cancellation",
                 t=first["t"], score=None if best is None else best["score"],
                 lag=None if best is None else best["lag"], replies=details)

    def _echo_audio(self, replies: list[dict[str, Any]]) -> dict[str | None, tuple[float, float]]:
        """Per reply: the best normalised correlation of its audio with the audio sent, and at which delay."""
        sent = self.sent
        if sent is None or not sent.sends or sent.encoding not in ("linear16", "mulaw", "alaw"):
            return {}
        try:
            x = decode_pcm(sent.data, encoding=sent.encoding, channels=sent.channels)
        except (VoicelabError, ValueError):
            return {}
        if x.ndim > 1:
            x = x.mean(axis=1)
        sig = _to_rate(x.astype(np.float64), sent.samplerate)
        send_t = [s[0] for s in sent.sends]
        send_a = [s[1] - sent.start for s in sent.sends]
        out: dict[str | None, tuple[float, float]] = {}
        for r in replies:
            if not r["audio"]:
                continue
            rate = r["rate"]
            pcm = b"".join(r["audio"])
            try:
                y = decode_pcm(pcm, encoding=r["encoding"])
            except (VoicelabError, ValueError):
                continue
            ref = _to_rate(y.astype(np.float64), rate)
            if len(ref) < ECHO_MIN_REPLY_S * ECHO_RATE or not np.any(ref):
                continue
            ref = ref[: int(3.0 * ECHO_RATE)]  # the first 3 s are enough (and an interrupted reply is short)
            # where the reply's first audio sits in the audio sent: the audio time being sent at that moment
            a_at = _interp(r["audio_t"], send_t, send_a)
            if a_at is None:
                continue
            lo = int((a_at + ECHO_MIN_LAG_S) * ECHO_RATE)
            hi = int((a_at + ECHO_MAX_LAG_S) * ECHO_RATE) + len(ref)
            lo, hi = max(lo, 0), min(hi, len(sig))
            if hi - lo < len(ref):
                continue
            score, lag = _best_lag(sig[lo:hi], ref)
            out[r["id"]] = (score, (lo + lag) / ECHO_RATE - a_at)
        return out


def _replies(events: Sequence[tuple[float, Event]]) -> list[dict[str, Any]]:
    """The agent's replies: start time, audio (as received), spoken text, interrupted and how far in."""
    replies: dict[str | None, dict[str, Any]] = {}
    order: list[str | None] = []
    current: str | None = None
    for t, ev in events:
        if isinstance(ev, AgentReplyStarted):
            current = ev.reply_id
            if current not in replies:
                order.append(current)
                replies[current] = {"id": current, "t": t, "audio": [], "audio_t": None, "rate": 0,
                                    "encoding": "linear16", "text": "", "interrupted": False, "after": None,
                                    "end_t": None}
        elif isinstance(ev, AgentReplyAudio) and current in replies:
            r = replies[current]
            if ev.pcm:
                r["audio"].append(ev.pcm)
            if ev.pcm or ev.omitted_bytes:  # audio a Recording did not keep still tells when the reply spoke
                r["rate"], r["encoding"] = ev.sample_rate, ev.encoding
                if r["audio_t"] is None:
                    r["audio_t"] = t
        elif isinstance(ev, AgentTranscript):
            found = replies.get(ev.reply_id) if ev.reply_id in replies else replies.get(current)
            if found is not None:
                found["text"] = ev.text
                found["interrupted"] = found["interrupted"] or ev.interrupted
        elif isinstance(ev, AgentReplyDone):
            done = replies.get(ev.reply_id) if ev.reply_id in replies else replies.get(current)
            if done is not None:
                done["interrupted"] = done["interrupted"] or ev.interrupted
                done["end_t"] = t
                if done["interrupted"]:
                    done["after"] = t - (done["audio_t"] if done["audio_t"] is not None else done["t"])
    return [replies[k] for k in order]


def _to_rate(x: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """``x`` at `ECHO_RATE` (band-limited by soxr)."""
    if rate == ECHO_RATE or len(x) == 0:
        return x
    from voicelab.audio.clip import Clip
    from voicelab.audio.convert import resample

    return resample(Clip(x.astype(np.float32), samplerate=rate), ECHO_RATE).samples.astype(np.float64)


def _interp(t: float | None, ts: list[float], values: list[float]) -> float | None:
    if t is None or not ts:
        return None
    i = bisect.bisect_right(ts, t)
    if i == 0:
        return values[0] - (ts[0] - t)
    if i >= len(ts):
        return values[-1] + (t - ts[-1])
    t0, t1, v0, v1 = ts[i - 1], ts[i], values[i - 1], values[i]
    return v0 + (v1 - v0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.0)


def _best_lag(window: npt.NDArray[np.float64], ref: npt.NDArray[np.float64]) -> tuple[float, int]:
    """The normalised cross-correlation of ``ref`` slid over ``window``: (peak score in [0, 1], its offset).

    The offset is the earliest one scoring at least 90 % of the best.
    """
    n, m = len(window), len(ref)
    size = 1 << int(math.ceil(math.log2(n + m)))
    corr = np.fft.irfft(np.fft.rfft(window, size) * np.conj(np.fft.rfft(ref, size)), size)[: n - m + 1]
    energy = np.concatenate(([0.0], np.cumsum(window * window)))
    local = energy[m:] - energy[:-m]
    den = np.sqrt(np.maximum(local, 1e-12) * float(np.dot(ref, ref)))
    score = np.abs(corr) / den
    score[local < 1e-9 * m] = 0.0
    best = float(score.max()) if len(score) else 0.0
    # the earliest peak nearly as strong as the best: a reply that repeats a phrase ("You said: …") also
    # matches the echo of an earlier reply, later
    k = int(np.argmax(score >= 0.9 * best)) if best > 0 else 0
    return float(min(score[k], 1.0)), k


def _norm(message: Any) -> str:
    """A message as canonical JSON text (so the same message sent with other spacing compares equal)."""
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            return str(message)
    try:
        return json.dumps(message, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(message)


def _t_of(f: Finding) -> float:
    t = f.evidence.get("t")
    return float(t) if isinstance(t, (int, float)) else math.inf


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per code: the most severe, then the earliest."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    best: dict[str, Finding] = {}
    for f in findings:
        b = best.get(f.code)
        if b is None or (order[f.severity], _t_of(f)) < (order[b.severity], _t_of(b)):
            best[f.code] = f
    return list(best.values())

