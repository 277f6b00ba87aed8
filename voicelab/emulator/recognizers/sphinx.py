"""The light engine: pocketsphinx 5 with the US English model bundled in its wheel.

pocketsphinx streams natively: each stream owns a fresh `Decoder` (fresh per
session, so results do not depend on earlier sessions' cepstral mean) and a
pocketsphinx `Endpointer` (WebRTC VAD) that gates the decoder, so silence is
never decoded. Partials come from ``hyp()`` after every accepted chunk; finals
from ``end_utt()`` when the Endpointer ends speech, with word times from
``seg()`` (10 ms frames). It is cheap (about a fifth of a core per real-time
stream) but its transcripts are poor on synthetic speech.

pocketsphinx holds the GIL while it decodes, so all in-process streams share
one core and slow the caller's event loop. With ``processes=N`` the decoders
run in N worker processes instead (streams are spread over them; each call is
a round trip over a pipe), which uses every core and leaves the GIL to the
server.

Building a `Decoder` loads the model: about 0.3 s of CPU with the GIL held
(up to 0.7 s on a loaded machine), which would delay the first results of a
new session and every other stream on the same process. So decoders are
pooled: a closed stream's decoder goes back to an idle pool after
``reinit_feat()``, which resets its feature state (cepstral mean) exactly —
a reused decoder gives the same results as a fresh one — and ``warm=N``
builds N decoders ahead of time (`SphinxRecognizer.warm_up`).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from voicelab.emulator.recognizers.base import (
    ENGINE_RATE,
    Endpointing,
    RecognizedFinal,
    RecognizedPartial,
    Recognizer,
    RecognizerEvent,
    RecognizerStream,
    SpeechEnd,
    SpeechStart,
    WordTime,
)
from voicelab.emulator.recognizers.errors import (
    EngineUnavailableError,
    RecognizerError,
    RecognizerOptionError,
)

__all__ = ["DEFAULT_DECODER_OPTIONS", "SphinxRecognizer", "SphinxStream"]

logger = logging.getLogger("voicelab.emulator.recognizers.sphinx")

#: Decoder options used unless overridden: quiet logs, a capped search (half the CPU, same WER here) and
#: no second (flat-lexicon) pass at the end of each utterance: that pass cost a quarter of the CPU and
#: held a worker for up to 0.26 s per final, delaying the other streams on it, while the error rate on
#: data/ did not get worse (human recording 0.30 → 0.29; synthetic set 0.89 either way).
DEFAULT_DECODER_OPTIONS: dict[str, Any] = {"loglevel": "FATAL", "maxhmmpf": 3000, "topn": 2, "fwdflat": False}
#: Idle decoders kept per process for reuse (about 90 MB each); more are freed when their stream closes.
MAX_IDLE_DECODERS = 8
#: pocketsphinx frames are 10 ms.
FRAME_SECONDS = 0.01
_ALTERNATE = re.compile(r"\(\d+\)$")


class SphinxRecognizer(Recognizer):
    """pocketsphinx with its bundled en-us model; one Decoder per stream.

    Args:
        endpointing: Default segmentation. ``hangover`` is the Endpointer's window (speech
            starts and ends when ``ratio`` of a window agrees; default 0.3 s, pocketsphinx's own);
            ``preroll`` seconds before the detected onset are decoded too (default 0.5 s: the
            WebRTC VAD often misses a soft first syllable); ``max_utterance`` forces a final;
            ``min_speech`` and ``threshold`` do not apply to this engine.
        vad_mode: WebRTC VAD aggressiveness, 0 (loose, default) to 3 (strict).
        ratio: Share of the window that must agree before the Endpointer changes state.
        processes: Run the decoders in this many worker processes (0: in this process). Use
            ``processes=2`` on a 2-core machine serving several sessions: in-process streams share
            one core (pocketsphinx holds the GIL) and delay the caller's event loop.
        warm: Decoders to build ahead of time, spread over the worker processes (or in this
            process), by `warm_up`; sessions beyond them wait about 0.3 s for a decoder
            unless an earlier session's decoder is idle. About 90 MB each.
        decoder_options: pocketsphinx `Config` options (``hmm``, ``lm``, ``dict`` …) added to
            `DEFAULT_DECODER_OPTIONS`, which cap the search (``maxhmmpf=3000``, ``topn=2``) and
            skip the ``fwdflat`` second pass: together they cut the CPU cost from about 0.24 to
            0.15 of a core per real-time stream and, on the test set, did not raise the error rate.

    Raises:
        EngineUnavailableError: pocketsphinx is not installed.
    """

    name = "sphinx"

    def __init__(
        self,
        *,
        endpointing: Endpointing | None = None,
        vad_mode: int = 0,
        ratio: float = 0.9,
        processes: int = 0,
        warm: int = 0,
        decoder_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:
            raise EngineUnavailableError(
                "pocketsphinx is not installed; install it with `pip install pocketsphinx` "
                "(40 MB, model included)."
            ) from exc
        if vad_mode not in (0, 1, 2, 3):
            raise RecognizerOptionError(f"vad_mode={vad_mode!r} is invalid; use 0 (loose) to 3 (strict).")
        if not 0.5 <= ratio < 1.0:
            raise RecognizerOptionError(f"ratio={ratio!r} must be at least 0.5 and below 1.0 (0.9 is usual).")
        if isinstance(processes, bool) or not isinstance(processes, int) or not 0 <= processes <= 64:
            raise RecognizerOptionError(
                f"processes={processes!r} must be a whole number from 0 (decode in this process) to 64."
            )
        if isinstance(warm, bool) or not isinstance(warm, int) or not 0 <= warm <= 64:
            raise RecognizerOptionError(
                f"warm={warm!r} must be a whole number of decoders to build ahead of time, from 0 to 64."
            )
        self.endpointing = endpointing or Endpointing(hangover=0.3, preroll=0.5)
        self.vad_mode = vad_mode
        self.ratio = ratio
        self._ps = pocketsphinx
        options = {**DEFAULT_DECODER_OPTIONS, **(decoder_options or {}), "samprate": ENGINE_RATE}
        try:
            self._config = pocketsphinx.Config(**options)
        except Exception as exc:
            raise RecognizerOptionError(
                f"decoder_options={decoder_options!r} were rejected by pocketsphinx ({exc}); "
                "check the option names (hmm, lm, dict …) and that the files exist."
            ) from exc
        self.processes = processes
        self.warm = warm
        self._worker_options = {
            "endpointing": self.endpointing,
            "vad_mode": vad_mode,
            "ratio": ratio,
            "decoder_options": decoder_options,
        }
        self._workers: list[_Worker] = []
        self._workers_lock = threading.Lock()
        self._idle: list[Any] = []  # decoders ready for a new stream (feature state reset)
        self._idle_lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)

    def warm_up(self) -> None:
        """Start the worker processes and build ``warm`` decoders, so the first sessions start at once.

        Blocks until done (about 1 s per worker process, started in parallel, plus 0.3 s per
        decoder in each process). Calling it again tops the pools up.
        """
        if not self.processes:
            self._prebuild(self.warm)
            return
        with self._workers_lock:
            self._workers[:] = [w for w in self._workers if w.alive]
            missing = self.processes - len(self._workers)
            with ThreadPoolExecutor(max_workers=max(1, missing)) as pool:
                self._workers.extend(pool.map(lambda _: _Worker(self._worker_options), range(missing)))
            shares = [self.warm // self.processes + (i < self.warm % self.processes) for i in range(self.processes)]
            with ThreadPoolExecutor(max_workers=self.processes) as pool:
                list(pool.map(lambda worker, count: worker.call("prebuild", 0, count), self._workers, shares))

    def _prebuild(self, count: int) -> None:
        """Build decoders until ``count`` are idle in this process."""
        while True:
            with self._idle_lock:
                if len(self._idle) >= count:
                    return
            decoder = self._ps.Decoder(self._config)
            with self._idle_lock:
                self._idle.append(decoder)

    def _take_decoder(self) -> Any:
        """An idle decoder, or a new one (about 0.3 s)."""
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._ps.Decoder(self._config)

    def _give_back(self, decoder: Any) -> None:
        """Reset a closed stream's decoder (exactly as fresh) and keep it for the next stream."""
        decoder.reinit_feat()
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE_DECODERS:
                self._idle.append(decoder)

    def open(
        self,
        *,
        samplerate: int = ENGINE_RATE,
        word_times: bool = False,
        partials: bool = True,
        endpointing: Endpointing | None = None,
    ) -> RecognizerStream:
        """Open a stream with a fresh Decoder (about 0.3 s and 120 MB); see `Recognizer.open`."""
        endpointing = endpointing or self.endpointing
        if self.processes:
            return _RemoteStream(
                worker=self._pick_worker(),
                samplerate=samplerate,
                word_times=word_times,
                partials=partials,
                endpointing=endpointing,
            )
        decoder = self._take_decoder()

        def make_endpointer() -> Any:
            return self._ps.Endpointer(
                window=endpointing.hangover, ratio=self.ratio, vad_mode=self.vad_mode, sample_rate=ENGINE_RATE
            )

        return SphinxStream(
            decoder=decoder,
            make_endpointer=make_endpointer,
            samplerate=samplerate,
            word_times=word_times,
            partials=partials,
            endpointing=endpointing,
            release=self._give_back,
        )

    def close(self) -> None:
        """Stop the worker processes, if any (open streams on them stop working)."""
        with self._workers_lock:
            _stop_workers(self._workers)

    def _pick_worker(self) -> _Worker:
        with self._workers_lock:
            self._workers[:] = [w for w in self._workers if w.alive]
            if len(self._workers) < self.processes:
                worker = _Worker(self._worker_options)
                self._workers.append(worker)
            else:
                worker = min(self._workers, key=lambda w: w.streams)
            worker.streams += 1  # counted now, so concurrent opens spread over the workers
            return worker


class SphinxStream(RecognizerStream):
    """One pocketsphinx session: Endpointer-gated Decoder with native partials.

    Created by `SphinxRecognizer.open`; not meant to be built directly.
    """

    def __init__(
        self,
        *,
        decoder: Any,
        make_endpointer: Any,
        samplerate: int,
        word_times: bool,
        partials: bool,
        endpointing: Endpointing,
        release: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(samplerate=samplerate, word_times=word_times, partials=partials)
        self._decoder = decoder
        self._release = release
        self._make_endpointer = make_endpointer
        self._endpointer = make_endpointer()
        self._ep_offset = 0.0  # audio time of the current Endpointer's first frame
        self._ep_samples = 0  # samples given to the current Endpointer
        self._frame_bytes = int(self._endpointer.frame_bytes)
        self._pending = b""
        self._preroll = int(round(endpointing.preroll * ENGINE_RATE))
        self._history = b""  # the last samples given to the Endpointer (for the pre-roll)
        self._history_start = 0  # Endpointer sample index of the first byte of _history
        self._max_utt = endpointing.max_utterance
        self._in_utt = False
        self._utt_start = 0.0  # audio time of the first sample in the decoder's utterance
        self._utt_fed = 0  # samples fed to the decoder in this utterance
        self._partial_text = ""

    def _process(self, samples: np.ndarray, *, now: float) -> list[RecognizerEvent]:
        events: list[RecognizerEvent] = []
        pcm = self._pending + (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        size = self._frame_bytes
        n_frames = len(pcm) // size
        for i in range(n_frames):
            was_in_speech = self._endpointer.in_speech
            frame = pcm[i * size : (i + 1) * size]
            speech = self._endpointer.process(frame)
            self._remember(frame)
            self._ep_samples += size // 2
            if speech is None:
                continue
            if not was_in_speech and not self._in_utt:
                onset = float(self._endpointer.speech_start)
                events.append(SpeechStart(self._ep_offset + onset))
                preroll = self._preroll_bytes(onset)
                self._start_utt(self._ep_offset + onset - len(preroll) / 2 / ENGINE_RATE)
                if preroll:
                    self._feed(preroll)
            self._feed(speech)
            if not self._endpointer.in_speech:
                end = self._ep_offset + float(self._endpointer.speech_end)
                events.extend(self._end_utt(end))
                events.append(SpeechEnd(end))
            elif self._max_utt is not None and self._utt_fed / ENGINE_RATE >= self._max_utt:
                cut = self._utt_start + self._utt_fed / ENGINE_RATE
                events.extend(self._end_utt(cut))
                self._start_utt(cut)
        self._pending = pcm[n_frames * size :]
        if self.partials and self._in_utt:
            hyp = self._decoder.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            if text and text != self._partial_text:
                self._partial_text = text
                events.append(RecognizedPartial(text, self._utt_start + self._utt_fed / ENGINE_RATE))
        return events

    def _flush(self, *, now: float) -> list[RecognizerEvent]:
        if not self._in_utt:
            return []
        # end_stream() returns the speech the Endpointer still holds; it rejects an empty buffer.
        last = self._pending or b"\0\0"
        speech = self._endpointer.end_stream(last) if self._endpointer.in_speech else None
        if speech:
            self._feed(speech)
        end = self._utt_start + self._utt_fed / ENGINE_RATE
        events = self._end_utt(end)
        events.append(SpeechEnd(end))
        # The Endpointer cannot go on after end_stream: start a new one where the audio is now.
        self._ep_offset += (self._ep_samples + len(self._pending) // 2) / ENGINE_RATE
        self._ep_samples = 0
        self._pending = b""
        self._history = b""
        self._history_start = 0
        self._endpointer = self._make_endpointer()
        return events

    def _close(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
            self._in_utt = False
        self._pending = b""
        if self._release is not None:
            self._release(self._decoder)
            self._release = None

    def _remember(self, frame: bytes) -> None:
        """Keep the last ~2 s given to the Endpointer (it returns speech up to a window late)."""
        self._history += frame
        excess = len(self._history) - 4 * ENGINE_RATE
        if excess > 0:
            self._history = self._history[excess:]
            self._history_start += excess // 2

    def _preroll_bytes(self, onset: float) -> bytes:
        """The pre-roll audio just before ``onset`` (seconds in the Endpointer's time)."""
        onset_sample = int(round(onset * ENGINE_RATE))
        first = max(self._history_start, onset_sample - self._preroll)
        if onset_sample <= first:
            return b""
        return self._history[(first - self._history_start) * 2 : (onset_sample - self._history_start) * 2]

    def _start_utt(self, start: float) -> None:
        self._decoder.start_utt()
        self._in_utt = True
        self._utt_start = start
        self._utt_fed = 0
        self._partial_text = ""

    def _feed(self, speech: bytes) -> None:
        self._decoder.process_raw(speech, False, False)
        self._utt_fed += len(speech) // 2

    def _end_utt(self, end: float) -> list[RecognizerEvent]:
        self._decoder.end_utt()
        self._in_utt = False
        hyp = self._decoder.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        if not text:
            return []
        base = self._utt_start
        segments = [
            (word, seg)
            for seg in self._decoder.seg()
            if (word := _ALTERNATE.sub("", seg.word)) and not word.startswith(("<", "["))
        ]
        # The utterance starts at its first word (the pre-roll is usually silence), never later.
        start = base + segments[0][1].start_frame * FRAME_SECONDS if segments else base
        start = min(max(start, base), end)
        words: list[WordTime] = []
        if self.word_times:
            cursor = start
            for word, seg in segments:
                w_start = min(max(base + seg.start_frame * FRAME_SECONDS, cursor), end)
                w_end = min(max(base + (seg.end_frame + 1) * FRAME_SECONDS, w_start), end)
                words.append(WordTime(word, w_start, w_end, float(min(max(seg.prob, 0.0), 1.0))))
                cursor = w_end
        return [RecognizedFinal(text, start, max(end, start), tuple(words))]


# --------------------------------------------------------------------------- worker processes

_stream_ids = itertools.count(1)


def _worker_main() -> None:
    """A worker process (``python -c``): requests on stdin, replies on the original stdout.

    The first request carries the `SphinxRecognizer` options; then ``(op, id, args)`` requests
    follow until ``stop`` or end of input. stdout is moved to stderr so stray prints cannot
    corrupt the channel.
    """
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    requests = Connection(0, writable=False)
    conn = Connection(reply_fd, readable=False)
    try:
        recognizer = SphinxRecognizer(**requests.recv())
    except Exception as exc:  # e.g. bad decoder options: report it to the first caller
        conn.send((False, exc))
        return
    conn.send((True, None))
    streams: dict[int, RecognizerStream] = {}
    while True:
        try:
            op, sid, args = requests.recv()
        except (EOFError, OSError):
            break
        try:
            result: Any = None
            if op == "open":
                streams[sid] = recognizer.open(samplerate=ENGINE_RATE, **args)
            elif op == "accept":
                result = streams[sid].accept(args[0], now=args[1])
            elif op == "prebuild":
                recognizer._prebuild(args)
            elif op == "flush":
                result = streams[sid].flush(now=args)
            elif op == "close":
                stream = streams.pop(sid, None)
                if stream is not None:
                    stream.close()
            elif op == "stop":
                conn.send((True, None))
                break
            conn.send((True, result))
        except Exception as exc:  # sent back and raised in the caller's thread
            conn.send((False, exc))


class _Worker:
    """One worker process and the pipe to it; calls are serialised by a lock."""

    def __init__(self, options: dict[str, Any]) -> None:
        # A fresh interpreter (not fork: the caller runs threads; not multiprocessing's spawn: it
        # re-runs the caller's __main__ script when it lacks an `if __name__ == "__main__"` guard).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        code = "from voicelab.emulator.recognizers.sphinx import _worker_main; _worker_main()"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._lock = threading.Lock()
        self.streams = 0
        self._exchange("start", lambda: self._send.send(options))

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def call(self, op: str, sid: int, args: Any = None) -> Any:
        return self._exchange(op, lambda: self._send.send((op, sid, args)))

    def _exchange(self, op: str, send: Any) -> Any:
        with self._lock:
            try:
                send()
                ok, value = self._recv.recv()
            except (EOFError, OSError) as exc:
                raise RecognizerError(
                    f"the sphinx worker process (pid {self._process.pid}) died during {op}(); open a new "
                    "stream, or use processes=0 to decode in this process and see the error."
                ) from exc
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self.alive:
            try:
                self.call("stop", 0)
            except RecognizerError:
                pass
            try:
                self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._send.close()
        self._recv.close()


def _stop_workers(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()
    workers.clear()


class _RemoteStream(RecognizerStream):
    """A stream whose Decoder lives in a worker process; resampling happens here."""

    def __init__(
        self, *, worker: _Worker, samplerate: int, word_times: bool, partials: bool, endpointing: Endpointing
    ) -> None:
        super().__init__(samplerate=samplerate, word_times=word_times, partials=partials)
        self._worker = worker
        self._sid = next(_stream_ids)
        try:
            worker.call(
                "open",
                self._sid,
                {"word_times": word_times, "partials": partials, "endpointing": endpointing},
            )
        except BaseException:
            worker.streams -= 1  # counted by SphinxRecognizer._pick_worker
            raise

    def _process(self, samples: np.ndarray, *, now: float) -> list[RecognizerEvent]:
        events: list[RecognizerEvent] = self._worker.call("accept", self._sid, (samples, now))
        return events

    def _flush(self, *, now: float) -> list[RecognizerEvent]:
        events: list[RecognizerEvent] = self._worker.call("flush", self._sid, now)
        return events

    def _close(self) -> None:
        self._worker.streams -= 1
        if self._worker.alive:
            self._worker.call("close", self._sid)
