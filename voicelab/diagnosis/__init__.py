"""Diagnosis (`voicelab.doctor`, `voicelab.diagnose`): name what is wrong with a connection and a session.

`doctor` checks a live connection step by step (URL, DNS, TCP, TLS, upgrade, auth, session, close)
and reports each step with a finding in the same format as `voicelab.inspect`. `diagnose` reads a
recorded session (a `Stream`, a `Recording` or its JSONL path) and names what went wrong in it: the
audio as sent, the outcome, pacing and latency, the connection, an agent's echo loop.
docs/diagnosis.md lists every finding code with its meaning and fix.
"""

from voicelab.diagnosis.doctor import DOCTOR_CODES, DoctorReport, Step, doctor
from voicelab.diagnosis.recorded import DIAGNOSE_CODES, DiagnoseError, Diagnosis, diagnose

__all__ = [
    "DIAGNOSE_CODES",
    "DOCTOR_CODES",
    "DiagnoseError",
    "Diagnosis",
    "DoctorReport",
    "Step",
    "diagnose",
    "doctor",
]
