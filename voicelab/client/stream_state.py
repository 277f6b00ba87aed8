"""What a stream knows across its connections, as decisions only (sans-I/O).

`StreamState` is fed with what happened — a connection attempt began or failed, a connection opened,
a chunk was taken from the source or sent, an event arrived, the connection ended — and answers with
what to do: which audio to resend after a drop, which notes to log, whether the provider is ready or
done, and whether to reconnect (after how long), end, or fail with which error. The one I/O layer
(`voicelab.client.connection`) only moves bytes, sleeps and applies those answers. This module imports
no asyncio and no websockets and reads no clock: every wall time is passed in.

Units: every time is seconds as a float, and every name says which clock it is on:

* ``*_audio_s`` (constants ``*_AUDIO_S``): audio time, seconds from the start of the stream's audio
  (chunk starts and ends, word times, speech starts and ends). It continues across reconnects.
* ``*_wall_s`` (constants ``*_WALL_S``): wall time, seconds on the Recording's monotonic clock
  (`voicelab.recording.Recording.now`), e.g. when an event arrived or a connection opened.

What a final covers: the audio up to its last word's end (or the provider's speech end of that
utterance, when it came a little later), and after a provider-reported speech end that follows the
last final, everything up to that speech end. Audio no final covered yet stays in `pending` and is
resent on the next connection after a drop, on the original chunk grid where possible.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from voicelab.audio.chunking import Chunk
from voicelab.audio.codecs import encode_pcm
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.client.errors import (
    AuthenticationError,
    ConnectionDropped,
    NoTranscriptError,
    ServerClosedError,
    SessionError,
)
from voicelab.client.retry import Decision, RetryPolicy
from voicelab.errors import VoicelabError
from voicelab.protocols.events import (
    AgentReplyDone,
    AgentReplyStarted,
    Error,
    Event,
    Final,
    Partial,
    SpeechStarted,
    SpeechStopped,
)
from voicelab.providers.spec import Driver

__all__ = [
    "CHUNK_END_EPSILON_AUDIO_S",
    "IN_FLIGHT_WAIT_WALL_S",
    "LAST_TURN_QUIET_WALL_S",
    "MAX_IN_FLIGHT_AUDIO_S",
    "SNAP_TO_CHUNK_AUDIO_S",
    "SPEECH_END_AFTER_LAST_WORD_AUDIO_S",
    "SPEECH_END_BEFORE_LAST_WORD_AUDIO_S",
    "SPEECH_START_AFTER_FINAL_AUDIO_S",
    "STABLE_CONNECTION_WALL_S",
    "STOPPED_BY_USER",
    "TAIL_SILENCE_CHUNK_AUDIO_S",
    "WAITING_FOR",
    "Action",
    "ConnectionEnd",
    "ConnectionPlan",
    "Done",
    "Fail",
    "LogNote",
    "ReadyForAudio",
    "Reconnect",
    "Stopped",
    "StreamState",
    "TerminalReceived",
    "to_stream_time",
    "trim_chunk",
]

#: A connection that stayed up this long (wall seconds) while sending new audio counts as healthy: the
#: retry budget and the backoff start over after it. A shorter one counts as a failed attempt unless a
#: final covered new audio, so a server that drops every connection at once exhausts ``max_attempts``.
STABLE_CONNECTION_WALL_S = 1.0
#: After a provider-reported speech end, the rest of the chunk holding it (if at most this many audio
#: seconds) is non-speech and counts as covered, so a resend starts on an original chunk boundary with
#: the original bytes (re-framed audio can decode differently: providers cut audio into fixed frames).
SNAP_TO_CHUNK_AUDIO_S = 0.25
#: A speech start at most this long after the last final's last word still belongs to that final's
#: utterance (word ends and VAD onsets come from different parts of a recognizer and disagree by a frame
#: or two), so a speech end arriving after the final still covers the audio up to it. A later speech
#: start is a new utterance that no final covers yet.
SPEECH_START_AFTER_FINAL_AUDIO_S = 0.05
#: A provider speech end at most this long *before* a final's last word end belongs to that final's
#: utterance: word end times are approximate and may run slightly past the VAD's end of speech. (Today this
#: bound cannot change what is covered: the later of word end and speech end is taken, and a speech end
#: before the word end loses either way; it marks which speech ends count as this utterance's.)
SPEECH_END_BEFORE_LAST_WORD_AUDIO_S = 0.2
#: A provider speech end at most this long *after* a final's last word end belongs to that final's
#: utterance (the VAD's trailing silence before it declares the end, plus word-time error); the final then
#: covers up to the speech end, so no tail of a finalised word is resent (and transcribed twice). A speech
#: end later than this belongs to a later utterance.
SPEECH_END_AFTER_LAST_WORD_AUDIO_S = 1.5
#: Before ending an agent session, the server must have been silent (no event) this long in wall seconds,
#: with no user turn and no reply in progress: an event in flight (a transcript, a reply starting) would
#: otherwise be cut off by the session's end.
LAST_TURN_QUIET_WALL_S = 0.5
#: Audio seconds per chunk of the trailing silence sent so the provider's turn detection ends the last
#: turn (a provider's ``tail_silence_seconds``); small, so the silence is paced like speech.
TAIL_SILENCE_CHUNK_AUDIO_S = 0.05
#: Unpaced (``speed=None``), the client sends new audio only while at most this much audio is in flight: sent
#: but not yet covered by a final (`StreamState.in_flight_audio_s`, what a reconnect resends). Without the
#: bound the resend buffer holds the whole file whenever the server's finals fall behind the sends (2 hours:
#: 230 MB of chunks). Paced streams are not held: their pace already bounds it.
MAX_IN_FLIGHT_AUDIO_S = 30.0
#: How long (wall seconds) an unpaced stream waits for a final to cover audio once `MAX_IN_FLIGHT_AUDIO_S` is
#: in flight. When none comes in that time it sends on, unbounded, until a final covers more audio: a server
#: that finalises only at the end (or sends finals without word times) is never deadlocked, only not bounded.
IN_FLIGHT_WAIT_WALL_S = 2.0
#: Float tolerance (audio seconds) when deciding that a chunk ends at or before the covered point: chunk
#: ends are sums of float durations and may sit a rounding error past a word end that equals them.
CHUNK_END_EPSILON_AUDIO_S = 1e-9

#: What a stream with no connection open can be waiting for when the user stops it (`StreamState.on_stop`): the
#: ``waiting_for`` of its ``close`` entry, and how that entry's ``reason`` words it.
WAITING_FOR: Mapping[str, str] = MappingProxyType({
    "audio": "the first audio",  # an iterator source: its first second is checked before connecting
    "token": "a temporary token",
    "upgrade": "the server's answer to the upgrade",
    "retry": "the next connection attempt",
})
#: The ``reason`` of every stop by the user, first words (`Stopped.reason`).
STOPPED_BY_USER = "stopped by the user"

#: Close code of a normal closure (RFC 6455).
_NORMAL_CLOSE = 1000
#: Close code reported when a connection ended without a close frame (RFC 6455).
_ABNORMAL_CLOSE = 1006


# --------------------------------------------------------------------------- what the state answers


@dataclass(frozen=True, slots=True)
class LogNote:
    """Log a ``note`` entry in the Recording.

    Attributes:
        text: The note.
        fields: Further fields of the entry.
        wall_s: The entry's time (wall seconds); ``None`` for when it is logged.
    """

    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    wall_s: float | None = None


@dataclass(frozen=True, slots=True)
class ReadyForAudio:
    """The provider opened the session for audio (for drivers that wait for a ready event)."""


@dataclass(frozen=True, slots=True)
class TerminalReceived:
    """The provider's last word after a clean end arrived: stop waiting for it."""


#: What `StreamState.on_event` asks the I/O layer to do.
Action = LogNote | ReadyForAudio | TerminalReceived


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """What a new connection sends before new audio.

    Attributes:
        resend: Chunks no final covered before the drop, to send again first (the first may be trimmed).
        offset_audio_s: Where this connection's audio starts in the stream's audio time: the provider's
            times (which start at 0 on every connection) are shifted by it.
        resume_id: The session id to resume (`voicelab.providers.Driver.opening`), if any.
    """

    resend: tuple[Chunk, ...]
    offset_audio_s: float
    resume_id: str | None

    @property
    def resumed(self) -> bool:
        """Whether this connection resumes a session."""
        return bool(self.resume_id)


@dataclass(frozen=True, slots=True)
class Done:
    """The stream is over: return.

    Attributes:
        notes: Notes to log first.
    """

    notes: tuple[LogNote, ...] = ()


@dataclass(frozen=True, slots=True)
class Fail:
    """The stream failed: raise ``error``.

    Attributes:
        error: The exception to raise.
        notes: Notes to log first.
    """

    error: VoicelabError
    notes: tuple[LogNote, ...] = ()


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Reconnect after ``delay_wall_s``, logging a ``gap``.

    Attributes:
        delay_wall_s: Seconds to wait first.
        reason: Why, in words (from `RetryPolicy.decide`).
        close_code: The close code of the connection that ended.
        covered_until_audio_s: Audio time up to which finals cover the audio (the next connection's audio
            starts there, or at the end of the audio sent when nothing is pending).
        sent_until_audio_s: Audio time up to which audio was sent.
        notes: Notes to log first.
    """

    delay_wall_s: float
    reason: str
    close_code: int | None
    covered_until_audio_s: float
    sent_until_audio_s: float
    notes: tuple[LogNote, ...] = ()


#: What `StreamState.on_connection_end` decides.
ConnectionEnd = Done | Fail | Reconnect


@dataclass(frozen=True, slots=True)
class Stopped:
    """The user stopped the stream while no connection was open: end now, sending nothing, opening nothing.

    The I/O layer logs it as a ``close`` entry without a ``code`` (no connection was open) and with
    ``by="user"``, this ``reason`` and ``waiting_for``.

    Attributes:
        reason: In words, e.g. "stopped by the user before connecting, while waiting for the first audio".
        waiting_for: A key of `WAITING_FOR`, or ``None`` when the stream was waiting for nothing yet.
    """

    reason: str
    waiting_for: str | None = None


_NO_ACTIONS: tuple[Action, ...] = ()


# --------------------------------------------------------------------------- pure helpers


def trim_chunk(chunk: Chunk, start_audio_s: float) -> Chunk:
    """Cut the head before ``start_audio_s`` off a PCM chunk (sample-exact); compressed chunks stay whole.

    Args:
        chunk: The chunk.
        start_audio_s: Audio time where the kept part starts (rounded to the nearest sample).

    Returns:
        The trimmed chunk, or ``chunk`` itself when nothing (or everything) would be cut or its encoding
        has no fixed sample size.
    """
    bps = BYTES_PER_SAMPLE.get(chunk.encoding)
    if not bps:
        return chunk
    frame = bps * chunk.channels
    skip = round((start_audio_s - chunk.start) * chunk.samplerate) * frame
    if skip <= 0 or skip >= len(chunk.data):
        return chunk
    return replace(chunk, data=chunk.data[skip:], start=chunk.start + skip / frame / chunk.samplerate)


def to_stream_time(event: Event, offset_audio_s: float) -> Event:
    """Move an event's audio times (word times, ``audio_time``) from connection time to stream time.

    Args:
        event: An event as parsed from one connection (its times start at 0 on that connection).
        offset_audio_s: Where that connection's audio starts in the stream.

    Returns:
        The event with shifted times (``event`` itself when there is nothing to shift).
    """
    if not offset_audio_s:
        return event
    changes: dict[str, Any] = {}
    words = getattr(event, "words", None)
    if words:
        changes["words"] = tuple(replace(w, start=w.start + offset_audio_s, end=w.end + offset_audio_s)
                                 for w in words)
    audio_time = getattr(event, "audio_time", None)
    if audio_time is not None:
        changes["audio_time"] = audio_time + offset_audio_s
    return replace(event, **changes) if changes else event


# --------------------------------------------------------------------------- the state


class StreamState:
    """Everything about one stream that outlives a connection, and the decisions made from it.

    Fed in order, per connection: `begin_attempt`; then `on_refused` / `on_unreachable` when the
    attempt failed, or `on_connected` when it opened; while it is open `take` / `on_sent` /
    `on_resent` for audio, `on_event` for every parsed event, `on_source_end`, `on_tail_done`,
    `on_finish_sent`; and `on_connection_end` when it closed. When the user stops it: `on_stop` with no
    connection open, `on_stop_while_connected` with one.

    Read the attributes; change them only through the methods.

    Args:
        driver: The provider's (pure) driver: session ids, ready and terminal events, resume and auth errors.
        retry: The reconnect policy.
        reconnect: Whether to reconnect after a drop at all (``False``: every failure is final, except that
            a failed resume still falls back to a fresh session).

    Attributes:
        pending: Chunks taken from the source that no final covers yet, in order (the first may be trimmed).
        covered_until_audio_s: Audio time up to which finals cover the audio.
        sent_until_audio_s: Audio time up to which audio was sent (the end of the last chunk sent).
        seq: The ``seq`` of the next chunk sent (counts every chunk sent, resent ones included).
        session_id: The provider's session id, once reported.
        resume_id: The session id the next connection resumes, if any.
        resume_failed: The provider rejected this connection's resume (a fresh session follows).
        source_done: The source has no more audio.
        tail_sent: The trailing silence (`Driver.tail_silence_seconds`) went out.
        finish_sent: The clean-end messages (`Driver.finish`) went out.
        terminal: The provider's last word after a clean end arrived.
        fatal: The error the stream fails with once the connection ends, if the provider reported one.
        transcripts: Partials and finals with text received.
        speaking: The provider reported speech that no final ended yet (this connection).
        replying: An agent reply is in progress (this connection).
        last_event_wall_s: When the last event arrived.
        last_speech_start_audio_s: The last provider speech start, when it carried a time.
        last_speech_end_audio_s: The last provider speech end (its time, else the audio sent when it came).
        last_final_end_audio_s: The last word end of the last final with words.
        offset_audio_s: Where the current connection's audio starts in the stream.
        opened_at_wall_s: When the current connection opened.
        attempt: Connection attempts in a row that made no progress, the current one included.
        connections: Connections opened so far.
        stopped: The user asked to stop (`on_stop`, `on_stop_while_connected`).
    """

    def __init__(self, *, driver: Driver, retry: RetryPolicy | None = None, reconnect: bool = True) -> None:
        self.driver = driver
        self.retry = retry if retry is not None else RetryPolicy()
        self.reconnect = reconnect
        self.pending: deque[Chunk] = deque()
        self.covered_until_audio_s = 0.0
        self.sent_until_audio_s = 0.0
        self.seq = 0
        self.session_id: str | None = None
        self.resume_id: str | None = None
        self.resume_failed = False
        self.source_done = False
        self.tail_sent = False
        self.finish_sent = False
        self.terminal = False
        self.fatal: VoicelabError | None = None
        self.transcripts = 0
        self.speaking = False
        self.replying = False
        self.last_event_wall_s = 0.0
        self.last_speech_start_audio_s: float | None = None
        self.last_speech_end_audio_s: float | None = None
        self.last_final_end_audio_s: float | None = None
        self.offset_audio_s = 0.0
        self.opened_at_wall_s = 0.0
        self.attempt = 0
        self.connections = 0
        self.stopped = False
        self._backoff = self.retry.delays()
        self._sent_mark_audio_s = 0.0
        self._covered_mark_audio_s = 0.0
        # covered_until_audio_s when a wait for finals last ran out (`on_in_flight_wait_expired`)
        self._unbounded_at_audio_s: float | None = None

    def __repr__(self) -> str:
        return (f"<StreamState {self.driver.provider}: sent {self.sent_until_audio_s:.3f} s, covered "
                f"{self.covered_until_audio_s:.3f} s, {len(self.pending)} pending, attempt {self.attempt}>")

    # ----------------------------------------------------------------------- connecting

    def begin_attempt(self) -> int:
        """A connection attempt begins; returns its number in the current run of failures (1 = first)."""
        self.attempt += 1
        return self.attempt

    def on_refused(self, *, status: int, retry_after_wall_s: float | None = None) -> Decision:
        """The upgrade was refused with HTTP ``status``: retry (after how long) or fail.

        Args:
            status: The HTTP status.
            retry_after_wall_s: The server's ``Retry-After``, seconds, if any.

        Returns:
            The decision; when ``retry`` is false, the I/O layer raises the status's error.
        """
        return self.retry.decide(attempt=self.attempt, status=status, retry_after=retry_after_wall_s,
                                 backoff=next(self._backoff), fatal=not self.reconnect)

    def on_unreachable(self) -> Decision:
        """The attempt failed before an HTTP answer (refused TCP, DNS, timeout): retry or fail."""
        return self.retry.decide(attempt=self.attempt, backoff=next(self._backoff), fatal=not self.reconnect)

    def on_connected(self, *, now_wall_s: float) -> ConnectionPlan:
        """A connection opened: what to resend, where its audio starts, which session to resume.

        Args:
            now_wall_s: When it opened.

        Returns:
            The plan for this connection.
        """
        resend = tuple(self.pending)
        self.offset_audio_s = resend[0].start if resend else self.sent_until_audio_s
        self._sent_mark_audio_s = self.sent_until_audio_s
        self._covered_mark_audio_s = self.covered_until_audio_s
        self.speaking = self.replying = False  # turn state belongs to the connection that reported it
        self.opened_at_wall_s = now_wall_s
        self._unbounded_at_audio_s = None  # a new connection may cover audio again: bound it again
        self.connections += 1
        return ConnectionPlan(resend=resend, offset_audio_s=self.offset_audio_s, resume_id=self.resume_id)

    # ----------------------------------------------------------------------- stopping

    def on_stop(self, *, waiting_for: str | None = None) -> Stopped:
        """The user asked to stop (`voicelab.Stream.stop`) while no connection was open: end at once.

        Nothing is sent and no connection is opened; a pre-flight check still reading the source's first
        second is abandoned, so it reports nothing (no "empty" source: the user stopped it).

        Args:
            waiting_for: What the stream was waiting for: a key of `WAITING_FOR` (the first audio, a
                temporary token, the upgrade, the next attempt), or ``None`` for nothing yet.

        Returns:
            What to log: the ``close`` entry's ``reason`` ("stopped by the user before connecting, while
            waiting for the first audio"; "before reconnecting" once a connection was open) and ``waiting_for``.
        """
        self.stopped = True
        when = "before reconnecting" if self.connections else "before connecting"
        what = f", while waiting for {WAITING_FOR[waiting_for]}" if waiting_for else ""
        return Stopped(reason=f"{STOPPED_BY_USER} {when}{what}", waiting_for=waiting_for)

    def on_stop_while_connected(self) -> None:
        """The user asked to stop while a connection was open (or as it ended).

        That connection ends cleanly — no more audio, no trailing silence, the driver's finish, the
        provider's last message — and whatever then ends it ends the stream: `on_connection_end` answers
        `Done`, never `Reconnect` (a reconnect would keep the user waiting after asking to stop).
        """
        self.stopped = True

    # ----------------------------------------------------------------------- audio

    def take(self, chunk: Chunk) -> None:
        """A chunk was taken from the source and is about to be sent.

        It goes into `pending` before it is sent: a drop noticed while it waits for its turn (or in the
        send) must not lose it, or every later audio time would be off by one chunk per drop.
        """
        self.pending.append(chunk)

    def on_sent(self, chunk: Chunk) -> int:
        """A chunk went out (new audio or trailing silence); returns its ``seq``."""
        seq = self.seq
        self.seq = seq + 1
        self.sent_until_audio_s = chunk.end
        return seq

    def on_resent(self, chunk: Chunk) -> int:
        """A chunk of `ConnectionPlan.resend` went out again; returns its ``seq``."""
        seq = self.seq
        self.seq = seq + 1
        self.sent_until_audio_s = max(self.sent_until_audio_s, chunk.end)
        return seq

    @property
    def in_flight_audio_s(self) -> float:
        """Audio seconds sent but not yet covered by a final (what a reconnect would resend)."""
        return max(0.0, self.sent_until_audio_s - self.covered_until_audio_s)

    def hold_for_finals(self, *, paced: bool) -> bool:
        """Whether to wait for a final before sending the next chunk of new audio.

        True for an unpaced stream (``paced=False``) with more than `MAX_IN_FLIGHT_AUDIO_S` in flight, unless
        a wait already ran out (`on_in_flight_wait_expired`) and no final has covered more audio since. The
        I/O layer then waits until a final covers audio, the connection ends, the user stops, or
        `IN_FLIGHT_WAIT_WALL_S` passes, and asks again.

        Args:
            paced: The stream is paced (``speed`` set): its pace bounds what is in flight, never held.
        """
        if paced or self.in_flight_audio_s <= MAX_IN_FLIGHT_AUDIO_S:
            return False
        return self._unbounded_at_audio_s is None or self.covered_until_audio_s > self._unbounded_at_audio_s

    def on_in_flight_wait_expired(self) -> None:
        """A wait for finals (`hold_for_finals`) ran `IN_FLIGHT_WAIT_WALL_S` without a final covering audio.

        Audio goes out unbounded until a final covers more: a server that sends no (timed) finals until the
        end must not stall the stream, nor cost `IN_FLIGHT_WAIT_WALL_S` per chunk.
        """
        self._unbounded_at_audio_s = self.covered_until_audio_s

    @property
    def source_position_audio_s(self) -> float:
        """Audio time where the source's next chunk starts (after a chunk taken but not sent, if any)."""
        return self.pending[-1].end if self.pending else self.sent_until_audio_s

    def on_source_end(self) -> None:
        """The source has no more audio."""
        self.source_done = True

    def needs_tail_silence(self, *, stopping: bool) -> bool:
        """Whether trailing silence must go out before the clean end.

        Args:
            stopping: The user asked to stop (then the audio is cut short and no silence is sent).
        """
        return bool(self.driver.tail_silence_seconds) and self.source_done and not stopping and not self.tail_sent

    def tail_silence(self) -> list[Chunk]:
        """The trailing silence's chunks, from the end of the audio sent (`TAIL_SILENCE_CHUNK_AUDIO_S` each)."""
        step = TAIL_SILENCE_CHUNK_AUDIO_S
        driver = self.driver
        silence = encode_pcm(np.zeros(round(step * driver.samplerate), dtype=np.float32), encoding=driver.encoding)
        start = self.sent_until_audio_s
        out: list[Chunk] = []
        for k in range(round(driver.tail_silence_seconds / step)):
            a = start + k * step
            out.append(Chunk(self.seq + k, silence, driver.encoding, driver.samplerate, 1, a, a + step))
        return out

    def on_tail_done(self) -> None:
        """The trailing silence went out and the last turn closed (or the wait for it ended)."""
        self.tail_sent = True

    def last_turn_closed(self, *, now_wall_s: float) -> bool:
        """Whether the user's last turn and any reply are done and the server has been quiet a while.

        Args:
            now_wall_s: The time now.

        Returns:
            True when no speech and no reply is in progress and no event came for `LAST_TURN_QUIET_WALL_S`.
        """
        quiet = now_wall_s - self.last_event_wall_s >= LAST_TURN_QUIET_WALL_S
        return not self.speaking and not self.replying and quiet

    def on_finish_sent(self) -> None:
        """The clean-end messages went out."""
        self.finish_sent = True

    # ----------------------------------------------------------------------- events

    def to_stream_time(self, event: Event) -> Event:
        """`to_stream_time` with the current connection's offset."""
        return to_stream_time(event, self.offset_audio_s)

    def on_event(self, event: Event, *, now_wall_s: float) -> tuple[Action, ...]:
        """Take in one parsed event (already in stream time: `to_stream_time`).

        Updates what finals cover (dropping covered audio from `pending`), turn state, the session id,
        a failed resume, and the fatal error, if any.

        Args:
            event: The event.
            now_wall_s: When it arrived.

        Returns:
            What the I/O layer should do: log a note, open the session for audio, stop waiting.
        """
        driver = self.driver
        actions: list[Action] | None = None
        self.last_event_wall_s = now_wall_s
        if isinstance(event, Partial | Final) and event.text.strip():
            self.transcripts += 1
        if isinstance(event, SpeechStarted):
            self.speaking = True
        elif isinstance(event, Final):
            self.speaking = False
        elif isinstance(event, AgentReplyStarted):
            self.replying = True
        elif isinstance(event, AgentReplyDone):
            self.replying = False
        sid = driver.session_id(event)
        if sid and sid != self.session_id:
            self.session_id = sid
            actions = [LogNote("session id", {"session_id": sid}, wall_s=now_wall_s)]
        if isinstance(event, SpeechStarted):
            self.last_speech_start_audio_s = event.audio_time
        elif isinstance(event, SpeechStopped):
            self._on_speech_end(event)
        elif isinstance(event, Final):
            self._on_final(event)
        elif isinstance(event, Error):
            self._on_error(event)
        if driver.waits_for_ready and driver.is_ready(event):
            actions = (actions or []) + [ReadyForAudio()]
        if driver.is_terminal(event):
            self.terminal = True
            actions = (actions or []) + [TerminalReceived()]
        return tuple(actions) if actions else _NO_ACTIONS

    def _on_speech_end(self, event: SpeechStopped) -> None:
        # the provider's own speech end (Pulse speech_ended timestamp), else the audio sent when it came
        end = event.audio_time if event.audio_time is not None else self.sent_until_audio_s
        self.last_speech_end_audio_s = end
        # a final often arrives just before the speech-end event of the same utterance: once speech has
        # ended after the last final (and no new speech began since), everything up to here is covered
        started = self.last_speech_start_audio_s
        final_end = self.last_final_end_audio_s
        if final_end is not None and (started is None or started <= final_end + SPEECH_START_AFTER_FINAL_AUDIO_S):
            self._cover(end, snap=event.audio_time is not None)

    def _on_final(self, event: Final) -> None:
        speech_end = self.last_speech_end_audio_s
        if event.words:
            last_word_end = event.words[-1].end
            covered = last_word_end
            self.last_final_end_audio_s = last_word_end
            # word times are approximate: when the provider's VAD put the end of this utterance a little
            # later, resend from there so no tail of a finalised word is sent (and transcribed) twice
            if speech_end is not None and (last_word_end - SPEECH_END_BEFORE_LAST_WORD_AUDIO_S <= speech_end
                                           <= last_word_end + SPEECH_END_AFTER_LAST_WORD_AUDIO_S):
                covered = max(covered, speech_end)
        elif speech_end is not None:
            covered = speech_end
        else:
            covered = self.covered_until_audio_s
        self._cover(covered, snap=covered == speech_end)

    def _on_error(self, event: Error) -> None:
        resume_failed = bool(self.resume_id) and self.driver.resume_failed(event)
        if resume_failed:
            self.resume_failed = True  # handled by falling back to a fresh session, not fatal
        if not event.fatal or self.fatal is not None or resume_failed:
            return
        fix = f" Fix: {event.fix}" if event.fix else ""
        provider = self.driver.provider
        if self.driver.is_auth_error(event):
            self.fatal = AuthenticationError(f"{provider} rejected the credentials: {event.message}.{fix}")
        else:
            what = event.code or "an error without a code"
            self.fatal = SessionError(f"{provider} reported {what}: {event.message}.{fix}", code=event.code)

    def _cover(self, until_audio_s: float, *, snap: bool = False) -> None:
        """Mark audio up to ``until_audio_s`` as covered by finals; drop it from `pending`.

        Args:
            until_audio_s: Audio time up to which finals cover the audio.
            snap: ``until_audio_s`` is a provider-reported speech end: the audio after it is non-speech (the
                provider waits for its end-of-speech silence before saying so), so the rest of the chunk
                holding it is covered too when that rest is at most `SNAP_TO_CHUNK_AUDIO_S`. A resend then
                starts on an original chunk boundary with the original bytes, instead of a trimmed chunk
                that shifts every later frame: providers cut audio into fixed frames (VAD, features), and
                re-framed audio can decode differently.
        """
        pending = self.pending
        if snap:
            for c in pending:
                if c.start < until_audio_s < c.end:
                    if c.end - until_audio_s <= SNAP_TO_CHUNK_AUDIO_S:
                        until_audio_s = c.end
                    break
        covered = self.covered_until_audio_s = max(self.covered_until_audio_s, until_audio_s)
        while pending and pending[0].end <= covered + CHUNK_END_EPSILON_AUDIO_S:
            pending.popleft()
        if pending and pending[0].start < covered:
            pending[0] = trim_chunk(pending[0], covered)

    # ----------------------------------------------------------------------- the end of a connection

    def on_connection_end(self, *, close_code: int | None, now_wall_s: float) -> ConnectionEnd:
        """The connection closed with ``close_code``: the stream is done, fails, or reconnects.

        In order: a fatal provider error fails the stream; the terminal event, or a normal close once all
        audio is sent and covered, ends it; after the user stopped (`on_stop_while_connected`) any close
        ends it (no reconnect: a reconnect would keep them waiting); a normal close after the clean end
        without a terminal event ends it too — or fails with `NoTranscriptError` when no transcript ever
        came. Otherwise a failed resume starts a fresh session at once; else `RetryPolicy` decides, with
        the budget and the backoff started over when the connection made progress (a final covered new
        audio, or it sent new audio and stayed up `STABLE_CONNECTION_WALL_S`).

        Args:
            close_code: The close code (``None``: none known).
            now_wall_s: The time now.

        Returns:
            `Done`, `Fail` (with the error to raise) or `Reconnect` (with the delay and the gap's fields).
        """
        if self.fatal is not None:
            return Fail(self.fatal)
        if self.terminal or (self.source_done and not self.pending and close_code == _NORMAL_CLOSE):
            return Done()
        if self.stopped:
            return Done(notes=(LogNote(f"{STOPPED_BY_USER}: the connection ended (code {close_code}) before the "
                                       "provider's last message", {"close_code": close_code}),))
        if self.source_done and self.finish_sent and close_code == _NORMAL_CLOSE:
            # the server ended the session normally after our clean end, without its terminal message
            if not self.transcripts:
                return Fail(NoTranscriptError(
                    f"the server accepted {self.sent_until_audio_s:.1f} s of audio and closed normally, but sent "
                    "no transcript. Usual causes: the audio's encoding or sample rate differs from what the URL "
                    "declares, the audio is silent, or it went out as text/base64 instead of binary frames. "
                    f"Check it with voicelab.inspect(audio, target='{self.driver.provider}') and "
                    "voicelab.audio.validate_chunk(...)"))
            return Done(notes=(LogNote("the server closed (1000) without its terminal message"),))
        notes: tuple[LogNote, ...] = ()
        resume_fallback = self.resume_failed
        if resume_fallback:  # the old session is gone: start a fresh one at once (not a failed attempt)
            self.resume_id = self.session_id = None
            self.resume_failed = False
            notes = (LogNote("resume failed; starting a fresh session"),)
        healthy = resume_fallback or self.covered_until_audio_s > self._covered_mark_audio_s or (
            self.sent_until_audio_s > self._sent_mark_audio_s
            and now_wall_s - self.opened_at_wall_s >= STABLE_CONNECTION_WALL_S)
        if healthy:
            # the budget counts failures in a row: a connection that made progress resets it, and so does
            # the backoff (else 20 drops in a minute would wait 0.5, 1, 2, 4 ... 30 s, one after another)
            self.attempt = 1
            self._backoff = self.retry.delays()
        explanation = self.driver.explain_close(close_code or _ABNORMAL_CLOSE)
        decision = self.retry.decide(attempt=self.attempt if close_code != _NORMAL_CLOSE else 0,
                                     close_code=close_code, backoff=next(self._backoff),
                                     fatal=not self.reconnect or self.driver.is_fatal_close(close_code))
        if resume_fallback:
            decision = replace(decision, retry=True, delay=0.0)
        if not decision.retry:
            cls = ConnectionDropped if close_code in (None, _ABNORMAL_CLOSE) else ServerClosedError
            return Fail(cls(f"the connection closed with code {close_code} ({explanation.title}). "
                            f"Cause: {explanation.cause}. Fix: {explanation.fix}",
                            close_code=close_code, explanation=explanation), notes=notes)
        if self.driver.resumable and self.session_id:
            self.resume_id = self.session_id
        if healthy:
            self.attempt = 0
        return Reconnect(delay_wall_s=decision.delay, reason=decision.reason, close_code=close_code,
                         covered_until_audio_s=self.covered_until_audio_s,
                         sent_until_audio_s=self.sent_until_audio_s, notes=notes)
