"""Recordings of streaming sessions on one clock, and the metrics computed from them (pure: no I/O libraries)."""

from voicelab.recording.log import Entry, Recording, RecordingError, RecordingStats
from voicelab.recording.reference import find_reference
from voicelab.recording.support import region_of, support_message

__all__ = ["Entry", "Recording", "RecordingError", "RecordingStats", "find_reference", "region_of", "support_message"]
