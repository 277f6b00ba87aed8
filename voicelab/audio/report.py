"""The inspection report: one object that renders as HTML, text and JSON."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from voicelab.audio.analysis import Levels, SpeechCues
from voicelab.audio.findings import Finding, findings_json, worst

__all__ = ["Report"]

_COLOURS = {"error": "#b42318", "warning": "#b54708", "info": "#175cd3"}


@dataclass(frozen=True, repr=False)
class Report:
    """What `inspect` found out about some audio.

    Attributes:
        name: The source's name (path) or a description.
        source: The provenance summary, e.g. ``WAV PCM_16 (int16, little-endian)``.
        samplerate: Hz, or ``None`` when the data could not be decoded.
        channels: Channels, or ``None``.
        duration: Seconds, or ``None``.
        frames: Sample frames, or ``None``.
        dtype: The original sample dtype when known.
        levels: Level measurements, or ``None``.
        cues: Speech-rate cues, or ``None`` (no speech found).
        findings: Problems found, most severe first.
        target: The API target checked against, if any.
    """

    name: str | None
    source: str
    samplerate: int | None
    channels: int | None
    duration: float | None
    frames: int | None
    dtype: str | None
    levels: Levels | None
    cues: SpeechCues | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    target: str | None = None

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error``."""
        return worst(self.findings) != "error"

    @property
    def codes(self) -> list[str]:
        """The finding codes, in order."""
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of everything in the report."""
        return {
            "name": self.name,
            "source": self.source,
            "samplerate": self.samplerate,
            "channels": self.channels,
            "duration": self.duration,
            "frames": self.frames,
            "dtype": self.dtype,
            "target": self.target,
            "ok": self.ok,
            "levels": None if self.levels is None else self.levels.to_dict(),
            "speech": None if self.cues is None else self.cues.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return findings_json(self.to_dict(), indent=indent)

    def _facts(self) -> list[tuple[str, str]]:
        rows = [("source", self.source)]
        if self.samplerate is not None:
            rows += [
                ("sample rate", f"{self.samplerate} Hz"),
                ("channels", "mono" if self.channels == 1 else f"{self.channels}"),
                ("duration", f"{self.duration:.3f} s ({self.frames} frames)"),
            ]
        if self.levels is not None:
            lv = self.levels
            rows += [
                ("peak / RMS", f"{lv.peak_dbfs:.1f} / {lv.rms_dbfs:.1f} dBFS (speech {lv.active_rms_dbfs:.1f} dBFS)"),
                ("clipping", f"{lv.clipping_share:.3%} of samples, {lv.clipped_runs} runs"),
                ("DC offset", ", ".join(f"{d:+.4f}" for d in lv.dc_offset)),
                ("silence", f"{lv.silence_share:.0%} of 20 ms frames below -60 dBFS"),
                ("bandwidth", f"{lv.bandwidth_hz / 1000:.1f} kHz of {self.samplerate / 2000:.1f} kHz"
                 if self.samplerate else "-"),
            ]
        if self.cues is not None:
            c = self.cues
            if c.verdict == "unknown":
                rows.append(("rate label", f"cannot tell: {c.reason}"))
            else:
                rows.append(("speech cues", f"pitch {c.pitch_hz:.0f} Hz, harmonic peak {c.harmonic_peak_hz:.0f} Hz, "
                                            f"syllable rhythm {c.syllable_rate_hz:.1f} Hz"))
                verdict = {"consistent": "fits the speech", "possible_mismatch": "possibly wrong",
                           "mismatch": "wrong"}.get(c.verdict, c.verdict)
                rate = f"; likely {c.likely_samplerate} Hz" if c.verdict != "consistent" else ""
                rows.append(("rate label", f"{verdict} (confidence {c.confidence:.0%}{rate})"))
        return rows

    def __repr__(self) -> str:
        what = ", ".join(f"{f.severity} {f.code}" for f in self.findings) or "no findings"
        return f"<Report {self.name or 'audio'}: {what}>"

    def __str__(self) -> str:
        title = self.name or "audio"
        lines = [f"{title}" + (f"  (checked against {self.target})" if self.target else "")]
        lines += [f"  {k:<12} {v}" for k, v in self._facts()]
        if self.findings:
            lines.append(f"  findings ({len(self.findings)}):")
            for f in self.findings:
                lines.append(f"    [{f.severity}] {f.code}: {f.message}")
                lines.append(f"        causes: {f.symptom_text}")
                lines.append(f"        fix:    {f.fix}")
        else:
            lines.append("  findings: none" + (f" — ready for {self.target}" if self.target else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        facts = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td>{esc(v)}</td></tr>"
            for k, v in self._facts()
        )
        items = "".join(
            f"<li><b style='color:{_COLOURS[f.severity]}'>{esc(f.severity)}</b> "
            f"<code>{esc(f.code)}</code>: {esc(f.message)}<br>"
            f"<small>causes: {esc(f.symptom_text)}</small><br><small>fix: <code>{esc(f.fix)}</code></small></li>"
            for f in self.findings
        )
        verdict = (
            f"<p style='color:#067647'>No findings{esc(' — ready for ' + self.target) if self.target else ''}.</p>"
            if not self.findings
            else f"<ul>{items}</ul>"
        )
        return (
            f"<div class='voicelab-report'><b>{esc(self.name or 'audio')}</b>"
            f"{esc('  (checked against ' + self.target + ')') if self.target else ''}"
            f"<table>{facts}</table>{verdict}</div>"
        )
