"""Recordings of streaming sessions on one clock, and the metrics computed from them (pure: no I/O libraries)."""

from voicelab.session.recording import Entry, Recording, RecordingError, SessionStats

__all__ = ["Entry", "Recording", "RecordingError", "SessionStats"]
