"""Diagnosis: name what is wrong with a connection (`doctor`, live) and with a session.

`doctor` checks a live connection step by step (URL, DNS, TCP, TLS, upgrade, auth, session, close)
and reports each step with a finding in the same format as `voicelab.inspect`. `diagnose` reads a
recorded session (a `Stream`, a `Recording` or its JSONL path) and names what went wrong in it: the
audio as sent, the outcome, pacing and latency, the connection, an agent's echo loop.
docs/diagnosis.md lists every finding code with its meaning and fix.
"""

import sys
import types
from typing import Any

from voicelab.diagnose.doctor import DOCTOR_CODES, DoctorReport, Step, doctor
from voicelab.diagnose.recorded import DIAGNOSE_CODES, DiagnoseError, Diagnosis, diagnose

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


class _DiagnosePackage(types.ModuleType):
    """This package, callable as `diagnose`: importing it binds ``voicelab.diagnose`` to the package (the
    import system sets a subpackage as its parent's attribute), so ``vl.diagnose(rec)`` must work on it too."""

    def __call__(self, source: Any, *, audio: bool = True) -> Diagnosis:
        return diagnose(source, audio=audio)


sys.modules[__name__].__class__ = _DiagnosePackage
