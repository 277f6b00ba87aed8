"""Soak: one emulator (sphinx), 20 clients streaming in a loop through drops, closes and resumes.

For `SOAK_SECONDS` the 20 clients (16 Pulse, 4 Voice Agent, all voicelab's own client) each stream a clip
at real time, end it cleanly, check the result and start again. The server drops every connection after
`DROP_AFTER_CHUNKS` audio chunks (no close frame: the client reconnects, resends what no final covered,
and the agent resumes its session); a third of the Pulse rounds also get an injected close 1011 per
connection (``vl_fault``). Beside them, a slow reader (a plain WebSocket client that reads its messages
late, so the server's sends queue up) and an idle client (connects, sends nothing, is closed 4003 by
the idle timeout, and comes back) run the whole time.

At the end: every Pulse round's final transcript is complete (agent rounds: see the known issue in the
test) — it ends with the terminal final, all the audio was sent, and it covers the audio as the
undisturbed transcript of the same clip does (most words shared: sphinx re-segments resent audio; last
word at the same place) — no session is left open, and the process's file descriptors and RSS are back
near their baseline. Figures go to benchmarks/README.md ("Soak"); the run prints them.
"""

from __future__ import annotations

import asyncio
import difflib
import gc
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets

import voicelab as vl
import voicelab.emulator as emulator
from tests.conftest import DATA
from voicelab.client import RetryPolicy
from voicelab.protocols.events import Final

pytestmark = pytest.mark.timeout(300)

CLIENTS = 20
AGENTS = 4
#: CI soaks 30 s; the long form (VOICELAB_LONG_TESTS=1) 300 s; VOICELAB_SOAK_SECONDS sets any length.
SOAK_SECONDS = float(os.environ.get("VOICELAB_SOAK_SECONDS", "300" if os.environ.get("VOICELAB_LONG_TESTS") else "30"))
#: Server-wide: every connection is dropped after this many audio chunks (Pulse 128 ms chunks: 10.9 s of audio;
#: agent 100 ms chunks: 8.5 s). A drop must leave the next connection room to make progress: the client resends
#: the audio no final covered yet, and those chunks count again.
DROP_AFTER_CHUNKS = 85
AGENT_CHUNK_SECONDS = 0.1
#: Each client rests this long between rounds (seconds), as a user between takes: about 16 streams at once.
PAUSE_SECONDS = 1.5
#: Idle timeout of the soak's server (the default is 60 s), so the idle client is closed a few times.
IDLE_TIMEOUT = 8.0
PULSE_CLIPS = ("s04_support_16k.flac", "s02_weather_16k.flac", "s01_fox_16k.flac", "s06_short_16k.flac")
AGENT_CLIPS = ("s04_support_24k.flac", "s02_weather_24k.flac")
RSS_SLACK_MB = 100.0
#: Under a sphinx decoder re-segmenting resent audio, a transcript after a drop differs in places from the
#: undisturbed one (sphinx is not stable across segment boundaries); a complete one still shares most words.
MIN_SIMILARITY = 0.5
RETRY = RetryPolicy(max_attempts=6, base=0.1, cap=1.0)
FINAL_TIMEOUT = 60.0


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def words(text: str) -> list[str]:
    return [w.strip(".,?!").lower() for w in text.split() if w.strip(".,?!")]


@dataclass
class Reference:
    text: str
    last_word_end: float | None
    duration: float


@dataclass
class Round:
    client: int
    clip: str
    faults: str
    gaps: int
    resumed: int
    similarity: float
    last_word_end: float | None
    ok: bool
    problem: str = ""


@dataclass
class Tally:
    rounds: list[Round] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    idle_closes: list[int | None] = field(default_factory=list)
    slow_reader: list[str] = field(default_factory=list)

    def add(self, r: Round) -> None:
        with self.lock:
            self.rounds.append(r)


def last_word_end(stream: Any) -> float | None:
    ends = [w.end for _, ev in stream.events if isinstance(ev, Final) for w in ev.words]
    return max(ends) if ends else None


def reference(server: Any, clip: vl.Clip, provider: str) -> Reference:
    """The undisturbed transcript: no drop (Pulse: a per-connection fault overrides the server's; the agent,
    which takes no query, sends 0.5 s chunks, so `DROP_AFTER_CHUNKS` of them are longer than the clip)."""
    if provider == "pulse":
        kw: dict[str, Any] = {"params": {"extra": {"vl_fault": "drop_after_chunks:1000000"}}}
    else:
        kw = {"chunk_seconds": 0.5}
    s = vl.stream(clip, provider=provider, url=server.url, api_key=server.api_key, speed=1.0, **kw)
    s.wait(120)
    assert not s.recording.of("gap"), "the reference stream was disturbed"
    return Reference(s.transcript, last_word_end(s), clip.duration)


def check(client: int, name: str, faults: str, s: Any, ref: Reference, err: BaseException | None) -> Round:
    sim = difflib.SequenceMatcher(a=words(ref.text), b=words(s.transcript), autojunk=False).ratio()
    end = last_word_end(s)
    gaps = len(s.recording.of("gap"))
    resumed = sum(1 for h in s.recording.of("handshake") if h.get("resumed"))
    problems = []
    if err is not None:
        problems.append(f"{type(err).__name__}: {err}")
    terminal = s.events[-1][1] if s.events else None
    if terminal is None or terminal.kind not in ("final", "session_ended", "turn_end") or \
            (isinstance(terminal, Final) and not terminal.is_last):
        problems.append(f"no terminal event (last: {terminal!r:.80})")
    sent_until = max((float(c["audio_end"]) for c in s.recording.of("chunk")), default=0.0)
    if sent_until < ref.duration - 0.01:
        problems.append(f"audio sent up to {sent_until:.2f} s of {ref.duration:.2f} s")
    if sim < MIN_SIMILARITY:
        problems.append(f"transcript differs from the undisturbed one (similarity {sim:.2f}): "
                        f"{s.transcript!r:.120} vs {ref.text!r:.120}")
    if ref.last_word_end is not None and (end is None or end < ref.last_word_end - 1.5):
        problems.append(f"the last word ends at {end}, the undisturbed one at {ref.last_word_end:.2f}")
    return Round(client, name, faults, gaps, resumed, round(sim, 3), end, not problems, "; ".join(problems))


def pulse_client(i: int, server: Any, clips: dict, refs: dict, deadline: float, tally: Tally) -> None:
    k = 0
    while time.monotonic() < deadline:
        name = PULSE_CLIPS[(i + k) % len(PULSE_CLIPS)]
        faults = "close_after_chunks:80;close_code:1011" if (i + k) % 3 == 0 else ""
        params = {"extra": {"vl_fault": faults}} if faults else None
        s = vl.stream(clips[name], url=server.url, api_key=server.api_key, speed=1.0, retry=RETRY, params=params,
                      final_timeout=FINAL_TIMEOUT)
        try:
            s.wait(120)
            err = None
        except vl.VoicelabError as exc:
            err = exc
        tally.add(check(i, name, faults or f"drop_after_chunks:{DROP_AFTER_CHUNKS}", s, refs[name], err))
        k += 1
        time.sleep(PAUSE_SECONDS)


def agent_client(i: int, server: Any, clips: dict, refs: dict, deadline: float, tally: Tally) -> None:
    k = 0
    while time.monotonic() < deadline:
        name = AGENT_CLIPS[(i + k) % len(AGENT_CLIPS)]
        s = vl.stream(clips[name], provider="assemblyai-agent", url=server.url, api_key=server.api_key,
                      speed=1.0, retry=RETRY, chunk_seconds=AGENT_CHUNK_SECONDS, final_timeout=FINAL_TIMEOUT)
        try:
            s.wait(120)
            err = None
        except vl.VoicelabError as exc:
            err = exc
        tally.add(check(i, name, f"drop_after_chunks:{DROP_AFTER_CHUNKS}", s, refs[name], err))
        k += 1
        time.sleep(PAUSE_SECONDS)


async def slow_round(ws: Any, pcm: bytes) -> tuple[list[str], bool]:
    """One stream at real time whose messages are read 0.5 s late each until the audio ends, then drained."""
    finals: list[str] = []
    last = False
    sending_done = asyncio.Event()

    async def read() -> None:
        nonlocal last
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("is_final") and msg.get("transcript"):
                finals.append(msg["transcript"])
            last = last or bool(msg.get("is_last"))
            if not sending_done.is_set():
                await asyncio.sleep(0.5)

    reader = asyncio.create_task(read())
    for j in range(0, len(pcm), 4096):
        await ws.send(pcm[j : j + 4096])
        await asyncio.sleep(4096 / 32000)
    await ws.send(json.dumps({"type": "close_stream"}))
    sending_done.set()
    await asyncio.wait_for(reader, 60)
    return finals, last


async def slow_reader(server: Any, pcm: bytes, ref: Reference, deadline: float, tally: Tally) -> None:
    """A plain WebSocket client that reads late, round after round (no drop for it: it does not reconnect)."""
    url = server.url_for("pulse") + "&vl_fault=drop_after_chunks:1000000"
    while time.monotonic() < deadline:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {server.api_key}"},
                                      max_queue=4) as ws:
            finals, last = await slow_round(ws, pcm)
        sim = difflib.SequenceMatcher(a=words(ref.text), b=words(" ".join(finals)), autojunk=False).ratio()
        tally.slow_reader.append(f"is_last={last} close={ws.close_code} similarity={sim:.2f}")


async def idle_client(server: Any, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        async with websockets.connect(server.url_for("pulse"),
                                      additional_headers={"Authorization": f"Bearer {server.api_key}"}) as ws:
            with_timeout = IDLE_TIMEOUT + 10
            try:
                await asyncio.wait_for(ws.wait_closed(), with_timeout)
            except TimeoutError:
                pass
        tally.idle_closes.append(ws.close_code)


def test_soak_20_clients_with_drops_resumes_a_slow_reader_and_an_idle_client(capsys) -> None:
    limits = emulator.Limits(idle_timeout=IDLE_TIMEOUT)
    pulse_clips = {n: vl.load(DATA / "speech" / n) for n in PULSE_CLIPS}
    agent_clips = {n: vl.load(DATA / "speech" / n) for n in AGENT_CLIPS}
    t_start = time.monotonic()
    with vl.serve(engine="sphinx", announce=False, limits=limits, concurrency_limit=CLIENTS + 5,
                  faults=f"drop_after_chunks:{DROP_AFTER_CHUNKS}") as server:
        refs: dict[str, Reference] = {}
        threads = [threading.Thread(target=lambda n=n, c=c, p=p: refs.__setitem__(n, reference(server, c, p)))
                   for n, c, p in [*((n, c, "pulse") for n, c in pulse_clips.items()),
                                   *((n, c, "assemblyai-agent") for n, c in agent_clips.items())]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(refs) == set(PULSE_CLIPS) | set(AGENT_CLIPS)
        time.sleep(1.5)  # the server trims a second after sessions end
        base_rss, base_fds = rss_mb(), fds()

        tally = Tally()
        deadline = time.monotonic() + SOAK_SECONDS
        t0 = time.monotonic()
        workers = [threading.Thread(target=agent_client if i < AGENTS else pulse_client,
                                    args=(i, server, agent_clips if i < AGENTS else pulse_clips, refs, deadline, tally))
                   for i in range(CLIENTS)]
        pcm = (pulse_clips["s04_support_16k.flac"].samples * 32767).astype("<i2").tobytes()

        async def side_clients() -> None:
            await asyncio.gather(slow_reader(server, pcm, refs["s04_support_16k.flac"], deadline, tally),
                                 idle_client(server, deadline, tally))

        side = threading.Thread(target=lambda: asyncio.run(side_clients()))
        for w in [*workers, side]:
            w.start()
        for w in [*workers, side]:
            w.join(240)
        soak_seconds = time.monotonic() - t0
        for _ in range(40):  # sessions end and the server trims
            if server.sessions == 0:
                break
            time.sleep(0.25)
        gc.collect()
        time.sleep(1.5)
        open_sessions = server.sessions
        end_rss, end_fds = rss_mb(), fds()

    rounds = tally.rounds
    bad = [r for r in rounds if not r.ok]
    figures = {
        "clients": CLIENTS, "soak_seconds": round(soak_seconds, 1), "total_seconds": round(time.monotonic() - t_start),
        "rounds": len(rounds), "complete": len(rounds) - len(bad), "drops_and_closes": sum(r.gaps for r in rounds),
        "resumed_connections": sum(r.resumed for r in rounds),
        "min_similarity": min(r.similarity for r in rounds) if rounds else None,
        "slow_reader_rounds": len(tally.slow_reader), "idle_closes": tally.idle_closes,
        "rss_base_mb": round(base_rss), "rss_end_mb": round(end_rss), "fds_base": base_fds, "fds_end": end_fds,
        "open_sessions": open_sessions,
    }
    with capsys.disabled():
        print(f"\nsoak: {figures}")
        if os.environ.get("VOICELAB_SOAK_DUMP"):
            for r in rounds:
                print(r)
            print(tally.slow_reader)
    # Known issue (reported on issue 13): under this load the Voice Agent client may send session.end while the
    # server still works on the user's last turn (its "last turn closed" rule waits for 0.5 s of quiet), and a
    # resume can loop when the resent audio alone reaches the drop; those agent rounds lose the end of the
    # transcript. Until the client is fixed, agent rounds must be complete in at least 3 of 4; Pulse rounds
    # always.
    agent_bad = [r for r in bad if r.client < AGENTS]
    pulse_bad = [r for r in bad if r.client >= AGENTS]
    agent_rounds = [r for r in rounds if r.client < AGENTS]
    assert not pulse_bad, [f"client {r.client} {r.clip} ({r.faults}): {r.problem}" for r in pulse_bad]
    assert len(agent_bad) <= len(agent_rounds) // 4, [f"client {r.client} {r.clip}: {r.problem}" for r in agent_bad]
    assert len(rounds) >= CLIENTS * 3, figures  # every client went round at least three times
    assert sum(r.gaps for r in rounds) >= CLIENTS, figures  # drops and closes happened, and were survived
    assert sum(r.resumed for r in rounds) >= AGENTS, figures  # agent sessions resumed after their drops
    assert tally.slow_reader and all(s.startswith("is_last=True close=1000") for s in tally.slow_reader), \
        tally.slow_reader
    assert all(float(s.rsplit("=", 1)[1]) >= MIN_SIMILARITY for s in tally.slow_reader), tally.slow_reader
    assert tally.idle_closes and set(tally.idle_closes) == {4003}, tally.idle_closes
    assert open_sessions == 0
    assert end_fds <= base_fds + 3, figures
    assert end_rss <= base_rss + RSS_SLACK_MB, figures
