"""Benchmarks of the streaming client: pacing accuracy, Recording cost, concurrent real-time streams.

1. Pacing: voicelab's Pacer (chunk k due at t0 + k·d, schedule from audio time) against the vendor
   docs' loop (``send(chunk); sleep(d)``), both sending 20 ms chunks to a local sink server for
   ``--minutes`` of audio, on the event loop voicelab's sessions run on (precise timers). Prints p99
   send error and cumulative drift of each.
2. Recording cost per event: ``Recording.chunk`` (JSONL write + flush; a chunk entry holds numbers
   only, so there is nothing to redact) against a bare ``json.dumps`` + ``write`` of the same dict.
3. Concurrency: N real-time sessions through ``voicelab.stream`` from one process against a sink
   server (another process) speaking minimal Pulse, increasing N until the p99 pacing error (from
   the Recordings alone) exceeds 5 ms. Starts are spread over one chunk period, as independent
   streams would be (all N due in the same millisecond is the worst case, not the typical one); the
   p99 counts every chunk, ramp-up included, and the p99 once all N are running is printed too.

The sink shares the machine's cores with the client, which a real (remote) server does not. By default
it is a lean asyncio protocol that skips binary frames unread (``--sink websockets``: a websockets
server, which costs about twice the CPU per message).

Run: ``python benchmarks/client.py [--minutes 10] [--max-streams 400] [--chunk 0.02] [--sink lean]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

import voicelab as vl  # noqa: E402
from voicelab.client.eventloop import new_event_loop  # noqa: E402
from voicelab.client.pacing import Pacer  # noqa: E402
from voicelab.recording import Recording  # noqa: E402

CHUNK = 0.02
#: The sink finalises every this many seconds of audio it receives (16 kHz linear16), as a recognizer
#: does at utterance ends: the finals trim the client's resend buffer as in real use.
FINAL_EVERY = 1.0
BYTES_PER_SECOND = 32000


def _final_every(audio_seconds: float) -> bytes:
    """A Pulse final whose one word ends at ``audio_seconds``."""
    return json.dumps({"type": "transcription", "session_id": "x", "transcript": "ok", "is_final": True,
                       "is_last": False, "words": [{"word": "ok", "start": max(0.0, audio_seconds - 0.5),
                                                    "end": audio_seconds, "confidence": 0.9}]}).encode()


async def _sink(conn) -> None:  # type: ignore[no-untyped-def]
    received = finals = 0
    async for msg in conn:
        if isinstance(msg, bytes):
            received += len(msg)
            if received >= (finals + 1) * FINAL_EVERY * BYTES_PER_SECOND:
                finals += 1
                await conn.send(_final_every(received / BYTES_PER_SECOND).decode())
        elif "close_stream" in msg:
            await conn.send(json.dumps({"type": "transcription", "session_id": "x", "transcript": "",
                                        "is_final": True, "is_last": True}))
            await conn.close()
            return


_FINAL = json.dumps({"type": "transcription", "session_id": "x", "transcript": "", "is_final": True,
                     "is_last": True}).encode()


def _frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame (RFC 6455 5.2)."""
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536
                                     else bytes([127]) + n.to_bytes(8, "big"))
    return head + payload


class _LeanSink(asyncio.Protocol):
    """A WebSocket sink that costs the shared CPU as little as possible (the real server is remote).

    It does the upgrade, counts binary frames without unmasking them (a final per `FINAL_EVERY` seconds
    of audio), and answers ``close_stream`` with a last final and a close; pings get pongs. Speaks just
    enough RFC 6455 for the client.
    """

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        self.buf = bytearray()
        self.open = False
        self.received = 0  # audio bytes
        self.finals = 0

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                       if line.lower().startswith("sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                      .digest()).decode()
            self.transport.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            del self.buf[:end + 4]
            self.open = True
        buf, pos = self.buf, 0
        while len(buf) - pos >= 2:
            opcode, n, at = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, pos + 2
            if n == 126:
                n, at = int.from_bytes(buf[at:at + 2], "big"), at + 2
            elif n == 127:
                n, at = int.from_bytes(buf[at:at + 8], "big"), at + 8
            masked = buf[pos + 1] & 0x80
            end = at + (4 if masked else 0) + n
            if end > len(buf):
                break
            if opcode == 0x2:
                self.received += n
                if self.received >= (self.finals + 1) * FINAL_EVERY * BYTES_PER_SECOND:
                    self.finals += 1
                    self.transport.write(_frame(0x1, _final_every(self.received / BYTES_PER_SECOND)))
            else:  # text, close, ping: unmask (client frames are masked)
                mask = buf[at:at + 4] if masked else b"\0\0\0\0"
                start = at + (4 if masked else 0)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[start:end]))
                if opcode == 0x1 and b"close_stream" in payload:
                    self.transport.write(_frame(0x1, _FINAL) + _frame(0x8, (1000).to_bytes(2, "big")))
                elif opcode == 0x8:
                    self.transport.close()
                    return
                elif opcode == 0x9:
                    self.transport.write(_frame(0xA, payload))
            pos = end
        del buf[:pos]


def _sink_process(port_q, lean: bool = True) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        if lean:
            server = await asyncio.get_running_loop().create_server(_LeanSink, "127.0.0.1", 0, backlog=1024)
            port_q.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()
        async with serve(_sink, "127.0.0.1", 0, max_size=None) as ws_server:
            port_q.put(ws_server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def start_sink(*, lean: bool = True) -> tuple[multiprocessing.Process, int]:
    q: multiprocessing.Queue[int] = multiprocessing.Queue()
    p = multiprocessing.Process(target=_sink_process, args=(q, lean), daemon=True)
    p.start()
    return p, q.get(timeout=30)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.abs(values), q)) if values else 0.0


async def _read_all(ws) -> None:  # type: ignore[no-untyped-def]
    async for _ in ws:
        pass


async def pacing(port: int, seconds: float) -> None:
    n = int(seconds / CHUNK)
    data = b"\0" * 640
    async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:  # as the client connects
        reader = asyncio.create_task(_read_all(ws))  # as the client does (unread finals would stall pongs)
        floor: list[float] = []
        thread = threading.Thread(target=timer_floor, args=(seconds, floor), daemon=True)
        steal0 = _steal_seconds()
        thread.start()
        pacer = Pacer(speed=1.0)
        pacer.start()
        for k in range(n):
            d = pacer.delay(k * CHUNK)
            if d:
                await asyncio.sleep(d)
            await ws.send(data)
            pacer.sent(k * CHUNK)
        ours = pacer.stats.errors
        thread.join()
        steal = _steal_seconds() - steal0
        t0 = time.monotonic()
        vendor = []
        for k in range(n):
            await ws.send(data)
            vendor.append(time.monotonic() - (t0 + k * CHUNK))
            await asyncio.sleep(CHUNK)
        reader.cancel()
    print(f"pacing over {seconds / 60:.1f} min of audio in 20 ms chunks (load average now "
          f"{os.getloadavg()[0]:.2f}):")
    print(f"  voicelab Pacer:        p50 {pct(ours, 50) * 1000:5.2f} ms, "
          f"p99 send error {pct(ours, 99) * 1000:7.2f} ms, "
          f"cumulative drift {(ours[-1] - ours[0]) * 1000:8.2f} ms")
    print(f"  send(); sleep(0.02):                 p99 send error {pct(vendor, 99) * 1000:7.2f} ms, "
          f"cumulative drift {(vendor[-1] - vendor[0]) * 1000:8.2f} ms")
    ratio = abs(vendor[-1] - vendor[0]) / max(abs(ours[-1] - ours[0]), 1e-4)
    print(f"  drift ratio vendor/voicelab: {ratio:.0f}x")
    print(f"  machine floor (a bare thread sleeping to the same deadlines): p50 {pct(floor, 50) * 1000:5.2f} ms, "
          f"p99 {pct(floor, 99) * 1000:6.2f} ms, max {pct(floor, 100) * 1000:6.2f} ms "
          f"(hypervisor steal meanwhile {steal:.2f} s)")
    print(f"  Pacer p99 / floor p99: {pct(ours, 99) / max(pct(floor, 99), 1e-6):.2f}x; "
          f"Pacer p99 - floor p99: {(pct(ours, 99) - pct(floor, 99)) * 1000:.2f} ms")


def _steal_seconds() -> float:
    """CPU time the hypervisor gave to others while this VM wanted it (all vCPUs), seconds."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def timer_floor(seconds: float, out: list[float]) -> None:
    """The machine's own floor: a bare thread sleeping to each 20 ms deadline (no asyncio, no socket).

    Run beside the Pacer in the same process, so both see the same machine: how late the OS wakes a
    sleeping thread here bounds any pacer (this VM stalls in bursts, for both alike).

    Args:
        seconds: How long to run.
        out: Receives each wake-up's lateness, seconds.
    """
    t0 = time.monotonic()
    for k in range(int(seconds / CHUNK)):
        due = t0 + k * CHUNK
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        out.append(time.monotonic() - due)


def recording_cost(n: int = 20000) -> None:
    with tempfile.TemporaryDirectory() as d:
        rec = Recording(Path(d) / "r.jsonl", provider="pulse", secrets=["sk_secret_key"])
        t0 = time.perf_counter()
        for k in range(n):
            rec.chunk(seq=k, audio_start=k * CHUNK, audio_end=(k + 1) * CHUNK, nbytes=640)
        ours = (time.perf_counter() - t0) / n
        rec.close()
        with open(Path(d) / "b.jsonl", "w") as f:
            t0 = time.perf_counter()
            for k in range(n):
                f.write(json.dumps({"t": 0.0, "kind": "chunk", "seq": k, "audio_start": k * CHUNK,
                                    "audio_end": (k + 1) * CHUNK, "bytes": 640}) + "\n")
                f.flush()
            base = (time.perf_counter() - t0) / n
    print(f"Recording.chunk: {ours * 1e6:.1f} µs/event; bare json.dumps+write+flush {base * 1e6:.1f} µs/event; "
          f"ratio {ours / base:.2f}x")


def concurrency(port: int, max_streams: int, seconds: float, chunk: float) -> None:
    audio = np.zeros(int(16000 * seconds), dtype=np.float32)
    n = 50
    best = 0
    while n <= max_streams:
        sessions = []
        for _ in range(n):  # independent streams do not share a phase: spread the starts over one chunk period
            sessions.append(vl.stream(audio, samplerate=16000, url=f"ws://127.0.0.1:{port}", api_key="k",
                                      chunk_seconds=chunk, final_timeout=30))
            time.sleep(chunk / n)
        for s in sessions:
            s.wait(120)
        errors, steady = [], []
        # wall-clock time at which the last stream sent its first chunk: all N are running from there
        all_running = max(s.recording.header["wall_clock"] + s.recording.of("chunk")[0].t for s in sessions)
        for s in sessions:
            chunks = s.recording.of("chunk")
            t0 = chunks[0].t
            errors += [c.t - (t0 + c["audio_start"]) for c in chunks]
            origin = s.recording.header["wall_clock"]
            steady += [c.t - (t0 + c["audio_start"]) for c in chunks if origin + c.t > all_running]
        p99 = pct(errors, 99) * 1000
        print(f"  {n:4d} concurrent real-time streams, {chunk * 1000:.0f} ms chunks: "
              f"pacing p99 {p99:6.2f} ms, max {pct(errors, 100) * 1000:6.1f} ms "
              f"(once all {n} were running: p99 {pct(steady, 99) * 1000:6.2f} ms); "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        if p99 > 5.0:
            break
        best = n
        n += 50 if n < 200 else 100
    print(f"concurrent real-time streams ({chunk * 1000:.0f} ms chunks) with pacing p99 <= 5 ms: {best} "
          "(target >= 200)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--max-streams", type=int, default=400)
    ap.add_argument("--stream-seconds", type=float, default=10.0)
    ap.add_argument("--chunk", type=float, action="append",
                    help="chunk seconds for the concurrency test (repeatable; default 0.02 and 0.128)")
    ap.add_argument("--sink", choices=["lean", "websockets"], default="lean")
    ap.add_argument("--skip-concurrency", action="store_true", help="only the Recording cost and pacing")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    proc, port = start_sink(lean=args.sink == "lean")
    try:
        recording_cost()
        loop = new_event_loop()  # the loop voicelab's sessions run on (precise timers)
        loop.run_until_complete(pacing(port, args.minutes * 60))
        loop.close()
        if args.skip_concurrency:
            return
        for chunk in args.chunk or [CHUNK, 0.128]:
            concurrency(port, args.max_streams, args.stream_seconds, chunk)
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        proc.terminate()
        os._exit(0)


if __name__ == "__main__":
    main()
