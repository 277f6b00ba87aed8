"""Encoding names and their common aliases; a dependency-free table shared by audio and protocols."""

from __future__ import annotations

__all__ = ["ENCODING_ALIASES"]

#: Alias (lower case) → voicelab's canonical encoding name.
ENCODING_ALIASES: dict[str, str] = {
    "pcm16": "linear16",
    "pcm_s16le": "linear16",
    "s16le": "linear16",
    "int16": "linear16",
    "pcm_s32le": "linear32",
    "int32": "linear32",
    "f32le": "float32",
    "pcm_f32le": "float32",
    "ulaw": "mulaw",
    "pcmu": "mulaw",
    "pcm_mulaw": "mulaw",
    "pcma": "alaw",
    "ogg-opus": "ogg_opus",
}
