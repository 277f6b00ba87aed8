"""The client's session logic without a socket and without a recognizer: `StreamState`, table-driven.

Events come from the real provider drivers and protocol modules (the server halves' message builders,
parsed by the client halves), audio from the real chunker; `Run` feeds them to the state in the order
``voicelab.client.connection`` does and lets each row read the decisions. Wall time is a number the
row advances; nothing sleeps.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import voicelab as vl
from voicelab.audio.chunking import Chunk, chunk
from voicelab.client.errors import (
    AuthenticationError,
    ConnectionDropped,
    NoTranscriptError,
    ServerClosedError,
    SessionError,
)
from voicelab.client.retry import RetryPolicy
from voicelab.client.stream_state import (
    LAST_TURN_QUIET_WALL_S,
    SNAP_TO_CHUNK_AUDIO_S,
    SPEECH_END_AFTER_LAST_WORD_AUDIO_S,
    SPEECH_END_BEFORE_LAST_WORD_AUDIO_S,
    SPEECH_START_AFTER_FINAL_AUDIO_S,
    STABLE_CONNECTION_WALL_S,
    TAIL_SILENCE_CHUNK_AUDIO_S,
    ConnectionEnd,
    ConnectionPlan,
    Done,
    Fail,
    LogNote,
    ReadyForAudio,
    Reconnect,
    StreamState,
    TerminalReceived,
    to_stream_time,
    trim_chunk,
)
from voicelab.protocols.events import Word
from voicelab.providers import DriverOptions, get_provider
from voicelab.providers.assemblyai_agent import messages as agent
from voicelab.providers.pulse import PulseSessionConfig
from voicelab.providers.pulse.messages import build_speech_event, build_transcription

PULSE_CONFIG = PulseSessionConfig(word_timestamps=True, vad_events=True, language="en")
#: Pulse's recommended 4096-byte chunks: 2048 samples at 16 kHz.
PULSE_CHUNK_S = 0.128


# --------------------------------------------------------------------------- driving the state


class Run:
    """One stream fed to a `StreamState` the way the connection code feeds it, minus the bytes."""

    def __init__(self, provider: str, *, chunk_s: float | None = None, seconds: float = 4.0,
                 retry: RetryPolicy | None = None, reconnect: bool = True) -> None:
        self.spec = get_provider(provider)
        self.driver = self.spec.make_driver(DriverOptions())
        self.state = StreamState(driver=self.driver, retry=retry or RetryPolicy(jitter=0.0), reconnect=reconnect)
        rate = self.driver.samplerate
        rng = np.random.default_rng(7)  # distinct sample values: a trim off by one sample shows in the bytes
        clip = vl.Clip((0.3 * rng.standard_normal(round(seconds * rate))).astype(np.float32), samplerate=rate)
        step = chunk_s or (PULSE_CHUNK_S if provider == "pulse" else 0.05)
        self.chunks = list(chunk(clip, encoding=self.driver.encoding, chunk_seconds=step))
        self.audio = b"".join(c.data for c in self.chunks)
        self._source = iter(self.chunks)
        self.wall_s = 0.0
        self.plans: list[ConnectionPlan] = []
        self.openings: list[list[str]] = []
        self.actions: list[Any] = []

    # a connection
    def connect(self, *, resend: bool = True) -> ConnectionPlan:
        self.state.begin_attempt()
        plan = self.state.on_connected(now_wall_s=self.wall_s)
        self.plans.append(plan)
        self.openings.append(self.driver.opening(resume_id=plan.resume_id))
        if resend:
            for c in plan.resend:
                self.state.on_resent(c)
        return plan

    def stream(self, until_audio_s: float) -> None:
        """Take and send source chunks until the audio sent reaches ``until_audio_s``."""
        while self.state.sent_until_audio_s < until_audio_s - 1e-9:
            c = next(self._source, None)
            if c is None:
                self.state.on_source_end()
                return
            self.state.take(c)
            self.state.on_sent(c)

    def stream_all(self) -> None:
        self.stream(float("inf"))

    def take(self) -> Chunk:
        """Take a chunk from the source without sending it (the drop comes while it waits)."""
        c = next(self._source)
        self.state.take(c)
        return c

    def receive(self, message: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for ev in self.spec.parse(json.dumps(message)):
            out += self.state.on_event(self.state.to_stream_time(ev), now_wall_s=self.wall_s)
        self.actions += out
        return out

    def wait(self, wall_s: float) -> None:
        self.wall_s += wall_s

    def end(self, code: int | None) -> ConnectionEnd:
        return self.state.on_connection_end(close_code=code, now_wall_s=self.wall_s)

    # Pulse messages (times are the connection's, as the server sends them)
    def pulse_final(self, word_end: float, *, text: str = "hello", is_last: bool = False) -> list[Any]:
        words = [Word(word=text, start=max(0.0, word_end - 0.3), end=word_end)] if text else []
        return self.receive(build_transcription(config=PULSE_CONFIG, session_id="p1", transcript=text,
                                                is_final=True, is_last=is_last, words=words))

    def pulse_partial(self, text: str = "hel") -> list[Any]:
        return self.receive(build_transcription(config=PULSE_CONFIG, session_id="p1", transcript=text,
                                                is_final=False))

    def pulse_speech(self, *, started: bool, at: float) -> list[Any]:
        return self.receive(build_speech_event(started=started, session_id="p1", timestamp=at))

    # Voice Agent messages
    def agent_error(self, code: str) -> list[Any]:
        return self.receive(agent.session_error(code=code, message=f"{code} happened", timestamp=0.0))


def _chunk_at(run: Run, audio_s: float) -> Chunk:
    return next(c for c in run.chunks if c.start <= audio_s < c.end)


def _expect_resend_from(run: Run, plan: ConnectionPlan, from_audio_s: float, until_audio_s: float) -> None:
    """The resend is exactly the audio in [from, until): sample-exact bytes, contiguous, on the chunk grid."""
    rate, width = run.driver.samplerate, 2
    assert plan.offset_audio_s == pytest.approx(from_audio_s, abs=0.5 / rate)
    assert plan.resend[0].start == pytest.approx(from_audio_s, abs=0.5 / rate)
    for a, b in zip(plan.resend, plan.resend[1:], strict=False):
        assert b.start == pytest.approx(a.end, abs=1e-9)
    assert plan.resend[-1].end == pytest.approx(until_audio_s, abs=1e-9)
    first = round(from_audio_s * rate) * width
    assert b"".join(c.data for c in plan.resend) == run.audio[first : round(until_audio_s * rate) * width]


# --------------------------------------------------------------------------- drops in each phase


def _drop_before_any_audio(run: Run) -> ConnectionEnd:
    run.connect()
    run.wait(0.3)
    return run.end(1006)


def _agent_drop_before_ready(run: Run) -> ConnectionEnd:
    run.connect(resend=False)
    run.wait(0.3)
    return run.end(1006)


def _agent_drop_mid_stream(run: Run) -> ConnectionEnd:
    run.connect(resend=False)
    assert run.receive(agent.session_ready(session_id="sess_1")) == [
        LogNote("session id", {"session_id": "sess_1"}, wall_s=0.0), ReadyForAudio()]
    run.stream(1.0)
    run.wait(2.0)
    return run.end(1006)


def _pulse_drop_mid_stream(run: Run) -> ConnectionEnd:
    run.connect()
    run.stream(2.0)
    run.pulse_final(0.53)
    run.wait(2.0)
    return run.end(1006)


def _pulse_drop_with_a_chunk_in_hand(run: Run) -> ConnectionEnd:
    run.connect()
    run.stream(1.024)
    run.take()
    run.wait(1.5)
    return run.end(1006)


def _pulse_drop_after_close_stream(run: Run) -> ConnectionEnd:
    run.connect()
    run.stream_all()
    run.pulse_final(3.0)
    run.state.on_finish_sent()
    run.wait(5.0)
    return run.end(1006)


def _pulse_normal_close_mid_stream(run: Run) -> ConnectionEnd:
    run.connect()
    run.stream(1.024)
    run.wait(0.2)
    return run.end(1000)


@pytest.mark.parametrize(("provider", "script", "code", "resend", "resume_id", "opening"), [
    ("pulse", _drop_before_any_audio, 1006, None, None, []),
    ("assemblyai-agent", _agent_drop_before_ready, 1006, None, None, ["session.update"]),
    ("assemblyai-agent", _agent_drop_mid_stream, 1006, (0.0, 1.0), "sess_1", ["session.resume"]),
    ("pulse", _pulse_drop_mid_stream, 1006, (0.53, 2.048), None, []),
    ("pulse", _pulse_drop_with_a_chunk_in_hand, 1006, (0.0, 1.152), None, []),
    ("pulse", _pulse_drop_after_close_stream, 1006, (3.0, 4.0), None, []),
    ("pulse", _pulse_normal_close_mid_stream, 1000, (0.0, 1.024), None, []),
], ids=["pulse-before-audio", "agent-before-ready", "agent-mid-stream", "pulse-mid-stream",
        "pulse-chunk-in-hand", "pulse-after-close_stream", "pulse-1000-mid-stream"])
def test_a_drop_in_each_phase_reconnects_and_resends_what_no_final_covered(
        provider: str, script: Any, code: int, resend: tuple[float, float] | None, resume_id: str | None,
        opening: list[str]) -> None:
    run = Run(provider)
    sent_before = run.state.sent_until_audio_s
    end = script(run)
    assert isinstance(end, Reconnect), end
    assert end.close_code == code and end.notes == ()
    assert end.sent_until_audio_s == run.state.sent_until_audio_s >= sent_before
    plan = run.connect(resend=False)
    assert plan.resume_id == resume_id and plan.resumed == bool(resume_id)
    assert [json.loads(m)["type"] for m in run.openings[-1]] == opening
    if resend is None:
        assert plan.resend == () and plan.offset_audio_s == end.sent_until_audio_s
    else:
        _expect_resend_from(run, plan, *resend)
        assert end.covered_until_audio_s == pytest.approx(resend[0], abs=1e-9)
        assert run.state.source_position_audio_s == pytest.approx(resend[1])  # after a chunk in hand, if any
        for c in plan.resend:
            run.state.on_resent(c)
        # the resend does not move the audio sent back, and new audio starts where the source stopped
        assert run.state.sent_until_audio_s == pytest.approx(resend[1])
        assert run.state.source_position_audio_s == pytest.approx(resend[1])


def test_a_drop_after_close_stream_ends_on_the_next_connection_with_is_last() -> None:
    run = Run("pulse")
    end = _pulse_drop_after_close_stream(run)
    assert isinstance(end, Reconnect)
    assert run.state.needs_tail_silence(stopping=False) is False  # Pulse sends no trailing silence
    run.connect()  # the connection code sends close_stream again: the source is done
    run.state.on_finish_sent()
    assert run.pulse_final(0.8, is_last=True) == [TerminalReceived()]
    assert run.state.terminal
    assert run.end(1000) == Done()


def test_a_drop_during_the_resend_keeps_the_audio_sent_and_counts_as_a_failed_attempt() -> None:
    run = Run("pulse", retry=RetryPolicy(max_attempts=2, jitter=0.0))
    run.connect()
    run.stream(2.0)
    run.pulse_final(0.53)
    run.wait(2.0)
    assert isinstance(run.end(1006), Reconnect)
    plan = run.connect(resend=False)
    run.state.on_resent(plan.resend[0])  # the first chunk again, then the drop
    run.wait(5.0)  # up long, but it sent no new audio and no final covered any
    end = run.end(1006)
    assert isinstance(end, Reconnect) and end.sent_until_audio_s == pytest.approx(2.048)
    assert run.connect(resend=False).resend == plan.resend  # the same audio again, the same trimmed head
    assert isinstance(run.end(1006), Fail)  # two failures in a row use up max_attempts=2


# --------------------------------------------------------------------------- what a final covers


@pytest.mark.parametrize(("word_ends", "covered", "first_kept"), [
    ([0.53], 0.53, 0.53),  # inside chunk 4 [0.512, 0.640): its head is cut off, sample-exact
    ([0.512], 0.512, 0.512),  # exactly on a chunk boundary: chunks 0-3 go, chunk 4 stays whole
    ([0.51203], 0.51203, 0.512),  # less than half a sample past the boundary: nothing to cut
    ([1.0001], 1.0001, 1.0001),  # rounds to the nearest sample (1.6 samples past 1.0 -> 2)
    ([0.53, 0.3], 0.53, 0.53),  # an earlier final never uncovers audio
    ([0.53, 1.7], 1.7, 1.7),  # a later final covers further
])
def test_a_final_covering_part_of_a_chunk_trims_it_sample_exact(word_ends: list[float], covered: float,
                                                                 first_kept: float) -> None:
    run = Run("pulse")
    run.connect()
    run.stream(2.0)
    for end in word_ends:
        run.pulse_final(end)
    assert run.state.covered_until_audio_s == covered
    head = run.state.pending[0]
    assert head.start == pytest.approx(round(first_kept * 16000) / 16000, abs=1e-12)
    assert head.end == _chunk_at(run, first_kept).end  # the chunk's end, and the grid after it, unchanged
    start_byte = round(first_kept * 16000) * 2
    assert head.data == run.audio[start_byte : round(head.end * 16000) * 2]
    assert sum(c.nbytes for c in run.state.pending) == len(run.audio[start_byte : round(2.048 * 16000) * 2])
    # after a drop, the next connection's audio time 0 is the first resent sample, not the final's word end
    run.wait(2.0)
    assert isinstance(run.end(1006), Reconnect)
    plan = run.connect(resend=False)
    assert plan.resend[0] == head and plan.offset_audio_s == head.start


def test_a_final_on_the_next_connection_is_shifted_into_stream_time() -> None:
    run = Run("pulse")
    run.connect()
    run.stream(2.0)
    run.pulse_final(0.53)
    run.wait(2.0)
    assert isinstance(run.end(1006), Reconnect)
    plan = run.connect()
    assert plan.offset_audio_s == pytest.approx(0.53)
    run.stream(3.0)
    run.pulse_final(0.5)  # 0.5 s into this connection's audio = 1.03 s into the stream
    assert run.state.covered_until_audio_s == pytest.approx(1.03)
    assert run.state.pending[0].start == pytest.approx(1.03)
    assert run.state.pending[0].data == run.audio[round(1.03 * 16000) * 2 : round(1.152 * 16000) * 2]


@pytest.mark.parametrize(("encoding", "rate", "cut_s", "kept_bytes"), [
    ("linear16", 16000, 0.01, 0.09 * 16000 * 2),
    ("mulaw", 8000, 0.01, 0.09 * 8000),
    ("float32", 16000, 0.05, 0.05 * 16000 * 4),
    ("linear16", 16000, 0.0, 0.1 * 16000 * 2),  # nothing to cut
    ("linear16", 16000, 0.1, 0.1 * 16000 * 2),  # everything would go: kept whole (the caller drops it)
    ("linear16", 16000, 0.09999, 0.1 * 16000 * 2),  # rounds to the whole chunk: kept whole
    ("opus", 16000, 0.01, None),  # compressed: packets cannot be cut, kept whole
])
def test_trim_chunk_cuts_whole_samples_of_pcm_only(encoding: str, rate: int, cut_s: float,
                                                    kept_bytes: float | None) -> None:
    clip = vl.Clip((0.3 * np.sin(np.arange(rate) / 7)).astype(np.float32), samplerate=rate)
    c = next(iter(chunk(clip, encoding=encoding, chunk_seconds=0.02 if encoding == "opus" else 0.1)))
    c = Chunk(c.seq, c.data, c.encoding, c.samplerate, c.channels, 1.0, 1.0 + c.duration)  # later in a stream
    out = trim_chunk(c, 1.0 + cut_s)
    if kept_bytes is None or kept_bytes == c.nbytes:
        assert out is c
        return
    assert out.nbytes == round(kept_bytes)
    assert out.data == c.data[c.nbytes - out.nbytes:]
    assert out.start == pytest.approx(1.0 + cut_s, abs=1e-12) and out.end == c.end


# --------------------------------------------------------------------------- speech ends


def _chunk_at_end(audio_s: float) -> float:
    """The end of the Pulse chunk holding ``audio_s`` (a speech end there snaps to it)."""
    k = int(audio_s / PULSE_CHUNK_S)
    end = (k + 1) * PULSE_CHUNK_S
    assert end - audio_s <= SNAP_TO_CHUNK_AUDIO_S
    return end


_AFTER = SPEECH_END_AFTER_LAST_WORD_AUDIO_S
_BEFORE = SPEECH_END_BEFORE_LAST_WORD_AUDIO_S
_SAME = SPEECH_START_AFTER_FINAL_AUDIO_S


@pytest.mark.parametrize(("steps", "covered", "first_kept"), [
    # a final alone covers its last word: chunk [0.896, 1.024) is trimmed at 1.0
    ([("final", 1.0)], 1.0, 1.0),
    # the speech end after the final snaps to the end of its chunk ([1.152, 1.28) holds 1.2)
    ([("final", 1.0), ("end", 1.2)], 1.28, 1.28),
    # the speech end before the final, within the window after its last word: covered up to it, snapped
    ([("start", 0.3), ("end", 1.2), ("final", 1.0)], 1.28, 1.28),
    ([("end", 1.0 + _AFTER - 0.01), ("final", 1.0)], _chunk_at_end(1.0 + _AFTER - 0.01), None),
    # ... but not one later than that window: it belongs to a later utterance
    ([("end", 1.0 + _AFTER + 0.01), ("final", 1.0)], 1.0, 1.0),
    # a speech end slightly before the last word's end: the word end wins (no snap)
    ([("end", 1.0 - _BEFORE + 0.01), ("final", 1.0)], 1.0, 1.0),
    ([("end", 1.0 - _BEFORE - 0.01), ("final", 1.0)], 1.0, 1.0),
    # a speech start right after the final's last word is the same utterance: its end covers
    ([("final", 1.0), ("start", 1.0 + _SAME), ("end", 1.9)], 1.92, 1.92),
    # a later speech start is a new utterance with no final yet: its end covers nothing
    ([("final", 1.0), ("start", 1.0 + _SAME + 0.01), ("end", 1.9)], 1.0, 1.0),
    # no final yet: a speech end alone covers nothing
    ([("start", 0.3), ("end", 1.2)], 0.0, 0.0),
], ids=["final-alone", "end-after-final", "end-before-final", "end-inside-late-window", "end-too-late",
        "end-inside-early-window", "end-too-early", "same-utterance", "new-utterance", "no-final"])
def test_speech_ends_extend_what_a_final_covers_and_snap_to_the_chunk_grid(
        steps: Sequence[tuple[str, float]], covered: float, first_kept: float | None) -> None:
    run = Run("pulse")
    run.connect()
    run.stream(3.0)
    for kind, at in steps:
        if kind == "final":
            run.pulse_final(at)
        else:
            run.pulse_speech(started=kind == "start", at=at)
    assert run.state.covered_until_audio_s == pytest.approx(covered, abs=1e-9)
    kept = covered if first_kept is None else first_kept
    assert run.state.pending[0].start == pytest.approx(kept, abs=1 / 32000)


def test_a_speech_end_far_from_its_chunk_end_does_not_snap() -> None:
    run = Run("pulse", chunk_s=0.5)  # long chunks: the rest after the speech end is 0.45 s of non-speech
    run.connect()
    run.stream(3.0)
    run.pulse_final(1.0)
    run.pulse_speech(started=False, at=1.05)
    assert 1.5 - 1.05 > SNAP_TO_CHUNK_AUDIO_S
    assert run.state.covered_until_audio_s == pytest.approx(1.05)
    assert run.state.pending[0].start == pytest.approx(1.05)


def test_agent_finals_without_word_times_cover_up_to_the_speech_end() -> None:
    run = Run("assemblyai-agent")
    run.connect(resend=False)
    run.receive(agent.session_ready(session_id="sess_1"))
    run.stream(1.0)
    run.receive(agent.speech_started())
    run.stream(2.0)
    run.receive(agent.speech_stopped())  # no time in the message: the audio sent when it came
    run.stream(2.5)
    assert run.state.covered_until_audio_s == 0.0  # no final yet
    run.receive(agent.user_transcript(text="turn on the lights", item_id="i1"))
    assert run.state.covered_until_audio_s == pytest.approx(2.0)
    assert run.state.pending[0].start == pytest.approx(2.0)
    assert run.state.transcripts == 1


# --------------------------------------------------------------------------- resume


def _dropped_agent_session(**kw: Any) -> Run:
    run = Run("assemblyai-agent", **kw)
    _agent_drop_mid_stream(run)
    return run


def test_resume_success_keeps_the_session_and_its_id() -> None:
    run = _dropped_agent_session()
    plan = run.connect(resend=False)
    assert plan.resume_id == "sess_1"
    assert json.loads(run.openings[-1][0]) == {"type": "session.resume", "session_id": "sess_1"}
    assert run.receive(agent.session_ready(session_id="sess_1")) == [ReadyForAudio()]  # same id: no note
    for c in plan.resend:
        run.state.on_resent(c)
    run.stream(3.0)
    assert not run.state.resume_failed and run.state.fatal is None
    run.wait(2.0)
    end = run.end(1006)
    assert isinstance(end, Reconnect) and run.state.resume_id == "sess_1"


@pytest.mark.parametrize("code", ["session_not_found", "session_forbidden", "session_expired"])
def test_each_resume_failure_starts_a_fresh_session_at_once(code: str) -> None:
    run = _dropped_agent_session(retry=RetryPolicy(max_attempts=2, jitter=0.0))
    plan = run.connect(resend=False)
    assert plan.resume_id == "sess_1"
    assert run.agent_error(code) == []
    assert run.state.resume_failed and run.state.fatal is None  # not fatal: handled by a fresh session
    run.wait(0.1)
    end = run.end(1008)
    assert isinstance(end, Reconnect)
    assert end.delay_wall_s == 0.0 and end.notes == (LogNote("resume failed; starting a fresh session"),)
    assert run.state.attempt == 0  # the failed resume is not a failed attempt
    plan = run.connect(resend=False)
    assert plan.resume_id is None and not plan.resumed
    assert json.loads(run.openings[-1][0])["type"] == "session.update"
    assert plan.resend[0].start == 0.0  # nothing was covered: all the audio goes to the fresh session
    assert run.receive(agent.session_ready(session_id="sess_2")) == [
        LogNote("session id", {"session_id": "sess_2"}, wall_s=run.wall_s), ReadyForAudio()]
    assert run.state.session_id == "sess_2" and not run.state.resume_failed


@pytest.mark.parametrize("code", ["session_not_found", "session_forbidden", "session_expired"])
def test_a_resume_error_outside_a_resume_is_fatal(code: str) -> None:
    run = Run("assemblyai-agent")
    run.connect(resend=False)
    run.agent_error(code)
    assert not run.state.resume_failed
    assert isinstance(run.state.fatal, SessionError) and run.state.fatal.code == code
    end = run.end(1008)
    assert isinstance(end, Fail) and end.error is run.state.fatal


# --------------------------------------------------------------------------- provider errors


@pytest.mark.parametrize(("code", "error", "fatal"), [
    ("UNAUTHORIZED", AuthenticationError, True),
    ("forbidden", AuthenticationError, True),
    ("agent_init_failed", SessionError, True),
    ("INTERNAL_ERROR", SessionError, True),
    ("invalid_audio", None, False),  # not fatal: the session goes on
])
def test_fatal_provider_errors_fail_the_stream_when_the_connection_ends(code: str, error: type | None,
                                                                         fatal: bool) -> None:
    run = Run("assemblyai-agent")
    run.connect(resend=False)
    run.receive(agent.session_ready(session_id="sess_1"))
    run.stream(1.0)
    run.agent_error(code)
    if error is None:
        assert run.state.fatal is None
        run.wait(2.0)
        assert isinstance(run.end(1006), Reconnect)
        return
    assert isinstance(run.state.fatal, error)
    assert code in str(run.state.fatal) or "rejected the credentials" in str(run.state.fatal)
    assert "Fix:" in str(run.state.fatal)
    run.agent_error("agent_timeout")  # the first fatal error is the one reported
    assert isinstance(run.state.fatal, error)
    end = run.end(1008)
    assert isinstance(end, Fail) and end.error is run.state.fatal


@pytest.mark.parametrize(("status", "retry_after", "retry", "delay"), [
    (400, None, False, 0.0),
    (401, None, False, 0.0),
    (403, None, False, 0.0),
    (429, 3.0, True, 3.0),
    (429, None, True, 0.5),
    (503, None, True, 0.5),
])
def test_refused_upgrades(status: int, retry_after: float | None, retry: bool, delay: float) -> None:
    state = StreamState(driver=get_provider("pulse").make_driver(DriverOptions()), retry=RetryPolicy(jitter=0.0))
    state.begin_attempt()
    decision = state.on_refused(status=status, retry_after_wall_s=retry_after)
    assert (decision.retry, decision.delay) == (retry, delay)


def test_unreachable_servers_use_up_the_budget_with_growing_delays() -> None:
    state = StreamState(driver=get_provider("pulse").make_driver(DriverOptions()),
                        retry=RetryPolicy(max_attempts=3, jitter=0.0))
    decisions = []
    for _ in range(3):
        state.begin_attempt()
        decisions.append(state.on_unreachable())
    assert [(d.retry, d.delay) for d in decisions] == [(True, 0.5), (True, 1.0), (False, 0.0)]


# --------------------------------------------------------------------------- clean ends


NO_TERMINAL = LogNote("the server closed (1000) without its terminal message")


def _pulse_is_last(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.state.on_finish_sent()
    assert run.pulse_final(3.9, is_last=True) == [
        LogNote("session id", {"session_id": "p1"}, wall_s=run.wall_s), TerminalReceived()]
    return run.end(1000)


def _pulse_1000_without_is_last(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.pulse_final(3.0)
    run.state.on_finish_sent()
    return run.end(1000)


def _pulse_1000_without_any_transcript(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.pulse_partial("")  # empty partials and finals are no transcript
    run.pulse_final(3.0, text="")
    run.state.on_finish_sent()
    return run.end(1000)


def _pulse_partial_is_a_transcript(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.pulse_partial("hel")
    run.state.on_finish_sent()
    return run.end(1000)


def _pulse_all_covered_before_finish(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.pulse_final(4.0)
    return run.end(1000)


def _agent_session_ended(run: Run) -> ConnectionEnd:
    run.receive(agent.session_ready(session_id="sess_1"))
    run.stream_all()
    run.state.on_finish_sent()
    assert run.receive(agent.session_ended(session_duration_seconds=5.0, audio_duration_seconds=4.0,
                                           timestamp=0.0)) == [TerminalReceived()]
    return run.end(1000)


def _terminal_then_drop(run: Run) -> ConnectionEnd:
    run.stream_all()
    run.state.on_finish_sent()
    run.pulse_final(3.9, is_last=True)
    return run.end(1006)


@pytest.mark.parametrize(("provider", "script", "expected"), [
    ("pulse", _pulse_is_last, Done()),
    ("pulse", _pulse_1000_without_is_last, Done((NO_TERMINAL,))),
    ("pulse", _pulse_1000_without_any_transcript, NoTranscriptError),
    ("pulse", _pulse_partial_is_a_transcript, Done((NO_TERMINAL,))),
    ("pulse", _pulse_all_covered_before_finish, Done()),
    ("assemblyai-agent", _agent_session_ended, Done()),
    ("pulse", _terminal_then_drop, Done()),
], ids=["is_last", "1000-no-is_last", "no-transcript", "partial-counts", "all-covered", "session.ended",
        "terminal-then-drop"])
def test_clean_ends(provider: str, script: Any, expected: Any) -> None:
    run = Run(provider)
    run.connect(resend=False)
    end = script(run)
    if isinstance(expected, type):
        assert isinstance(end, Fail) and isinstance(end.error, expected)
        assert "4.0 s of audio" in str(end.error) and f"target='{provider}'" in str(end.error)
    else:
        assert end == expected


# --------------------------------------------------------------------------- the retry budget


def _dead(run: Run) -> None:
    run.wait(0.2)


def _short(run: Run) -> None:  # new audio, but down before it counts as stable
    run.stream(run.state.source_position_audio_s + 0.3)
    run.wait(STABLE_CONNECTION_WALL_S - 0.01)


def _stable(run: Run) -> None:  # new audio and up long enough
    run.stream(run.state.source_position_audio_s + 0.3)
    run.wait(STABLE_CONNECTION_WALL_S + 0.001)


def _final(run: Run) -> None:  # down quickly, but a final covered new audio
    run.stream(run.state.source_position_audio_s + 0.3)
    run.pulse_final(run.state.sent_until_audio_s - run.state.offset_audio_s - 0.1)
    run.wait(0.2)


def _stable_resend_only(run: Run) -> None:  # up long enough, but only resent old audio
    run.wait(STABLE_CONNECTION_WALL_S * 2)


R = Reconnect
F = Fail


@pytest.mark.parametrize(("connections", "code", "expected"), [
    ([_dead] * 3, 1006, [(R, 0.5), (R, 1.0), (F, ConnectionDropped)]),
    ([_short] * 3, 1006, [(R, 0.5), (R, 1.0), (F, ConnectionDropped)]),
    ([_short, _stable_resend_only, _dead], 1006, [(R, 0.5), (R, 1.0), (F, ConnectionDropped)]),
    ([_dead, _dead, _stable, _dead, _dead, _dead], 1006,
     [(R, 0.5), (R, 1.0), (R, 0.5), (R, 1.0), (R, 2.0), (F, ConnectionDropped)]),
    ([_dead, _dead, _final, _dead, _dead, _dead], 1006,
     [(R, 0.5), (R, 1.0), (R, 0.5), (R, 1.0), (R, 2.0), (F, ConnectionDropped)]),
    ([_stable] * 8, 1006, [(R, 0.5)] * 8),
    ([_dead] * 3, 1011, [(R, 0.5), (R, 1.0), (F, ServerClosedError)]),
    ([_stable], 1007, [(F, ServerClosedError)]),  # a close code that will not change on retry
    ([_dead] * 5, 1000, [(R, 0.5), (R, 1.0), (R, 2.0), (R, 4.0), (R, 8.0)]),  # a normal close is no failure
], ids=["dead", "short", "resend-only", "stable-resets", "final-resets", "always-stable", "1011", "1007",
        "1000"])
def test_the_retry_budget_counts_connections_without_progress_in_a_row(
        connections: list[Any], code: int, expected: list[tuple[type, Any]]) -> None:
    run = Run("pulse", seconds=20.0, retry=RetryPolicy(max_attempts=3, jitter=0.0))
    outcomes: list[tuple[type, Any]] = []
    for connection in connections:
        run.connect()
        connection(run)
        end = run.end(code)
        outcomes.append((R, end.delay_wall_s) if isinstance(end, Reconnect) else (type(end), type(end.error)))
        if isinstance(end, Fail):
            assert end.error.close_code == code and "Fix:" in str(end.error)
            break
        assert end.covered_until_audio_s == run.state.covered_until_audio_s
        run.wait(end.delay_wall_s)
    assert outcomes == expected


@pytest.mark.parametrize(("up_wall_s", "healthy"), [
    (STABLE_CONNECTION_WALL_S, True),
    (STABLE_CONNECTION_WALL_S - 0.001, False),
])
def test_a_connection_counts_as_stable_after_stable_connection_wall_s(up_wall_s: float, healthy: bool) -> None:
    run = Run("pulse", retry=RetryPolicy(max_attempts=2, jitter=0.0))
    run.connect()
    assert isinstance(run.end(1006), Reconnect)  # one failed attempt: one left
    run.wall_s = 10.0
    run.connect()
    run.stream(0.5)
    run.wait(up_wall_s)
    end = run.end(1006)
    assert isinstance(end, Reconnect if healthy else Fail)  # the stable one starts the budget over


def test_without_reconnect_the_first_drop_fails() -> None:
    run = Run("pulse", reconnect=False)
    run.connect()
    _stable(run)
    end = run.end(1006)
    assert isinstance(end, Fail) and isinstance(end.error, ConnectionDropped)


# --------------------------------------------------------------------------- the end of an agent session


def test_trailing_silence_continues_the_audio_and_goes_out_once() -> None:
    run = Run("assemblyai-agent", seconds=2.0)
    run.connect(resend=False)
    run.stream_all()
    assert run.state.source_done
    assert run.state.needs_tail_silence(stopping=True) is False  # a stop cuts the audio short
    assert run.state.needs_tail_silence(stopping=False) is True
    seq = run.state.seq
    tail = run.state.tail_silence()
    assert len(tail) == round(run.driver.tail_silence_seconds / TAIL_SILENCE_CHUNK_AUDIO_S)
    assert tail[0].start == pytest.approx(2.0) and tail[-1].end == pytest.approx(2.0 + run.driver.tail_silence_seconds)
    assert all(c.data == bytes(round(TAIL_SILENCE_CHUNK_AUDIO_S * 24000) * 2) for c in tail)
    assert [run.state.on_sent(c) for c in tail] == list(range(seq, seq + len(tail)))
    assert not any(c in run.state.pending for c in tail)  # silence is never resent after a drop
    run.state.on_tail_done()
    assert run.state.needs_tail_silence(stopping=False) is False
    assert Run("pulse").state.needs_tail_silence(stopping=False) is False


@pytest.mark.parametrize(("messages", "quiet_from"), [
    ([], 0.0),
    ([agent.speech_started()], None),  # the user is still speaking
    ([agent.speech_started(), agent.user_transcript(text="hi", item_id="i1")], 1.0),
    ([agent.reply_started(reply_id="r1")], None),  # a reply is in progress
    ([agent.reply_started(reply_id="r1"), agent.reply_done()], 1.0),
    ([agent.reply_started(reply_id="r1"), agent.reply_done(status="interrupted")], 1.0),
])
def test_an_agent_session_ends_once_the_last_turn_and_reply_are_done_and_the_server_is_quiet(
        messages: list[dict[str, Any]], quiet_from: float | None) -> None:
    run = Run("assemblyai-agent")
    run.connect(resend=False)
    for m in messages:
        run.wall_s = 1.0
        run.receive(m)
    for now in (1.0, 1.0 + LAST_TURN_QUIET_WALL_S - 0.01, 1.0 + LAST_TURN_QUIET_WALL_S, 60.0):
        closed = quiet_from is not None and now >= quiet_from + LAST_TURN_QUIET_WALL_S
        assert run.state.last_turn_closed(now_wall_s=now) is closed, now


def test_turn_state_belongs_to_the_connection_that_reported_it() -> None:
    run = Run("assemblyai-agent")
    run.connect(resend=False)
    run.receive(agent.speech_started())
    run.receive(agent.reply_started(reply_id="r1"))
    assert run.state.speaking and run.state.replying
    run.wait(2.0)
    run.end(1006)
    run.connect(resend=False)
    assert not run.state.speaking and not run.state.replying


# --------------------------------------------------------------------------- pure helpers, purity


def test_to_stream_time_shifts_word_and_speech_times() -> None:
    parse = get_provider("pulse").parse
    final = parse(json.dumps(build_transcription(config=PULSE_CONFIG, session_id="p1", transcript="a b",
                                                 is_final=True, words=[Word(word="a", start=0.1, end=0.2),
                                                                       Word(word="b", start=0.3, end=0.4)])))[0]
    moved = to_stream_time(final, 2.0)
    assert [(w.start, w.end) for w in moved.words] == [(2.1, 2.2), (2.3, 2.4)]
    assert to_stream_time(final, 0.0) is final
    speech = parse(json.dumps(build_speech_event(started=False, session_id="p1", timestamp=1.5)))[0]
    assert to_stream_time(speech, 2.0).audio_time == 3.5
    partial = parse(json.dumps(build_transcription(config=PULSE_CONFIG, session_id="p1", transcript="",
                                                   is_final=False)))[0]
    assert to_stream_time(partial, 2.0) is partial  # nothing to shift


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def test_stream_state_imports_no_io() -> None:
    """The module and every voicelab module it imports, transitively, import no asyncio or websockets."""
    root = Path(vl.__file__).parent.parent
    seen: set[str] = set()
    todo = ["voicelab.client.stream_state"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        base = root / name.replace(".", "/")
        path = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if not path.exists():  # ``from voicelab.x import name`` where name is an attribute
            continue
        for mod in _imports(path):
            top = mod.split(".")[0]
            assert top not in ("asyncio", "websockets", "anywidget", "ipywidgets"), f"{name} imports {mod}"
            if top == "voicelab":
                todo.append(mod)
    assert "voicelab.client.retry" in seen and "voicelab.providers.spec" in seen


@pytest.mark.parametrize(("code", "reconnects"), [(1006, True), (1011, True), (4100, False)])
def test_a_close_the_driver_calls_fatal_is_not_retried(code: int, reconnects: bool) -> None:
    """Pulse's region refusal (close 4100: the host does not serve the language) fails at once."""
    run = Run("pulse")
    run.connect()
    run.stream(1.0)
    run.wait(2.0)
    end = run.end(code)
    assert isinstance(end, Reconnect) is reconnects, end
    if not reconnects:
        assert isinstance(end, Fail) and isinstance(end.error, ServerClosedError) and "region" in str(end.error)
