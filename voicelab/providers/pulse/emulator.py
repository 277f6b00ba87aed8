"""The Smallest AI Pulse real-time STT emulator (``/waves/v1/stt/live``, ``/waves/v1/pulse/get_text``).

The wire format comes from `voicelab.providers.pulse` (upgrade check, frame classification,
message builders); this module adds the finalization behaviour the vendor documents
(https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format,
https://docs.smallest.ai/models/documentation/speech-to-text-pulse/features/endpointing): interims
while speech arrives (one response for every audio chunk), finals on endpointing / ``eou_timeout_ms`` /
word counts / ``finalize`` / ``close_stream``, VAD events, and every encoding at every allowed rate.
Decoded audio reaches the recognizer through the shared `voicelab.emulator.engine_feed.EngineFeed`.

The route also serves ``POST /waves/v1/auth/token`` (access tokens, `voicelab.providers.pulse.tokens`)
and plays one vendor host when asked: ``voicelab.serve(route_options={"pulse": {"region": "us"}})``
(``"india"``, ``"india_pinned"`` or ``"us"``; by default no region's language rules apply).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from voicelab.emulator.audio_in import make_decoder
from voicelab.emulator.engine_feed import AudioBatch, EngineFeed
from voicelab.emulator.errors import ServerConfigError
from voicelab.emulator.recognizers import (
    Endpointing,
    RecognizedFinal,
    RecognizedPartial,
    RecognizerStream,
    SpeechEnd,
    SpeechStart,
)
from voicelab.emulator.server import ConnectionContext, HttpRequestView, Route, UpgradeRequest
from voicelab.errors import CodecError
from voicelab.protocols.events import Utterance, Word
from voicelab.protocols.wire import JsonMessage
from voicelab.providers import pulse as wire
from voicelab.providers.pulse import PulseSessionConfig
from voicelab.providers.pulse.params import HOSTS, detected_language
from voicelab.providers.pulse.textform import TextForm
from voicelab.providers.pulse.tokens import TOKEN_PATH, AccessTokenIssuer, handle_token_request

__all__ = ["FINALIZE_ON_WORDS", "OPTIONS", "PATHS", "PulseHandler", "route"]

logger = logging.getLogger("voicelab.providers.pulse.emulator")

#: Paths served (the last one is the pre-2026 host's path, an alias of get_text).
PATHS: tuple[str, ...] = ("/waves/v1/stt/live", "/waves/v1/pulse/get_text", "/api/v1/pulse/get_text")
#: Words after which ``finalize_on_words`` ends a final: the vendor's live probe baseline shows finals of at
#: most about 10 words [VND]
#: (https://github.com/smallest-inc/smallest-ai-documentation/blob/main/scripts/probes/baseline-pulse-stt.json).
FINALIZE_ON_WORDS = 10
#: The route options (``ServerConfig.route_options["pulse"]``) and what each takes.
OPTIONS: dict[str, tuple[str | None, ...]] = {"region": (None, *HOSTS)}
#: Languages whose redaction is effective [DOC: the redaction page: "supported only on en and hi"].
REDACTION_LANGUAGES = frozenset({"en", "hi"})
#: After a word-count trigger, wait at most this many audio seconds for a pause before cutting anyway.
WORD_CUT_MAX_WAIT = 3.0
#: The word-count cut waits for a pause at least this long (seconds) …
WORD_CUT_PAUSE = 0.08
#: … where "quiet" means 10 ms frames below this share of the recent peak level.
QUIET_RATIO = 0.12
#: A speech start this soon (audio seconds) after a forced final continues the same acoustic speech.
VAD_CONTINUATION = 1.0
_PUNCT = re.compile(r"[.,?!]")


def _rejection_body(status: int, request_id: str) -> JsonMessage:
    bodies: dict[int, JsonMessage] = {
        400: {"error": "Bad request", "request_id": request_id},
        401: {"error": "unauthorized"},
        403: {"error": "Forbidden: this key has no access to Pulse streaming", "request_id": request_id},
        429: {"error": "Rate limit exceeded. Please retry after a short backoff.", "request_id": request_id},
        500: {"error": "Internal server error"},
        503: {"error": "Service temporarily unavailable. Please retry.", "request_id": request_id},
    }
    return bodies.get(status, {"error": "error", "request_id": request_id})


def check_options(options: Mapping[str, Any]) -> None:
    """Validate the route options (``route_options={"pulse": {...}}``).

    Raises:
        ServerConfigError: An unknown option or value.
    """
    for key, value in options.items():
        if key not in OPTIONS:
            raise ServerConfigError(f"unknown Pulse route option {key!r}; options: {', '.join(OPTIONS)}")
        if value not in OPTIONS[key]:
            allowed = ", ".join(repr(v) for v in OPTIONS[key])
            raise ServerConfigError(f"Pulse route option {key}={value!r} is not one of {allowed}")


def _options(server: Any) -> Mapping[str, Any]:
    return getattr(server.config, "route_options", {}).get(wire.PROVIDER, {})


def _error_frame(message: str) -> JsonMessage:
    return wire.build_error(message=message)


async def handle(conn: Any, ctx: ConnectionContext) -> None:
    """Serve one Pulse connection (the provider handler)."""
    await PulseHandler(ctx).run()


def route() -> Route:
    """Return the Pulse `Route` for `EmulatorServer` (named by `voicelab.providers.pulse.SPEC`).

    The route holds the access tokens each server minted (`AccessTokenIssuer`), which die with it.
    """
    issuers: weakref.WeakKeyDictionary[Any, AccessTokenIssuer] = weakref.WeakKeyDictionary()

    def tokens(server: Any) -> AccessTokenIssuer:
        issuer = issuers.get(server)
        if issuer is None:
            issuer = issuers[server] = AccessTokenIssuer(api_keys=[server.api_key])
        return issuer

    def accept(req: UpgradeRequest) -> Any:
        return wire.accept_upgrade(
            path=req.route, query=req.query, headers=req.headers, api_keys=[req.server.api_key],
            request_id=req.request_id, region=_options(req.server).get("region"), tokens=tokens(req.server),
            now=req.now,
        )

    def mint(view: HttpRequestView) -> tuple[int, Any]:
        return handle_token_request(issuer=tokens(view.server), headers=view.headers, body=view.body,
                                    now=view.now, wall_now=datetime.now(UTC), cap_seconds=view.faults.token_ttl)

    return Route(
        name=wire.PROVIDER,
        paths=PATHS,
        accept=accept,
        handle=handle,
        error_frame=_error_frame,
        rejection_body=_rejection_body,
        http={TOKEN_PATH: {"POST": mint}},
        check_options=check_options,
    )


class PulseHandler:
    """One Pulse connection: a receive loop feeding the recognizer through an `EngineFeed`.

    Args:
        ctx: The connection context (its ``config`` is the `PulseSessionConfig`).
    """

    def __init__(self, ctx: ConnectionContext) -> None:
        self.ctx = ctx
        self.cfg: PulseSessionConfig = ctx.config
        self.session_id = str(uuid.uuid4())
        ctx.session_id = self.session_id
        self.feed = EngineFeed(
            ctx, on_events=self._on_events, on_control=self._on_control, stream_options=self._stream_options
        )
        self.ending = False
        self.finals: list[str] = []
        self.partial_text = ""
        self.in_utterance = False
        self.transcriptions_sent = 0
        redact = detected_language(self.cfg.language) in REDACTION_LANGUAGES
        self.textform = TextForm(itn=self.cfg.itn_normalize, pii=self.cfg.redact_pii and redact,
                                 pci=self.cfg.redact_pci and redact)
        self._word_cut_since: float | None = None
        self._level = 0.0
        self._tail_rms = 0.0
        self._quiet_run = 0.0
        self._pending_end: float | None = None  # VAD: speech end hidden by a forced final
        self._pending_at = 0.0

    # ----------------------------------------------------------------- set-up

    @property
    def stream(self) -> RecognizerStream:
        """The session's recognizer stream (open once audio has arrived; only read from the feed's callbacks)."""
        stream = self.feed.stream
        assert stream is not None
        return stream

    def _stream_options(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "word_times": cfg.word_timestamps or cfg.sentence_timestamps,
            "partials": True,
            "endpointing": self._endpointing(),
        }

    def _endpointing(self) -> Endpointing:
        base = getattr(self.ctx.recognizer, "endpointing", None)
        if not isinstance(base, Endpointing):
            base = Endpointing()
        eou = self.cfg.eou_timeout_ms / 1000.0
        hangover = min(base.hangover, eou) if self.cfg.endpointing else eou
        return dataclasses.replace(base, hangover=max(0.05, min(10.0, hangover)))

    async def run(self) -> None:
        """Serve the connection until it closes."""
        ctx, cfg = self.ctx, self.cfg
        logger.info(
            "pulse session %s: %s, %s @ %d Hz, language=%s",
            self.session_id,
            cfg.endpoint,
            cfg.encoding,
            cfg.sample_rate,
            cfg.language,
        )
        if cfg.ignored:
            logger.debug("pulse session %s ignores unknown parameters %s", self.session_id, sorted(cfg.ignored))
        if cfg.region_violation is not None:
            await self._refuse_region()
            return
        try:
            decoder = make_decoder(encoding=cfg.encoding, samplerate=cfg.sample_rate)
        except CodecError as exc:
            await ctx.fail(str(exc), code=1011)
            return
        feed = self.feed
        try:
            # The recognizer stream opens with the first audio (`EngineFeed` does it), not here: a connection
            # that sends nothing costs no engine work or memory (a stream is ~60 ms and ~8-10 MB with
            # whisper). A finalize or close_stream before any audio still gets its (empty) final.
            feed.start()
            async for frame in ctx.frames():
                if self.ending or feed.done:
                    continue
                kind = wire.classify_client_frame(frame)
                if isinstance(kind, wire.AudioFrame):
                    if not kind.data:
                        continue
                    if await ctx.count_chunk():
                        break
                    try:
                        samples = decoder.decode(kind.data)
                    except CodecError as exc:
                        await ctx.fail(
                            f"invalid audio for encoding={cfg.encoding}: {exc}", code=wire.CLOSE_INVALID_FRAME
                        )
                        break
                    feed.push_audio(samples, samplerate=decoder.output_rate, arrived=ctx.clock())
                elif isinstance(kind, wire.ControlFrame):
                    if kind.ends_stream:
                        self.ending = True
                        feed.push_control("close")
                    else:
                        feed.push_control("finalize")
                else:
                    await ctx.fail(kind.reason, code=kind.close_code)
                    break
        finally:
            # The socket is closed, or closing after a fault or an error: nothing the engine does from
            # now on can reach the client, so queued audio is dropped and the feed's task is cancelled
            # at once, not awaited (a client gone during ``close_stream`` used to keep the shared
            # engine busy for up to 60 s). Only an engine call already running finishes.
            await feed.stop()

    async def _refuse_region(self) -> None:
        """The simulated host does not serve the language: the documented refusal, then `CLOSE_REGION`.

        East Asian languages on the India host: a close "without a transcription frame"; South Indic
        languages on the US host: the ``LANGUAGE_NOT_ENABLED_IN_REGION`` frame first (both [DOC], the
        two region changelogs; the close code is [UNK], see `voicelab.providers.pulse.CLOSE_REGION`).
        """
        language = self.cfg.language or ""
        logger.info("pulse session %s: %r is not served by this host (%s)", self.session_id, language,
                    self.cfg.region_violation)
        if self.cfg.region_violation == "language_not_enabled":
            await self.ctx.send(wire.build_region_error(language=language))
            await self.ctx.close(wire.CLOSE_REGION, "language not enabled in this region")
        else:
            await self.ctx.close(wire.CLOSE_REGION, "language not served in this region")

    # ----------------------------------------------------------------- engine side (EngineFeed callbacks)

    async def _on_control(self, kind: str) -> None:
        if kind == "finalize":
            await self._flush(reason="finalize")
        else:  # "close": close_stream, or the legacy end
            await self._flush(reason="close")
            await self.ctx.close(wire.CLOSE_AFTER_LAST, "")

    async def _on_events(self, events: list[Any], batch: AudioBatch | None) -> None:
        if batch is None:  # the feed flushed a stream itself (only on a rate change, which Pulse never has)
            await self._events(events, reason=None)
            return
        sent = self.transcriptions_sent
        await self._events(events, reason=None)
        self._track_level(batch.samples)
        await self._vad_pending_check()
        await self._word_limits()
        # "For every chunk sent on the WebSocket, the server responds with a JSON message" [DOC: the
        # response-format page]: a chunk the recognizer said nothing new about gets the current hypothesis
        # again ("" between utterances). A batch holds several chunks when the engine caught up on a backlog.
        for _ in range(batch.chunks - (self.transcriptions_sent - sent)):
            await self._send_interim(self.partial_text)

    def _track_level(self, samples: np.ndarray) -> None:
        frame = max(1, self.stream.samplerate // 100)
        n = len(samples) // frame
        if n:
            rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
            self._level = max(self._level * (0.98**n), float(rms.max()))
            self._tail_rms = float(np.sqrt(np.mean(samples[-min(len(samples), 3 * frame) :] ** 2)))
            # how long the audio has been quiet at its end (10 ms frames), across calls
            loud = np.flatnonzero(rms >= QUIET_RATIO * self._level)
            tail = n if not len(loud) else n - 1 - int(loud[-1])
            self._quiet_run = (self._quiet_run + tail / 100) if tail == n else tail / 100
        else:
            self._tail_rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0

    async def _word_limits(self) -> None:
        words = len(self.partial_text.split())
        if not words:
            self._word_cut_since = None
            return
        if self.cfg.max_words is not None and words >= self.cfg.max_words:
            await self._flush(reason="words")
            return
        if self.cfg.finalize_on_words and words >= FINALIZE_ON_WORDS:
            now_audio = self.stream.audio_time
            if self._word_cut_since is None:
                self._word_cut_since = now_audio
            quiet = self._quiet_run >= WORD_CUT_PAUSE  # a pause between words, not a stop consonant
            if quiet or now_audio - self._word_cut_since >= WORD_CUT_MAX_WAIT:
                await self._flush(reason="words")

    async def _flush(self, *, reason: str) -> None:
        """Force a final: ``finalize`` (client), ``close`` (close_stream / end) or ``words`` (word limits)."""
        events = await self.feed.flush()
        self._word_cut_since = None
        await self._events(events, reason=reason)

    # ----------------------------------------------------------------- events → messages

    def _fmt(self, text: str) -> str:
        if not self.cfg.punctuate:
            text = _PUNCT.sub("", text)
        if not self.cfg.capitalize:
            text = text.lower()
        return text.strip()

    async def _send_interim(self, text: str) -> None:
        self.transcriptions_sent += 1
        msg = wire.build_transcription(
            config=self.cfg, session_id=self.session_id, transcript=self._fmt(text), is_final=False,
            full_transcript=" ".join(self.finals),
        )
        await self.ctx.send(msg)

    async def _events(self, events: list[Any], *, reason: str | None) -> None:
        finals: list[RecognizedFinal] = []
        for ev in events:
            if isinstance(ev, SpeechStart):
                self.in_utterance = True
                await self._vad_start(ev.t)
            elif isinstance(ev, RecognizedPartial):
                self.partial_text = ev.text
                await self._send_interim(ev.text)
            elif isinstance(ev, RecognizedFinal):
                finals.append(ev)
                if reason is None:
                    await self._send_final([ev], reason=None)
                    finals = []
            elif isinstance(ev, SpeechEnd):
                self.in_utterance = False
                if reason is None:
                    await self._vad_end(ev.t)
                elif reason != "close":
                    self._pending_end, self._pending_at = ev.t, self.stream.audio_time
        if reason is not None:
            self.in_utterance = False
            if finals or reason in ("finalize", "close"):
                await self._send_final(finals, reason=reason)

    async def _send_final(self, finals: list[RecognizedFinal], *, reason: str | None) -> None:
        text = " ".join(f.text.strip() for f in finals).strip()
        words = [
            Word(
                word=self._fmt(w.word) or w.word,
                start=round(w.start, 3),
                end=round(w.end, 3),
                confidence=round(w.confidence, 3),
            )
            for f in finals
            for w in f.words
        ]
        shown = self._fmt(text)
        entities: list[str] = []
        if self.textform.active:
            words = self._transform_words(words)
            spans = self.textform.apply(shown.split())
            shown = " ".join(span.text for span in spans)
            entities = [span.entity for span in spans if span.entity]
        if shown:
            self.finals.append(shown)
        msg = wire.build_transcription(
            config=self.cfg,
            session_id=self.session_id,
            transcript=shown,
            is_final=True,
            is_last=reason == "close",
            from_finalize=reason == "finalize",
            words=words,
            utterances=self._utterances(finals, words),
            full_transcript=" ".join(self.finals),
            redacted_entities=entities,
        )
        self.partial_text = ""
        self.transcriptions_sent += 1
        await self.ctx.send(msg)

    def _transform_words(self, words: list[Word]) -> list[Word]:
        """ITN and redaction on timed words: a replaced run becomes one word spanning it.

        Placeholders are lower case, as in the vendor's ``words``; the transcript's pass advances the counters.
        """
        if not words:
            return words
        out: list[Word] = []
        for span in self.textform.apply([w.word for w in words], commit=False):
            run = words[span.first : span.last + 1]
            confidences = [w.confidence for w in run if w.confidence is not None]
            out.append(Word(word=span.text.lower() if span.entity else span.text, start=run[0].start,
                            end=run[-1].end, confidence=min(confidences) if confidences else None))
        return out

    def _utterances(self, finals: list[RecognizedFinal], words: list[Word]) -> list[Utterance]:
        if not self.cfg.sentence_timestamps or not finals:
            return []
        if not words:
            return [Utterance(text=self._fmt(f.text), start=round(f.start, 3), end=round(f.end, 3)) for f in finals]
        out: list[Utterance] = []
        current: list[Word] = []
        for w in words:
            current.append(w)
            if w.word.endswith((".", "?", "!")):
                out.append(self._utterance(current))
                current = []
        if current:
            out.append(self._utterance(current))
        return out

    @staticmethod
    def _utterance(words: list[Word]) -> Utterance:
        return Utterance(text=" ".join(w.word for w in words), start=words[0].start, end=words[-1].end)

    # ----------------------------------------------------------------- VAD events

    async def _vad_start(self, t: float) -> None:
        if self._pending_end is not None:
            pending, self._pending_end = self._pending_end, None
            if t - pending <= VAD_CONTINUATION:
                return  # the same acoustic speech goes on after a forced final
            await self._vad_send(False, pending)
        await self._vad_send(True, t)

    async def _vad_end(self, t: float) -> None:
        self._pending_end = None
        await self._vad_send(False, t)

    async def _vad_pending_check(self) -> None:
        if self._pending_end is not None and self.stream.audio_time - self._pending_at > VAD_CONTINUATION:
            pending, self._pending_end = self._pending_end, None
            await self._vad_send(False, pending)

    async def _vad_send(self, started: bool, t: float) -> None:
        if self.cfg.vad_events:
            await self.ctx.send(wire.build_speech_event(started=started, session_id=self.session_id, timestamp=t))
