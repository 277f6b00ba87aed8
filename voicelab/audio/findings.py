"""Findings: what is wrong with some audio, which symptom it causes, and the call that fixes it.

The symptoms are the ones users report on the vendors' troubleshooting pages,
in voicelab's own words, so a finding connects "what my audio is" to "what I
see going wrong".
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["SEVERITIES", "SYMPTOMS", "Finding", "Severity", "findings_json", "worst"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

#: Symptom keys → how a user experiences them.
SYMPTOMS: dict[str, str] = {
    "no_transcripts": "the connection opens but no transcripts ever arrive",
    "garbled": "transcripts arrive but are garbled, wrong or nonsense",
    "pitch": "audio plays back pitched up or down, or too fast or too slow",
    "invalid_audio": "the API rejects the audio (AssemblyAI: session.error invalid_audio)",
    "invalid_format": "the API rejects the message itself (AssemblyAI: session.error invalid_format)",
    "hallucination": "silence or noise produces stray words, or nothing at all where speech was expected",
    "poor_quality": "transcripts are less accurate than they should be",
    "latency": "transcripts arrive late (high latency) or the server falls behind",
    "wasted_bandwidth": "more bytes are sent than the content needs, which raises latency on slow links",
    "lost_audio": "part of the audio never reaches the API",
    "cannot_connect": "the WebSocket connection fails immediately or times out",
    "dropped": "the connection closes unexpectedly, without sending an end signal",
    "no_final": "partial transcripts arrive, but no final transcript does",
    "no_partials": "only final transcripts arrive; partial transcripts never update",
    "lost_words": "the last words of the session are missing from the transcript",
    "billed_after_hangup": "sessions are billed for about 30 s longer than the call lasted",
    "auth_rejected": "the connection closes at once (1008 / UNAUTHORIZED, or HTTP 401): credentials refused",
    "resume_failed": "session.resume fails (session_not_found, session_forbidden or session_expired)",
    "echo": "the agent interrupts itself: replies stop about a second in and its own words come back as user speech",
}


@dataclass(frozen=True)
class Finding:
    """One problem found in audio or in a chunk.

    Attributes:
        code: A stable identifier, e.g. ``rate_mismatch`` or ``float32_as_int16``.
        severity: ``error`` (the API will not work as intended), ``warning``
            (it will work worse) or ``info``.
        message: What was found, with the measured numbers.
        symptom: Key into `SYMPTOMS`: what a user would see because of it.
        fix: The voicelab call (or code change) that fixes it.
        evidence: The measurements behind the finding (JSON-serialisable).
    """

    code: str
    severity: Severity
    message: str
    symptom: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def symptom_text(self) -> str:
        """The symptom in words."""
        return SYMPTOMS.get(self.symptom, self.symptom)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict, with the symptom spelled out."""
        d = asdict(self)
        d["symptom_text"] = self.symptom_text
        return d

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message} → {self.symptom_text}. Fix: {self.fix}"


def worst(findings: list[Finding] | tuple[Finding, ...]) -> Severity | None:
    """Return the highest severity among ``findings`` (``None`` if there are none)."""
    for sev in SEVERITIES:
        if any(f.severity == sev for f in findings):
            return sev
    return None


def findings_json(report: dict[str, Any], *, indent: int | None = 2) -> str:
    """A report of findings (``inspect``, ``diagnose``) as strict JSON.

    NaN and infinities become ``null``; numpy scalars become plain numbers.
    """
    return json.dumps(_finite(report), indent=indent, default=_plain, allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return _finite(obj.item())
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
