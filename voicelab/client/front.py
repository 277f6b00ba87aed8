"""The live `Stream` handle and the sync front: `stream` and `replay` (cassette playback).

`stream(...)` returns a `Stream` at once and runs the asyncio client on a
background event-loop thread (one per process), so a notebook cell returns
immediately and widgets update live. ``session.wait()`` blocks,
``await session`` works in a running loop (Jupyter), ``session.stop()``
ends cleanly. No ``asyncio.run()`` inside a running loop, no loop patching.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import numpy as np

from voicelab.audio.chunking import Chunk, chunk
from voicelab.audio.clip import Clip
from voicelab.audio.findings import Finding
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.audio.io import check_output_path, load, require_audio
from voicelab.client.connection import StreamOptions, run_stream
from voicelab.client.echo import EchoLoop, EchoSession, as_echo_loop
from voicelab.client.errors import StreamTimeout
from voicelab.client.eventloop import new_event_loop
from voicelab.client.retry import RetryPolicy
from voicelab.client.sources import aiterate, close_source
from voicelab.errors import VoicelabError
from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import Event, Final, Partial
from voicelab.providers import Driver, DriverOptions, ProviderSpec, get_provider
from voicelab.providers.errors import UnknownProviderError
from voicelab.recording.log import Recording

__all__ = ["Stream", "StreamSetupError", "replay", "stream"]

log = logging.getLogger("voicelab.client")

#: How long (wall seconds) leaving a ``with vl.stream(...) as s:`` block waits for the stream to end after
#: stopping it: the clean end waits for the last final (``final_timeout``, 15 s by default) and the close.
EXIT_TIMEOUT_WALL_S = 30.0

class StreamSetupError(VoicelabError, ValueError):
    """The arguments of `stream` are inconsistent or incomplete."""


class _LoopThread:
    """One daemon thread running an asyncio loop for every session of the process (precise timers)."""

    _lock = threading.Lock()
    _instance: _LoopThread | None = None

    def __init__(self) -> None:
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="voicelab-client", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> _LoopThread:
        with cls._lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = cls()
            return cls._instance


class Stream:
    """A running (or finished) stream: its events, its Recording, and control.

    Not created directly: see `stream` and `replay`. As a context manager (``with vl.stream(...) as s:``)
    it is stopped and waited for when the block is left (see `__exit__`).

    A running stream is referenced by the client's event loop until it ends, so it is never garbage-collected
    while running (dropping the last reference does not stop it, and no warning could fire): stop it, wait
    for it, or use ``with``.
    """

    def __init__(self, *, provider: str, recording: Recording) -> None:
        self.provider = provider
        self.recording = recording
        self.events: list[tuple[float, Event]] = []
        self._callbacks: list[Callable[[float, Event], None]] = []
        self._future: concurrent.futures.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._controls: asyncio.Queue[str] | None = None
        self._can_finalize = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        #: What the pre-flight check found in the audio before the first send (warnings and errors).
        self.preflight: tuple[Finding, ...] = ()

    # -- events ------------------------------------------------------------------------
    def on(self, callback: Callable[[float, Event], None], *, replay: bool = True) -> None:
        """Call ``callback(t, event)`` for every event (on the client thread).

        Args:
            callback: The function; its exceptions are logged, never raised into the stream.
            replay: Also call it at once for the events already received (the past events, not a cassette).
        """
        with self._lock:
            past = list(self.events) if replay else []
            self._callbacks.append(callback)
        for t, ev in past:
            callback(t, ev)

    def _dispatch(self, t: float, ev: Event) -> None:
        with self._lock:
            self.events.append((t, ev))
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(t, ev)
            except Exception:
                log.exception("session callback failed")

    @property
    def transcript(self) -> str:
        """The finals' text so far, joined with spaces."""
        return " ".join(ev.text.strip() for _, ev in list(self.events) if isinstance(ev, Final) and ev.text.strip())

    @property
    def partial(self) -> str:
        """The latest partial text since the last final ('' if none)."""
        text = ""
        for _, ev in list(self.events):
            if isinstance(ev, Partial):
                text = ev.text
            elif isinstance(ev, Final):
                text = ""
        return text

    # -- control -------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Whether the stream has ended (successfully or not)."""
        return self._future is not None and self._future.done()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the stream, if any."""
        if self._future is None or not self._future.done() or self._future.cancelled():
            return None
        return self._future.exception()

    def wait(self, timeout: float | None = None) -> Stream:
        """Block until the stream ends; re-raise its error. A kernel interrupt stops it cleanly.

        Args:
            timeout: Seconds to wait; ``None`` waits as long as it takes.

        Returns:
            The stream itself.

        Raises:
            StreamTimeout: Still running after ``timeout`` seconds (a `TimeoutError`); the stream goes on.
        """
        assert self._future is not None
        if self._loop is not None and _running_loop() is self._loop:
            raise StreamSetupError("wait() was called on the client's own event loop; use 'await session'")
        try:
            self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            if self._future.done():  # the stream itself failed with a timeout (e.g. no last final): its own error
                raise
            raise StreamTimeout(f"the stream is still running after {timeout} s; call .stop() to end it cleanly, "
                                "or wait longer") from None
        except KeyboardInterrupt:
            self.stop()
            try:
                self._future.result(30)
            finally:
                raise
        return self

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        """Leave the ``with`` block: stop the stream if it is still running, then wait for it to end.

        The wait is bounded by `EXIT_TIMEOUT_WALL_S`. With no exception leaving the block, the stream's own
        error is raised as `wait` raises it (a `StreamTimeout` too, when it is still running after the bound);
        with one leaving the block, that exception goes on and the stream's error is only in `error`.
        On the client's own event loop (``async`` code) nothing is waited for: it is only stopped (``await``
        it there).
        """
        if self._future is None:
            return
        if not self.done:
            self.stop()
        if self._loop is not None and _running_loop() is self._loop:
            return
        if exc_type is not None:
            with contextlib.suppress(Exception):  # the block's own exception goes on (an interrupt too)
                self.wait(EXIT_TIMEOUT_WALL_S)
            return
        self.wait(EXIT_TIMEOUT_WALL_S)

    def __await__(self) -> Generator[Any, None, Stream]:
        assert self._future is not None
        yield from asyncio.wrap_future(self._future).__await__()
        return self

    def finalize(self) -> None:
        """Ask the provider for a final for the audio sent so far, keeping the stream open.

        Pulse sends ``{"type":"finalize"}`` and answers with a final marked ``from_finalize``; use it
        at a turn boundary your application knows about. The request is sent once the session is
        ready (after a reconnect, on the new connection).

        Raises:
            StreamSetupError: The provider has no such message (the Voice Agent API ends turns by VAD),
                or this is a replayed Recording.
        """
        if not self._can_finalize or self._loop is None or self._controls is None:
            raise StreamSetupError(f"{self.provider} streams cannot be finalized on request "
                                   "(the provider has no finalize message, or this is a replay)")
        self._loop.call_soon_threadsafe(self._controls.put_nowait, "finalize")

    def stop(self) -> None:
        """End the stream now: safe at any moment, from any thread; returns at once (``wait()`` to block).

        With a connection open: stop sending, end the session cleanly (final / ``session.end``) and let
        the stream finish; no reconnect follows. With none open — still waiting for an iterator's first
        second of audio (the pre-flight check), for a token, for the upgrade, or to reconnect — the stream
        ends at once: nothing is sent, no connection is opened, and the Recording gets a ``close`` entry
        with no code, ``by="user"`` and a reason such as "stopped by the user before connecting, while
        waiting for the first audio".
        """
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def metrics(self, *, reference: Mapping[str, Any] | None = None, audio_offset: float = 0.0) -> Any:
        """Latency metrics from the Recording (see `voicelab.recording.metrics.compute_metrics`)."""
        from voicelab.recording.metrics import compute_metrics

        return compute_metrics(self.recording, reference=reference, audio_offset=audio_offset)

    def __repr__(self) -> str:
        state = "running" if not self.done else ("failed" if self.error else "done")
        finals = sum(isinstance(ev, Final) for _, ev in list(self.events))
        return f"<Stream {self.provider} {state}: {len(self.events)} events, {finals} finals>"

    def _start(self, coro_factory: Callable[[asyncio.Event], Any]) -> None:
        lt = _LoopThread.get()
        self._loop = lt.loop
        # made here, not in main(): a stop() right after stream() returns must not find no event to set
        # (asyncio's Event and Queue bind to the loop that first waits on them)
        stop = self._stop = asyncio.Event()
        self._controls = asyncio.Queue()

        async def main() -> None:
            try:
                await coro_factory(stop)
            finally:
                self.recording.close()

        self._future = asyncio.run_coroutine_threadsafe(main(), lt.loop)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _split_url(spec: ProviderSpec, url: str | None) -> tuple[str | None, str | None, dict[str, str]]:
    """(base_url, endpoint, query) from a user-given URL, which may end with a provider path and a query."""
    if url is None:
        return None, None, {}
    if not url.startswith(("ws://", "wss://")):
        raise StreamSetupError(f"url must start with ws:// or wss:// (not http:// or https://), got {url[:40]!r}")
    url, _, query_text = url.partition("?")
    query = {k: v for k, v in parse_qsl(query_text, keep_blank_values=True)}
    for endpoint, path in spec.paths.items():
        if path in url:
            return url.split(path)[0], endpoint, query
    return url.rstrip("/"), None, query


def _merge_query(spec: ProviderSpec, query: Mapping[str, str], endpoint: str | None,
                 params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params with the URL's query merged in: honoured where the provider takes settings there."""
    merged = dict(params or {})
    if not query:
        return merged
    if spec.params_from_query is None:
        raise StreamSetupError(f"{spec.title} takes no settings in the URL ({', '.join(sorted(query))} given); "
                               "pass them as params=... and the url without its query string")
    try:
        from_url = spec.params_from_query(query, endpoint)
    except ProtocolError as exc:
        raise StreamSetupError(f"the url's query string: {exc}") from None
    for key, value in from_url.items():
        if key in merged and merged[key] != value:
            raise StreamSetupError(f"the url says {key}={query.get(key)!r} but params say {key}={merged[key]!r}; "
                                   "give it in one place")
        merged[key] = value
    return merged


def _driver(spec: ProviderSpec, url: str | None, params: Mapping[str, Any] | None, region: str | None,
            auth: str | None, use_token: bool) -> Driver:
    base, endpoint, query = _split_url(spec, url)
    params = _merge_query(spec, query, endpoint, params)
    if auth is not None and auth not in spec.auth_forms:
        raise StreamSetupError(f"{spec.name} takes auth={' / '.join(map(repr, spec.auth_forms))}, not {auth!r}")
    if use_token and spec.token is None:
        raise StreamSetupError(f"{spec.name} has no temporary tokens voicelab can mint; leave use_token=False")
    # a bad parameter raises the provider's ParameterError, which names it and the fix
    return spec.make_driver(DriverOptions(base_url=base, endpoint=endpoint, region=region,
                                          params=dict(params or {}), auth=auth, use_token=use_token))


def _endpoint(spec: ProviderSpec, driver: Driver, url: str | None, region: str | None) -> tuple[str, str | None]:
    """What the Recording's header names: the URL given, or the vendor host of the region used, and that region.

    With ``url=None`` the driver connects to the provider's host for its region (the default region when
    none was given): the header records that host's URL with the default endpoint's path (no query: the
    session's settings and any credential go in the ``connect`` entries, masked) and the region, as the
    vendors' support pages ask ("US or EU"). With a ``url`` the host is the URL and ``region`` is kept as given.
    """
    if url is not None:
        return url, region
    used = driver.region or region or spec.default_region
    host = spec.hosts.get(used)
    if host is None:  # a driver that names a region its spec has no host for: say so rather than guess
        return f"{spec.title}: no host known for region {used!r}", used
    return host.rstrip("/") + spec.default_path, used


def _clip_chunks(clip: Clip, driver: Driver, chunk_bytes: int | None, chunk_seconds: float | None) -> Iterable[Chunk]:
    clip = clip.to_mono().resample(driver.samplerate)
    target = get_provider(driver.provider).target
    return chunk(clip, encoding=driver.encoding, chunk_bytes=chunk_bytes, chunk_seconds=chunk_seconds, target=target)


async def _as_async(source: Iterable[Chunk] | AsyncIterable[Chunk]) -> AsyncIterator[Chunk]:
    try:
        if isinstance(source, AsyncIterable):
            async for c in source:
                yield c
        else:
            for c in source:
                yield c
    finally:  # done, stopped or failed: a file read block by block is closed now
        await close_source(source)


def _bytes_chunks(source: Iterable[Any] | AsyncIterable[Any], driver: Driver) -> AsyncIterator[Chunk]:
    """Wrap pre-encoded byte chunks (or Chunks) from a sync or async iterator, giving them audio spans."""
    bps = BYTES_PER_SAMPLE.get(driver.encoding)

    async def gen() -> AsyncIterator[Chunk]:
        t = 0.0
        seq = 0
        items = aiterate(source)  # a sync iterator is stepped on a thread: never blocks the loop
        try:
            async for item in items:
                if isinstance(item, Chunk):
                    yield item
                    t = item.end
                    continue
                if isinstance(item, Clip):
                    for c in _clip_chunks(item, driver, None, 0.1):
                        yield Chunk(seq, c.data, c.encoding, c.samplerate, 1, t + c.start, t + c.end)
                        seq += 1
                    t += item.duration
                    continue
                data = bytes(item)
                dur = len(data) / (bps * driver.samplerate) if bps else 0.02
                yield Chunk(seq, data, driver.encoding, driver.samplerate, 1, t, t + dur)
                seq += 1
                t += dur
        finally:  # done, stopped or failed: the reader thread ends and the caller's generator is closed
            await close_source(items)

    return gen()


def stream(
    source: Any,
    *,
    provider: str = "pulse",
    url: str | None = None,
    api_key: str | None = None,
    params: Mapping[str, Any] | None = None,
    region: str | None = None,
    auth: str | None = None,
    use_token: bool = False,
    chunk_bytes: int | None = None,
    chunk_seconds: float | None = None,
    speed: float | None = 1.0,
    samplerate: int | None = None,
    raw: str | None = None,
    record: str | os.PathLike[str] | None = None,
    keep_audio_seconds: float | None = 60.0,
    retry: RetryPolicy | None = None,
    reconnect: bool = True,
    open_timeout: float | None = 10.0,
    final_timeout: float | None = 15.0,
    on_event: Callable[[float, Event], None] | None = None,
    echo: EchoLoop | float | None = None,
    strict: bool = False,
    preflight: bool = True,
) -> Stream:
    """Stream audio to a real-time API (or the local emulator) and return a live `Stream` at once.

    Args:
        source: A Clip, a path, a numpy array (with ``samplerate``), raw bytes (with ``raw``), or a
            sync/async iterator of encoded byte chunks, Chunks or Clips (e.g. from a microphone).
        provider: A registered provider's name (``pulse``, ``assemblyai-agent``; see
            `voicelab.providers.provider_names`).
        url: Base URL (``ws://127.0.0.1:PORT`` for the emulator) or a full provider URL; ``None`` uses the
            vendor's production host.
        api_key: The key; defaults to the provider's variable (``SMALLEST_API_KEY``, ``ASSEMBLYAI_API_KEY``).
        params: The provider's session settings. Pulse: query parameters (``sample_rate``, ``encoding``,
            ``vad_events`` …; voicelab asks for ``word_timestamps``, ``vad_events`` and ``language='en'``
            unless told otherwise). AssemblyAI Voice Agent: the ``session`` object of ``session.update``.
        region: A key of the provider's hosts: Pulse ``india``/``india_pinned``/``us``; AssemblyAI ``us``/``eu``.
            With ``url=None`` the Recording's header names the host connected to and the region used (the
            provider's default when ``None``), for a support request.
        auth: The credential form, one of the provider's ``auth_forms`` (Pulse: ``bearer`` header,
            ``token`` or ``api_key`` query parameter); ``None`` for the provider's default.
        use_token: Mint a short-lived token for each connection through the provider's token endpoint
            (AssemblyAI ``GET /v1/token``, Pulse ``POST /waves/v1/auth/token``).
        chunk_bytes: Bytes per chunk (Pulse default 4096).
        chunk_seconds: Seconds per chunk (AssemblyAI default 0.05).
        speed: Audio seconds per wall second; 1.0 = real time (latency figures are meaningful only then),
            ``None`` = as fast as possible.
        samplerate: Rate of an array source, Hz.
        raw: Declared format of raw byte sources, e.g. ``"linear16:16000:1"``.
        record: Also write the Recording to this JSONL file as it happens.
        keep_audio_seconds: The Recording keeps the bytes sent in the first this many seconds of audio
            (and the audio received meanwhile), so `voicelab.diagnose` can check what was really sent;
            ``None`` keeps everything, ``0`` nothing (privacy).
        retry: Reconnect policy (default: 5 attempts, exponential backoff with jitter).
        reconnect: Reconnect after a drop (resending the audio no final covered yet).
        open_timeout: Seconds for connecting; ``None`` disables.
        final_timeout: Seconds to wait for the last final after the audio ends; ``None`` disables.
        on_event: Called with ``(t, event)`` for each event as it arrives.
        echo: An acoustic loop to reproduce "the agent interrupts itself": the agent's reply audio is
            mixed back into the audio sent, ``delay_seconds`` later and scaled by ``gain``, as speakers
            and a microphone without echo cancellation do (`voicelab.client.echo.EchoLoop`; a number is
            the delay in seconds with the default gain). After the source ends the stream keeps
            sending the echo over silence while the agent talks. Needs ``speed=1.0``; ``None``: no
            loop (headphones).
        strict: When the pre-flight check finds a problem in the audio, refuse to connect and raise
            `voicelab.client.preflight.PreflightError` (naming each finding and its fix) instead of warning.
        preflight: Check the first second of the audio against the declared format before the first
            byte goes out (`voicelab.client.preflight`): each finding is logged in the Recording
            (a ``preflight`` entry), kept in ``Stream.preflight`` and raised as a
            `voicelab.VoicelabWarning`. An iterator source is read one second ahead for it.

    Returns:
        The running Stream: ``.wait()``, ``await session``, ``.stop()``, ``.events``, ``.recording``.
    """
    if chunk_bytes is not None and chunk_seconds is not None:
        raise StreamSetupError("give chunk_bytes or chunk_seconds, not both")
    echo_loop = as_echo_loop(echo)
    if echo_loop is not None and speed != 1.0:
        raise StreamSetupError(f"an echo loop plays the agent's audio in real time; use speed=1.0 with echo=, "
                               f"not speed={speed!r}")
    try:
        spec = get_provider(provider)
    except UnknownProviderError as exc:
        raise StreamSetupError(str(exc)) from None
    key = api_key or os.environ.get(spec.key_env, "")
    if not key:
        raise StreamSetupError(
            f"no API key: pass api_key=... or set {spec.key_env}; "
            "for the offline emulator use `with vl.serve() as server:` and api_key=server.api_key")
    if not isinstance(key, str) or key != key.strip() or not all(" " <= c <= "~" for c in key):  # never echo it
        where = "api_key" if api_key else f"${spec.key_env}"
        raise StreamSetupError(f"{where} has surrounding whitespace, a control character or non-ASCII (a newline "
                               "read from a file?); the key is not shown. Strip it, e.g. api_key=key.strip()")
    driver = _driver(spec, url, params, region, auth, use_token)
    from voicelab.client import preflight as _preflight  # it imports this module
    if echo_loop is not None:
        echo_loop.mixer(samplerate=driver.samplerate, encoding=driver.encoding)  # refuses what it cannot mix
    from voicelab.audio import blocks

    head = blocks.long_file_head(source, encoding=driver.encoding) if raw is None else None
    chunks: AsyncIterator[Chunk]
    source_clip: Clip | None
    # closed when the stream ends, whatever the outcome, outermost first (each also closes the one inside it)
    to_close: list[object] = []
    if head is not None:  # a long file: read, resampled and encoded block by block, never whole in memory
        source_clip = require_audio(head, purpose="stream")  # its first minute, for the pre-flight check
        blocks_read = blocks.file_chunks(source, encoding=driver.encoding, samplerate=driver.samplerate,
                                         chunk_bytes=chunk_bytes, chunk_seconds=chunk_seconds,
                                         target=get_provider(driver.provider).target)
        to_close.append(blocks_read)
        chunks = _as_async(blocks_read)
    elif isinstance(source, (Clip, str, Path, np.ndarray)) or (isinstance(source, (bytes, bytearray)) and raw):
        clip = load(source, samplerate=samplerate, raw=raw) if not isinstance(source, Clip) else source
        require_audio(clip, purpose="stream")  # a 0-frame source would "succeed" with an empty final
        chunks = _as_async(_clip_chunks(clip, driver, chunk_bytes, chunk_seconds))
        source_clip = clip
    elif isinstance(source, (bytes, bytearray)):
        raise StreamSetupError("raw bytes need their format: stream(data, raw='linear16:16000:1', ...)")
    elif isinstance(source, (Iterable, AsyncIterable)):
        source_clip = None
        if preflight:  # read one second ahead for the check, then give it back
            source = _preflight.BufferedSource(source, bytes_per_second=_preflight.bytes_per_second(
                driver.encoding, driver.samplerate))
        chunks = _bytes_chunks(source, driver)
    else:
        raise StreamSetupError(f"cannot stream a {type(source).__name__}; pass a Clip, path, array or iterator")
    if record is not None:  # never write the Recording over the audio it records
        check_output_path(record, source, what="record")
    endpoint, used_region = _endpoint(spec, driver, url, region)
    rec = Recording(record, provider=driver.provider, endpoint=endpoint, region=used_region, params=driver.params,
                    secrets=[key], keep_audio_seconds=keep_audio_seconds)
    sess = Stream(provider=driver.provider, recording=rec)
    if preflight and source_clip is not None:  # in memory: checked here, so warnings point at the caller
        checked = _preflight.check_clip(source_clip, target=spec.target, encoding=driver.encoding,
                                        samplerate=driver.samplerate, chunk_bytes=chunk_bytes,
                                        chunk_seconds=chunk_seconds)
        sess.preflight = checked.findings
        try:
            _preflight.report(checked, recording=rec, strict=strict, stacklevel=2)
        except _preflight.PreflightError:
            rec.close()
            raise
    if on_event is not None:
        sess.on(on_event)
    if echo_loop is not None:
        echoes = EchoSession(echo_loop, samplerate=driver.samplerate, encoding=driver.encoding, clock=rec.now)
        chunks = echoes.chunks(chunks)
        sess.on(echoes.on_event)
        rec.log("echo_loop", delay_seconds=echo_loop.delay_seconds, gain=echo_loop.gain,
                tail_seconds=echo_loop.tail_seconds)
    options = StreamOptions(speed=speed, open_timeout=open_timeout, final_timeout=final_timeout,
                            retry=retry or RetryPolicy(), reconnect=reconnect)
    sess._can_finalize = bool(driver.finalize())
    buffered = source if isinstance(source, _preflight.BufferedSource) else None

    async def check_first_second() -> None:  # an iterator: its first second is read ahead and checked
        assert buffered is not None
        checked = await _preflight.check_iterator(buffered, target=spec.target, encoding=driver.encoding,
                                                  samplerate=driver.samplerate)
        sess.preflight = checked.findings
        _preflight.report(checked, recording=rec, strict=strict, stacklevel=1)

    to_close[:0] = [chunks] + ([buffered] if buffered is not None else [])

    async def run(stop: asyncio.Event) -> None:
        try:
            # a stop while the first second is read (no audio yet) ends the stream before connecting
            await run_stream(driver=driver, api_key=key, chunks=chunks, recording=rec, options=options,
                             on_event=sess._dispatch, stop=stop, controls=sess._controls,
                             before_connect=check_first_second if buffered is not None else None,
                             live_source=source_clip is None)
        finally:
            # whatever the outcome, now: a failed stream keeps its error, whose traceback's frames reference
            # the source, so a file (or a generator's reader thread) would otherwise live as long as the Stream
            for source_ in to_close:
                await close_source(source_)

    sess._start(run)
    return sess


def replay(recording: Recording | str | os.PathLike[str], *, timing: Literal["original", "fast"] = "fast",
           on_event: Callable[[float, Event], None] | None = None) -> Stream:
    """Play a Recording back through the same event API (a cassette: no network, no key).

    Args:
        recording: A Recording or the path of its JSONL file.
        timing: ``original`` re-creates the original gaps between messages; ``fast`` plays at once.
        on_event: Called with ``(t, event)`` per event, as in `stream`.

    Returns:
        A Stream whose events equal the recorded session's events.
    """
    rec = recording if isinstance(recording, Recording) else Recording.load(recording)
    sess = Stream(provider=rec.provider, recording=rec)
    if on_event is not None:
        sess.on(on_event)
    events = rec.events()

    async def play(stop: asyncio.Event) -> None:
        start = time.monotonic()
        for t, ev in events:
            if stop.is_set():
                break
            if timing == "original":
                delay = t - (time.monotonic() - start)
                if delay > 0 and not math.isinf(delay):
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                        break
                    except TimeoutError:
                        pass
            sess._dispatch(t, ev)

    sess._start(play)
    return sess
