"""`Recording`: an append-only, timestamped log of one streaming session, on one clock.

Every entry has ``t``, seconds on one monotonic clock since the recording
started; the first line anchors that clock to wall time. Entries are written
to a JSONL file as they happen (one line each, flushed), so a crash or a
``kill -9`` loses at most the entry being written. API keys and tokens never
reach the file: every string is redacted before it is written.

Entry kinds:

* ``session`` (the first line): provider, endpoint (the URL given, or the vendor host connected to),
  region (the one used), parameters, wall-clock anchor, voicelab version.
* ``connect`` / ``handshake`` / ``close``: connection attempts, the upgrade
  result (HTTP status or success; ``audio_offset`` is the stream's audio time
  at which this connection's audio starts, so provider times can be mapped
  back after a reconnect), close code and reason, and ``by``: who ended it
  (``clean``: the client's clean end, answered by the provider; ``server``;
  ``user``: ``Stream.stop()``; in a tap's Recording ``app`` or ``tap``). A stop
  while no connection was open (waiting for the first audio, a token, the
  upgrade or a reconnect) is a ``close`` with no ``code``, ``by: "user"``,
  ``waiting_for`` and a ``reason`` such as "stopped by the user before connecting".
* ``chunk``: one audio chunk sent — ``seq``, ``audio_start``/``audio_end``
  (seconds of audio), ``bytes``; while the audio is kept (``keep_audio_seconds``,
  the first 60 s of audio time by default) also ``data`` (the bytes exactly as
  sent, base64) with their declared ``encoding``, ``samplerate`` and
  ``channels``: `Recording.sent_audio` reads them back.
* ``send`` / ``recv``: a message out or in, raw (base64 audio payloads are
  replaced by their length, ``{"omitted_base64_chars": N}``, unless ``store_audio=True``, or, for
  received audio such as an agent's reply, while the sent audio is still being kept; the protocol
  parsers read that placeholder as audio of that size without samples, never as a broken message).
* ``gap``: a reconnect gap (audio time continues across it).
* ``note``: anything else worth keeping (session id, warnings).
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from voicelab.errors import VoicelabError
from voicelab.files import atomic_path
from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import Error, Event, Final, Partial
from voicelab.protocols.redaction import redact, redact_url
from voicelab.protocols.wire import omitted_payload
from voicelab.providers.registry import get_provider

if TYPE_CHECKING:
    from voicelab.diagnosis.doctor import DoctorReport

__all__ = ["DEFAULT_KEEP_AUDIO_SECONDS", "Entry", "Recording", "RecordingError", "RecordingStats", "SentAudio"]

FORMAT_VERSION = 1
_B64_FIELDS = ("audio", "data")
_B64_MIN = 64
_B64_RE = re.compile(r"^[A-Za-z0-9+/=]+$")
#: Seconds of audio (audio time from the stream's start) whose bytes a Recording keeps by default.
DEFAULT_KEEP_AUDIO_SECONDS = 60.0
#: Characters of a refused handshake's body kept in `Recording.summary`'s ``errors``.
ERROR_BODY_CHARS = 500


class RecordingError(VoicelabError):
    """A recording file could not be written or read."""


@dataclass(frozen=True)
class Entry:
    """One line of a Recording.

    Attributes:
        t: Seconds since the recording started, on its monotonic clock.
        kind: ``session``, ``connect``, ``handshake``, ``open``, ``chunk``,
            ``send``, ``recv``, ``gap``, ``close``, ``note`` or ``error``.
        data: The entry's fields (JSON values).
    """

    t: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``data.get(key, default)``."""
        return self.data.get(key, default)

    def to_json(self) -> str:
        """The entry as one line of JSON."""
        return json.dumps({"t": round(self.t, 6), "kind": self.kind, **self.data}, ensure_ascii=False,
                          separators=(",", ":"))


@dataclass(frozen=True)
class RecordingStats:
    """Counters like the vendors' suggested ``sessionStats``.

    Attributes:
        chunks_sent: Audio chunks sent.
        bytes_sent: Audio bytes sent.
        audio_seconds_sent: Seconds of audio sent.
        messages_received: Messages received.
        partials: Non-final transcript messages.
        finals: Final transcript messages.
        errors: Error messages received.
        reconnects: Reconnect gaps.
        close_codes: Close codes seen, in order.
    """

    chunks_sent: int
    bytes_sent: int
    audio_seconds_sent: float
    messages_received: int
    partials: int
    finals: int
    errors: int
    reconnects: int
    close_codes: tuple[int, ...]


@dataclass(frozen=True, repr=False)
class SentAudio:
    """The audio bytes a stream actually sent, as kept by its Recording, with their declared format.

    Attributes:
        data: The bytes exactly as sent (chunks in audio-time order; a chunk resent after a reconnect
            counts once).
        encoding: The encoding the bytes were declared as (voicelab name, e.g. ``linear16``).
        samplerate: The declared rate, Hz.
        channels: The declared channels.
        start: Audio time of the first byte, seconds.
        end: Audio time after the last byte, seconds.
        complete: Whether every chunk sent is in ``data`` (``False`` when ``keep_audio_seconds``
            cut the tail off).
        sends: ``(t, audio_start, audio_end)`` per kept chunk: its send time (recording seconds) and
            audio span (seconds), in the order of ``data``.
    """

    data: bytes
    encoding: str
    samplerate: int
    channels: int
    start: float
    end: float
    complete: bool
    sends: tuple[tuple[float, float, float], ...] = ()

    @property
    def format(self) -> str:
        """The declared format as ``encoding:rate:channels`` (what ``vl.load(..., raw=)`` takes)."""
        return f"{self.encoding}:{self.samplerate}:{self.channels}"

    @property
    def duration(self) -> float:
        """Seconds of audio kept."""
        return self.end - self.start

    def __repr__(self) -> str:
        return (f"<SentAudio {len(self.data)} B {self.format}, {self.start:.2f}-{self.end:.2f} s"
                f"{'' if self.complete else ' (first part only)'}>")


def _strip_audio(obj: Any) -> Any:
    """Replace long base64 audio payloads in a message by a length marker (`omitted_payload`).

    The marker is understood by the protocol parsers (`voicelab.protocols.wire.omitted_payload_bytes`):
    a recorded message whose audio was left out parses into its event with the audio's size and no
    samples, so `Recording.events`, `voicelab.replay`, the plots and widgets read it as it was received.
    """
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in _B64_FIELDS and isinstance(v, str) and len(v) >= _B64_MIN and _B64_RE.match(v[:256]):
                out[k] = omitted_payload(len(v))
            else:
                out[k] = _strip_audio(v)
        return out
    if isinstance(obj, list):
        return [_strip_audio(v) for v in obj]
    return obj


#: How `Recording.chunk` keeps a chunk entry: ``(t, seq, audio_start, audio_end, bytes)``, plus
#: ``(data_base64, encoding, samplerate, channels)`` while the audio is kept.
_ChunkRow = tuple[Any, ...]


def _chunk_entry(row: _ChunkRow) -> Entry:
    """The `Entry` of a stored chunk row."""
    data = {"seq": row[1], "audio_start": row[2], "audio_end": row[3], "bytes": row[4]}
    if len(row) > 5:
        data.update(data=row[5], encoding=row[6], samplerate=row[7], channels=row[8])
    return Entry(row[0], "chunk", data)


#: How `Recording.message_in` keeps a received JSON message: ``(t, text)``, its JSON text as the file holds it
#: (redacted, audio stripped as the Recording keeps it), decoded when read. The text takes a fraction of the
#: memory of the decoded dict (a 2-hour session receives tens of thousands of messages), and a tuple of a float
#: and a str is left alone by the garbage collector, whose pauses a dict per message would lengthen.
_RecvRow = tuple[float, str]


def _recv_entry(row: _RecvRow) -> Entry:
    """The `Entry` of a stored received-message row."""
    return Entry(row[0], "recv", {"message": json.loads(row[1])})


def _as_entry(item: Entry | _ChunkRow | _RecvRow) -> Entry:
    if isinstance(item, Entry):
        return item
    return _recv_entry(item) if len(item) == 2 else _chunk_entry(item)


def _kind_of(item: Entry | _ChunkRow | _RecvRow) -> str:
    if isinstance(item, Entry):
        return item.kind
    return "recv" if len(item) == 2 else "chunk"


def _plain_number(value: object) -> bool:
    """Whether ``value`` is an int or a finite float whose ``repr`` is its JSON text (no bool, no numpy)."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _redact_all(obj: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(obj, str):
        text = redact(obj, secrets) if secrets else obj
        return redact_url(text) if "://" in text and "?" in text else text
    if isinstance(obj, dict):
        return {str(k): _redact_all(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_all(v, secrets) for v in obj]
    return obj


_NOT_A_RECORDING = ("is this a voicelab recording? Pass the .jsonl file written by "
                    "vl.stream(..., record='session.jsonl') or voicelab stream --record")


def _read_lines(p: Path) -> tuple[list[Entry], str | None]:
    """`Recording.load`'s parser: the entries and the torn last line skipped (or ``None``).

    Raises `RecordingError` naming the line and the fix.

    Lines are split on newlines only: the file is written with ``ensure_ascii=False``, so a transcript may hold
    U+2028 or another character `str.splitlines` would split on. A last line without its newline that
    does not parse is what a crash mid-write leaves: it is skipped (`Recording.load` warns).
    """
    name = str(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"no such recording: {name!r}") from None
    except IsADirectoryError:
        raise RecordingError(f"{name!r} is a directory, not a recording; pass the .jsonl file inside it") from None
    except OSError as exc:
        raise RecordingError(f"cannot read the recording {name!r}: {exc.strerror or exc}") from None
    if not data.strip():
        raise RecordingError(f"{name!r} is empty; {_NOT_A_RECORDING}")
    raw = data.split(b"\n")
    last = len(raw) - 1 if raw[-1].strip() else len(raw) - 2  # index of the last non-empty line
    torn_allowed = not data.endswith(b"\n")  # every line a Recording writes ends with a newline
    entries: list[Entry] = []
    for i, chunk in enumerate(raw):
        where = f"{name!r} line {i + 1}"
        line_bytes = chunk.removesuffix(b"\r")
        if i == 0:
            line_bytes = line_bytes.removeprefix(b"\xef\xbb\xbf")  # a BOM added by an editor
        if not line_bytes.strip():
            continue
        torn = torn_allowed and i == last and bool(entries)
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            if torn:  # a multi-byte character cut in two by a crash
                return entries, where
            raise RecordingError(f"{where} is not UTF-8 text (byte {line_bytes[exc.start]:#04x} at column "
                                 f"{exc.start + 1}): this is a binary file; {_NOT_A_RECORDING}") from None
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            if torn:
                return entries, where
            hint = " (cut short?)" if i == last else ""
            raise RecordingError(f"{where} is not JSON{hint}: {_excerpt(line)}; {_NOT_A_RECORDING}") from None
        entries.append(_entry(obj, where=where, first=not entries))
    if not entries:  # only a byte-order mark and blank lines
        raise RecordingError(f"{name!r} holds no entries; {_NOT_A_RECORDING}")
    return entries, None


def _excerpt(line: str, limit: int = 60) -> str:
    return repr(_clip(line, limit))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _entry(obj: Any, *, where: str, first: bool) -> Entry:
    """Check one decoded line: a JSON object with a finite number ``t`` and a string ``kind``."""
    if not isinstance(obj, dict):
        raise RecordingError(f"{where} is JSON {type(obj).__name__ if obj is not None else 'null'}, not an object "
                             f'like {{"t": 0.0, "kind": "session", ...}}; {_NOT_A_RECORDING}')
    t, kind = obj.pop("t", None), obj.pop("kind", None)
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        what = "has no \"t\"" if t is None else f"has \"t\": {_clip(json.dumps(t))}, not a number of seconds"
        raise RecordingError(f"{where} {what} (every entry carries its time on the recording's clock); "
                             f"{_NOT_A_RECORDING}")
    if not isinstance(kind, str) or not kind:
        raise RecordingError(f"{where} has no \"kind\" string (session, connect, chunk, recv …); {_NOT_A_RECORDING}")
    if first and (kind != "session" or not isinstance(obj.get("provider"), str)):
        problem = "has no provider" if kind == "session" else f"is a {kind!r} entry"
        raise RecordingError(f"{where} {problem}: a recording starts with a session line naming its provider; "
                             f"{_NOT_A_RECORDING}")
    return Entry(float(t), kind, obj)


class Recording:
    """A session log on one monotonic clock, written to JSONL as it grows.

    Args:
        path: The JSONL file to write (created or truncated); ``None`` keeps
            the log in memory only.
        provider: ``pulse`` or ``assemblyai-agent``.
        endpoint: The URL connected to (credentials are redacted).
        region: The provider region or host label, if known.
        params: The session's parameters (query or session config).
        secrets: Strings that must never be written (API keys, tokens).
        store_audio: Keep base64 audio payloads inside messages (large).
        keep_audio_seconds: Keep the bytes of the audio sent (base64 ``data`` on ``chunk`` entries)
            for chunks starting in the first this many seconds of audio time, and the audio received
            (e.g. an agent's replies) in the same window, so `voicelab.diagnose` can check what was
            really sent; ``None`` keeps all, ``0`` keeps none (privacy). About 43 KB of JSONL per
            second of 16 kHz linear16.
        clock: Monotonic clock in seconds (injectable for tests).
        wall_clock: Wall clock in seconds since the epoch (injectable).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        provider: str,
        endpoint: str | None = None,
        region: str | None = None,
        params: Mapping[str, Any] | None = None,
        secrets: Iterable[str | None] = (),
        store_audio: bool = False,
        keep_audio_seconds: float | None = DEFAULT_KEEP_AUDIO_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = tuple(s for s in secrets if s)
        self._store_audio = store_audio
        if keep_audio_seconds is not None and not keep_audio_seconds >= 0:
            raise ValueError(f"keep_audio_seconds must be >= 0 seconds or None, got {keep_audio_seconds!r}")
        self._keep_until: float = math.inf if keep_audio_seconds is None else float(keep_audio_seconds)
        self._keeping = self._keep_until > 0  # received audio is kept while sent audio is
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._entries: list[Entry | _ChunkRow | _RecvRow] = []
        self._file: IO[str] | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            try:
                self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise RecordingError(f"cannot write the recording to {str(self.path)!r}: {exc}") from exc
        wall = wall_clock()
        from voicelab import __version__

        self._append("session", {
            "version": FORMAT_VERSION,
            "provider": provider,
            "endpoint": endpoint,
            "region": region,
            "params": dict(params or {}),
            "wall_clock": wall,
            "keep_audio_seconds": keep_audio_seconds,
            "started_at": datetime.fromtimestamp(wall, UTC).isoformat(),
            "voicelab": __version__,
        }, t=0.0)

    # -- writing --------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the recording started, on its monotonic clock."""
        return self._clock() - self._origin

    def _append(self, kind: str, data: dict[str, Any], *, t: float | None = None) -> Entry:
        clean = _redact_all(data, self._secrets)
        with self._lock:
            entry = Entry(self.now() if t is None else t, kind, clean)
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(entry.to_json() + "\n")
                self._file.flush()
        return entry

    def log(self, kind: str, *, t: float | None = None, **fields: Any) -> Entry:
        """Append an entry of ``kind`` with ``fields``; returns it.

        Args:
            kind: The entry kind (see the module docstring).
            t: Its time in recording seconds; defaults to now.
            **fields: JSON-serialisable fields.
        """
        return self._append(kind, fields, t=t)

    def chunk(self, *, seq: int, audio_start: float, audio_end: float, nbytes: int, t: float | None = None,
              data: bytes | None = None, encoding: str = "linear16", samplerate: int = 16000,
              channels: int = 1) -> Entry:
        """Record one audio chunk sent: its audio span (seconds), size (bytes) and, while kept, the bytes.

        The per-chunk hot path of every stream. Its fields are plain numbers, which redaction never
        changes, so the line is formatted directly (the same text as `Entry.to_json`) and the entry is
        kept as a tuple of numbers and strings, which Python's cyclic garbage collector stops tracking:
        hours of chunks from hundreds of streams add no collector pauses. Reading it gives an `Entry` as
        usual. Anything else (a string, a numpy scalar, NaN) takes the general, redacting path.

        Args:
            seq: 0-based chunk number in the stream.
            audio_start: Audio time where the chunk starts, seconds.
            audio_end: Audio time where it ends, seconds.
            nbytes: Size of the chunk's audio, bytes.
            t: Send time in recording seconds; defaults to now.
            data: The bytes as sent; kept (base64) when ``audio_start`` is inside ``keep_audio_seconds``.
            encoding: The encoding ``data`` was declared as (voicelab name).
            samplerate: Its declared rate, Hz.
            channels: Its declared channels.
        """
        when = self.now() if t is None else t
        keep = data is not None and audio_start < self._keep_until
        if not keep and self._keeping and data is not None:
            self._keeping = False  # past the window: received audio is no longer kept either
        if not (_plain_number(when) and _plain_number(seq) and _plain_number(audio_start)
                and _plain_number(audio_end) and _plain_number(nbytes)):
            fields: dict[str, Any] = {"seq": seq, "audio_start": audio_start, "audio_end": audio_end, "bytes": nbytes}
            if keep:
                assert data is not None
                fields.update(data=base64.b64encode(data).decode("ascii"), encoding=encoding,
                              samplerate=samplerate, channels=channels)
            return self._append("chunk", fields, t=when)
        head = (f'{{"t":{round(when, 6)!r},"kind":"chunk","seq":{seq!r},"audio_start":'
                f'{audio_start!r},"audio_end":{audio_end!r},"bytes":{nbytes!r}')
        row: _ChunkRow
        if keep:
            assert data is not None
            b64 = base64.b64encode(data).decode("ascii")
            row = (when, seq, audio_start, audio_end, nbytes, b64, str(encoding), int(samplerate), int(channels))
            line = (f'{head},"data":"{b64}","encoding":{json.dumps(row[6])},"samplerate":{row[7]!r},'
                    f'"channels":{row[8]!r}}}\n')
        else:
            row = (when, seq, audio_start, audio_end, nbytes)
            line = head + "}\n"
        with self._lock:
            self._entries.append(row)
            if self._file is not None:
                self._file.write(line)
                self._file.flush()
        return _chunk_entry(row)

    def message_out(self, message: str | Mapping[str, Any], *, t: float | None = None) -> Entry:
        """Record a text message sent (base64 audio inside it is replaced by its length)."""
        return self._append("send", {"message": self._message(message)}, t=t)

    def message_in(self, message: str | bytes, *, t: float | None = None) -> Entry:
        """Record a message received, raw."""
        if isinstance(message, (bytes, bytearray)):
            return self._append("recv", {"binary_bytes": len(message)}, t=t)
        try:
            obj = json.loads(message)
        except (ValueError, RecursionError):  # not JSON: kept as the text it is
            return self._append("recv", {"message": message}, t=t)
        kept = obj if self._store_audio or self._keeping else _strip_audio(obj)
        clean = _redact_all(kept, self._secrets)
        text = message
        if clean != obj or "\n" in text or "\r" in text:  # what the Recording keeps differs from what came
            text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
        when = self.now() if t is None else t
        row: _RecvRow = (float(when), text)
        with self._lock:
            self._entries.append(row)
            if self._file is not None:
                self._file.write(f'{{"t":{round(row[0], 6)!r},"kind":"recv","message":{text}}}\n')
                self._file.flush()
        return Entry(row[0], "recv", {"message": clean})

    def _message(self, message: str | Mapping[str, Any], *, keep: bool = False) -> Any:
        if isinstance(message, str):
            try:
                obj = json.loads(message)
            except ValueError:
                return message
        else:
            obj = dict(message)
        return obj if self._store_audio or keep else _strip_audio(obj)

    def close(self) -> None:
        """Close the file (the in-memory log stays readable)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a Recording from a JSONL file (a last line cut short by a crash is skipped, with a warning).

        Args:
            path: The file written by a Recording (``stream(..., record=...)``, ``voicelab stream --record``).

        Returns:
            A read-only Recording.

        Raises:
            RecordingError: The file cannot be read, or is not a Recording: not UTF-8, a line that is not a
                JSON object with a number ``t`` and a string ``kind``, or no ``session`` line first. The
                message names the line and the fix.
        """
        p = Path(path)
        entries, torn = _read_lines(p)
        if torn is not None:
            import warnings

            from voicelab.errors import VoicelabWarning

            warnings.warn(f"{torn} was cut short (the recording stopped mid-write, e.g. a crash) and is skipped",
                          VoicelabWarning, stacklevel=2)
        rec = cls.__new__(cls)
        rec._secrets = ()
        rec._store_audio = False
        rec._keep_until = 0.0
        rec._keeping = False
        rec._clock = time.monotonic
        rec._origin = 0.0
        rec._lock = threading.Lock()
        rec._entries = list(entries)
        rec._file = None
        rec.path = p
        return rec

    @property
    def entries(self) -> list[Entry]:
        """All entries, in order (a copy)."""
        return self.entries_since(0)

    def entries_since(self, start: int) -> list[Entry]:
        """The entries from position ``start`` on (``len(recording)`` is the next position), in order."""
        with self._lock:
            items = self._entries[start:]
        return [_as_entry(e) for e in items]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def header(self) -> Entry:
        """The ``session`` line."""
        return _as_entry(self._entries[0])

    @property
    def provider(self) -> str:
        """The provider name."""
        return str(self.header["provider"])

    def of(self, kind: str) -> list[Entry]:
        """Entries of one kind."""
        with self._lock:
            items = list(self._entries)
        return [_as_entry(e) for e in items if _kind_of(e) == kind]

    def events(self) -> list[tuple[float, Event]]:
        """Every received message parsed into voicelab events, with its receive time.

        Returns:
            ``(t, event)`` pairs in order. Parsing uses the same protocol module
            as the live client, so a replayed Recording gives the same events.
        """
        parse = get_provider(self.provider).parse
        out: list[tuple[float, Event]] = []
        offset = 0.0
        with self._lock:
            items = list(self._entries)
        for item in items:
            if not isinstance(item, Entry) and len(item) != 2:  # a chunk sent
                continue
            e = _as_entry(item)
            if e.kind == "handshake" and e.get("ok"):
                offset = float(e.get("audio_offset") or 0.0)  # a reconnect resumes later in the audio
            if e.kind != "recv" or e.get("message") is None:
                continue
            try:
                parsed = parse(e["message"])
            except ProtocolError as exc:  # kept as an error event, as the live client does
                parsed = [Error(provider=self.provider, raw=e["message"], code="malformed_message",
                                message=f"the server sent a message that could not be parsed: {exc}")]
            for ev in parsed:
                out.append((e.t, _shift(ev, offset) if offset else ev))
        return out

    @property
    def stats(self) -> RecordingStats:
        """Chunks sent, messages received, partials and finals (the vendors' ``sessionStats``)."""
        chunks = self.of("chunk")
        evs = [ev for _, ev in self.events()]
        return RecordingStats(
            chunks_sent=len(chunks),
            bytes_sent=sum(int(c["bytes"]) for c in chunks),
            audio_seconds_sent=max((float(c["audio_end"]) for c in chunks), default=0.0),
            messages_received=len(self.of("recv")),
            partials=sum(isinstance(ev, Partial) for ev in evs),
            finals=sum(isinstance(ev, Final) for ev in evs),
            errors=sum(ev.kind == "error" for ev in evs),
            reconnects=len(self.of("gap")),
            close_codes=tuple(int(c["code"]) for c in self.of("close") if c.get("code") is not None),
        )

    @property
    def transcript(self) -> str:
        """The session transcript: the finals' text joined with spaces."""
        return " ".join(ev.text.strip() for _, ev in self.events() if isinstance(ev, Final) and ev.text.strip())

    def session_ids(self) -> list[str]:
        """Every session id the provider reported, in order of appearance."""
        return _session_ids(self.events())

    def sent_audio(self) -> SentAudio | None:
        """The audio bytes actually sent, as far as this Recording kept them, with their declared format.

        A chunk resent after a reconnect counts once (its first sending); chunks are put in audio-time
        order. When the declared format changed mid-stream, only the first format's chunks are returned.

        Returns:
            A `SentAudio` (bytes, encoding, rate, channels, audio span, send times), or ``None`` when no
            audio was kept (``keep_audio_seconds=0``, a Recording from before voicelab kept audio, or
            nothing sent).
        """
        kept: dict[float, Entry] = {}
        for c in self.of("chunk"):
            if isinstance(c.get("data"), str) and c["audio_start"] not in kept:
                kept[c["audio_start"]] = c
        if not kept:
            return None
        chunks = sorted(kept.values(), key=lambda c: c["audio_start"])
        fmt = (chunks[0]["encoding"], chunks[0]["samplerate"], chunks[0]["channels"])
        same = [c for c in chunks if (c["encoding"], c["samplerate"], c["channels"]) == fmt]
        try:
            data = b"".join(base64.b64decode(c["data"]) for c in same)
        except (ValueError, TypeError) as exc:
            raise RecordingError(f"the audio kept in {self.path or 'this recording'} is not valid base64: {exc}") \
                from None
        unique = len({c["audio_start"] for c in self.of("chunk")})
        return SentAudio(data=data, encoding=str(fmt[0]), samplerate=int(fmt[1]), channels=int(fmt[2]),
                         start=float(same[0]["audio_start"]), end=float(same[-1]["audio_end"]),
                         complete=len(same) == unique,
                         sends=tuple((c.t, float(c["audio_start"]), float(c["audio_end"])) for c in same))

    def summary(self) -> dict[str, Any]:
        """What the vendors' support pages ask for, from this Recording (JSON-ready, credentials masked).

        Returns:
            A dict: ``provider``; ``endpoint`` and ``region`` (from the header: the vendor host and region
            used, or the URL given); ``connected_to`` (each distinct URL connected to, credentials masked,
            in order); ``started_at`` (ISO 8601, UTC); ``session_ids``; ``closes`` (time, code, reason);
            ``errors`` (each `Error` event's time, code and message, and each failed handshake's HTTP
            status and body excerpt, or the connection error, in time order); ``duration_seconds``;
            ``stats`` (the `RecordingStats`) and ``voicelab`` (the version that wrote the Recording).
        """
        h = self.header
        closes = [{"t": c.t, "code": c.get("code"), "reason": c.get("reason")} for c in self.of("close")]
        st = self.stats
        events = self.events()
        connected: list[str] = []
        for c in self.of("connect"):
            url = c.get("url")
            if isinstance(url, str) and url not in connected:
                connected.append(url)
        return {
            "provider": h["provider"],
            "endpoint": h.get("endpoint"),
            "region": h.get("region"),
            "connected_to": connected,
            "started_at": h.get("started_at"),
            "session_ids": _session_ids(events),
            "closes": closes,
            "errors": self._errors(events),
            "duration_seconds": _as_entry(self._entries[-1]).t if self._entries else 0.0,
            "stats": st.__dict__ | {"close_codes": list(st.close_codes)},
            "voicelab": h.get("voicelab"),
        }

    def _errors(self, events: list[tuple[float, Event]]) -> list[dict[str, Any]]:
        """`summary`'s ``errors``: refused or failed handshakes and `Error` events, in time order."""
        out: list[dict[str, Any]] = []
        for e in self.of("handshake"):
            if e.get("ok"):
                continue
            if e.get("status") is not None:  # the server answered the upgrade with an HTTP status
                body = e.get("body")
                out.append({"t": e.t, "where": "handshake", "status": e.get("status"),
                            "body": _clip(body, ERROR_BODY_CHARS) if isinstance(body, str) else body})
            else:  # no HTTP answer: unreachable, or not a WebSocket server
                out.append({"t": e.t, "where": "handshake", "error": e.get("error"), "message": e.get("message")})
        out.extend({"t": t, "where": "message", "code": ev.code, "message": ev.message}
                   for t, ev in events if isinstance(ev, Error))
        return sorted(out, key=lambda d: d["t"])

    def support_bundle(self, path: str | os.PathLike[str], *, doctor: DoctorReport | None = None) -> Path:
        """Write a zip for a vendor's support team: what both vendors ask for before you contact them.

        The zip holds:

        * ``recording.jsonl``: this Recording, every entry (API keys and tokens are never in it:
          strings are redacted when written; audio kept by ``keep_audio_seconds`` is in it);
        * ``summary.json``: `summary` — session ids, close codes and reasons, errors with the
          handshake's HTTP status and body, start time, the endpoint and region, the URLs connected
          to, the stats and the voicelab version;
        * ``environment.json``: Python, platform and the versions of voicelab and its dependencies;
        * ``doctor.json``, when ``doctor`` is given: the `voicelab.doctor` report's steps (DNS, TCP,
          TLS, upgrade, auth …) with their timings and findings — the network conditions Smallest
          asks about.

        Every string in the summary and the doctor report passes the same redaction as the recording.

        Args:
            path: The ``.zip`` to write (written to a temporary name, then renamed).
            doctor: A `voicelab.diagnosis.doctor.DoctorReport` (what ``vl.doctor(...)`` returns), or
                ``None``.

        Returns:
            The path written.

        Raises:
            TypeError: ``doctor`` is not a `voicelab.diagnosis.doctor.DoctorReport`.
        """
        if doctor is not None:
            from voicelab.diagnosis.doctor import DoctorReport

            if not isinstance(doctor, DoctorReport):
                raise RecordingError(f"doctor= takes the report vl.doctor(...) returns, not a {type(doctor).__name__}")
        dest = Path(path)
        env = _environment()
        doctor_json = None if doctor is None else json.dumps(_redact_all(doctor.to_dict(), self._secrets), indent=2,
                                                             ensure_ascii=False)
        if not dest.parent.is_dir():
            raise RecordingError(f"cannot write the support bundle {str(dest)!r}: the directory "
                                 f"{str(dest.parent)!r} does not exist")
        if self.path is not None and dest.exists() and dest.resolve() == Path(self.path).resolve():
            raise RecordingError(f"{str(dest)!r} is this recording's own file; name the bundle differently "
                                 "(e.g. support.zip)")
        with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("recording.jsonl", "".join(e.to_json() + "\n" for e in self.entries))
            z.writestr("summary.json", json.dumps(_redact_all(self.summary(), self._secrets), indent=2,
                                                  ensure_ascii=False))
            z.writestr("environment.json", json.dumps(env, indent=2))
            if doctor_json is not None:
                z.writestr("doctor.json", doctor_json)
        return dest

    def __repr__(self) -> str:
        st = self.stats
        return (f"<Recording {self.provider}: {len(self)} entries, {st.chunks_sent} chunks, "
                f"{st.partials} partials, {st.finals} finals>")

    def support_message(self, *, doctor: DoctorReport | None = None,
                        bundle: str | os.PathLike[str] | None = None) -> str:
        """A plain-text message for the vendor's support team, filled from this Recording (no key in it).

        See `voicelab.recording.support.support_message`: session ids, start time (UTC), the URLs
        connected to and their region, close codes and reasons, errors (a refused upgrade's HTTP status),
        ``doctor``'s timings as the network conditions, client versions, and ``bundle``'s members.

        Args:
            doctor: The report ``vl.doctor(...)`` returned, or ``None``.
            bundle: The zip `support_bundle` wrote, or ``None``.
        """
        from voicelab.recording.support import support_message

        return support_message(self, doctor=doctor, bundle=bundle)


def _session_ids(events: Iterable[tuple[float, Event]]) -> list[str]:
    """Every session id in ``events``, in order of appearance."""
    ids: list[str] = []
    for _, ev in events:
        sid = getattr(ev, "session_id", None)
        if sid and sid not in ids:
            ids.append(sid)
    return ids


def _shift(ev: Event, offset: float) -> Event:
    """Move an event's audio times from connection time to stream time."""
    changes: dict[str, Any] = {}
    words = getattr(ev, "words", None)
    if words:
        changes["words"] = tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in words)
    if getattr(ev, "audio_time", None) is not None:
        changes["audio_time"] = ev.audio_time + offset  # type: ignore[attr-defined]
    return replace(ev, **changes) if changes else ev


def _environment() -> dict[str, Any]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for pkg in ("voicelab", "numpy", "websockets", "soundfile", "soxr", "anywidget", "jupyterlab"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": versions}
