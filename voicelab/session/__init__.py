"""Recordings of streaming sessions on one clock, and the metrics computed from them (pure: no I/O libraries)."""

from voicelab.session.recording import Entry, Recording, RecordingError, SessionStats
from voicelab.session.reference import find_reference

__all__ = ["Entry", "Recording", "RecordingError", "SessionStats", "find_reference"]
