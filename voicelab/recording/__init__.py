"""Recordings of streaming sessions on one clock, and the metrics computed from them (pure: no I/O libraries)."""

from voicelab.recording.log import Entry, Recording, RecordingError, RecordingStats
from voicelab.recording.reference import find_reference

__all__ = ["Entry", "Recording", "RecordingError", "RecordingStats", "find_reference"]
