"""Writing a frame without a trip through websockets' async send machinery, when nothing can block.

``ClientConnection.send`` wraps every message in an async context manager that checks the connection
state, serialises the frame, writes it and drains the transport. For a small frame on an open
connection whose transport is not backed up, the waiting parts never wait, yet they cost about two
thirds of the send (roughly 16 µs of 23 µs for a 640-byte audio frame, per chunk of every stream).
`send_now` does the same steps synchronously in exactly that case and declines otherwise, so the
caller falls back to ``await ws.send(...)``: state errors, fragmented messages in progress and flow
control (the transport above its high-water mark) all keep websockets' own handling.
"""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.protocol import State

__all__ = ["can_send_now", "send_now"]


def can_send_now(ws: Connection) -> bool:
    """Whether a binary frame can be written at once: open, no fragmented send, transport not paused.

    Args:
        ws: A websockets asyncio connection.

    Returns:
        False also when this websockets version lacks an attribute the fast path needs.
    """
    try:
        return (ws.protocol.state is State.OPEN and ws.send_in_progress is None and not ws.paused
                and not ws.transport.is_closing() and _has_send_data(type(ws)))
    except AttributeError:  # another websockets version: always take the regular path
        return False


_CAPABLE: dict[type, bool] = {}


def _has_send_data(cls: type) -> bool:
    """Whether ``cls`` has websockets' ``send_data`` (which writes what the protocol queued), cached per class."""
    ok = _CAPABLE.get(cls)
    if ok is None:
        ok = _CAPABLE[cls] = callable(getattr(cls, "send_data", None))
    return ok


def send_now(ws: Connection, message: bytes | str) -> bool:
    """Write ``message`` as one frame now if `can_send_now`; else do nothing.

    Args:
        ws: A websockets asyncio connection.
        message: ``bytes`` go out as a binary frame, ``str`` as a text frame (UTF-8), as with ``ws.send``.

    Returns:
        Whether the frame was written; on False the caller must ``await ws.send(message)``.
    """
    if not can_send_now(ws):
        return False
    if isinstance(message, str):
        ws.protocol.send_text(message.encode())
    else:
        ws.protocol.send_binary(message)
    ws.send_data()
    return True
