"""`ServerThread`: an asyncio server running on its own daemon thread, for synchronous callers and notebooks.

The emulator (`voicelab.serve`) and the tap (`voicelab.tap`) both run this way: the thread starts the
server's ``start()`` coroutine, the caller waits until it is listening (or failed), and `ServerThread.close`
runs ``stop()`` on the loop, stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from voicelab.errors import VoicelabError

__all__ = ["ServerThread"]


class ServerThread:
    """Run ``start()`` then the loop forever on a daemon thread; ``close()`` runs ``stop()`` and joins.

    Args:
        start: Coroutine function that binds and starts serving (its exception is raised to the caller).
        stop: Coroutine function that closes every session and stops serving.
        loop: The event loop to run (new, not running).
        name: The thread's name.
        error: The `VoicelabError` subclass raised when starting fails or times out.
        what: What is starting, for messages ("the emulator", "the tap").
        log: The logger that records a stop that did not finish cleanly.
        start_timeout_seconds: How long to wait for ``start()``.
        stop_timeout_seconds: How long to wait for ``stop()`` and then for the thread.

    Raises:
        VoicelabError: ``error``: ``start()`` raised (an ``error`` instance is raised as is) or did not finish
            in time.
    """

    def __init__(self, *, start: Callable[[], Coroutine[Any, Any, None]],
                 stop: Callable[[], Coroutine[Any, Any, None]],
                 loop: asyncio.AbstractEventLoop, name: str, error: type[VoicelabError], what: str,
                 log: logging.Logger, start_timeout_seconds: float = 120.0,
                 stop_timeout_seconds: float = 30.0) -> None:
        self._start, self._stop, self.loop = start, stop, loop
        self._log, self._what = log, what
        self._stop_timeout = stop_timeout_seconds
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout_seconds):
            self.close()
            raise error(f"{what} did not start within {start_timeout_seconds:g} s")
        if self._error is not None:
            self._thread.join(stop_timeout_seconds)
            self.loop.close()
            self.closed = True
            if isinstance(self._error, error):
                raise self._error
            raise error(f"{what} failed to start: {self._error}") from self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())

    def close(self) -> bool:
        """Stop the server, the loop and the thread; ``False`` when it was already closed."""
        if self.closed:
            return False
        self.closed = True
        if self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._stop(), self.loop)
            try:
                future.result(self._stop_timeout)
            except Exception:
                self._log.exception("%s did not stop cleanly", self._what)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(self._stop_timeout)
        if not self._thread.is_alive():
            self.loop.close()
        return True
