"""The one I/O layer: pump any provider's protocol over ``websockets``, paced, recorded, resilient.

`run_stream` opens a connection, sends the provider's opening messages,
paces audio chunks by their audio time, records everything in a
`Recording`, reconnects with backoff after a drop (replaying audio that no
final covered yet, resuming AssemblyAI sessions), and ends cleanly: Pulse
``close_stream`` → final with ``is_last``; AssemblyAI ``session.end`` →
``session.ended``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.error
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from voicelab.audio.chunking import Chunk
from voicelab.audio.codecs import encode_pcm
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.client.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionDropped,
    HandshakeError,
    NoTranscriptError,
    RateLimitError,
    ServerClosedError,
    SessionError,
    StreamTimeout,
)
from voicelab.client.fastsend import send_now
from voicelab.client.pacing import Pacer
from voicelab.client.retry import RetryPolicy
from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import (
    AgentReplyDone,
    AgentReplyStarted,
    Error,
    Event,
    Final,
    Partial,
    SpeechStarted,
    SpeechStopped,
    Word,
)
from voicelab.protocols.redaction import redact
from voicelab.providers import Driver, get_provider
from voicelab.recording.log import Recording

__all__ = ["StreamOptions", "run_stream"]

log = logging.getLogger("voicelab.client")

#: A connection that stayed up this long (wall seconds) while sending new audio counts as healthy: the
#: retry budget and the backoff start over after it. A shorter one counts as a failed attempt unless a
#: final covered new audio, so a server that drops every connection at once exhausts ``max_attempts``.
STABLE_CONNECTION_SECONDS = 1.0
#: After a provider-reported speech end, the rest of the chunk holding it (if at most this many audio
#: seconds) is non-speech and counts as covered, so a replay starts on an original chunk boundary.
SNAP_TO_CHUNK_SECONDS = 0.25


@dataclass
class StreamOptions:
    """Timeouts (seconds; ``None`` disables one) and policies of a stream.

    Attributes:
        speed: Audio seconds per wall second (1.0 = real time; ``None`` = unpaced).
        open_timeout: Connecting and the upgrade.
        ready_timeout: Waiting for the provider's ready event (AssemblyAI ``session.ready``).
        final_timeout: Waiting for the last final / ``session.ended`` after a clean end.
        retry: Reconnect policy.
        reconnect: Whether to reconnect after a drop.
        max_message_bytes: Largest message accepted from the server.
    """

    speed: float | None = 1.0
    open_timeout: float | None = 10.0
    ready_timeout: float | None = 10.0
    final_timeout: float | None = 15.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    reconnect: bool = True
    max_message_bytes: int = 16 << 20


@dataclass
class _State:
    """What survives across reconnects."""

    pending: deque[Chunk] = field(default_factory=deque)
    covered_until: float = 0.0
    audio_sent: float = 0.0
    seq: int = 0
    session_id: str | None = None
    resume_id: str | None = None
    resume_failed: bool = False
    source_done: bool = False
    terminal: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    fatal: BaseException | None = None
    last_speech_stop_audio: float | None = None
    last_speech_start_audio: float | None = None
    last_final_end: float | None = None
    finish_sent: bool = False
    transcripts: int = 0
    speaking: bool = False
    replying: bool = False
    last_event_t: float = 0.0
    tail_sent: bool = False


class _Stop(Exception):
    """Internal: the connection ended (cleanly or not); carries the close code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


async def _mint_token(driver: Driver, api_key: str) -> str:
    """Mint a short-lived token through the provider's token endpoint (in a thread: urllib blocks)."""
    minting = get_provider(driver.provider).token
    if minting is None:
        raise ConnectError(f"{driver.provider} has no token endpoint; connect with the API key (use_token=False)")
    base = driver.base_url.replace("ws://", "http://").replace("wss://", "https://") if driver.base_url else None
    req = minting.build_request(api_key=api_key, base_url=base, region=driver.region,
                                ttl_seconds=minting.ttl_seconds)

    def fetch() -> bytes:
        r = urllib.request.Request(req.url.reveal(), headers=dict(req.headers.reveal()), method=req.method)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:  # noqa: S310 - URL built by the protocol module
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise AuthenticationError(
                f"could not mint a temporary token: HTTP {exc.code} from {req.url}; check the API key",
                status=exc.code) from None
        except OSError as exc:
            raise ConnectError(f"could not reach the token endpoint {req.url}: {exc}") from None

    body = await asyncio.to_thread(fetch)
    return minting.parse_response(body)


async def run_stream(
    *,
    driver: Driver,
    api_key: str,
    chunks: AsyncIterator[Chunk],
    recording: Recording,
    options: StreamOptions,
    on_event: Callable[[float, Event], None],
    stop: asyncio.Event,
) -> None:
    """Stream ``chunks`` to the provider behind ``driver`` until done, stopped or failed.

    Args:
        driver: The provider half (pure).
        api_key: The credential (never logged).
        chunks: Encoded audio chunks in the driver's encoding and rate.
        recording: Where every event is logged.
        options: Pacing, timeouts and reconnect policy.
        on_event: Called with ``(t, event)`` for every parsed event, on the loop thread.
        stop: Set to end the stream cleanly (stop sending, finish, wait for the last final).

    Raises:
        ConnectError: The connection could not be (re)established; the subclass says why.
        SessionError: The provider reported a fatal session error.
        StreamTimeout: The provider did not answer in time.
    """
    parse = get_provider(driver.provider).parse
    state = _State()
    pacer = Pacer(speed=options.speed, clock=recording.now)
    backoff = options.retry.delays()
    attempt = 0
    source = chunks.__aiter__()
    while True:
        attempt += 1
        credential = await _mint_token(driver, api_key) if driver.use_token else api_key
        req = driver.connect_request(credential=credential)
        recording.log("connect", attempt=attempt, url=str(req.url))
        try:
            # compression=None: websockets offers permessage-deflate by default, which deflates every audio
            # frame (PCM barely compresses), a CPU cost per chunk that limits how many streams one loop carries
            ws = await connect(req.url.reveal(), additional_headers=dict(req.headers.reveal()),
                               open_timeout=options.open_timeout, max_size=options.max_message_bytes,
                               ping_interval=20, close_timeout=5, compression=None)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = bytes(exc.response.body or b"").decode("utf-8", "replace")
            retry_after = _retry_after(exc.response.headers.get("Retry-After"))
            recording.log("handshake", ok=False, status=status, body=body[:2000], retry_after=retry_after)
            decision = options.retry.decide(attempt=attempt, status=status, retry_after=retry_after,
                                            backoff=next(backoff), fatal=not options.reconnect)
            if not decision.retry:
                raise _status_error(driver, status, body, retry_after, api_key) from None
            log.warning("%s", decision.reason)
            await asyncio.sleep(decision.delay)
            continue
        except InvalidURI as exc:
            raise ConnectError(f"invalid WebSocket URL {redact(str(exc), [api_key])}: use ws:// or wss://") from None
        except (OSError, TimeoutError) as exc:
            recording.log("handshake", ok=False, error=type(exc).__name__, message=redact(str(exc), [api_key]))
            decision = options.retry.decide(attempt=attempt, backoff=next(backoff), fatal=not options.reconnect)
            if not decision.retry:
                raise ConnectError(
                    f"could not connect to {req.url} ({type(exc).__name__}: {redact(str(exc), [api_key])}). "
                    "Check the URL and port, that the server is running, and that no firewall or proxy blocks "
                    "WebSocket (wss://, port 443) traffic") from None
            await asyncio.sleep(decision.delay)
            continue
        replay = list(state.pending)
        offset = replay[0].start if replay else state.audio_sent
        recording.log("handshake", ok=True, status=101, audio_offset=offset,
                      resumed=bool(state.resume_id), replayed_chunks=len(replay))
        progress_mark = (state.audio_sent, state.covered_until)
        state.speaking = state.replying = False  # turn state belongs to the connection that reported it
        opened_at = recording.now()
        try:
            code, reason = await _pump(ws, driver, parse, state, source, pacer, recording, options,
                                       on_event, stop, offset, replay)
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
        recording.log("close", code=code, reason=reason, by="server" if not state.terminal else "clean")
        if state.fatal is not None:
            raise state.fatal
        if state.terminal or (state.source_done and not state.pending and code == 1000):
            return
        if state.source_done and state.finish_sent and code == 1000:
            # the server ended the session normally after our clean end, without its terminal message
            if not state.transcripts:
                raise NoTranscriptError(
                    f"the server accepted {state.audio_sent:.1f} s of audio and closed normally, but sent no "
                    "transcript. Usual causes: the audio's encoding or sample rate differs from what the URL "
                    "declares, the audio is silent, or it went out as text/base64 instead of binary frames. "
                    f"Check it with voicelab.inspect(audio, target='{driver.provider}') and "
                    "voicelab.audio.validate_chunk(...)")
            recording.log("note", text="the server closed (1000) without its terminal message")
            return
        resume_fallback = state.resume_failed
        if resume_fallback:  # the old session is gone: start a fresh one at once (not a failed attempt)
            state.resume_id, state.session_id, state.resume_failed = None, None, False
            recording.log("note", text="resume failed; starting a fresh session")
        healthy = resume_fallback or state.covered_until > progress_mark[1] or (
            state.audio_sent > progress_mark[0] and recording.now() - opened_at >= STABLE_CONNECTION_SECONDS)
        if healthy:
            # the budget counts failures in a row: a connection that made progress resets it, and so does
            # the backoff (else 20 drops in a minute would wait 0.5, 1, 2, 4 ... 30 s, one after another)
            attempt = 1
            backoff = options.retry.delays()
        exp = driver.explain_close(code or 1006)
        decision = options.retry.decide(attempt=attempt if code != 1000 else 0, close_code=code,
                                        backoff=next(backoff), fatal=not options.reconnect)
        if resume_fallback:
            decision = replace(decision, retry=True, delay=0.0)
        if not decision.retry:
            cls = ConnectionDropped if code in (None, 1006) else ServerClosedError
            raise cls(f"the connection closed with code {code} ({exp.title}). Cause: {exp.cause}. Fix: {exp.fix}",
                      close_code=code, explanation=exp)
        recording.log("gap", audio_time=state.covered_until, audio_sent=state.audio_sent, close_code=code,
                      delay=round(decision.delay, 3), reason=decision.reason)
        if driver.resumable and state.session_id:
            state.resume_id = state.session_id
        state.ready = asyncio.Event()
        if healthy:
            attempt = 0
        await asyncio.sleep(decision.delay)


async def _pump(
    ws: ClientConnection,
    driver: Driver,
    parse: Callable[..., list[Event]],
    state: _State,
    source: AsyncIterator[Chunk],
    pacer: Pacer,
    recording: Recording,
    options: StreamOptions,
    on_event: Callable[[float, Event], None],
    stop: asyncio.Event,
    offset: float,
    replay: list[Chunk],
) -> tuple[int | None, str]:
    """Run one connection: receive concurrently, send opening, replay, stream, finish."""

    def shift(ev: Event) -> Event:
        if not offset:
            return ev
        changes: dict[str, Any] = {}
        words = getattr(ev, "words", None)
        if words:
            changes["words"] = tuple(Word(**{**w.to_dict(), "start": w.start + offset, "end": w.end + offset})
                                     for w in words)
        if getattr(ev, "audio_time", None) is not None:
            changes["audio_time"] = ev.audio_time + offset  # type: ignore[attr-defined]
        return replace(ev, **changes) if changes else ev

    terminal = asyncio.Event()

    async def receive() -> tuple[int | None, str]:
        try:
            async for message in ws:
                t = recording.now()
                recording.message_in(message, t=t)
                if isinstance(message, bytes):
                    continue
                try:
                    events = parse(message)
                except ProtocolError as exc:  # one bad message must not end the session
                    events = [Error(provider=driver.provider, raw=message, code="malformed_message",
                                    message=f"the server sent a message that could not be parsed: {exc}")]
                for ev in events:
                    ev = shift(ev)
                    _track(ev, driver, state, recording, t)
                    try:
                        on_event(t, ev)
                    except Exception:  # a display callback must never kill the stream
                        log.exception("event callback failed")
                    if driver.is_ready(ev):
                        state.ready.set()
                    if driver.is_terminal(ev):
                        state.terminal = True
                        terminal.set()
                    if isinstance(ev, Error) and ev.fatal and state.fatal is None:
                        _fatal(ev, driver, state)
            rcvd = ws.close_code
            return rcvd, ws.close_reason or ""
        except ConnectionClosed as exc:
            return (exc.rcvd.code if exc.rcvd else 1006), (exc.rcvd.reason if exc.rcvd else "no close frame")

    receiver = asyncio.create_task(receive())
    last_sent = [recording.now()]

    async def send(frame: bytes | str) -> None:
        if receiver.done():
            raise _Stop(*receiver.result())
        last_sent[0] = recording.now()
        if send_now(ws, frame):  # the per-chunk hot path: no trip through websockets' async send
            return
        await ws.send(frame)

    async def keepalive(interval: float) -> None:
        """Send the provider's keepalive whenever nothing was sent for ``interval`` wall seconds."""
        while not receiver.done():
            idle = recording.now() - last_sent[0]
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            for frame in driver.keepalive():
                if isinstance(frame, str):
                    recording.message_out(frame)
                await send(frame)

    keeper = asyncio.create_task(keepalive(driver.keepalive_seconds)) if driver.keepalive_seconds else None

    try:
        for msg in driver.opening(resume_id=state.resume_id):
            recording.message_out(msg)
            await send(msg)
        if driver.waits_for_ready:
            await _wait_first(state.ready.wait(), receiver, options.ready_timeout, "the session to become ready")
            if state.fatal is not None or receiver.done():
                return await receiver
        for chunk in replay:  # audio that no final covered before the drop
            await send(driver.audio(chunk))
            recording.chunk(seq=state.seq, audio_start=chunk.start, audio_end=chunk.end, nbytes=chunk.nbytes)
            state.seq += 1
            state.audio_sent = max(state.audio_sent, chunk.end)
        # new audio resumes where the source stopped (after a chunk taken but not sent before a drop)
        pacer.start(audio_start=state.pending[-1].end if state.pending else state.audio_sent, now=recording.now())
        while not stop.is_set() and not state.source_done:
            try:
                chunk = await source.__anext__()
            except StopAsyncIteration:
                state.source_done = True
                break
            # into the replay buffer before sending: a drop noticed while it waits for its turn (or in
            # send) must not lose it, or every later audio time would be off by one chunk per drop
            state.pending.append(chunk)
            delay = pacer.delay(chunk.start)
            if delay > 0:  # a plain sleep: cheap with hundreds of streams; stop is seen within one chunk
                await asyncio.sleep(delay)
            await send(driver.audio(chunk))
            t = recording.now()
            pacer.sent(chunk.start, now=t)
            recording.chunk(seq=state.seq, audio_start=chunk.start, audio_end=chunk.end, nbytes=chunk.nbytes, t=t)
            state.seq += 1
            state.audio_sent = chunk.end
        if driver.tail_silence_seconds and state.source_done and not stop.is_set() and not state.tail_sent:
            await _close_last_turn(driver, send, state, pacer, recording, options, stop, receiver)
            state.tail_sent = True
        for msg in driver.finish():
            recording.message_out(msg)
            await send(msg)
        state.finish_sent = True
        await _wait_first(terminal.wait(), receiver, options.final_timeout, "the last final after the clean end")
        if not receiver.done():
            await ws.close(1000, "done")
        return await receiver
    except _Stop as s:
        return s.code, s.reason
    except ConnectionClosed:
        return await receiver
    finally:
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, _Stop, ConnectionClosed):
                await keeper
        if not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver


async def _close_last_turn(driver: Driver, send: Callable[[bytes | str], Awaitable[None]], state: _State,
                           pacer: Pacer, recording: Recording, options: StreamOptions, stop: asyncio.Event,
                           receiver: asyncio.Task[Any]) -> None:
    """Send trailing silence, then wait until the user's last turn and any reply in progress are done.

    Without this an agent session ended right after the audio loses the last utterance: turn
    detection needs silence to close it, and ``session.end`` would cut the reply short.
    """
    step = 0.05
    frames = round(step * driver.samplerate)
    silence = encode_pcm(np.zeros(frames, dtype=np.float32), encoding=driver.encoding)
    start = state.audio_sent
    for k in range(round(driver.tail_silence_seconds / step)):
        a = start + k * step
        chunk = Chunk(state.seq, silence, driver.encoding, driver.samplerate, 1, a, a + step)
        delay = pacer.delay(a)
        if delay > 0:
            await asyncio.sleep(delay)
        await send(driver.audio(chunk))
        recording.chunk(seq=state.seq, audio_start=a, audio_end=a + step, nbytes=len(silence))
        state.seq += 1
        state.audio_sent = a + step
    deadline = None if options.final_timeout is None else recording.now() + options.final_timeout
    while not stop.is_set() and not receiver.done():  # a drop ends the wait: the reconnect finishes up
        quiet = recording.now() - state.last_event_t >= 0.5
        if not state.speaking and not state.replying and quiet:
            return
        if deadline is not None and recording.now() >= deadline:
            recording.log("note", text="ending although the last turn or reply was still in progress")
            return
        await asyncio.sleep(0.05)


async def _wait_first(awaitable: Awaitable[Any], receiver: asyncio.Task[Any], timeout: float | None,
                      what: str) -> None:
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({waiter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        if receiver not in done:
            raise StreamTimeout(f"timed out after {timeout} s waiting for {what}; raise the timeout or check "
                                "that audio reaches the server (voicelab inspect) ")


def _track(ev: Event, driver: Driver, state: _State, recording: Recording, t: float) -> None:
    """Update what audio is covered by finals (for replay) and the session id (for resume)."""
    state.last_event_t = recording.now()
    if isinstance(ev, (Partial, Final)) and ev.text.strip():
        state.transcripts += 1
    if isinstance(ev, SpeechStarted):
        state.speaking = True
    elif isinstance(ev, Final):
        state.speaking = False
    elif isinstance(ev, AgentReplyStarted):
        state.replying = True
    elif isinstance(ev, AgentReplyDone):
        state.replying = False
    sid = driver.session_id(ev)
    if sid and sid != state.session_id:
        state.session_id = sid
        recording.log("note", text="session id", session_id=sid, t=t)
    if isinstance(ev, SpeechStarted):
        state.last_speech_start_audio = ev.audio_time
    if isinstance(ev, SpeechStopped):
        # the provider's own speech end (Pulse speech_ended timestamp), else the audio sent when it came
        stop = ev.audio_time if ev.audio_time is not None else state.audio_sent
        state.last_speech_stop_audio = stop
        # a final often arrives just before the speech-end event of the same utterance: once speech has
        # ended after the last final (and no new speech began since), everything up to here is covered
        started = state.last_speech_start_audio
        if state.last_final_end is not None and (started is None or started <= state.last_final_end + 0.05):
            _cover(state, stop, snap=ev.audio_time is not None)
    if isinstance(ev, Final):
        last_stop = state.last_speech_stop_audio
        if ev.words:
            covered = ev.words[-1].end
            state.last_final_end = covered
            # word times are approximate: when the provider's VAD put the end of this utterance a little
            # later, replay from there so no tail of a finalised word is sent (and transcribed) twice
            if last_stop is not None and ev.words[-1].end - 0.2 <= last_stop <= ev.words[-1].end + 1.5:
                covered = max(covered, last_stop)
        elif last_stop is not None:
            covered = last_stop
        else:
            covered = state.covered_until
        _cover(state, covered, snap=covered == last_stop)
    if isinstance(ev, Error) and state.resume_id and driver.resume_failed(ev):
        state.resume_failed = True


def _cover(state: _State, until: float, *, snap: bool = False) -> None:
    """Mark audio up to ``until`` (stream seconds) as covered by finals; drop it from the replay buffer.

    Args:
        state: The stream state.
        until: Audio time up to which finals cover the audio.
        snap: ``until`` is a provider-reported speech end: the audio after it is non-speech (the provider
            waits for its end-of-speech silence before saying so), so the rest of the chunk holding it
            is covered too when that rest is short. A replay then starts on an original chunk boundary
            with the original bytes, instead of a trimmed chunk that shifts every later frame: providers
            cut audio into fixed frames (VAD, features), and re-framed audio can decode differently.
    """
    if snap:
        for c in state.pending:
            if c.start < until < c.end:
                if c.end - until <= SNAP_TO_CHUNK_SECONDS:
                    until = c.end
                break
    state.covered_until = max(state.covered_until, until)
    while state.pending and state.pending[0].end <= state.covered_until + 1e-9:
        state.pending.popleft()
    if state.pending and state.pending[0].start < state.covered_until:
        state.pending[0] = _trim(state.pending[0], state.covered_until)


def _trim(chunk: Chunk, start: float) -> Chunk:
    """Cut the covered head off a PCM chunk (sample-exact); compressed chunks are kept whole."""
    bps = BYTES_PER_SAMPLE.get(chunk.encoding)
    if not bps:
        return chunk
    frame = bps * chunk.channels
    skip = round((start - chunk.start) * chunk.samplerate) * frame
    if skip <= 0 or skip >= len(chunk.data):
        return chunk
    return replace(chunk, data=chunk.data[skip:], start=chunk.start + skip / frame / chunk.samplerate)


def _fatal(ev: Error, driver: Driver, state: _State) -> None:
    if state.resume_id and driver.resume_failed(ev):
        return  # handled by falling back to a fresh session
    fix = f" Fix: {ev.fix}" if ev.fix else ""
    if driver.is_auth_error(ev):
        state.fatal = AuthenticationError(f"{driver.provider} rejected the credentials: {ev.message}.{fix}")
    else:
        state.fatal = SessionError(f"{driver.provider} reported {ev.code}: {ev.message}.{fix}", code=ev.code)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _status_error(driver: Driver, status: int, body: str, retry_after: float | None, key: str) -> HandshakeError:
    exp = driver.explain_status(status)
    detail = redact(body.strip(), [key])[:300]
    msg = f"the server refused the connection: HTTP {status} {exp.title}. Cause: {exp.cause}. Fix: {exp.fix}" + (
        f" (server said: {detail})" if detail else "")
    if status in (401, 403):
        return AuthenticationError(msg, status=status, explanation=exp)
    if status == 429:
        return RateLimitError(msg, status=status, explanation=exp, retry_after=retry_after)
    return HandshakeError(msg, status=status, explanation=exp)
