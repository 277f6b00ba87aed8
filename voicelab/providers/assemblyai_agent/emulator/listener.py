"""The user side of an agent session: ``input.audio`` → recognizer → user-turn events.

`Listener` decodes each ``input.audio`` payload in the session's ``input.format.encoding`` (24 kHz
PCM16, or 8 kHz G.711 for ``audio/pcmu``/``audio/pcma``; the table is
`voicelab.providers.assemblyai_agent.config.ENCODING_RATES`) and feeds it to the server's
recognizer through the shared `voicelab.emulator.engine_feed.EngineFeed` (batching, the
``slowdown`` fault, the engine thread pool). The recognizer's events become
``input.speech.started`` → ``transcript.user.delta``* → ``input.speech.stopped`` →
``transcript.user`` [DOC] (https://www.assemblyai.com/docs/voice-agents/voice-agent-api/events-reference).
It keeps the last `ECHO_WINDOW_SECONDS` of input for the echo check at barge-in.

While a ``hold`` tool runs, `hold` keeps ``transcript.user.delta`` / ``transcript.user`` back and
`release` flushes them when the hold ends: "``transcript.user.delta`` / ``transcript.user`` are NOT
emitted in real time during a hold — they flush when the hold ends" [VND]
(https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md).
``input.speech.started`` / ``input.speech.stopped`` still go out at once [INF: the skill names
only the transcripts].

Choices where the vendor docs are silent ([INF]):

* ``input.audio`` starting with a RIFF/WAVE header gets ``invalid_audio`` (the troubleshooting
  page's "WAV headers included" cause).
* Turn-detection changes in a later ``session.update`` apply from the next recognizer stream: the
  next connection or input-format change (the stream is not rebuilt mid-turn).
* Changing ``input.format`` between 24 kHz PCM and 8 kHz G.711 flushes the current utterance and
  reopens the recognizer at the new rate.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from voicelab.emulator.audio_in import StreamDecoder, make_decoder
from voicelab.emulator.engine_feed import AudioBatch, EngineFeed
from voicelab.emulator.recognizers import (
    Endpointing,
    RecognizedFinal,
    RecognizedPartial,
    RecognizerEvent,
    SpeechEnd,
    SpeechStart,
)
from voicelab.errors import CodecError
from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES
from voicelab.providers.assemblyai_agent.emulator import settings
from voicelab.providers.assemblyai_agent.emulator.ids import new_id

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext

__all__ = ["ECHO_WINDOW_SECONDS", "CapturedInput", "Listener", "UserTurn"]

#: Seconds of recent input audio kept for the echo check at barge-in.
ECHO_WINDOW_SECONDS = 2.0
#: Least input, in seconds after a reply started, worth an echo check.
MIN_ECHO_INPUT_SECONDS = 0.2
_WAV_MAGIC = b"RIFF"


@dataclass(frozen=True)
class UserTurn:
    """A finished user turn (what ``transcript.user`` carries, and when the user spoke).

    Attributes:
        text: The final transcript.
        item_id: Its ``item_id``.
        started_at: When ``input.speech.started`` went out (seconds since the epoch), if it did.
        ended_at: When the final arrived (seconds since the epoch).
    """

    text: str
    item_id: str
    started_at: float | None
    ended_at: float


@dataclass(frozen=True)
class CapturedInput:
    """Input audio captured since a mark, for the echo check.

    Attributes:
        samples: float32 mono samples, oldest first.
        samplerate: Their rate in Hz.
        offset_seconds: How long after the mark ``samples[0]`` arrived (older input is no longer kept).
    """

    samples: npt.NDArray[np.float32]
    samplerate: int
    offset_seconds: float


class Listener:
    """Input audio of one agent connection, its recognition and the user-turn events.

    Args:
        ctx: The connection context.
        config: Returns the applied session configuration (read when a recognizer stream opens).
        on_speech_started: Awaited when the user starts speaking, after ``input.speech.started``
            (the barge-in hook).
        on_turn: Called with each finished `UserTurn`, after ``transcript.user`` (sent, or held).
    """

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        config: Callable[[], Mapping[str, Any]],
        on_speech_started: Callable[[], Awaitable[None]],
        on_turn: Callable[[UserTurn], None],
    ) -> None:
        self._ctx = ctx
        self._config = config
        self._on_speech_started = on_speech_started
        self._on_turn = on_turn
        self._feed = EngineFeed(ctx, on_events=self._on_events, stream_options=self._stream_options)
        self._decoder: StreamDecoder | None = None
        self._decoder_encoding: str | None = None
        self._in_turn = False
        self._item_id = ""
        self._turn_started_at: float | None = None
        self._held: list[JsonMessage] | None = None
        self._recent: deque[npt.NDArray[np.float32]] = deque()
        self._recent_rate = 0
        self.arrived = 0
        """Input samples received so far (at their own rates)."""
        self.fed = 0
        """Input samples handed to the recognizer so far."""

    def __repr__(self) -> str:
        return f"Listener(arrived={self.arrived}, fed={self.fed}, in_turn={self._in_turn})"

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start feeding the recognizer."""
        self._feed.start()

    async def stop(self) -> None:
        """Stop recognition: queued audio is dropped and the recognizer stream closed."""
        await self._feed.stop()

    # ----------------------------------------------------------------- hold

    @property
    def holding(self) -> bool:
        """Whether user transcripts are being held back (a ``hold`` tool runs)."""
        return self._held is not None

    def hold(self) -> None:
        """Hold ``transcript.user.delta`` / ``transcript.user`` back until `release`."""
        if self._held is None:
            self._held = []

    async def release(self) -> None:
        """Send the held transcripts, in order, and stop holding."""
        while self._held:
            await self._ctx.send(self._held.pop(0))
        self._held = None

    def drop_held(self) -> None:
        """Stop holding without sending (the connection is going away)."""
        self._held = None

    async def _transcript(self, message: JsonMessage) -> None:
        if self._held is not None:
            self._held.append(message)
        else:
            await self._ctx.send(message)

    # ----------------------------------------------------------------- input audio

    def receive(self, data: bytes, *, encoding: str) -> str | None:
        """Decode one ``input.audio`` payload and queue it for the recognizer.

        Args:
            data: The decoded base64 payload.
            encoding: The session's ``input.format.encoding``.

        Returns:
            ``None``, or the message of the ``invalid_audio`` error to send (the socket stays open).
        """
        if data[:4] == _WAV_MAGIC:
            return "audio starts with a RIFF/WAVE header; send raw PCM16 samples without a container"
        kind, rate = ENCODING_RATES.get(encoding, ENCODING_RATES["audio/pcm"])
        if self._decoder is None or self._decoder_encoding != encoding:
            self._decoder = make_decoder(encoding=kind, samplerate=rate)
            self._decoder_encoding = encoding
        try:
            samples = self._decoder.decode(data)
        except CodecError as exc:
            return f"audio could not be decoded as {encoding}: {exc}"
        if len(samples):
            self.arrived += len(samples)
            self._feed.push_audio(samples, samplerate=rate, arrived=self._ctx.clock())
        return None

    def captured_since(self, mark: int) -> CapturedInput | None:
        """The input fed to the recognizer after the first `mark` samples arrived, as far as it is kept.

        Args:
            mark: A value of `arrived` (e.g. when a reply started).

        Returns:
            The captured input, or ``None`` with less than `MIN_ECHO_INPUT_SECONDS` of it.
        """
        rate = self._recent_rate
        since = self.fed - mark
        if not self._recent or since < MIN_ECHO_INPUT_SECONDS * rate:
            return None
        captured = np.concatenate(list(self._recent))[-since:]
        return CapturedInput(captured, rate, (since - len(captured)) / rate)

    # ----------------------------------------------------------------- recognition (EngineFeed callbacks)

    def _stream_options(self) -> dict[str, Any]:
        base = getattr(self._ctx.recognizer, "endpointing", None)
        if not isinstance(base, Endpointing):
            base = Endpointing()
        return {"word_times": False, "partials": True, "endpointing": settings.endpointing(self._config(), base)}

    def _remember(self, batch: AudioBatch) -> None:
        """Keep the last `ECHO_WINDOW_SECONDS` of input audio (for the echo check)."""
        if batch.samplerate != self._recent_rate:
            self._recent.clear()
            self._recent_rate = batch.samplerate
        self._recent.append(batch.samples)
        self.fed += len(batch.samples)
        total = sum(len(s) for s in self._recent)
        while self._recent and total - len(self._recent[0]) >= ECHO_WINDOW_SECONDS * batch.samplerate:
            total -= len(self._recent.popleft())

    async def _on_events(self, events: list[RecognizerEvent], batch: AudioBatch | None) -> None:
        if batch is not None:
            self._remember(batch)
        send = self._ctx.send
        for ev in events:
            if isinstance(ev, SpeechStart | RecognizedPartial) and not self._in_turn:
                self._in_turn = True
                self._item_id = new_id("item")
                self._turn_started_at = time.time()
                await send(wire.speech_started())
                await self._on_speech_started()
            if isinstance(ev, RecognizedPartial):
                await self._transcript(wire.user_transcript_delta(text=ev.text))
            elif isinstance(ev, SpeechEnd | RecognizedFinal) and self._in_turn:
                self._in_turn = False
                await send(wire.speech_stopped())
            if isinstance(ev, RecognizedFinal):
                text = ev.text.strip()
                item = self._item_id or new_id("item")
                started, self._item_id, self._turn_started_at = self._turn_started_at, "", None
                await self._transcript(wire.user_transcript(text=text, item_id=item))
                self._on_turn(UserTurn(text=text, item_id=item, started_at=started, ended_at=time.time()))
