"""Iterate a caller's audio source from the client's event loop without ever blocking that loop.

A sync iterator's ``next()`` may block for as long as the audio takes to come (a microphone read, a
queue's ``get``). Run on the event loop, it would stall every stream of the process and leave
``Stream.stop()`` unheard until the audio came. `aiterate` steps such an iterator on a daemon thread
of its own, one item per request (so nothing is read ahead of what the stream asks for), and the
loop awaits each item like any other I/O, so it can stop waiting at once. An async iterable, and a
list or tuple (whose items are already there), are iterated directly.

A stream that stops while its thread is blocked in ``next()`` abandons that call: the thread ends
once the iterator yields or ends (it is a daemon, so it never keeps the interpreter alive). When the
stream ends — done, stopped or failed — the thread closes the iterator (a generator's ``finally`` and
``with`` blocks run, so a file it reads is closed) and ends.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["aiterate", "close_source"]

T = TypeVar("T")

#: Marks the end of a sync iterator (``next`` raised StopIteration), which a Future cannot carry.
_END: Any = object()


def aiterate(source: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    """An async iterator over ``source`` that never blocks the event loop waiting for an item.

    Args:
        source: An async iterable (iterated as it is), a list or tuple (iterated in place), or any other
            sync iterable (stepped on a thread of its own).

    Returns:
        The async iterator; a sync iterator's exceptions are raised from it unchanged.
    """
    if isinstance(source, AsyncIterable):
        return source.__aiter__()
    if isinstance(source, (list, tuple)):
        return _inline(source)
    return _threaded(source)


async def close_source(source: object) -> None:
    """Close an iterator a stream read from: ``aclose()`` an async one, ``close()`` a sync one (a generator).

    Its ``finally`` and ``with`` blocks run now, not when it is garbage-collected: a stream that failed keeps
    its error's traceback, whose frames reference the source, so a file it reads would stay open as long as
    the `voicelab.Stream` is kept. Errors while closing are ignored (the stream is over), as is an iterator
    with neither method or one that is running.
    """
    try:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
            return
        close = getattr(source, "close", None)
        if close is not None:
            close()
    except Exception:  # noqa: BLE001, S110 - nobody to raise it to: the stream has ended
        pass


async def _inline(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


async def _threaded(source: Iterable[T]) -> AsyncIterator[T]:
    stepper = _Stepper(source)
    try:
        while True:
            item = await stepper.next()
            if item is _END:
                return
            yield item
    finally:  # the stream ended, stopped or failed: let the thread go (after a next() it is blocked in)
        stepper.close()


class _Stepper:
    """Calls ``next()`` on a sync iterator in a daemon thread, once per `next` request."""

    def __init__(self, source: Iterable[Any]) -> None:
        self._source = source
        self._requests: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]] | None] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None

    def next(self) -> asyncio.Future[Any]:
        """A future for the next item (`_END` at the end), on the running loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voicelab-source", daemon=True)
            self._thread.start()
        self._requests.put((loop, fut))
        return fut

    def close(self) -> None:
        """No more requests: the thread closes the iterator and ends, after the call it may be blocked in."""
        self._requests.put(None)

    def _run(self) -> None:
        it: Iterator[Any] | None = None
        while True:
            request = self._requests.get()
            if request is None:
                close = getattr(it, "close", None)  # a generator: run its finally (a file it reads is closed)
                if close is not None:
                    try:
                        close()
                    except Exception:  # noqa: BLE001 - the stream is over; nobody to raise it to
                        pass
                return
            loop, fut = request
            item: Any = None
            error: BaseException | None = None
            try:
                if it is None:
                    it = iter(self._source)
                item = next(it, _END)
            except BaseException as exc:  # raised again where the item is awaited
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, fut, item, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return


def _settle(fut: asyncio.Future[Any], item: Any, error: BaseException | None) -> None:
    if fut.done():  # the stream stopped waiting (cancelled): the item is dropped with it
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(item)
