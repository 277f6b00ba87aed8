"""Pre-flight: check the first second of what a stream will send, before its first byte goes out.

Seed symptoms "connected, but no transcripts" and "garbled text": float32 bytes declared ``linear16``,
a WAV header inside raw PCM, base64 or JSON text where audio bytes were expected, byte-swapped
samples, silence, interleaved stereo declared mono, a wrong rate label. `voicelab.stream` runs the
same checks as `voicelab.inspect` and `voicelab.audio.validate_chunk` on the start of its source:

* a Clip (a path, array, or raw bytes with ``raw=``, loaded by voicelab): the findings made while
  loading it (e.g. ``float32_as_int16`` for raw bytes declared ``linear16``), the chunks of its first
  `PREFLIGHT_SECONDS` as they will be sent (``validate_chunk``), that second's samples (interleaved
  stereo declared mono, clipping), the whole clip's level (silence), and, because a rate label can
  only be judged on seconds of voiced speech, its first `RATE_CHECK_SECONDS` for the rate label;
* an iterator of pre-encoded chunks (bytes, `Chunk` or `Clip` items, e.g. from a microphone): the
  items holding its first `PREFLIGHT_SECONDS` are read ahead and given back unconsumed
  (`BufferedSource`), then checked as bytes in the declared format (text, container headers,
  float/int confusion, byte order, whole samples, chunk size) and, when they decode, as samples.

Only findings of severity ``warning`` or ``error`` count: each is logged in the Recording (a
``preflight`` entry with ``findings`` as `Finding.to_dict` gives them, the seconds checked and the
time the check took) and raised as a `voicelab.VoicelabWarning`; with ``strict=True`` the stream
refuses to connect and raises `PreflightError` instead. ``info`` findings (e.g. a rate label that
could not be judged on too little speech) are never reported here, so a healthy source passes
silently (tested on every speech file in data/ on every provider).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicelab.audio import codecs
from voicelab.audio.analysis import db
from voicelab.audio.chunking import Chunk, chunk, validate_chunk
from voicelab.audio.clip import Clip, Provenance
from voicelab.audio.findings import SEVERITIES, Finding
from voicelab.audio.formats import BYTES_PER_SAMPLE, PCM_ENCODINGS, RawFormat
from voicelab.audio.sniff import BLOCKING, sniff_bytes, sniff_samples
from voicelab.audio.targets import Target
from voicelab.client.front import StreamSetupError
from voicelab.client.sources import aiterate
from voicelab.errors import CodecError, VoicelabWarning
from voicelab.recording.log import Recording

__all__ = [
    "PREFLIGHT_SECONDS",
    "RATE_CHECK_SECONDS",
    "BufferedSource",
    "PreflightError",
    "PreflightReport",
    "bytes_per_second",
    "check_clip",
    "check_items",
    "check_iterator",
    "report",
]

#: Audio seconds at the start of a source that are checked before the first send.
PREFLIGHT_SECONDS = 1.0
#: Audio seconds of an in-memory source given to the rate-label check, which needs 1.5 s or more of
#: voiced speech to say anything (about 20 ms for 10 s on one core).
RATE_CHECK_SECONDS = 10.0
#: Severities that are reported (warned about, refused with ``strict=True``).
REPORTED: frozenset[str] = frozenset({"error", "warning"})
#: At most this many items are read ahead from an iterator source (a source of empty items ends it).
MAX_BUFFERED_ITEMS = 2000
#: Peak level (dBFS) below which audio counts as silence, as in `voicelab.inspect`.
SILENCE_DBFS = -70.0
#: Share of samples at full scale above which the audio is clipped beyond use, as in `voicelab.inspect`.
CLIPPING_ERROR_SHARE = 0.01
#: Codes of the byte sniffs (`voicelab.audio.sniff.sniff_bytes`): what the bytes really are. Bytes that
#: voicelab encoded from a Clip are what they are declared to be by construction, so for a Clip only
#: the chunk-level findings of `validate_chunk` (size, transport) are kept.
CONTENT_CODES = frozenset({"empty", "json_text", "base64_text", "text_data", "wav_header_in_raw", "container_in_raw",
                           "not_ogg", "partial_sample", "float32_as_int16", "byte_swapped", "int16_as_float32",
                           "invalid_float"})
#: Findings after which the decoded samples are noise: level and speech checks would only distract.
MISREAD = frozenset({"float32_as_int16", "byte_swapped", "int16_as_float32", "invalid_float"})
#: Below this spread (int16 steps, mean removed) int16 bytes are near-constant (silence with a DC
#: offset), which the float32 test of `sniff_bytes` mistakes for small floats; real float32 bytes read
#: as int16 never are (the low halves of the floats vary).
CONSTANT_INT16_STD = 32.0


class PreflightError(StreamSetupError):
    """``strict=True``: the pre-flight check found a problem in the audio, so the stream did not connect.

    Attributes:
        findings: What was found (each with its symptom and fix).
    """

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


@dataclass(frozen=True)
class PreflightReport:
    """What the pre-flight check found.

    Attributes:
        findings: The findings of severity ``warning`` or ``error``, most severe first.
        checked_seconds: Audio seconds checked (the rate label may have used more of a Clip).
        cost_seconds: Wall seconds the check took (for an iterator: the checks, not the wait for its items).
        source: ``clip`` or ``iterator``.
    """

    findings: tuple[Finding, ...]
    checked_seconds: float
    cost_seconds: float
    source: str

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """The ``preflight`` entry of the Recording."""
        return {"findings": [_clean(f.to_dict()) for f in self.findings],
                "checked_seconds": round(self.checked_seconds, 6), "cost_ms": round(self.cost_seconds * 1000, 3),
                "source": self.source}


def _clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python numbers, NaN and infinities to ``None``."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _reported(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    seen: set[str] = set()
    out: list[Finding] = []
    for f in findings:
        if f.severity in REPORTED and f.code not in seen:
            seen.add(f.code)
            out.append(f)
    return tuple(sorted(out, key=lambda f: SEVERITIES.index(f.severity)))


def _format_findings(fmt: RawFormat, target: Target) -> list[Finding]:
    """The declared format against what the API accepts (as `voicelab.inspect` with a target)."""
    if fmt.encoding not in target.encodings:
        return [Finding("wrong_encoding", "error",
                        f"{target.title} does not accept {fmt.encoding} (accepted: {', '.join(target.encodings)})",
                        "no_transcripts", f"send {target.recommended_encoding}: leave the encoding parameter out",
                        {"encoding": fmt.encoding})]
    rates = target.rates_for(fmt.encoding)
    if fmt.samplerate not in rates:
        return [Finding("wrong_samplerate", "error",
                        f"{fmt.encoding} at {fmt.samplerate} Hz is not what {target.title} expects "
                        f"({fmt.encoding} goes with {', '.join(map(str, rates))} Hz)", "garbled",
                        f"declare a rate it accepts, e.g. {rates[0]} Hz (voicelab resamples Clips to it)",
                        {"encoding": fmt.encoding, "samplerate": fmt.samplerate})]
    return []


def _level_findings(samples: np.ndarray, *, where: str, whole: bool) -> list[Finding]:
    """Silence and hard clipping, with `voicelab.inspect`'s thresholds."""
    if samples.size == 0:
        return []
    x = np.abs(samples)
    peak = float(x.max())
    peak_dbfs = float(db(peak)) if peak > 0 else None
    if whole and (peak_dbfs is None or peak_dbfs < SILENCE_DBFS):
        what = "digital silence (every sample is zero)" if peak_dbfs is None else \
            f"silence: its loudest sample is {peak_dbfs:.0f} dBFS"
        return [Finding("silence", "error", f"{where} is {what}", "no_transcripts",
                        "check the microphone or the source: the right input device, not muted, permission "
                        "granted; vl.widgets.Recorder shows the level live", {"peak_dbfs": peak_dbfs})]
    if not whole and peak_dbfs is None:
        return [Finding("silence", "warning",
                        f"{where} is digital silence (every sample is zero): a muted or wrong input, or a "
                        "source that has not started; if the speech starts later, ignore this", "no_transcripts",
                        "check the input device (not muted, permission granted, the right one); "
                        "vl.widgets.Recorder shows the level live", {"peak_dbfs": None})]
    share = float(np.mean(x >= 32767 / 32768))
    if share > CLIPPING_ERROR_SHARE:
        return [Finding("clipping", "error", f"{share:.2%} of the samples in {where} sit at full scale: the "
                        "audio is clipped", "poor_quality",
                        "record again with less input gain (clipping cannot be undone); when converting, leave "
                        "headroom: clip.normalize(peak_dbfs=-3)", {"clipping_share": share})]
    return []


def check_clip(clip: Clip, *, target: Target, encoding: str, samplerate: int, chunk_bytes: int | None = None,
               chunk_seconds: float | None = None, seconds: float = PREFLIGHT_SECONDS) -> PreflightReport:
    """Check a Clip source as `voicelab.stream` will send it (see the module docs).

    Args:
        clip: The source, at its own rate and channels.
        target: The provider's audio target.
        encoding: The encoding the stream sends (the driver's).
        samplerate: The rate it sends, Hz.
        chunk_bytes: The stream's chunk size in bytes, if given.
        chunk_seconds: The stream's chunk duration, if given.
        seconds: Audio seconds checked for everything but the rate label and silence.

    Returns:
        The report (findings of severity warning or error only).
    """
    t0 = time.perf_counter()
    name = clip.provenance.name or "the audio"
    head = clip.slice(end=seconds)
    found: list[Finding] = list(clip.provenance.findings)  # e.g. raw bytes declared linear16 that are float32
    found += _truncation(clip)
    found += _format_findings(RawFormat(encoding=encoding, samplerate=samplerate), target)
    if encoding in PCM_ENCODINGS and head.frames:
        sent = head.to_mono().resample(samplerate)
        first = next(iter(chunk(sent, encoding=encoding, chunk_bytes=chunk_bytes, chunk_seconds=chunk_seconds,
                                target=target)), None)
        if first is not None:
            found += [f for f in validate_chunk(first.data, target=target, encoding=encoding, samplerate=samplerate,
                                                seq=0) if f.code not in CONTENT_CODES]
    if not any(f.code in MISREAD for f in found):  # noise decoded from misread bytes: nothing more to learn
        silent = _level_findings(clip.to_mono().samples, where=name, whole=True)
        found += silent
        if not silent:
            found += _level_findings(head.to_mono().samples, where=f"the first {seconds:g} s of {name}", whole=False)
            found += sniff_samples(clip.slice(end=max(seconds, RATE_CHECK_SECONDS)), send_rate=samplerate)
    return PreflightReport(_reported(found), min(seconds, clip.duration), time.perf_counter() - t0, "clip")


def _truncation(clip: Clip) -> list[Finding]:
    """A container whose header declares more frames than it holds (as `voicelab.inspect` reports it)."""
    declared = clip.provenance.declared_frames
    if declared is None or declared <= clip.frames:
        return []
    rate = clip.samplerate
    return [Finding("truncated", "error",
                    f"the file's header declares {declared / rate:.2f} s ({declared} frames) but only "
                    f"{clip.duration:.2f} s ({clip.frames} frames) are present: the file was cut short",
                    "lost_audio", "re-export or re-download the file; voicelab streams the part that is present",
                    {"declared_frames": declared, "frames": clip.frames})]


def _credible(findings: list[Finding], data: bytes, fmt: RawFormat) -> list[Finding]:
    """Drop a ``float32_as_int16`` verdict on near-constant int16 bytes (see `CONSTANT_INT16_STD`)."""
    if fmt.encoding != "linear16" or not any(f.code == "float32_as_int16" for f in findings):
        return findings
    x = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)
    if x.size and float(np.std(x)) < CONSTANT_INT16_STD:
        return [f for f in findings if f.code != "float32_as_int16"]
    return findings


def _item_seconds(item: Any, bytes_per_second: float | None) -> float:
    if isinstance(item, Chunk):
        return item.duration
    if isinstance(item, Clip):
        return item.duration
    if isinstance(item, (bytes, bytearray, memoryview)):
        return len(item) / bytes_per_second if bytes_per_second else 0.02
    return math.inf  # anything else (text …) is checked as it is; reading on would not help


def check_items(items: Sequence[Any], *, target: Target, encoding: str, samplerate: int) -> list[Finding]:
    """Check the first items of an iterator source (bytes, `Chunk`, `Clip` or, wrongly, text).

    Args:
        items: The items, in order (about `PREFLIGHT_SECONDS` of audio).
        target: The provider's audio target.
        encoding: The encoding declared for byte items (the stream's).
        samplerate: The rate declared for byte items, Hz.

    Returns:
        All findings (every severity), as `validate_chunk` and `voicelab.inspect` word them.
    """
    if not items:
        return [Finding("empty", "error", "the source gave no audio at all", "no_transcripts",
                        "check the source: an empty iterator usually means the file or stream is at its end")]
    first = items[0]
    where = "the first second of the source"
    if isinstance(first, str):
        return validate_chunk(first, target=target, encoding=encoding, samplerate=samplerate, seq=0)
    if isinstance(first, Clip):
        clips = [c for c in items if isinstance(c, Clip)]
        joined = np.concatenate([c.to_mono().resample(first.samplerate).samples for c in clips])
        clip = Clip(joined, samplerate=first.samplerate, provenance=first.provenance)
        found = list(first.provenance.findings) + _level_findings(joined, where=where, whole=False)
        if not found:
            found += sniff_samples(clip, send_rate=samplerate)
        return found
    if isinstance(first, Chunk):
        fmt = RawFormat(encoding=first.encoding, samplerate=first.samplerate, channels=first.channels)
        parts = [bytes(c.data) for c in items if isinstance(c, Chunk)]
    else:
        fmt = RawFormat(encoding=encoding, samplerate=samplerate)
        parts = [bytes(b) for b in items if isinstance(b, (bytes, bytearray, memoryview))]
    data = b"".join(parts)
    found = _format_findings(fmt, target)
    if parts:  # the first item as a chunk (size, transport); its content is judged on the whole second below
        found += [f for f in validate_chunk(parts[0], target=target, encoding=fmt.encoding,
                                            samplerate=fmt.samplerate, seq=0) if f.code not in CONTENT_CODES]
    found += _credible(sniff_bytes(data, fmt, where=where), data, fmt)
    if any(f.code in BLOCKING or f.code in MISREAD for f in found):
        return found
    if fmt.encoding not in PCM_ENCODINGS or not data:
        return found
    try:
        samples = codecs.decode_pcm(data, encoding=fmt.encoding, channels=fmt.channels)
    except CodecError:
        return found
    prov = Provenance(source="raw", name=where, container="RAW", subtype=fmt.encoding, samplerate=fmt.samplerate,
                      channels=fmt.channels)
    clip = Clip(samples, samplerate=fmt.samplerate, provenance=prov)
    mono = clip.to_mono().samples
    found += _level_findings(mono, where=where, whole=False)
    if not any(f.code == "silence" for f in found):
        found += sniff_samples(clip)
    return found


class BufferedSource:
    """An iterator source whose first `PREFLIGHT_SECONDS` are read ahead, then given back unconsumed.

    Iterate it (async) after `fill`: the items read ahead come first, then the rest of the source. A sync
    iterator is stepped on a thread of its own (`voicelab.client.sources.aiterate`), so a ``next()`` that
    waits for audio never blocks the event loop, and `fill` can be cancelled (``Stream.stop()``) at once.

    Args:
        source: A sync or async iterable of bytes, `Chunk`, `Clip` (or anything; text is checked too).
        bytes_per_second: Of the declared format, to time byte items; ``None`` counts each as 20 ms.
        seconds: How much audio to read ahead.
    """

    def __init__(self, source: Iterable[Any] | AsyncIterable[Any], *, bytes_per_second: float | None,
                 seconds: float = PREFLIGHT_SECONDS) -> None:
        self._source = source
        self._bps = bytes_per_second
        self._seconds = seconds
        self._iter: AsyncIterator[Any] | None = None
        self.items: list[Any] = []
        self.exhausted = False
        self.seconds_read = 0.0

    async def _next(self) -> Any:
        if self._iter is None:  # a sync iterator is stepped on a thread: a blocking next() never blocks the loop
            self._iter = aiterate(self._source)
        return await self._iter.__anext__()

    async def fill(self) -> list[Any]:
        """Read items until `seconds` of audio (or the end of the source); returns them."""
        while self.seconds_read < self._seconds - 1e-9 and len(self.items) < MAX_BUFFERED_ITEMS:
            try:
                item = await self._next()
            except StopAsyncIteration:
                self.exhausted = True
                break
            self.items.append(item)
            self.seconds_read += _item_seconds(item, self._bps)
        return self.items

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._replay()

    async def aclose(self) -> None:
        """Close the source's iterator (and end its reader thread); the items read ahead are dropped."""
        self.items = []
        it, self._iter = self._iter, None
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _replay(self) -> AsyncIterator[Any]:
        items, self.items = self.items, []
        try:
            for item in items:
                yield item
            if self.exhausted:
                return
            while True:
                try:
                    item = await self._next()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            await self.aclose()


async def check_iterator(source: BufferedSource, *, target: Target, encoding: str, samplerate: int) -> PreflightReport:
    """Read ahead the first second of ``source`` and check it (the items stay in ``source``)."""
    items = await source.fill()
    t0 = time.perf_counter()
    found = check_items(items, target=target, encoding=encoding, samplerate=samplerate)
    seconds = source.seconds_read if math.isfinite(source.seconds_read) else 0.0
    return PreflightReport(_reported(found), seconds, time.perf_counter() - t0, "iterator")


def report(result: PreflightReport, *, recording: Recording, strict: bool, stacklevel: int = 2) -> None:
    """Log ``result`` in the Recording, then warn about each finding, or refuse with ``strict``.

    Args:
        result: The check's report.
        recording: The stream's Recording (gets a ``preflight`` entry, also when nothing was found).
        strict: Raise `PreflightError` instead of warning when something was found.
        stacklevel: For `warnings.warn`: which caller the warning points at.

    Raises:
        PreflightError: ``strict`` and something was found.
    """
    recording.log("preflight", strict=strict, **result.to_dict())
    if not result.findings:
        return
    if strict:
        lines = "\n".join(f"  {f}" for f in result.findings)
        raise PreflightError(
            f"the pre-flight check of the first {result.checked_seconds:g} s of audio found "
            f"{len(result.findings)} problem(s), so the stream did not connect (strict=True):\n{lines}\n"
            "Fix the audio as each line says, or pass strict=False to send it anyway.", result.findings)
    for f in result.findings:
        warnings.warn(f"pre-flight: {f}", VoicelabWarning, stacklevel=stacklevel + 1)


def bytes_per_second(encoding: str, samplerate: int) -> float | None:
    """Bytes per second of mono audio in ``encoding`` (``None`` for variable-rate encodings)."""
    bps = BYTES_PER_SAMPLE.get(encoding)
    return bps * samplerate if bps else None
