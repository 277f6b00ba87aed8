"""The synchronous send path writes the same frames as ``ws.send`` and declines whenever it could block."""

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from voicelab.client.fastsend import can_send_now, send_now


async def _exchange(steps):
    """Run ``steps(ws)`` against a server that collects what it receives until the client closes."""
    received: list[bytes | str] = []

    async def handler(conn):
        async for msg in conn:
            received.append(msg)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", compression=None)
        result = await steps(ws)
        await ws.close()
        await asyncio.sleep(0.05)
    return received, result


def test_frames_go_out_in_order_with_their_type():
    async def steps(ws):
        assert can_send_now(ws)  # the fast path is live with the installed websockets
        sent = [send_now(ws, b"\x01\x02" * 320), send_now(ws, '{"type":"finalize"}')]
        await ws.send(b"slow path")
        sent.append(send_now(ws, b"\x03"))
        return sent

    received, sent = asyncio.run(_exchange(steps))
    assert sent == [True, True, True]
    assert received == [b"\x01\x02" * 320, '{"type":"finalize"}', b"slow path", b"\x03"]


def test_declines_when_flow_control_paused_or_closed():
    async def steps(ws):
        ws.paused = True  # as websockets sets it when the transport is above its high-water mark
        paused = send_now(ws, b"not now")
        ws.paused = False
        await ws.close()
        closed = send_now(ws, b"closed")
        return paused, closed

    received, (paused, closed) = asyncio.run(_exchange(steps))
    assert (paused, closed) == (False, False)
    assert received == []  # a declined frame is not half-written: the caller's ws.send sends it once
