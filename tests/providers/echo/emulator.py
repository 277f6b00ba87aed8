"""The Echo STT emulator route: the emulator's shared recognizer behind ``/test/v1/listen``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np

from tests.providers.echo import protocol as wire
from voicelab.emulator.recognizers import RecognizedFinal, RecognizedPartial
from voicelab.emulator.server import ConnectionContext, Route, UpgradeRequest


def _accept(req: UpgradeRequest) -> Any:
    return wire.accept_upgrade(query=req.query, headers=req.headers, api_keys=[req.server.api_key])


async def _handle(conn: Any, ctx: ConnectionContext) -> None:
    rate: int = ctx.config
    ctx.session_id = str(uuid.uuid4())
    stream = await ctx.run_engine(ctx.recognizer.open, samplerate=rate, word_times=False, partials=True)
    keepalives = 0

    async def send(events: list[Any]) -> None:
        for ev in events:
            if isinstance(ev, RecognizedPartial):
                await ctx.send(wire.partial(ev.text))
            elif isinstance(ev, RecognizedFinal):
                await ctx.send(wire.final(ev.text, start=ev.start, end=ev.end))

    await ctx.send(wire.ready(ctx.session_id))
    try:
        async for frame in ctx.frames():
            if isinstance(frame, bytes):
                if await ctx.count_chunk():
                    return
                samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
                await send(await ctx.run_engine(stream.accept, samples, now=ctx.clock()))
                continue
            kind = json.loads(frame).get("type")
            if kind == "keepalive":
                keepalives += 1
            elif kind == "close":
                events = await ctx.run_engine(stream.flush, now=ctx.clock())
                await send([e for e in events if not isinstance(e, RecognizedFinal)])
                text = " ".join(e.text for e in events if isinstance(e, RecognizedFinal))
                await ctx.send(wire.final(text, start=0.0, end=stream.audio_time, last=True, keepalives=keepalives))
                await ctx.close(1000, "")
                return
            else:
                await ctx.fail(f"unknown message type {kind!r}", code=1003)
                return
    finally:
        await ctx.run_engine(stream.close)


def route() -> Route:
    return Route(name=wire.NAME, paths=(wire.PATH,), accept=_accept, handle=_handle,
                 error_frame=lambda message: wire.error(message))
