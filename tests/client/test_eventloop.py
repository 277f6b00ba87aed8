"""The client's loop: the precise selector reports I/O like epoll and never ends a wait early."""

import asyncio
import selectors
import socket
import time

import pytest

from voicelab.client.eventloop import PreciseEpollSelector, new_event_loop

pytestmark = pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll only")


@pytest.mark.parametrize("precise", [True, False])
def test_selector_reports_ready_descriptors_and_waits_the_full_timeout(precise):
    sel = PreciseEpollSelector()
    sel.precise = precise and sel.precise  # False: the plain epoll wait (descriptor beyond FD_SETSIZE)
    a, b = socket.socketpair()
    try:
        key = sel.register(a, selectors.EVENT_READ, data="a")
        t0 = time.monotonic()
        assert sel.select(0.0123) == []
        assert time.monotonic() - t0 >= 0.0123  # a timeout is a lower bound, never cut short
        b.send(b"x")
        assert sel.select(5.0) == [(key, selectors.EVENT_READ)]  # readiness ends the wait at once
        assert sel.select(0) == [(key, selectors.EVENT_READ)]  # level-triggered, as asyncio expects
        a.recv(1)
        assert sel.select(0) == []
    finally:
        sel.close()
        a.close()
        b.close()


def test_loop_runs_timers_in_order_never_before_they_are_due():
    loop = new_event_loop()

    async def main():
        fired = []

        async def sleeper(name, delay):
            due = loop.time() + delay
            await asyncio.sleep(delay)
            fired.append((name, loop.time() - due))

        await asyncio.gather(*(sleeper(n, d) for n, d in (("c", 0.0153), ("a", 0.0031), ("b", 0.0077))))
        return fired

    try:
        fired = loop.run_until_complete(main())
    finally:
        loop.close()
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert all(late >= 0 for _, late in fired)
