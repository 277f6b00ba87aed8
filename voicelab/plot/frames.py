"""The data behind the event log: one row per Recording entry, and the session-state counters.

`FrameLog` is fed Recording entries in order, any number at a time (a live widget feeds only the new
ones), and keeps:

* ``counters``: the vendors' "monitor session state" figures for the whole session — chunks sent,
  audio bytes and seconds sent, messages sent and received, partials, finals, errors, reconnects,
  close codes — plus a count per row kind (for the filter);
* the most recent rows, at most `MAX_ROWS` of frames other than audio and `MAX_AUDIO_ROWS` audio
  chunks (older ones are counted in ``dropped``), so memory and what a view is sent stay bounded
  however long the session.

A row is a small JSON-ready dict: ``i`` (entry number), ``t`` (seconds on the Recording clock), ``d``
(``out`` sent, ``in`` received, ``""`` local: connection bookkeeping and notes), ``k`` (kind: ``audio``,
``partial``, ``final``, ``speech_started`` …, a sent message's ``type``, ``connect``, ``handshake``,
``close``, ``gap``, ``note`` …), ``n`` (size in bytes, or null), ``s`` (a one-line summary) and ``j``
(the entry's JSON, at most `JSON_CHARS` characters; none for audio chunks).
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import Final, Partial
from voicelab.providers.registry import get_provider
from voicelab.recording.log import Entry, Recording

__all__ = ["JSON_CHARS", "MAX_AUDIO_ROWS", "MAX_ROWS", "SUMMARY_CHARS", "FrameLog"]

#: Rows of frames other than audio chunks kept (in Python and in the browser); older ones are counted.
MAX_ROWS = 1000
#: Rows of audio chunks kept; older ones are counted.
MAX_AUDIO_ROWS = 200
#: Characters of an entry's JSON kept in its row (the rest is cut with an ellipsis).
JSON_CHARS = 1200
#: Characters of a row's summary.
SUMMARY_CHARS = 140


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _size(msg: Any) -> int | None:
    if msg is None:
        return None
    text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8"))


def _type(msg: Any) -> str | None:
    if isinstance(msg, dict):
        for key in ("type", "event", "message_type"):
            if isinstance(msg.get(key), str):
                return str(msg[key])
    return None


class FrameLog:
    """Rows and counters from Recording entries, fed in order (see the module docstring).

    Args:
        provider: The Recording's provider (chooses the parser for received messages).
        max_rows: Rows kept of frames other than audio chunks.
        max_audio_rows: Rows kept of audio chunks.
    """

    def __init__(self, *, provider: str, max_rows: int = MAX_ROWS, max_audio_rows: int = MAX_AUDIO_ROWS) -> None:
        self._parse = get_provider(provider).parse
        self.provider = provider
        self._rows: deque[dict[str, Any]] = deque(maxlen=max_rows)
        self._audio: deque[dict[str, Any]] = deque(maxlen=max_audio_rows)
        self.kinds: Counter[str] = Counter()
        self.counters: dict[str, Any] = {"chunks_sent": 0, "bytes_sent": 0, "audio_seconds_sent": 0.0,
                                         "messages_sent": 0, "messages_received": 0, "partials": 0, "finals": 0,
                                         "errors": 0, "reconnects": 0, "close_codes": []}
        self.n_rows = 0
        self.last_t = 0.0

    @classmethod
    def of(cls, recording: Recording, **kwargs: Any) -> FrameLog:
        """A log fed with every entry of ``recording``."""
        log = cls(provider=recording.provider, **kwargs)
        log.feed(recording.entries)
        return log

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows kept, in entry order."""
        return sorted([*self._rows, *self._audio], key=lambda r: r["i"])

    @property
    def dropped(self) -> int:
        """Rows seen but no longer kept (older than the limits)."""
        return self.n_rows - len(self._rows) - len(self._audio)

    def state(self) -> dict[str, Any]:
        """Counters, kind counts, rows seen and dropped: constant-size and JSON-ready."""
        c = dict(self.counters)
        c["audio_seconds_sent"] = round(c["audio_seconds_sent"], 4)
        c["close_codes"] = c["close_codes"][-8:]
        return {**c, "kinds": dict(self.kinds), "n_rows": self.n_rows, "dropped": self.dropped,
                "limits": [self._rows.maxlen, self._audio.maxlen], "t": round(self.last_t, 4)}

    def feed(self, entries: Iterable[Entry]) -> list[dict[str, Any]]:
        """Take new entries; return their rows (all of them, including ones beyond the limits)."""
        out: list[dict[str, Any]] = []
        for e in entries:
            i = self.n_rows
            self.n_rows += 1
            self.last_t = max(self.last_t, e.t)
            row = self._row(i, e)
            self.kinds[row["k"]] += 1
            (self._audio if row["k"] == "audio" else self._rows).append(row)
            out.append(row)
        return out

    def _row(self, i: int, e: Entry) -> dict[str, Any]:
        c = self.counters
        kind, d, size, summary = e.kind, "", None, ""
        if kind == "chunk":
            c["chunks_sent"] += 1
            c["bytes_sent"] += int(e.get("bytes") or 0)
            c["audio_seconds_sent"] = max(c["audio_seconds_sent"], float(e.get("audio_end") or 0.0))
            return {"i": i, "t": round(e.t, 4), "d": "out", "k": "audio", "n": int(e.get("bytes") or 0),
                    "s": f"#{e.get('seq')} audio {float(e['audio_start']):.3f}–{float(e['audio_end']):.3f} s"}
        if kind == "send":
            c["messages_sent"] += 1
            msg = e.get("message")
            d, size, kind = "out", _size(msg), _type(msg) or "message"
            summary = _cut(msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False), SUMMARY_CHARS)
        elif kind == "recv":
            c["messages_received"] += 1
            d = "in"
            msg = e.get("message")
            if msg is None:
                kind, size, summary = "binary", e.get("binary_bytes"), f"{e.get('binary_bytes')} bytes of binary data"
            else:
                kind, summary = self._received(msg)
                size = _size(msg)
        elif kind == "connect":
            summary = f"attempt {e.get('attempt', 1)}" + (f" → {e.get('url')}" if e.get("url") else "")
        elif kind == "handshake":
            d = "in"
            ok = e.get("ok")
            summary = (f"{e.get('status')} open" + (" (resumed)" if e.get("resumed") else "") if ok
                       else f"{e.get('status')} refused: {e.get('reason') or ''}")
        elif kind == "close":
            code = e.get("code")
            if code is not None:
                c["close_codes"].append(int(code))
            what = f"close {code}" if code is not None else "ended, no close code"  # e.g. stopped before connecting
            summary = f"{what} {e.get('reason') or ''} ({e.get('by') or 'server'})"
        elif kind == "gap":
            c["reconnects"] += 1
            summary = f"reconnect gap at {e.get('audio_time')} s audio, close {e.get('close_code')}"
        elif kind == "session":
            summary = f"{e.get('provider')} session → {e.get('endpoint')}"
        else:  # notes, preflight results, anything a later version logs
            summary = json.dumps(e.data, ensure_ascii=False, separators=(",", ":"))
        return {"i": i, "t": round(e.t, 4), "d": d, "k": kind, "n": size, "s": _cut(summary, SUMMARY_CHARS),
                "j": _cut(e.to_json(), JSON_CHARS)}

    def _received(self, msg: Any) -> tuple[str, str]:
        c = self.counters
        try:
            events = self._parse(msg)
        except ProtocolError as exc:
            c["errors"] += 1
            return "malformed", _cut(f"could not be parsed: {exc}", SUMMARY_CHARS)
        kind = events[0].kind if events else (_type(msg) or "message")
        summary = ""
        for ev in events:
            if isinstance(ev, Final):
                c["finals"] += 1
                summary = f"final “{ev.text}”"
            elif isinstance(ev, Partial):
                c["partials"] += 1
                summary = f"partial “{ev.text}”"
            elif ev.kind == "error":
                c["errors"] += 1
                summary = f"error {getattr(ev, 'code', '')}: {getattr(ev, 'message', '')}"
        if not summary:
            summary = " · ".join(ev.kind for ev in events) or (_type(msg) or "")
            text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
            summary = f"{summary} {text}" if summary else text
        return kind, _cut(summary, SUMMARY_CHARS)
