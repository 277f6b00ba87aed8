"""The one I/O layer: pump any provider's protocol over ``websockets``, paced, recorded, resilient.

`run_stream` opens a connection, sends the provider's opening messages, paces audio chunks by their
audio time, records everything in a `Recording`, reconnects with backoff after a drop (resending audio
that no final covered yet, resuming AssemblyAI sessions), and ends cleanly: Pulse ``close_stream`` →
final with ``is_last``; AssemblyAI ``session.end`` → ``session.ended``.

``stop`` (`voicelab.Stream.stop`) is heard at every wait: while an iterator source's first second is
read for the pre-flight check, while a token is minted, during the upgrade, in a reconnect's backoff,
while the session becomes ready, and while a live source has no next chunk yet. With no connection
open the stream ends at once (nothing sent, nothing opened) and the Recording gets a ``close`` entry
without a code, ``by="user"``; with one open it ends cleanly on it, and never reconnects.

Unpaced (``speed=None``) it yields to the loop between chunks, so finals are read while sending, and holds
new audio while `StreamState.hold_for_finals` says too much is in flight (bounded waits: a server that sends
no finals never stalls it).

It only moves bytes: every decision (what a final covers, what to resend, when to retry, resume or give
up, when the session is over) is made by the sans-I/O `voicelab.client.stream_state.StreamState`, which
this module feeds with events and close codes and whose answers it applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from voicelab.audio.chunking import Chunk
from voicelab.client.errors import (
    AuthenticationError,
    ConnectError,
    HandshakeError,
    RateLimitError,
    StreamTimeout,
)
from voicelab.client.fastsend import send_now
from voicelab.client.pacing import Pacer
from voicelab.client.retry import RetryPolicy
from voicelab.client.stream_state import (
    IN_FLIGHT_WAIT_WALL_S,
    ConnectionPlan,
    Done,
    Fail,
    LogNote,
    ReadyForAudio,
    Stopped,
    StreamState,
)
from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import Error, Event
from voicelab.protocols.redaction import redact, redacting_logger
from voicelab.providers import Driver, get_provider
from voicelab.recording.log import Recording

__all__ = ["StreamOptions", "run_stream"]

log = logging.getLogger("voicelab.client")
#: What websockets logs for voicelab's connections (instead of ``websockets.client``): its DEBUG lines carry
#: the upgrade request's headers and URL, so a `RedactingFilter` masks ``Authorization`` values and
#: ``?token=``/``?api_key=`` before any handler sees them. No global logger is touched.
_WIRE_LOG = redacting_logger("voicelab.client.websockets")

#: Wall seconds between WebSocket pings (websockets closes the connection when a pong does not come in
#: time, so a dead peer is noticed even while nothing else arrives).
PING_INTERVAL_WALL_S = 20.0
#: Wall seconds ``ws.close()`` waits for the server's close frame before dropping the TCP connection.
CLOSE_TIMEOUT_WALL_S = 5.0
#: Wall seconds to wait for a token endpoint's answer.
TOKEN_TIMEOUT_WALL_S = 10.0
#: How often (wall seconds) the end of an agent session checks whether the last turn has closed
#: (`StreamState.last_turn_closed`); small next to `voicelab.client.stream_state.LAST_TURN_QUIET_WALL_S`.
LAST_TURN_POLL_WALL_S = 0.05


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


class _Stop(Exception):
    """Internal: the connection ended (cleanly or not); carries the close code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _Closed(NamedTuple):
    """How one connection ended: its close code and reason, and whether the user's stop closed it."""

    code: int | None
    reason: str
    by_user: bool = False


class _StopSignal(enum.Enum):
    """What `_unless_stopped` returns when the user's stop came first."""

    STOPPED = "stopped"


_STOPPED = _StopSignal.STOPPED
_T = TypeVar("_T")
#: The close reason sent when a stop closes a connection whose session was not ready yet.
STOP_CLOSE_REASON = "stopped by the user"


async def _unless_stopped(awaitable: Coroutine[Any, Any, _T], stop: asyncio.Event) -> _T | _StopSignal:
    """Await ``awaitable`` unless ``stop`` is set first: then cancel it and return `_STOPPED`.

    Cancelling unwinds it before returning: a cancelled upgrade aborts its socket, a cancelled read closes
    the source's generator (a sync iterator's thread is left to finish the ``next()`` it is blocked in).
    A result that comes together with the stop is returned; the caller sees the stop at its next wait.
    """
    if stop.is_set():
        awaitable.close()
        return _STOPPED
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this coroutine itself is cancelled
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if task.cancelled():
        return _STOPPED
    return task.result()


async def _mint_token(driver: Driver, api_key: str) -> str:
    """Mint a short-lived token through the provider's token endpoint (in a thread: urllib blocks)."""
    minting = get_provider(driver.provider).token
    if minting is None:
        raise ConnectError(f"{driver.provider} has no token endpoint; connect with the API key (use_token=False)")
    base = driver.base_url.replace("ws://", "http://").replace("wss://", "https://") if driver.base_url else None
    req = minting.build_request(api_key=api_key, base_url=base, region=driver.region,
                                ttl_seconds=minting.ttl_seconds)

    def fetch() -> bytes:
        r = urllib.request.Request(req.url.reveal(), data=req.body, headers=dict(req.headers.reveal()),
                                   method=req.method)
        try:
            with urllib.request.urlopen(r, timeout=TOKEN_TIMEOUT_WALL_S) as resp:  # noqa: S310 - URL built by the protocol module
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
    controls: asyncio.Queue[str] | None = None,
    before_connect: Callable[[], Coroutine[Any, Any, None]] | None = None,
    live_source: bool = False,
) -> None:
    """Stream ``chunks`` to the provider behind ``driver`` until done, stopped or failed.

    Args:
        driver: The provider half (pure).
        api_key: The credential (never logged).
        chunks: Encoded audio chunks in the driver's encoding and rate.
        recording: Where every event is logged.
        options: Pacing, timeouts and reconnect policy.
        on_event: Called with ``(t, event)`` for every parsed event, on the loop thread.
        stop: Set to end the stream: at once while no connection is open (nothing is sent), else cleanly
            (stop sending, finish, wait for the last final); see the module docs.
        controls: Requests from the `Stream` handle while audio flows: ``"finalize"`` sends the driver's
            `~voicelab.providers.Driver.finalize` messages (a final for the audio so far).
        before_connect: Awaited before the first connection, unless ``stop`` comes first (then it is
            cancelled): the pre-flight check of an iterator source, which reads its first second.
        live_source: ``chunks`` may wait for its next chunk (a microphone, a caller's iterator): each read
            is raced against ``stop``. In-memory sources never wait, and skip that cost per chunk.

    Raises:
        ConnectError: The connection could not be (re)established; the subclass says why.
        SessionError: The provider reported a fatal session error.
        NoTranscriptError: The server took the audio and closed normally without any transcript.
        StreamTimeout: The provider did not answer in time.
    """
    parse = driver.parse  # the session's own settings (e.g. the agent's output encoding) shape the events
    state = StreamState(driver=driver, retry=options.retry, reconnect=options.reconnect)
    pacer = Pacer(speed=options.speed, clock=recording.now)
    source = chunks.__aiter__()
    # what the stream waits for while no connection is open (the close entry of a stop names it)
    waiting_for: str | None = None
    if before_connect is not None:
        waiting_for = "audio"
        await _unless_stopped(before_connect(), stop)
    while True:
        if stop.is_set():  # stopped while no connection is open: end now, sending nothing
            _log_stopped(recording, state.on_stop(waiting_for=waiting_for))
            return
        attempt = state.begin_attempt()
        credential = api_key
        if driver.use_token:
            waiting_for = "token"
            minted = await _unless_stopped(_mint_token(driver, api_key), stop)
            if isinstance(minted, _StopSignal):
                continue
            credential = minted
        req = driver.connect_request(credential=credential)
        waiting_for = "upgrade"
        recording.log("connect", attempt=attempt, url=str(req.url))
        try:
            # compression=None: websockets offers permessage-deflate by default, which deflates every audio
            # frame (PCM barely compresses), a CPU cost per chunk that limits how many streams one loop carries
            opened = await _unless_stopped(_open(req.url.reveal(), dict(req.headers.reveal()), options), stop)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = bytes(exc.response.body or b"").decode("utf-8", "replace")
            retry_after = _retry_after(exc.response.headers.get("Retry-After"))
            recording.log("handshake", ok=False, status=status, body=body[:2000], retry_after=retry_after)
            decision = state.on_refused(status=status, retry_after_wall_s=retry_after)
            if not decision.retry:
                raise _status_error(driver, status, body, retry_after, api_key) from None
            log.warning("%s", decision.reason)
            waiting_for = "retry"
            await _unless_stopped(asyncio.sleep(decision.delay), stop)
            continue
        except InvalidURI as exc:
            raise ConnectError(f"invalid WebSocket URL {redact(str(exc), [api_key])}: use ws:// or wss://") from None
        except InvalidHandshake as exc:  # an answer that is not a WebSocket upgrade (not a refusal with a status)
            detail = redact(f"{type(exc).__name__}: {exc}", [api_key])
            recording.log("handshake", ok=False, error=type(exc).__name__, message=detail)
            raise HandshakeError(
                f"{req.url} did not answer the upgrade as a WebSocket server ({detail}). Is this a WebSocket "
                "endpoint? Check the URL's scheme (wss:// for TLS hosts), host, port and path; `voicelab doctor` "
                "checks each step") from None
        except (OSError, TimeoutError) as exc:
            recording.log("handshake", ok=False, error=type(exc).__name__, message=redact(str(exc), [api_key]))
            decision = state.on_unreachable()
            if not decision.retry:
                raise ConnectError(
                    f"could not connect to {req.url} ({type(exc).__name__}: {redact(str(exc), [api_key])}). "
                    "Check the URL and port, that the server is running, and that no firewall or proxy blocks "
                    "WebSocket (wss://, port 443) traffic") from None
            waiting_for = "retry"
            await _unless_stopped(asyncio.sleep(decision.delay), stop)
            continue
        if isinstance(opened, _StopSignal):  # the upgrade was abandoned (its socket aborted): the loop's top ends
            continue
        ws = opened
        plan = state.on_connected(now_wall_s=recording.now())
        recording.log("handshake", ok=True, status=101, audio_offset=plan.offset_audio_s,
                      resumed=plan.resumed, resent_chunks=len(plan.resend))
        try:
            closed = await _pump(ws, driver, parse, state, source, pacer, recording, options,
                                 on_event, stop, plan, controls, live_source)
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
        by = "clean" if state.terminal else "user" if closed.by_user else "server"
        recording.log("close", code=closed.code, reason=closed.reason, by=by)
        if stop.is_set():  # the user stopped while this connection was open: it ended cleanly, no reconnect
            state.on_stop_while_connected()
        end = state.on_connection_end(close_code=closed.code, now_wall_s=recording.now())
        for note in end.notes:
            _log_note(recording, note)
        if isinstance(end, Fail):
            raise end.error
        if isinstance(end, Done):
            return
        recording.log("gap", audio_time=end.covered_until_audio_s, audio_sent=end.sent_until_audio_s,
                      close_code=end.close_code, delay=round(end.delay_wall_s, 3), reason=end.reason)
        waiting_for = "retry"
        await _unless_stopped(asyncio.sleep(end.delay_wall_s), stop)


async def _open(url: str, headers: dict[str, str], options: StreamOptions) -> ClientConnection:
    """Connect and upgrade (a coroutine, so that a stop can cancel it: websockets then aborts the socket)."""
    return await connect(url, additional_headers=headers, open_timeout=options.open_timeout,
                         max_size=options.max_message_bytes, ping_interval=PING_INTERVAL_WALL_S,
                         close_timeout=CLOSE_TIMEOUT_WALL_S, compression=None, logger=_WIRE_LOG)


def _log_stopped(recording: Recording, stopped: Stopped) -> None:
    """The user stopped the stream with no connection open: a ``close`` entry with no code says so."""
    recording.log("close", code=None, reason=stopped.reason, by="user", waiting_for=stopped.waiting_for)


async def _pump(
    ws: ClientConnection,
    driver: Driver,
    parse: Callable[..., list[Event]],
    state: StreamState,
    source: AsyncIterator[Chunk],
    pacer: Pacer,
    recording: Recording,
    options: StreamOptions,
    on_event: Callable[[float, Event], None],
    stop: asyncio.Event,
    plan: ConnectionPlan,
    controls: asyncio.Queue[str] | None = None,
    live_source: bool = False,
) -> _Closed:
    """Run one connection: receive concurrently, send opening, resend, stream, finish."""
    ready = asyncio.Event()
    terminal = asyncio.Event()
    covering = asyncio.Event()  # set when a final covers more audio (an unpaced send may wait for it)

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
                covered = state.covered_until_audio_s
                for ev in events:
                    ev = state.to_stream_time(ev)
                    for action in state.on_event(ev, now_wall_s=t):
                        if isinstance(action, LogNote):
                            _log_note(recording, action)
                        elif isinstance(action, ReadyForAudio):
                            ready.set()
                        else:
                            terminal.set()
                    try:
                        on_event(t, ev)
                    except Exception:  # a display callback must never kill the stream
                        log.exception("event callback failed")
                if state.covered_until_audio_s > covered:
                    covering.set()
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

    async def control_loop(queue: asyncio.Queue[str]) -> None:
        """Send what the `Stream` handle asks for (``finalize``) while the connection is up."""
        if driver.waits_for_ready:
            await ready.wait()
        while not receiver.done():
            request = await queue.get()
            if request == "finalize":
                for msg in driver.finalize():
                    recording.message_out(msg)
                    await send(msg)

    keeper = asyncio.create_task(keepalive(driver.keepalive_seconds)) if driver.keepalive_seconds else None
    controller = asyncio.create_task(control_loop(controls)) if controls is not None else None

    try:
        for msg in driver.opening(resume_id=plan.resume_id):
            recording.message_out(msg)
            await send(msg)
        if driver.waits_for_ready:
            if await _wait_first(ready.wait(), receiver, options.ready_timeout, "the session to become ready",
                                 stop=stop):  # no session yet, so nothing to end: close the connection
                await ws.close(1000, STOP_CLOSE_REASON)
                code, reason = await receiver
                return _Closed(code, reason, by_user=True)
            if state.fatal is not None or receiver.done():
                return _Closed(*await receiver)
        for chunk in plan.resend:  # audio that no final covered before the drop
            await send(driver.audio(chunk))
            recording.chunk(seq=state.on_resent(chunk), audio_start=chunk.start, audio_end=chunk.end,
                            nbytes=chunk.nbytes, data=chunk.data, encoding=chunk.encoding,
                            samplerate=chunk.samplerate, channels=chunk.channels)
        # new audio resumes where the source stopped (after a chunk taken but not sent before a drop)
        pacer.start(audio_start=state.source_position_audio_s, now=recording.now())
        paced = pacer.speed is not None
        while not stop.is_set() and not state.source_done:
            if not paced:
                # unpaced, a send that the socket takes at once never yields: without this the receive task
                # reads nothing (no final covers audio) until the last chunk is out
                await asyncio.sleep(0)
                if state.hold_for_finals(paced=False):
                    await _hold_for_finals(state, covering, receiver, stop)
                    if stop.is_set():
                        break  # (a connection that ended meanwhile is seen by the next send)
            try:
                if live_source:  # it may wait for its next chunk: a stop must not wait with it
                    got = await _unless_stopped(_anext(source), stop)
                    if isinstance(got, _StopSignal):
                        break
                    chunk = got
                else:
                    chunk = await source.__anext__()
            except StopAsyncIteration:
                state.on_source_end()
                break
            state.take(chunk)  # pending before it is sent: a drop while it waits must not lose it
            delay = pacer.delay(chunk.start)
            if delay > 0:  # a plain sleep: cheap with hundreds of streams; stop is seen within one chunk
                await asyncio.sleep(delay)
            await send(driver.audio(chunk))
            t = recording.now()
            pacer.sent(chunk.start, now=t)
            recording.chunk(seq=state.on_sent(chunk), audio_start=chunk.start, audio_end=chunk.end,
                            nbytes=chunk.nbytes, t=t, data=chunk.data, encoding=chunk.encoding,
                            samplerate=chunk.samplerate, channels=chunk.channels)
        if state.needs_tail_silence(stopping=stop.is_set()):
            await _close_last_turn(driver, send, state, pacer, recording, options, stop, receiver)
            state.on_tail_done()
        for msg in driver.finish():
            recording.message_out(msg)
            await send(msg)
        state.on_finish_sent()
        await _wait_first(terminal.wait(), receiver, options.final_timeout, "the last final after the clean end")
        if not receiver.done():
            await ws.close(1000, "done")
        return _Closed(*await receiver)
    except _Stop as s:
        return _Closed(s.code, s.reason)
    except ConnectionClosed:
        return _Closed(*await receiver)
    finally:
        for helper in (keeper, controller):
            if helper is not None:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, _Stop, ConnectionClosed):
                    await helper
        if not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver


async def _close_last_turn(driver: Driver, send: Callable[[bytes | str], Awaitable[None]], state: StreamState,
                           pacer: Pacer, recording: Recording, options: StreamOptions, stop: asyncio.Event,
                           receiver: asyncio.Task[Any]) -> None:
    """Send trailing silence, then wait until the user's last turn and any reply in progress are done.

    Without this an agent session ended right after the audio loses the last utterance: turn
    detection needs silence to close it, and ``session.end`` would cut the reply short.
    """
    for chunk in state.tail_silence():
        delay = pacer.delay(chunk.start)
        if delay > 0:
            await asyncio.sleep(delay)
        await send(driver.audio(chunk))
        recording.chunk(seq=state.on_sent(chunk), audio_start=chunk.start, audio_end=chunk.end,
                        nbytes=chunk.nbytes, data=chunk.data, encoding=chunk.encoding,
                        samplerate=chunk.samplerate, channels=chunk.channels)
    deadline = None if options.final_timeout is None else recording.now() + options.final_timeout
    while not stop.is_set() and not receiver.done():  # a drop ends the wait: the reconnect finishes up
        if state.last_turn_closed(now_wall_s=recording.now()):
            return
        if deadline is not None and recording.now() >= deadline:
            recording.log("note", text="ending although the last turn or reply was still in progress")
            return
        await asyncio.sleep(LAST_TURN_POLL_WALL_S)


async def _hold_for_finals(state: StreamState, covering: asyncio.Event, receiver: asyncio.Task[Any],
                           stop: asyncio.Event) -> None:
    """Wait while `StreamState.hold_for_finals` says so (unpaced, too much audio in flight).

    Until finals cover enough audio, the connection ends, the user stops, or `IN_FLIGHT_WAIT_WALL_S` passes
    with no final covering audio (then the state is told, and the stream sends on unbounded until a final
    covers more).
    """
    while state.hold_for_finals(paced=False) and not stop.is_set() and not receiver.done():
        covering.clear()
        waiter = asyncio.ensure_future(covering.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({waiter, stopper, receiver}, timeout=IN_FLIGHT_WAIT_WALL_S,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()
        if not done:
            state.on_in_flight_wait_expired()
            return


async def _wait_first(awaitable: Awaitable[Any], receiver: asyncio.Task[Any], timeout: float | None,
                      what: str, *, stop: asyncio.Event | None = None) -> bool:
    """Wait for ``awaitable`` or the end of ``receiver`` (or ``stop``); returns whether ``stop`` came first."""
    waiter = asyncio.ensure_future(awaitable)
    waits: set[asyncio.Future[Any]] = {waiter, receiver}
    stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
    if stopper is not None:
        waits.add(stopper)
    try:
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if stopper is not None:
            stopper.cancel()
    if waiter not in done:
        waiter.cancel()
        if stopper is not None and stopper in done and receiver not in done:
            return True
        if receiver not in done:
            raise StreamTimeout(f"timed out after {timeout} s waiting for {what}; raise the timeout or check "
                                "that audio reaches the server (voicelab inspect) ")
    return False


async def _anext(source: AsyncIterator[Chunk]) -> Chunk:
    return await source.__anext__()


def _log_note(recording: Recording, note: LogNote) -> None:
    recording.log("note", t=note.wall_s, text=note.text, **note.fields)


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
