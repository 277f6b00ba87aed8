"""voicelab's audio vocabulary: `Clip`, loading, inspection, conversion, codecs and chunking.

Pure: nothing here imports asyncio or a network library.
"""

from voicelab.audio.analysis import Levels, SpeechCues, measure_levels, speech_cues
from voicelab.audio.chunking import Chunk, chunk, validate_chunk
from voicelab.audio.clip import Clip, Provenance
from voicelab.audio.codecs import (
    b64decode,
    b64encode,
    decode,
    decode_opus_packets,
    decode_pcm,
    encode,
    encode_opus_packets,
    encode_pcm,
)
from voicelab.audio.convert import float_to_pcm, normalize, pcm_to_float, remove_dc, resample, to_mono
from voicelab.audio.findings import Finding
from voicelab.audio.formats import ENCODINGS, RawFormat
from voicelab.audio.inspection import inspect
from voicelab.audio.io import load, save
from voicelab.audio.report import Report
from voicelab.audio.targets import TARGETS, Target, get_target

__all__ = [
    "ENCODINGS",
    "TARGETS",
    "Chunk",
    "Clip",
    "Finding",
    "Levels",
    "Provenance",
    "RawFormat",
    "Report",
    "SpeechCues",
    "Target",
    "b64decode",
    "b64encode",
    "chunk",
    "decode",
    "decode_opus_packets",
    "decode_pcm",
    "encode",
    "encode_opus_packets",
    "encode_pcm",
    "float_to_pcm",
    "get_target",
    "inspect",
    "load",
    "measure_levels",
    "normalize",
    "pcm_to_float",
    "remove_dc",
    "resample",
    "save",
    "speech_cues",
    "to_mono",
    "validate_chunk",
]
