"""Detection of mislabelled audio: bytes that are not what they were declared to be.

Two levels:

* `sniff_bytes` looks at headerless bytes against their declared `RawFormat`:
  text (base64, JSON) where binary audio was expected, a WAV or other
  container header inside "raw" PCM, float32 declared as int16 and the
  reverse, byte-swapped int16, a byte count that is not whole samples.
* `sniff_samples` looks at decoded samples: interleaved stereo declared as
  mono, and a declared sample rate contradicted by the speech in it (the
  verdict of `voicelab.audio.ratelabel`: ``error`` when decisive, ``warning``
  when only possible, ``info`` when there is too little speech to tell).

Each check compares the declared interpretation with the alternative and
fires only when the alternative is clearly better, so correct audio does not
raise false alarms (measured on every good file in data/).
"""

from __future__ import annotations

import json
import re

import numpy as np
import numpy.typing as npt

from voicelab.audio.analysis import SpeechCues, speech_cues
from voicelab.audio.clip import Clip
from voicelab.audio.findings import Finding
from voicelab.audio.formats import RawFormat
from voicelab.audio.riff import find_riff, parse_wav_header

__all__ = ["BLOCKING", "STANDARD_RATES", "sniff_bytes", "sniff_samples"]

#: Codes after which the bytes cannot be decoded as declared at all.
BLOCKING = frozenset(
    {"empty", "json_text", "base64_text", "text_data", "wav_header_in_raw", "container_in_raw",
     "int16_as_float32", "partial_sample"}
)
STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000)
_B64 = re.compile(rb"^[A-Za-z0-9+/=_\-\s]*$")
_MAGIC = {b"OggS": "an Ogg file", b"fLaC": "a FLAC file", b"ID3": "an MP3 file (ID3 tag)",
          b"FORM": "an AIFF file", b"caff": "a CAF file"}
_SAMPLE = 1 << 20  # bytes looked at for the statistical checks


def _lag_corr(x: npt.NDArray[np.float64], lag: int) -> float:
    if len(x) <= lag + 1:
        return 0.0
    a, b = x[:-lag], x[lag:]
    # einsum, not np.dot: BLAS threads stall for tens of ms when the machine's cores are busy
    den = float(np.sqrt(np.einsum("i,i->", a, a) * np.einsum("i,i->", b, b)))
    return float(np.einsum("i,i->", a, b) / den) if den > 0 else 0.0


def _int16_view(data: bytes, *, big: bool = False) -> npt.NDArray[np.float64]:
    n = len(data) // 2 * 2
    return np.frombuffer(data[:n], dtype=">i2" if big else "<i2").astype(np.float64)


def _float32_plausible(data: bytes) -> float:
    """Share of float32 values that are finite and within [-1, 1] (the rest is impossible audio)."""
    n = len(data) // 4 * 4
    if n == 0:
        return 0.0
    v = np.frombuffer(data[:n], dtype="<f4")
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.isfinite(v) & (np.abs(v) <= 1.0)
    return float(np.mean(ok))


def _text_finding(data: bytes, fmt: RawFormat, where: str) -> Finding | None:
    head = data[:4096]
    printable = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
    if printable < 0.98 * len(head):
        return None
    stripped = head.lstrip()
    api_fix = (
        "send the raw audio bytes in a binary frame, not text; if you hold base64, decode it first: "
        "vl.load(vl.audio.b64decode(text), raw='" + str(fmt) + "')"
    )
    if stripped[:1] in (b"{", b"["):
        keys: list[str] = []
        try:
            obj = json.loads(data.decode("utf-8"))
            if isinstance(obj, dict):
                keys = sorted(obj)[:8]
        except (UnicodeDecodeError, ValueError):
            pass
        field = next((k for k in ("audio", "data", "chunk") if k in keys), None)
        fix = (
            f"take the base64 audio out of the JSON and decode it: "
            f"vl.load(vl.audio.b64decode(json.loads(text)['{field}']), raw='{fmt}')"
            if field
            else api_fix
        )
        return Finding(
            code="json_text",
            severity="error",
            message=f"{where} is JSON text{f' (keys: {keys})' if keys else ''}, not raw {fmt.encoding} audio",
            symptom="no_transcripts",
            fix=fix,
            evidence={"keys": keys},
        )
    if _B64.match(head) and len(head.strip()) >= 16:
        return Finding(
            code="base64_text",
            severity="error",
            message=f"{where} is base64 text, not raw {fmt.encoding} audio (binary APIs such as Pulse want bytes)",
            symptom="no_transcripts",
            fix=f"decode it first: vl.load(vl.audio.b64decode(text), raw='{fmt}')",
        )
    return Finding(
        code="text_data",
        severity="error",
        message=f"{where} is plain text, not {fmt.encoding} audio",
        symptom="no_transcripts",
        fix="pass the audio bytes themselves (e.g. open the file with 'rb' and check you read the right file)",
    )


def sniff_bytes(data: bytes, fmt: RawFormat, *, where: str = "the data") -> list[Finding]:
    """Check headerless bytes against their declared format.

    Args:
        data: The bytes as they would be sent or were read.
        fmt: What the bytes were declared to be.
        where: How to name the data in messages (a path, "chunk 3" …).

    Returns:
        Findings, most severe first; codes in `BLOCKING` mean the bytes cannot
        be decoded as declared.
    """
    if len(data) == 0:
        return [Finding("empty", "error", f"{where} is empty (0 bytes)", "no_transcripts",
                        "check the source: an empty read usually means the file or stream is at its end")]
    text = _text_finding(data, fmt, where)
    if text is not None:
        return [text]
    out: list[Finding] = []
    riff = find_riff(data)
    if riff is not None and fmt.encoding != "ogg_opus":
        hdr = parse_wav_header(data, offset=riff)
        desc = (
            f" ({hdr.samplerate} Hz, {hdr.channels} ch, {hdr.bits_per_sample}-bit, format tag {hdr.format_tag})"
            if hdr else ""
        )
        out.append(Finding(
            code="wav_header_in_raw",
            severity="error",
            message=f"{where} starts with a RIFF/WAVE header{desc} at byte {riff}, but was declared raw "
            f"{fmt.encoding}; the header would be sent as audio",
            symptom="invalid_audio",
            fix="load it as a WAV file so the header is parsed and dropped: clip = vl.load(path_or_bytes) "
            "(without raw=), then send clip's PCM",
            evidence={"offset": riff, "header": None if hdr is None else {
                "samplerate": hdr.samplerate, "channels": hdr.channels, "bits": hdr.bits_per_sample}},
        ))
        return out
    for magic, what in _MAGIC.items():
        if data.startswith(magic) and not (magic == b"OggS" and fmt.encoding == "ogg_opus"):
            return [Finding("container_in_raw", "error",
                            f"{where} is {what}, but was declared raw {fmt.encoding}", "invalid_audio",
                            "load it as a file so the container is decoded: clip = vl.load(path_or_bytes)")]
    if fmt.encoding == "ogg_opus" and not data.startswith(b"OggS"):
        out.append(Finding("not_ogg", "error", f"{where} was declared ogg_opus but does not start with 'OggS'",
                           "invalid_audio", "declare the real encoding (e.g. raw='linear16:16000:1') or send an "
                           "Ogg Opus stream: vl.audio.encode(clip, encoding='ogg_opus')"))
        return out
    bps = fmt.bytes_per_sample
    if bps and len(data) % (bps * fmt.channels):
        extra = len(data) % (bps * fmt.channels)
        out.append(Finding(
            code="partial_sample",
            severity="error",
            message=f"{where} has {len(data)} bytes, which is not a whole number of {bps * fmt.channels}-byte "
            f"{fmt.encoding} frames ({extra} byte(s) left over)",
            symptom="garbled",
            fix="cut audio at frame boundaries: vl.audio.chunk(clip, chunk_bytes=4096, encoding=...) "
            "never splits a sample",
            evidence={"bytes": len(data), "left_over": extra},
        ))
    sample = data[:_SAMPLE]
    if fmt.encoding == "linear16":
        le = _int16_view(sample)
        if np.count_nonzero(le) > 0.05 * max(len(le), 1):
            plaus = _float32_plausible(sample)
            r_le = _lag_corr(le - le.mean(), 1)
            if plaus > 0.98 and len(sample) % 4 == 0:
                out.insert(0, Finding(
                    code="float32_as_int16",
                    severity="error",
                    message=f"{where} looks like 32-bit float samples ({plaus:.1%} are valid floats in [-1, 1]) "
                    "but was declared linear16 (int16)",
                    symptom="garbled",
                    fix=f"load it as float32, then convert: clip = vl.load(data, raw='float32:{fmt.samplerate}:"
                    f"{fmt.channels}'); send vl.audio.encode(clip, encoding='linear16')",
                    evidence={"valid_float_share": plaus, "int16_lag1_corr": r_le},
                ))
            else:
                be = _int16_view(sample, big=True)
                r_be = _lag_corr(be - be.mean(), 1)
                if r_be > 0.5 and r_be - r_le > 0.3:
                    out.insert(0, Finding(
                        code="byte_swapped",
                        severity="error",
                        message=f"{where} looks byte-swapped: read as big-endian int16 it is smooth audio "
                        f"(lag-1 correlation {r_be:.2f}), as the declared little-endian it is noise ({r_le:.2f})",
                        symptom="garbled",
                        fix="swap the bytes: samples = np.frombuffer(data, '>i2'); "
                        f"clip = vl.Clip(samples, samplerate={fmt.samplerate})",
                        evidence={"lag1_le": r_le, "lag1_be": r_be},
                    ))
    elif fmt.encoding == "float32":
        plaus = _float32_plausible(sample)
        if plaus < 0.98:
            le = _int16_view(sample)
            r = _lag_corr(le - le.mean(), 1) if le.size else 0.0
            looks_int16 = r > 0.3
            out.insert(0, Finding(
                code="int16_as_float32" if looks_int16 else "invalid_float",
                severity="error",
                message=f"{where} was declared float32, but {1 - plaus:.1%} of its values are NaN, infinite or "
                f"beyond [-1, 1]" + (f"; read as int16 it is smooth audio (lag-1 correlation {r:.2f})"
                                     if looks_int16 else ""),
                symptom="garbled",
                fix=(f"load it as int16: vl.load(data, raw='linear16:{fmt.samplerate}:{fmt.channels}')"
                     if looks_int16 else "check what produced the data; float audio must be finite and within [-1, 1]"),
                evidence={"valid_float_share": plaus, "int16_lag1_corr": r},
            ))
    return out


def sniff_samples(clip: Clip, *, cues: SpeechCues | None = None, send_rate: int | None = None) -> list[Finding]:
    """Check decoded samples for interleaved stereo declared mono and a wrong rate label.

    Args:
        clip: The decoded clip.
        cues: Precomputed `speech_cues(clip)`, if the caller has them.
        send_rate: The rate (Hz) the audio is meant to be sent at (an API's rate), for the fix of a wrong rate
            label; ``None``: the declared rate, which is what the caller meant to send.

    Returns:
        Findings (possibly empty).
    """
    out: list[Finding] = []
    name = clip.provenance.name or "the audio"
    declared = clip.samplerate
    if clip.channels == 1 and clip.frames >= 4096:
        x = clip.samples[: 1 << 20].astype(np.float64)
        x = x - x.mean()
        if np.any(x):
            r1, r2 = _lag_corr(x, 1), _lag_corr(x, 2)
            even, odd = x[0::2], x[1::2]
            n = min(len(even), len(odd))
            nz = (even[:n] != 0) | (odd[:n] != 0)
            dup = float(np.mean(even[:n][nz] == odd[:n][nz])) if np.any(nz) else 0.0
            if (r2 > 0.5 and r2 - r1 > 0.15) or dup > 0.95:
                out.append(Finding(
                    code="stereo_as_mono",
                    severity="error",
                    message=f"{name} looks like interleaved 2-channel audio declared as mono "
                    + (f"(every sample is repeated: {dup:.0%})" if dup > 0.95 else
                       f"(samples two apart correlate {r2:.2f}, neighbours only {r1:.2f})"),
                    symptom="pitch",
                    fix=f"declare 2 channels and mix down: clip = vl.load(data, raw='linear16:{declared}:2')"
                    ".to_mono()",
                    evidence={"lag1": r1, "lag2": r2, "duplicate_share": dup},
                ))
                return out
    cues = cues if cues is not None else speech_cues(clip)
    if cues is not None:
        out += _rate_findings(clip, cues, name, send_rate=send_rate or declared)
    return out


def _rate_findings(clip: Clip, cues: SpeechCues, name: str, *, send_rate: int) -> list[Finding]:
    declared = clip.samplerate
    if cues.verdict == "unknown":
        return [Finding(
            code="rate_unverified",
            severity="info",
            message=f"the {declared} Hz rate label could not be checked against the speech: {cues.reason}",
            symptom="garbled",
            fix="give inspect() 3 s or more of speech to check the rate label, or listen to the clip: "
            "speech at the wrong rate sounds too fast and high or too slow and low",
            evidence={"reason": cues.reason, "voiced_seconds": cues.voiced_seconds},
        )]
    if cues.verdict not in ("mismatch", "possible_mismatch") or cues.likely_samplerate is None:
        return []
    decisive = cues.verdict == "mismatch"
    k = cues.rate_factor
    true_rate = cues.likely_samplerate
    at = cues.cues.get(f"{k:.4g}", {})
    direction = "slowed down and pitched down" if k > 1 else "sped up and pitched up"
    measured = (f"pitch {cues.pitch_hz:.0f} Hz, harmonic peak {cues.harmonic_peak_hz:.0f} Hz, "
                f"syllable rhythm {cues.syllable_rate_hz:.1f} Hz")
    at_true = (f"{at.get('pitch_hz', float('nan')):.0f} Hz, {at.get('harmonic_peak_hz', float('nan')):.0f} Hz "
               f"and {at.get('syllable_rate_hz', float('nan')):.1f} Hz")
    if decisive:
        message = (f"{name} is labelled {declared} Hz, but its speech sounds {direction} ({measured}; at "
                   f"{true_rate} Hz they would be {at_true}, typical of speech): it was recorded at about "
                   f"{true_rate} Hz (confidence {cues.confidence:.1%})")
    else:
        message = (f"{name} is labelled {declared} Hz, but its speech possibly sounds {direction} ({measured}; at "
                   f"{true_rate} Hz they would be {at_true}): it was possibly recorded at about {true_rate} Hz "
                   f"(confidence {cues.confidence:.0%}, not decisive: listen to it before relabelling)")
    prov = clip.provenance
    resample = "" if true_rate == send_rate else f".resample({send_rate})"
    then = "" if true_rate == send_rate else f", then resample to the {send_rate} Hz to send"
    if prov.container == "RAW" and prov.subtype:
        fix = (f"declare the real rate{then}: "
               f"clip = vl.load(data, raw='{prov.subtype}:{true_rate}:{prov.channels or 1}'){resample}")
    else:
        fix = (f"relabel the samples with the real rate{then}: "
               f"clip = vl.Clip(clip.samples, samplerate={true_rate}){resample}")
    used = [c.removeprefix("ll_") for c in at if c.startswith("ll_")]
    return [Finding(
        code="rate_mismatch",
        severity="error" if decisive else "warning",
        message=message,
        symptom="garbled",
        fix=fix,
        evidence={
            "likely_samplerate": true_rate,
            "rate_factor": k,
            "confidence": cues.confidence,
            "likely_rate_confidence": cues.likely_rate_confidence,
            "log_likelihood_ratio": cues.log_likelihood_ratio,
            "decisive": decisive,
            "cues": used,
            "voiced_seconds": cues.voiced_seconds,
            "measured": {"pitch_hz": cues.pitch_hz, "harmonic_peak_hz": cues.harmonic_peak_hz,
                         "syllable_rate_hz": cues.syllable_rate_hz, "bandwidth_hz": cues.bandwidth_hz},
            "candidates": cues.cues,
        },
    )]
