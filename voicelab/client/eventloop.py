"""The client's event loop: asyncio's selector loop with timers precise to well under a millisecond.

asyncio waits for its next timer in ``epoll_wait``, whose timeout is whole milliseconds: the wait is
rounded up to the next millisecond (and a float rounding in Python sometimes adds one more), so every
paced chunk goes out 0–2 ms late — most of a real-time stream's send error. `PreciseEpollSelector`
instead waits with ``select()`` on the epoll descriptor itself (readable whenever a registered
descriptor is ready), whose timeout has microsecond resolution, then collects the events without
waiting. One extra cheap system call per wait; no busy waiting. On platforms without epoll the
standard loop is used (kqueue's timeouts are already fine-grained).
"""

from __future__ import annotations

import asyncio
import select
import selectors

__all__ = ["PreciseEpollSelector", "new_event_loop"]

#: ``select()`` handles descriptors below this number only (FD_SETSIZE); beyond it the plain wait is used.
FD_SETSIZE = 1024


class PreciseEpollSelector(selectors.EpollSelector):
    """An epoll selector whose timeouts (seconds) are honoured to the microsecond, not rounded up to ms."""

    def __init__(self) -> None:
        super().__init__()
        self._epoll_fd = self.fileno()
        self.precise = self._epoll_fd < FD_SETSIZE

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait up to ``timeout`` seconds (``None``: forever; 0: poll) for registered descriptors.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            ``(key, events)`` pairs of the ready descriptors, as `selectors.EpollSelector.select`.
        """
        if timeout is not None and timeout > 0 and self.precise:
            ready, _, _ = select.select([self._epoll_fd], [], [], timeout)
            if not ready:
                return []
            timeout = 0
        return super().select(timeout)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the client: a selector loop with `PreciseEpollSelector` where epoll exists.

    Returns:
        The loop (not running, not set as the current loop).
    """
    if hasattr(selectors, "EpollSelector"):
        return asyncio.SelectorEventLoop(PreciseEpollSelector())
    return asyncio.new_event_loop()
