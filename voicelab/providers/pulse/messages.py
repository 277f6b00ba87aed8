"""Smallest Pulse messages.

Client control frames, parsing server frames into events, and the server half's frame classification
and message builders. Sources: the ``/waves/v1/stt/live`` AsyncAPI spec
(https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml)
and the response-format page
(https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from voicelab.protocols.errors import MessageError
from voicelab.protocols.events import (
    Error,
    Event,
    Final,
    Partial,
    SpeechStarted,
    SpeechStopped,
    TurnEnd,
    Unrecognized,
    Utterance,
    Word,
)
from voicelab.protocols.wire import JsonMessage, decode_json_object, encode_json
from voicelab.providers.pulse.params import HOSTS, PulseSessionConfig, detected_language

__all__ = [
    "CLOSE_AFTER_LAST",
    "CLOSE_CONCURRENCY",
    "CLOSE_INVALID_FRAME",
    "CLOSE_REGION",
    "PROVIDER",
    "AudioFrame",
    "ClientFrame",
    "ControlFrame",
    "InvalidFrame",
    "build_error",
    "build_region_error",
    "build_speech_event",
    "build_transcription",
    "classify_client_frame",
    "close_stream_message",
    "end_message",
    "finalize_message",
    "parse",
]

logger = logging.getLogger("voicelab.providers.pulse")

PROVIDER = "pulse"
#: Close code after the ``is_last`` final [INF: the docs say the server closes, not with which code].
CLOSE_AFTER_LAST = 1000
#: Close code when over the concurrency limit [DOC: the AsyncAPI spec].
CLOSE_CONCURRENCY = 1008
#: Close code after an error frame for an invalid text frame [INF].
CLOSE_INVALID_FRAME = 1003
#: Close code when the host does not serve the requested language (East Asian languages on the India
#: host close "without a transcription frame"; South Indic ones on the US host after the
#: ``LANGUAGE_NOT_ENABLED_IN_REGION`` frame). The vendor does not say which code [UNK]: this is a
#: private-use code (4000-4999) of voicelab's, so that a client can tell this case from every other.
CLOSE_REGION = 4100

ControlKind = Literal["finalize", "close_stream", "end"]


# --------------------------------------------------------------------------- client → server


def finalize_message() -> str:
    """Return ``{"type":"finalize"}``: flush and emit one final; the socket stays open [DOC]."""
    return encode_json({"type": "finalize"})


def close_stream_message() -> str:
    """Return ``{"type":"close_stream"}``: last final with ``is_last``, then the server closes [DOC]."""
    return encode_json({"type": "close_stream"})


def end_message() -> str:
    """Return the legacy ``{"type":"end"}`` end signal (≤ Feb 2026; support now unknown) [DOC-old]."""
    return encode_json({"type": "end"})


# --------------------------------------------------------------------------- server → client (client half)


def _is_error(msg: Mapping[str, Any]) -> bool:
    if msg.get("type") == "error" or msg.get("status") == "error":
        return True
    if "error" in msg or "error_code" in msg:
        return True
    # Legacy ASR error frames carried only "message" (e.g. {"message":"socket timeout"}) [DOC-old]:
    # https://waves-docs.smallest.ai/v4.0.0/content/api-references/asr-websocket-api
    return "type" not in msg and "message" in msg and "transcript" not in msg and "transcription" not in msg


_ERROR_FIXES = {
    "LANGUAGE_NOT_ENABLED_IN_REGION": "South Indian languages are served by the India host: "
    f"use {HOSTS['india']} or the India-pinned {HOSTS['india_pinned']} (region='india' or 'india_pinned')",
}


def _parse_error(msg: JsonMessage) -> Error:
    err = msg.get("error")
    code: Any = msg.get("error_code")
    message: Any = msg.get("message")
    if isinstance(err, Mapping):
        code = code or err.get("code")
        message = message or err.get("message")
    elif isinstance(err, str):
        message = f"{message}: {err}" if message else err
    code_text = None if code is None else str(code)
    return Error(
        provider=PROVIDER,
        raw=msg,
        code=code_text,
        message=str(message or "error frame without a message"),
        fatal=True,  # "sent before a forced close" [DOC: the AsyncAPI spec]
        fix=_ERROR_FIXES.get(code_text or ""),
    )


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _words(items: Any) -> tuple[Word, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        Word(
            word=str(w.get("word", "")),
            start=_float(w.get("start")),
            end=_float(w.get("end")),
            confidence=_opt_float(w.get("confidence")),
            speaker=w.get("speaker"),
            speaker_confidence=_opt_float(w.get("speaker_confidence")),
        )
        for w in items
        if isinstance(w, Mapping)
    )


def _utterances(items: Any) -> tuple[Utterance, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        Utterance(
            text=str(u.get("text", "")),
            start=_float(u.get("start")),
            end=_float(u.get("end")),
            speaker=u.get("speaker"),
        )
        for u in items
        if isinstance(u, Mapping)
    )


def parse(message: str | bytes | Mapping[str, Any]) -> list[Event]:
    """Parse one server → client Pulse message into events.

    Transcriptions are recognised with ``type`` ``"transcription"`` *or missing*; text is read
    from ``transcript`` or else ``transcription``.  A final that answers ``finalize`` or is the
    last one also yields a `TurnEnd`.  Errors are recognised by ``type=="error"``,
    ``status=="error"`` or an ``error``/``error_code`` key.

    Args:
        message: The JSON text frame (or its decoded dict).

    Returns:
        The events, in order (usually one).

    Raises:
        MessageError: The frame is not a JSON object (Pulse never sends binary).
    """
    if isinstance(message, bytes | bytearray):
        try:
            msg = decode_json_object(message)
        except MessageError:
            raise MessageError(
                f"Pulse sent a {len(message)}-byte binary frame; it only sends JSON text"
            ) from None
    else:
        msg = decode_json_object(message)
    kind = msg.get("type")
    if _is_error(msg):
        return [_parse_error(msg)]
    if kind == "speech_started":
        return [SpeechStarted(provider=PROVIDER, raw=msg, audio_time=_opt_float(msg.get("timestamp")))]
    if kind == "speech_ended":
        return [SpeechStopped(provider=PROVIDER, raw=msg, audio_time=_opt_float(msg.get("timestamp")))]
    if kind not in (None, "transcription"):
        logger.debug("unrecognised Pulse message type %r", kind)
        return [Unrecognized(provider=PROVIDER, raw=msg, type=str(kind))]
    text = msg.get("transcript")
    if text is None:
        text = msg.get("transcription")
    text = "" if text is None else str(text)
    session_id = msg.get("session_id")
    words = _words(msg.get("words"))
    full = msg.get("full_transcript")
    full_transcript = None if full is None else str(full)
    if not msg.get("is_final"):
        return [Partial(provider=PROVIDER, raw=msg, text=text, words=words, session_id=session_id,
                        full_transcript=full_transcript)]
    final = Final(
        provider=PROVIDER,
        raw=msg,
        text=text,
        words=words,
        is_last=bool(msg.get("is_last", False)),
        from_finalize=bool(msg.get("from_finalize", False)),
        language=msg.get("language"),
        languages=_strings(msg.get("languages")),
        full_transcript=full_transcript,
        utterances=_utterances(msg.get("utterances")),
        redacted_entities=_strings(msg.get("redacted_entities")),
        session_id=session_id,
    )
    events: list[Event] = [final]
    if final.is_last or final.from_finalize:
        events.append(TurnEnd(provider=PROVIDER, raw=msg, reason="last" if final.is_last else "finalize"))
    return events


# --------------------------------------------------------------------------- client frames (server half)


@dataclass(frozen=True, kw_only=True)
class AudioFrame:
    """A binary audio frame from the client.

    Attributes:
        data: The raw audio bytes in the declared encoding.
    """

    data: bytes


@dataclass(frozen=True, kw_only=True)
class ControlFrame:
    """A JSON control message from the client.

    Attributes:
        control: ``"finalize"``, ``"close_stream"`` or ``"end"`` (legacy; treated as close_stream).
        raw: The decoded message.
    """

    control: ControlKind
    raw: JsonMessage

    @property
    def ends_stream(self) -> bool:
        """Whether this control ends the session (``close_stream`` or the legacy ``end``)."""
        return self.control in ("close_stream", "end")


@dataclass(frozen=True, kw_only=True)
class InvalidFrame:
    """A text frame that is not a valid control message.

    Attributes:
        reason: What is wrong with it.
        error: The error frame to send back.
        close_code: The close code that follows the error frame.
    """

    reason: str
    error: JsonMessage
    close_code: int = CLOSE_INVALID_FRAME


ClientFrame = AudioFrame | ControlFrame | InvalidFrame


def _strings(value: Any) -> tuple[str, ...]:
    """A JSON list as a tuple of strings; anything else (missing, a number, a string) as no strings."""
    return tuple(str(x) for x in value) if isinstance(value, list) else ()


def classify_client_frame(frame: str | bytes) -> ClientFrame:
    """Classify a frame received by a Pulse server.

    Binary frames are audio; text frames must be ``finalize``/``close_stream``/``end`` JSON.
    ``{"flag":"END"}`` (seen in a vendor CI script) is treated as ``end`` [INF].
    An ``is_last`` field inside ``close_stream`` is ignored [DOC].

    Args:
        frame: The frame payload (``bytes`` for binary, ``str`` for text).

    Returns:
        An `AudioFrame`, `ControlFrame` or `InvalidFrame`.
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        return AudioFrame(data=bytes(frame))
    try:
        msg = decode_json_object(frame)
    except MessageError:
        reason = "text frame is not JSON; send audio as binary frames, not base64 or JSON"
        return InvalidFrame(reason=reason, error=build_error(message=reason))
    kind = msg.get("type")
    if kind in ("finalize", "close_stream", "end"):
        return ControlFrame(control=kind, raw=msg)
    if kind is None and msg.get("flag") == "END":
        return ControlFrame(control="end", raw=msg)
    reason = f"unsupported message type {kind!r}; expected finalize or close_stream"
    return InvalidFrame(reason=reason, error=build_error(message=reason))


# --------------------------------------------------------------------------- server → client builders


def _word_dict(word: Word, *, diarize: bool) -> JsonMessage:
    out: JsonMessage = {"word": word.word, "start": word.start, "end": word.end}
    if word.confidence is not None:
        out["confidence"] = word.confidence
    if diarize:
        out["speaker"] = int(word.speaker) if isinstance(word.speaker, int | float) else 0
        if word.speaker_confidence is not None:
            out["speaker_confidence"] = word.speaker_confidence
    return out


def build_transcription(
    *,
    config: PulseSessionConfig,
    session_id: str,
    transcript: str,
    is_final: bool,
    is_last: bool = False,
    from_finalize: bool = False,
    words: Sequence[Word] = (),
    utterances: Sequence[Utterance] = (),
    language: str | None = None,
    languages: Sequence[str] | None = None,
    full_transcript: str | None = None,
    redacted_entities: Sequence[str] | None = None,
) -> JsonMessage:
    """Build a ``transcription`` message as the configured session would send it.

    Fields follow the configuration: ``transcription`` duplicates ``transcript`` on the live
    endpoint; ``words`` only with ``word_timestamps`` (speaker fields only with ``diarize``);
    ``utterances`` only with ``sentence_timestamps``; ``full_transcript`` on every transcription
    event when enabled ("every transcription event also carries a cumulative ``full_transcript``"
    [DOC: the AsyncAPI spec]); ``language(s)`` only on finals, where an aggregator's detected code
    replaces its name [DOC: the response-format page]; ``from_finalize`` only on finals with
    ``itn_normalize``.

    Args:
        config: The session's configuration.
        session_id: The connection's session id.
        transcript: Text of the current segment.
        is_final: Whether this is a final.
        is_last: Whether this is the terminal final (after ``close_stream``).
        from_finalize: Whether the final answers a client ``finalize``.
        words: Word timings.
        utterances: Sentence segments.
        language: The language, for finals (default: the configured code, or for an aggregator or an
            omitted language the detected one, `voicelab.providers.pulse.params.detected_language`).
        languages: Languages detected, for finals.
        full_transcript: The session's finals so far, joined (including this one on a final); sent
            when enabled.
        redacted_entities: Placeholders, when redaction is on.

    Returns:
        The message as a dict (encode with `voicelab.protocols.wire.encode_json`).
    """
    msg: JsonMessage = {
        "type": "transcription",
        "status": "success",
        "session_id": session_id,
        "transcript": transcript,
    }
    if config.both_transcript_fields:
        msg["transcription"] = transcript
    msg["is_final"] = is_final
    msg["is_last"] = bool(is_last and is_final)
    if is_final:
        if config.itn_normalize:
            msg["from_finalize"] = from_finalize
        lang = language or detected_language(config.language)
        msg["language"] = lang
        msg["languages"] = list(languages) if languages is not None else [lang]
    if config.full_transcript and full_transcript is not None:
        msg["full_transcript"] = full_transcript
    if config.word_timestamps:
        msg["words"] = [_word_dict(w, diarize=config.diarize) for w in words]
    if config.sentence_timestamps:
        utts: list[JsonMessage] = []
        for u in utterances:
            item: JsonMessage = {"text": u.text, "start": u.start, "end": u.end}
            if config.diarize:
                item["speaker"] = int(u.speaker) if isinstance(u.speaker, int | float) else 0
            utts.append(item)
        msg["utterances"] = utts
    if (config.redact_pii or config.redact_pci) and redacted_entities is not None:
        msg["redacted_entities"] = list(redacted_entities)
    return msg


def build_speech_event(*, started: bool, session_id: str, timestamp: float) -> JsonMessage:
    """Build ``speech_started``/``speech_ended`` (sent only with ``vad_events=true``).

    Args:
        started: True for ``speech_started``, False for ``speech_ended``.
        session_id: The connection's session id.
        timestamp: Seconds from the first audio frame.

    Returns:
        The message as a dict.
    """
    kind = "speech_started" if started else "speech_ended"
    return {"type": kind, "session_id": session_id, "timestamp": round(float(timestamp), 3)}


def build_error(*, message: str, error_code: str | None = None) -> JsonMessage:
    """Build the error frame ``{"type":"error","status":"error","message":…}`` of the AsyncAPI spec.

    Args:
        message: Human-readable message.
        error_code: Optional machine code (e.g. ``LANGUAGE_NOT_ENABLED_IN_REGION``).

    Returns:
        The message as a dict.
    """
    msg: JsonMessage = {"type": "error", "status": "error"}
    if error_code is not None:
        msg["error_code"] = error_code
    msg["message"] = message
    return msg


def build_region_error(*, language: str) -> JsonMessage:
    """Build the documented ``LANGUAGE_NOT_ENABLED_IN_REGION`` frame.

    Documented in the South Indic changelog entry of 2026-06-29:
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-29-pulse-stt-south-indic-languages.mdx
    """
    return {
        "type": "error",
        "error_code": "LANGUAGE_NOT_ENABLED_IN_REGION",
        "message": f"Language '{language}' has not been enabled in this region. "
        "Please contact support to request access.",
    }
