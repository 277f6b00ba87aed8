"""`Clip`: float32 samples that never travel without their sample rate and provenance."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from voicelab.audio.formats import check_samplerate
from voicelab.errors import AudioFormatError

if TYPE_CHECKING:
    from voicelab.audio.findings import Finding
    from voicelab.audio.report import Report

__all__ = ["Clip", "Provenance", "SourceKind"]

SourceKind = Literal["path", "file", "bytes", "array", "raw", "microphone", "generated"]


@dataclass(frozen=True)
class Provenance:
    """Where a Clip's samples came from and what they were before decoding.

    Attributes:
        source: The kind of source: ``path``, ``file`` (file-like object),
            ``bytes`` (an in-memory container such as WAV bytes), ``array``,
            ``raw`` (headerless bytes with a declared format), ``microphone``
            or ``generated``.
        name: A path, a file object's ``name``, or a short description.
        container: The container format, e.g. ``WAV``, ``FLAC``, ``OGG``,
            ``MP3``, or ``RAW`` for headerless bytes; ``None`` for arrays.
        subtype: The stored sample format, e.g. ``PCM_16``, ``FLOAT``,
            ``VORBIS``, or the raw encoding name such as ``linear16``.
        dtype: The numpy dtype of the original samples when known
            (``int16``, ``float32`` …).
        byteorder: ``little``, ``big`` or ``None`` when it does not apply.
        samplerate: The original sample rate in Hz, before any conversion.
        channels: The original number of channels.
        declared_frames: Frames the container header declares, when it says
            (a WAV whose header declares more than it holds is truncated).
        findings: Problems noticed while loading (e.g. raw bytes that look
            byte-swapped); `inspect()` reports them.
        history: The conversions applied since loading, oldest first.
    """

    source: SourceKind
    name: str | None = None
    container: str | None = None
    subtype: str | None = None
    dtype: str | None = None
    byteorder: str | None = None
    samplerate: int | None = None
    channels: int | None = None
    declared_frames: int | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    history: tuple[str, ...] = field(default_factory=tuple)

    def then(self, step: str) -> Provenance:
        """Return a copy with ``step`` appended to the history.

        The header's frame count no longer describes the converted samples, so it is dropped.
        """
        return replace(self, history=(*self.history, step), declared_frames=None)

    def describe(self) -> str:
        """A one-line, human-readable summary such as ``WAV PCM_16 (int16, little-endian)``."""
        parts = [p for p in (self.container, self.subtype) if p]
        extra = [p for p in (self.dtype, f"{self.byteorder}-endian" if self.byteorder else None) if p]
        text = " ".join(parts) or self.source
        if extra:
            text += f" ({', '.join(extra)})"
        return text


class Clip:
    """Audio samples as float32 in [-1, 1] together with their sample rate.

    A Clip is immutable: every operation returns a new Clip with the
    operation recorded in ``provenance.history``.

    Args:
        samples: Array of shape ``(frames,)`` (mono) or ``(frames, channels)``;
            0 frames is allowed (an empty slice, an empty reply), and
            ``inspect()`` reports it. Float arrays are taken as they are
            (values outside [-1, 1] are kept, and ``inspect()`` reports them as
            clipping). Integer arrays by dtype: ``int16`` and ``int32`` are PCM
            scaled by their full scale (2**15, 2**31); ``int8`` (8-bit signed
            PCM) and ``uint8`` (8-bit offset-binary PCM, as in 8-bit WAV) are
            scaled by their true range with a ``UserWarning``; every other
            integer dtype (``int64``, which ``np.array`` of Python ints gives,
            ``uint16``, ``uint32``, ``uint64``) is refused with an
            `AudioFormatError` that names the dtype, the value range and the
            conversion to make, because scaling int64 by 2**63 turns any audio
            into silence.
        samplerate: Samples per second per channel, in Hz.
        provenance: Where the samples came from; defaults to an ``array`` source.
    """

    __slots__ = ("_samples", "_samplerate", "_provenance")

    def __init__(
        self,
        samples: npt.ArrayLike,
        *,
        samplerate: int,
        provenance: Provenance | None = None,
    ) -> None:
        rate = check_samplerate(samplerate)
        arr = np.asarray(samples)
        original_dtype = str(arr.dtype)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim not in (1, 2):
            raise AudioFormatError(
                f"samples must have shape (frames,) or (frames, channels), got shape {arr.shape}"
            )
        if arr.ndim == 2 and arr.shape[1] > 64:
            raise AudioFormatError(
                f"samples have shape {arr.shape}: {arr.shape[1]} channels looks like (channels, frames); "
                "pass samples.T so the shape is (frames, channels)"
            )
        out = _to_float32(arr)
        if not np.all(np.isfinite(out)):
            raise AudioFormatError(
                "samples contain NaN or infinity; clean them first, e.g. np.nan_to_num(samples)"
            )
        out.setflags(write=False)
        self._samples = out
        self._samplerate = rate
        self._provenance = provenance or Provenance(
            source="array", dtype=original_dtype, samplerate=rate, channels=_channels(out)
        )

    # -- basic facts ---------------------------------------------------------
    @property
    def samples(self) -> npt.NDArray[np.float32]:
        """The samples, float32, shape ``(frames,)`` or ``(frames, channels)``; read-only."""
        return self._samples

    @property
    def samplerate(self) -> int:
        """Samples per second per channel, in Hz."""
        return self._samplerate

    @property
    def provenance(self) -> Provenance:
        """Where the samples came from and what has been done to them."""
        return self._provenance

    @property
    def frames(self) -> int:
        """Number of sample frames (samples per channel)."""
        return int(self._samples.shape[0])

    @property
    def channels(self) -> int:
        """Number of channels."""
        return _channels(self._samples)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self._samplerate

    def __len__(self) -> int:
        return self.frames

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._samples, dtype=dtype)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Clip):
            return NotImplemented
        return self._samplerate == other._samplerate and np.array_equal(self._samples, other._samples)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        layout = "mono" if self.channels == 1 else f"{self.channels} ch"
        name = f" from {self._provenance.name!r}" if self._provenance.name else ""
        return (
            f"<Clip {self.duration:.3f} s, {self._samplerate} Hz, {layout}, "
            f"{self._provenance.describe()}{name}>"
        )

    # -- derived clips -----------------------------------------------------------
    def with_samples(self, samples: npt.ArrayLike, *, samplerate: int | None = None, step: str) -> Clip:
        """Return a new Clip with other samples, keeping provenance and recording ``step``."""
        return Clip(
            samples,
            samplerate=self._samplerate if samplerate is None else samplerate,
            provenance=self._provenance.then(step),
        )

    def slice(self, *, start: float = 0.0, end: float | None = None) -> Clip:
        """Return the part between ``start`` and ``end`` seconds.

        Args:
            start: Start time in seconds (clamped to the clip).
            end: End time in seconds; ``None`` means the end of the clip.
                Negative values count from the end.

        Returns:
            A new Clip; its provenance history records the slice.
        """
        def to_frame(t: float) -> int:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t):
                raise AudioFormatError(f"slice times must be finite seconds, got {t!r}")
            f = round((self.duration + t if t < 0 else t) * self._samplerate)
            return min(max(f, 0), self.frames)

        a = to_frame(start)
        b = self.frames if end is None else to_frame(end)
        if b < a:
            raise AudioFormatError(f"slice end {end!r} s is before start {start!r} s")
        return self.with_samples(
            self._samples[a:b], step=f"slice {a / self._samplerate:.3f}-{b / self._samplerate:.3f} s"
        )

    def to_int16(self) -> npt.NDArray[np.int16]:
        """The samples as int16 (scaled by 32767, clipped to the int16 range)."""
        from voicelab.audio.convert import float_to_pcm

        return float_to_pcm(self._samples, dtype="int16")

    # -- conveniences delegating to the functional API ---------------------------
    def inspect(self, *, target: str | None = None) -> Report:
        """Measure this clip and check it against an API target. See `voicelab.audio.inspect`."""
        from voicelab.audio.inspection import inspect

        return inspect(self, target=target)

    def to_mono(self) -> Clip:
        """Average the channels into one. See `voicelab.audio.convert.to_mono`."""
        from voicelab.audio.convert import to_mono

        return to_mono(self)

    def resample(self, samplerate: int, *, quality: str = "HQ") -> Clip:
        """Resample with soxr. See `voicelab.audio.convert.resample`."""
        from voicelab.audio.convert import resample

        return resample(self, samplerate, quality=quality)

    def normalize(self, *, peak_dbfs: float = -1.0) -> Clip:
        """Scale so the peak sits at ``peak_dbfs``. See `voicelab.audio.convert.normalize`."""
        from voicelab.audio.convert import normalize

        return normalize(self, peak_dbfs=peak_dbfs)

    def save(self, path: str, *, subtype: str | None = None) -> None:
        """Write the clip to a file with soundfile. See `voicelab.audio.io.save`."""
        from voicelab.audio.io import save

        save(self, path, subtype=subtype)


def _channels(samples: np.ndarray) -> int:
    return 1 if samples.ndim == 1 else int(samples.shape[1])


#: Integer dtypes read silently, by full scale: ``x / 2**15`` and ``x / 2**31``.
INTEGER_FULL_SCALE: dict[str, int] = {"int16": 1 << 15, "int32": 1 << 31}
#: Integer dtypes read by their true range *with a warning*: (what they are taken as, offset, full scale).
INTEGER_WARNED: dict[str, tuple[str, int, int]] = {
    "int8": ("8-bit signed PCM (full scale 128)", 0, 128),
    "uint8": ("8-bit unsigned PCM, offset-binary as in 8-bit WAV files (128 is silence)", 128, 128),
}


def _to_float32(arr: np.ndarray) -> npt.NDArray[np.float32]:
    if arr.dtype.kind == "b":
        raise AudioFormatError("samples are booleans; audio samples must be integers or floats")
    if arr.dtype.kind in "iu":
        name = arr.dtype.name
        if name in INTEGER_FULL_SCALE:
            return (arr.astype(np.float64) / INTEGER_FULL_SCALE[name]).astype(np.float32)
        if name in INTEGER_WARNED:
            what, offset, scale = INTEGER_WARNED[name]
            warnings.warn(
                f"{name} samples are read as {what}; if they are something else, convert them first "
                "(e.g. samples.astype(np.float32) / full_scale)",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
            return ((arr.astype(np.float64) - offset) / scale).astype(np.float32)
        raise AudioFormatError(_refuse_integer(arr))
    if arr.dtype.kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float32)
    raise AudioFormatError(
        f"samples have dtype {arr.dtype}; audio samples must be integers or floats"
    )


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside voicelab (the user's call)."""
    import sys

    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("voicelab."):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    return level


def _refuse_integer(arr: np.ndarray) -> str:
    """Why an integer array of another dtype (int64, uint16, uint32, uint64) is refused, and what to pass."""
    name = arr.dtype.name
    why = (
        f"samples have dtype {name}, whose full scale (2**{arr.dtype.itemsize * 8 - 1}) would make any audio "
        "near-silent"
        if arr.dtype.kind == "i"
        else f"samples have dtype {name}; unsigned {arr.dtype.itemsize * 8}-bit PCM is not a standard audio format"
    )
    if name == "int64":
        why += " (np.array([...]) of Python ints gives int64)"
    if arr.size == 0:
        return f"{why}; the array is empty too. Pass float32 samples in [-1, 1] or int16 PCM"
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.kind == "u":
        bits = arr.dtype.itemsize * 8
        fix = (f"if they are offset-binary samples, centre them: (samples.astype(np.int64) - {1 << (bits - 1)})"
               f".astype(np.int{min(bits, 32)}), or pass floats in [-1, 1]")
    elif -32768 <= lo and hi <= 32767:
        fix = "their values fit 16-bit PCM: if they are 16-bit samples, pass samples.astype(np.int16)"
    elif -(1 << 31) <= lo and hi <= (1 << 31) - 1:
        fix = ("their values fit 32-bit PCM: pass samples.astype(np.int32) for 32-bit samples, or "
               "(samples / 2**23).astype(np.float32) for 24-bit ones")
    else:
        fix = "scale them to floats in [-1, 1] yourself: (samples / full_scale).astype(np.float32)"
    return f"{why}; values range from {lo:.0f} to {hi:.0f}: {fix}"
