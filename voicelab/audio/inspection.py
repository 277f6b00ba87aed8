"""`inspect`: measure audio, detect mislabelling, and check it against an API's expectations."""

from __future__ import annotations

import numpy as np

from voicelab.audio.analysis import Levels, measure_levels, speech_cues
from voicelab.audio.clip import Clip
from voicelab.audio.findings import SEVERITIES, Finding
from voicelab.audio.formats import RawFormat
from voicelab.audio.io import Source, _as_raw, _load_raw, load, read_source_bytes
from voicelab.audio.report import Report
from voicelab.audio.sniff import BLOCKING, sniff_bytes, sniff_samples
from voicelab.audio.targets import Target, get_target

__all__ = ["inspect"]

_STANDARD_UP = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
_MISREAD = frozenset({"float32_as_int16", "byte_swapped"})


def inspect(
    source: Source,
    *,
    target: str | Target | None = None,
    samplerate: int | None = None,
    raw: RawFormat | str | None = None,
    encoding: str | None = None,
    channels: int | None = None,
) -> Report:
    """Measure audio and report what is wrong with it, and how to fix it.

    Args:
        source: Anything `voicelab.load` accepts: a Clip, path, file object,
            bytes, array (with ``samplerate``) or raw bytes (with ``raw``).
        target: An API preset to check against: ``"pulse"`` or
            ``"assemblyai-agent"``; ``None`` checks the audio on its own.
        samplerate: Rate in Hz for arrays (or for raw bytes with ``encoding``).
        raw: Declared format of headerless bytes, e.g. ``"linear16:16000:1"``.
        encoding: Shorthand for ``raw`` with ``samplerate`` and ``channels``.
        channels: Channels of raw bytes.

    Returns:
        A `Report` that renders as HTML in notebooks, as text with ``str()``,
        and as a dict with ``to_dict()``.
    """
    tgt = get_target(target) if target is not None else None
    fmt = _as_raw(raw, encoding, samplerate if encoding is not None else None, channels)
    if fmt is not None and not isinstance(source, (Clip, np.ndarray)):
        data, kind, name = read_source_bytes(source)
        pre = sniff_bytes(data, fmt, where=repr(name) if name else f"the {len(data)} bytes")
        if any(f.code in BLOCKING for f in pre):
            findings = _sorted(pre + (_encoding_findings(fmt, tgt) if tgt else []))
            return Report(name=name, source=f"raw bytes declared {fmt}", samplerate=None, channels=None,
                          duration=None, frames=None, dtype=None, levels=None, cues=None,
                          findings=tuple(findings), target=tgt.name if tgt else None)
        clip = _load_raw(data, fmt, kind=kind, name=name)
    else:
        clip = load(source, samplerate=samplerate, raw=fmt) if fmt else load(source, samplerate=samplerate)
    return _inspect_clip(clip, tgt, fmt)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def _inspect_clip(clip: Clip, tgt: Target | None, fmt: RawFormat | None) -> Report:
    prov = clip.provenance
    name = prov.name
    levels = measure_levels(clip)
    findings: list[Finding] = list(prov.findings)
    findings += _truncation(clip)
    silent = levels.peak_dbfs < -70.0
    cues = None
    # When the bytes were misread (float as int, swapped bytes) the decoded
    # samples are noise: level and content findings would only distract.
    misread = any(f.code in _MISREAD for f in findings)
    if not silent and not misread:
        cues = speech_cues(clip, bandwidth_hz=levels.bandwidth_hz)
        findings += sniff_samples(clip, cues=cues, send_rate=tgt.recommended_samplerate if tgt is not None else None)
    if not misread:
        lv_findings = _level_findings(clip, levels)
        if any(f.code == "rate_mismatch" for f in findings):
            lv_findings = [f for f in lv_findings if f.code != "low_bandwidth"]
        findings += lv_findings
    if tgt is not None:
        findings += _target_findings(clip, tgt, fmt.encoding if fmt and fmt.encoding in tgt.encodings else None)
        if fmt is not None:
            findings += _encoding_findings(fmt, tgt)
    elif clip.channels > 1:
        findings.append(Finding(
            "stereo", "info", f"{clip.channels} channels; every streaming API voicelab knows takes mono",
            "garbled", "mix down before streaming: clip = clip.to_mono()", {"channels": clip.channels}))
    return Report(
        name=name,
        source=prov.describe(),
        samplerate=clip.samplerate,
        channels=clip.channels,
        duration=clip.duration,
        frames=clip.frames,
        dtype=prov.dtype,
        levels=levels,
        cues=cues,
        findings=tuple(_sorted(_dedupe(findings))),
        target=tgt.name if tgt else None,
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for f in findings:
        if f.code not in seen:
            seen.add(f.code)
            out.append(f)
    return out


def _truncation(clip: Clip) -> list[Finding]:
    declared = clip.provenance.declared_frames
    if declared is None or declared <= clip.frames:
        return []
    rate = clip.samplerate
    return [Finding(
        "truncated", "error",
        f"the file's header declares {declared / rate:.2f} s ({declared} frames) but only "
        f"{clip.duration:.2f} s ({clip.frames} frames) are present: the file was cut short",
        "lost_audio",
        "re-export or re-download the file; voicelab loaded the part that is present "
        "(save it whole with clip.save('fixed.wav') if that part is enough)",
        {"declared_frames": declared, "frames": clip.frames},
    )]


def _level_findings(clip: Clip, lv: Levels) -> list[Finding]:
    out: list[Finding] = []
    if clip.frames == 0:
        return [Finding("empty", "error", "the clip has no samples", "no_transcripts",
                        "check the source; nothing was recorded or read")]
    if lv.peak_dbfs < -70.0:
        what = "digital silence (every sample is zero)" if lv.peak_dbfs <= -120 else \
            f"silence: its loudest sample is {lv.peak_dbfs:.0f} dBFS"
        return [Finding(
            "silence", "error", f"the audio is {what}", "no_transcripts",
            "check the microphone or the source: the right input device, not muted, permission granted; "
            "vl.widgets.Recorder shows the level live",
            {"peak_dbfs": lv.peak_dbfs})]
    if lv.clipping_share > 0.001 or lv.clipped_runs >= 10:
        out.append(Finding(
            "clipping", "error" if lv.clipping_share > 0.01 else "warning",
            f"{lv.clipping_share:.2%} of samples sit at full scale in {lv.clipped_runs} runs: the audio is clipped",
            "poor_quality",
            "record again with less input gain (clipping cannot be undone); when converting, leave headroom: "
            "clip.normalize(peak_dbfs=-3)",
            {"clipping_share": lv.clipping_share, "clipped_runs": lv.clipped_runs}))
    dc = max(lv.dc_offset, key=abs)
    if abs(dc) > 0.01:
        out.append(Finding(
            "dc_offset", "warning", f"DC offset of {dc:+.3f} full scale ({20 * np.log10(abs(dc)):.0f} dBFS)",
            "poor_quality", "remove it: clip = vl.audio.remove_dc(clip)", {"dc_offset": list(lv.dc_offset)}))
    if lv.peak_dbfs < -30.0 or lv.active_rms_dbfs < -45.0:
        out.append(Finding(
            "too_quiet", "warning",
            f"the audio is very quiet: peak {lv.peak_dbfs:.1f} dBFS, speech RMS {lv.active_rms_dbfs:.1f} dBFS",
            "poor_quality", "raise the level: clip = clip.normalize(peak_dbfs=-1)",
            {"peak_dbfs": lv.peak_dbfs, "active_rms_dbfs": lv.active_rms_dbfs}))
    nyquist = clip.samplerate / 2
    if nyquist > 4500 and 0 < lv.bandwidth_hz < 0.45 * nyquist:
        likely = min((r for r in _STANDARD_UP if r / 2 >= lv.bandwidth_hz * 0.95), default=clip.samplerate)
        out.append(Finding(
            "low_bandwidth", "warning" if likely < 16000 else "info",
            f"content stops at {lv.bandwidth_hz / 1000:.1f} kHz although {clip.samplerate} Hz audio can hold "
            f"{nyquist / 1000:.1f} kHz: it was probably recorded at {likely} Hz and upsampled",
            "poor_quality" if likely < 16000 else "wasted_bandwidth",
            f"send it at the lower rate (no information is lost): clip = clip.resample({max(likely, 8000)})",
            {"bandwidth_hz": lv.bandwidth_hz, "likely_samplerate": likely}))
    if lv.silence_share > 0.9:
        out.append(Finding(
            "mostly_silence", "info", f"{lv.silence_share:.0%} of the audio is silence", "no_transcripts",
            "check that the right part was captured; trim with clip.slice(start=..., end=...)",
            {"silence_share": lv.silence_share}))
    return out


def _target_findings(clip: Clip, tgt: Target, encoding: str | None) -> list[Finding]:
    out: list[Finding] = []
    encoding = encoding or tgt.recommended_encoding
    if clip.channels != tgt.channels:
        out.append(Finding(
            "stereo", "error", f"{clip.channels} channels; {tgt.title} takes mono only", "garbled",
            "mix down: clip = clip.to_mono()", {"channels": clip.channels}))
    rates = tgt.rates_for(encoding)
    if clip.samplerate not in tgt.samplerates:
        out.append(Finding(
            "wrong_samplerate", "error",
            f"{clip.samplerate} Hz is not accepted by {tgt.title} (accepted: "
            f"{', '.join(map(str, tgt.samplerates))} Hz)",
            "garbled", f"resample: clip = clip.resample({tgt.recommended_samplerate})",
            {"samplerate": clip.samplerate, "accepted": list(tgt.samplerates)}))
    elif clip.samplerate not in rates:
        out.append(Finding(
            "wrong_samplerate", "error",
            f"{clip.samplerate} Hz works with {tgt.title} only in another encoding; "
            f"{encoding} needs {', '.join(map(str, rates))} Hz",
            "garbled", f"resample: clip = clip.resample({tgt.recommended_samplerate})",
            {"samplerate": clip.samplerate}))
    elif clip.samplerate > max(rates) or (clip.samplerate > tgt.recommended_samplerate and rates == tgt.samplerates):
        out.append(Finding(
            "above_recommended_rate", "info",
            f"{clip.samplerate} Hz is accepted, but {tgt.title} recommends {tgt.recommended_samplerate} Hz; "
            "a higher rate costs bandwidth without helping recognition",
            "wasted_bandwidth", f"clip = clip.resample({tgt.recommended_samplerate})",
            {"samplerate": clip.samplerate}))
    dtype = clip.provenance.dtype
    if dtype and dtype.startswith("float") and encoding != "float32":
        out.append(Finding(
            "float_samples", "warning",
            f"the source holds {dtype} samples; {tgt.title} expects {tgt.recommended_encoding} (16-bit integer) "
            "bytes: sending the float bytes as they are garbles the audio",
            "invalid_audio" if tgt.transport == "base64-json" else "garbled",
            f"encode before sending: vl.audio.encode(clip, encoding='{tgt.recommended_encoding}')",
            {"dtype": dtype}))
    return out


def _encoding_findings(fmt: RawFormat, tgt: Target | None) -> list[Finding]:
    if tgt is None:
        return []
    if fmt.encoding not in tgt.encodings:
        return [Finding(
            "wrong_encoding", "error",
            f"{tgt.title} does not accept {fmt.encoding} (accepted: {', '.join(tgt.encodings)})",
            "no_transcripts",
            f"re-encode: vl.audio.encode(clip.resample({tgt.recommended_samplerate}), "
            f"encoding='{tgt.recommended_encoding}')",
            {"encoding": fmt.encoding})]
    if fmt.samplerate not in tgt.rates_for(fmt.encoding):
        return [Finding(
            "wrong_samplerate", "error",
            f"{fmt.encoding} at {fmt.samplerate} Hz is not what {tgt.title} expects "
            f"({fmt.encoding} goes with {', '.join(map(str, tgt.rates_for(fmt.encoding)))} Hz)",
            "garbled", f"resample: clip.resample({tgt.rates_for(fmt.encoding)[0]})",
            {"encoding": fmt.encoding, "samplerate": fmt.samplerate})]
    return []
