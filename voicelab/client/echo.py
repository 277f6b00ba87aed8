"""An acoustic echo loop on purpose: the agent's reply audio mixed back into the outgoing audio.

Seed symptom "agent interrupts itself" (AssemblyAI's troubleshooting page): the agent's speech plays
through speakers, loops back into a microphone that has no echo cancellation, the agent's barge-in
detection hears it as the user, and every reply is cut off about a second in; the user transcript
repeats the agent's words. ``voicelab.stream(..., echo=EchoLoop(delay_seconds=0.25, gain=0.6))``
(or ``echo=0.25``, or ``voicelab stream --echo 0.25:0.6``) reproduces it against the emulator or the
real API; the same session with ``echo=None`` is the "headphones" run to compare with.

Two parts:

* `EchoMixer` is pure (no clock, no I/O): `EchoMixer.play` takes reply audio in the agent's output
  format (linear16, mu-law or A-law, any rate) with the audio time its playback starts, and
  `EchoMixer.mix` adds it to an outgoing chunk ``delay_seconds`` later on the stream's audio clock,
  scaled by ``gain`` and resampled (soxr) to the outgoing rate, as a speaker and a microphone without
  echo cancellation would. Samples are placed on the outgoing rate's sample grid, so delay and gain
  are exact.
* `EchoSession` is the glue on the client's event-loop thread: it is fed the stream's events
  (`AgentReplyAudio` …) and wraps the chunk iterator, and it keeps sending silence with the echo in
  it after the source ends while the agent is still talking or about to answer, so the loop goes on
  as it would in a room.

Everything is in seconds (float) and Hz; audio time is the stream's audio clock (seconds since the
first sample of the stream), which pacing maps to wall time at ``speed=1``.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from voicelab.audio import codecs
from voicelab.audio.chunking import Chunk
from voicelab.audio.formats import BYTES_PER_SAMPLE, PCM_ENCODINGS, check_encoding
from voicelab.client.sources import close_source
from voicelab.protocols.events import (
    AgentReplyAudio,
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Event,
    Final,
    Partial,
    SpeechStarted,
)

__all__ = [
    "DEFAULT_DELAY_SECONDS",
    "DEFAULT_GAIN",
    "DEFAULT_TAIL_SECONDS",
    "ECHO_QUIET_SECONDS",
    "PLAYOUT_SLACK_SECONDS",
    "EchoLoop",
    "EchoMixer",
    "EchoSession",
    "as_echo_loop",
]

#: Seconds from the moment reply audio starts playing to the moment the microphone hears it: the
#: output device's buffer, the air path and the input device's buffer of a typical laptop set-up.
DEFAULT_DELAY_SECONDS = 0.25
#: Echo level relative to the reply audio (0.6 ≈ -4.4 dB): laptop speakers near the microphone.
DEFAULT_GAIN = 0.6
#: After the source ends, the longest the loop keeps sending (echo plus silence), seconds.
DEFAULT_TAIL_SECONDS = 10.0
#: A reply chunk that arrives at most this long after the previous one finished playing still plays
#: right after it, without a gap: an output device buffers this much against network jitter.
PLAYOUT_SLACK_SECONDS = 0.1
#: After the source ends, the loop goes on this long (wall seconds) after the agent's last sign of
#: life (reply audio, a reply or user turn in progress): an answer to the echo may still be coming.
ECHO_QUIET_SECONDS = 1.5


def _setup_error(message: str) -> Exception:
    from voicelab.client.front import StreamSetupError  # front imports this module

    return StreamSetupError(message)


@dataclass(frozen=True)
class EchoLoop:
    """Speakers and a microphone without echo cancellation: the reply comes back, later and quieter.

    Attributes:
        delay_seconds: Seconds from the reply audio playing to the microphone hearing it (>= 0).
        gain: Linear level of the echo relative to the reply audio (>= 0; 1.0 = as loud).
        tail_seconds: After the source ends, the longest the stream keeps sending (silence with the
            echo in it) while the agent is still talking or about to answer; ``None``: until
            ``Stream.stop()`` (the loop may never end by itself, as in a room).
    """

    delay_seconds: float = DEFAULT_DELAY_SECONDS
    gain: float = DEFAULT_GAIN
    tail_seconds: float | None = DEFAULT_TAIL_SECONDS

    def __post_init__(self) -> None:
        for name in ("delay_seconds", "gain"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise _setup_error(f"EchoLoop {name} must be a finite number >= 0, got {value!r}")
        tail = self.tail_seconds
        if tail is not None and (isinstance(tail, bool) or not isinstance(tail, (int, float))
                                 or not math.isfinite(tail) or tail < 0):
            raise _setup_error(f"EchoLoop tail_seconds must be a number >= 0 or None, got {tail!r}")

    @classmethod
    def parse(cls, text: str) -> EchoLoop:
        """Read ``DELAY[:GAIN]`` (seconds, linear gain), as ``voicelab stream --echo`` takes it.

        Raises:
            StreamSetupError: The text is not one or two numbers.
        """
        parts = str(text).strip().split(":")
        try:
            if len(parts) == 1:
                return cls(delay_seconds=float(parts[0]))
            if len(parts) == 2:
                return cls(delay_seconds=float(parts[0]), gain=float(parts[1]))
        except ValueError:
            pass
        raise _setup_error(f"echo must be DELAY[:GAIN] in seconds and linear gain, e.g. 0.25 or 0.25:0.6; "
                           f"got {text!r}")

    def mixer(self, *, samplerate: int, encoding: str) -> EchoMixer:
        """A mixer for outgoing audio at ``samplerate`` Hz in ``encoding``."""
        return EchoMixer(self, samplerate=samplerate, encoding=encoding)


def as_echo_loop(echo: EchoLoop | float | None) -> EchoLoop | None:
    """``stream(echo=...)``: an `EchoLoop`, a delay in seconds (default gain), or ``None`` (no loop)."""
    if echo is None or isinstance(echo, EchoLoop):
        return echo
    if isinstance(echo, bool) or not isinstance(echo, (int, float)):
        raise _setup_error(f"echo must be an EchoLoop, a delay in seconds or None, got {echo!r}")
    return EchoLoop(delay_seconds=float(echo))


@dataclass
class _Run:
    """Reply audio playing without a gap: one resampler, contiguous placement."""

    rate: int
    speaker_end_s: float  # audio time at which the speaker finishes what it was given so far
    mic_pos: int  # outgoing-rate sample index where the next echo sample goes
    resampler: soxr.ResampleStream | None
    flushed: bool = False


@dataclass
class _Segment:
    start: int  # outgoing-rate sample index
    samples: npt.NDArray[np.float32]

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class EchoMixer:
    """Mixes reply audio into outgoing chunks, ``delay_seconds`` later and scaled by ``gain`` (pure).

    Feed it in time order: `play` each piece of reply audio as it reaches the speaker, and `mix` each
    outgoing chunk once, in order. Echo that would land in a chunk already mixed (a loop shorter than
    the client's look-ahead of about two chunks) is moved to the first sample not yet mixed, as no
    microphone can hear into the past; `late_seconds` adds up how much was moved.

    Args:
        loop: The loop's delay and gain.
        samplerate: Rate of the outgoing audio, Hz.
        encoding: Encoding of the outgoing audio: ``linear16``, ``mulaw``, ``alaw`` (or another PCM
            encoding).
    """

    def __init__(self, loop: EchoLoop, *, samplerate: int, encoding: str) -> None:
        self.loop = loop
        self.samplerate = int(samplerate)
        self.encoding = check_encoding(encoding)
        if self.encoding not in PCM_ENCODINGS:
            raise _setup_error(f"an echo loop mixes PCM audio; {self.encoding} chunks cannot be mixed "
                               f"(send {', '.join(PCM_ENCODINGS)})")
        self._segments: list[_Segment] = []
        self._run: _Run | None = None
        self._mixed_until = 0  # outgoing-rate sample index: everything before it went out
        self._queued_until = 0  # outgoing-rate sample index: the end of the echo placed so far
        self.late_seconds = 0.0

    def __repr__(self) -> str:
        return (f"EchoMixer(delay={self.loop.delay_seconds} s, gain={self.loop.gain}, {self.encoding} @ "
                f"{self.samplerate} Hz, {len(self._segments)} pending segments)")

    # -- the speaker ----------------------------------------------------------------------
    def play(self, audio: bytes, *, samplerate: int, encoding: str, at_audio_s: float) -> float:
        """Reply audio reaches the speaker at ``at_audio_s``; plays then, or after what is still playing.

        Args:
            audio: The reply audio bytes (e.g. `AgentReplyAudio.pcm`).
            samplerate: Its rate, Hz.
            encoding: Its encoding (``linear16``, ``mulaw``, ``alaw``).
            at_audio_s: When it arrived, on the stream's audio clock (seconds).

        Returns:
            The audio time (seconds) at which this audio starts playing on the speaker.
        """
        samples = codecs.decode_pcm(audio, encoding=encoding)
        if samples.size == 0:
            return at_audio_s
        run = self._run
        rate = int(samplerate)
        if run is not None and run.rate == rate and not run.flushed \
                and at_audio_s <= run.speaker_end_s + PLAYOUT_SLACK_SECONDS:
            start_s = run.speaker_end_s  # plays right after what is playing (the device's buffer)
        else:
            start_s = at_audio_s if run is None else max(at_audio_s, run.speaker_end_s)
            self._end_run()
            mic = max(round((start_s + self.loop.delay_seconds) * self.samplerate), self._queued_until)
            resampler = None if rate == self.samplerate else soxr.ResampleStream(
                rate, self.samplerate, 1, dtype="float32", quality="HQ")
            run = self._run = _Run(rate=rate, speaker_end_s=start_s, mic_pos=mic, resampler=resampler)
        run.speaker_end_s = start_s + len(samples) / rate
        out = samples if run.resampler is None else run.resampler.resample_chunk(samples)
        self._queue(run, out)
        return start_s

    def _queue(self, run: _Run, samples: npt.NDArray[np.float32]) -> None:
        start = run.mic_pos
        run.mic_pos += len(samples)
        self._queued_until = max(self._queued_until, run.mic_pos)
        if self.loop.gain == 0 or len(samples) == 0:
            return
        if start < self._mixed_until:  # the chunk holding it is already on its way: hear it next
            self.late_seconds += (self._mixed_until - start) / self.samplerate
            shift = self._mixed_until - start
            start += shift
            run.mic_pos += shift
            self._queued_until = max(self._queued_until, run.mic_pos)
        scaled = (samples * np.float32(self.loop.gain)).astype(np.float32, copy=False)
        self._segments.append(_Segment(start, scaled))

    def _end_run(self) -> None:
        """Flush the resampler of the run that stopped (its last few milliseconds)."""
        run = self._run
        if run is not None and run.resampler is not None and not run.flushed:
            tail = run.resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            run.flushed = True
            self._queue(run, tail)

    # -- the microphone ---------------------------------------------------------------------
    @property
    def echo_end_audio_s(self) -> float:
        """Audio time (seconds) at which the echo queued so far has been heard completely."""
        run = self._run
        pending_s = 0.0
        if run is not None and not run.flushed:
            pending_s = max(0.0, run.speaker_end_s + self.loop.delay_seconds - run.mic_pos / self.samplerate)
        return self._queued_until / self.samplerate + pending_s

    def mix(self, chunk: Chunk) -> Chunk:
        """Return ``chunk`` with the echo that falls in its span added (the same chunk when there is none).

        The sum is clipped to full scale, as a microphone's converter would.
        """
        if chunk.encoding != self.encoding or chunk.samplerate != self.samplerate or chunk.channels != 1:
            raise _setup_error(f"the echo mixer was set up for mono {self.encoding} at {self.samplerate} Hz, "
                               f"got {chunk!r}")
        n = len(chunk.data) // BYTES_PER_SAMPLE[self.encoding]
        a = round(chunk.start * self.samplerate)
        b = a + n
        run = self._run
        if run is not None and run.resampler is not None and not run.flushed and b > run.mic_pos:
            self._end_run()  # the speaker ran dry: what the resampler still holds plays now
        hits = [s for s in self._segments if s.start < b and s.end > a]
        self._mixed_until = max(self._mixed_until, b)
        if not hits:
            self._segments = [s for s in self._segments if s.end > b]
            return chunk
        x = codecs.decode_pcm(chunk.data, encoding=self.encoding).astype(np.float32, copy=True)
        for s in hits:
            lo, hi = max(a, s.start), min(b, s.end)
            x[lo - a:hi - a] += s.samples[lo - s.start:hi - s.start]
        self._segments = [s for s in self._segments if s.end > b]
        np.clip(x, -1.0, 1.0, out=x)
        return Chunk(chunk.seq, codecs.encode_pcm(x, encoding=self.encoding), chunk.encoding, chunk.samplerate,
                     1, chunk.start, chunk.end)

    def silence(self, *, seq: int, start: float, frames: int) -> Chunk:
        """A silent chunk of ``frames`` samples starting at audio time ``start`` (for `mix` to fill)."""
        data = codecs.encode_pcm(np.zeros(frames, np.float32), encoding=self.encoding)
        a = round(start * self.samplerate)
        return Chunk(seq, data, self.encoding, self.samplerate, 1, a / self.samplerate, (a + frames) / self.samplerate)


class EchoSession:
    """The echo loop of one stream, on the client's event-loop thread (not thread-safe).

    `on_event` is registered with ``Stream.on``; `chunks` wraps the stream's chunk iterator. The
    stream's audio clock is read from the chunk pulls: when the I/O loop asks for the next chunk it
    has just sent the previous one, which paced sending sends at its audio start time.

    Args:
        loop: Delay, gain and tail.
        samplerate: Rate of the outgoing audio, Hz.
        encoding: Encoding of the outgoing audio.
        clock: Monotonic wall clock in seconds (the Recording's, so event times compare).
    """

    def __init__(self, loop: EchoLoop, *, samplerate: int, encoding: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.loop = loop
        self.mixer = loop.mixer(samplerate=samplerate, encoding=encoding)
        self.clock = clock
        self._anchor: tuple[float, float] | None = None  # (wall seconds, audio seconds) of the last send
        self._replying = False
        self._user_turn = False
        self._last_busy = -math.inf
        self.replies_heard = 0

    def audio_now(self, t_wall: float) -> float:
        """The stream's audio time at wall time ``t_wall`` (0 before the first chunk went out)."""
        if self._anchor is None:
            return 0.0
        wall, audio = self._anchor
        return audio + max(0.0, t_wall - wall)

    def on_event(self, t: float, event: Event) -> None:
        """Feed one stream event (``t``: wall seconds on ``clock``)."""
        if isinstance(event, AgentReplyAudio):
            self.mixer.play(event.pcm, samplerate=event.sample_rate, encoding=event.encoding,
                            at_audio_s=self.audio_now(t))
        elif isinstance(event, AgentReplyStarted):
            self._replying = True
            self.replies_heard += 1
        elif isinstance(event, AgentReplyDone):
            self._replying = False
        elif isinstance(event, SpeechStarted):
            self._user_turn = True
        elif isinstance(event, Final):
            self._user_turn = False
        elif not isinstance(event, (AgentTranscript, Partial)):
            return
        self._last_busy = max(self._last_busy, t)

    def _busy(self, position_s: float, now: float) -> bool:
        if self._replying or self._user_turn or self.mixer.echo_end_audio_s > position_s:
            self._last_busy = now
            return True
        return now - self._last_busy < ECHO_QUIET_SECONDS

    async def chunks(self, source: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        """Yield the source's chunks with the echo mixed in, then the echo over silence while it lasts."""
        try:
            async for c in self._mixed(source):
                yield c
        finally:  # done, stopped or failed: the source's file or reader thread is let go now
            await close_source(source)

    async def _mixed(self, source: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        prev: Chunk | None = None
        while True:
            pulled = self.clock()
            if prev is not None:
                self._anchor = (pulled, prev.start)
            try:
                chunk = await source.__anext__()
            except StopAsyncIteration:
                break
            if prev is None:
                self._anchor = (self.clock(), chunk.start)  # the first chunk goes out at once
            prev = self.mixer.mix(chunk)
            yield prev
        if prev is None:
            return
        frames = max(1, round(prev.duration * self.mixer.samplerate))
        end_of_source = prev.end
        seq = prev.seq + 1
        self._last_busy = max(self._last_busy, self.clock())
        cap = self.loop.tail_seconds
        while True:
            now = self.clock()
            self._anchor = (now, prev.start)
            if cap is not None and prev.end - end_of_source >= cap:
                return
            if not self._busy(prev.end, now):
                return
            prev = self.mixer.mix(self.mixer.silence(seq=seq, start=prev.end, frames=frames))
            seq += 1
            yield prev
