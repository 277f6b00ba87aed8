"""`TapSession`: one app connection through the tap, its Recording, and a live source for the widgets."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from voicelab.protocols.errors import ProtocolError
from voicelab.protocols.events import Error, Event, Final
from voicelab.protocols.redaction import redact
from voicelab.providers.spec import ProviderSpec
from voicelab.recording.log import Recording

__all__ = ["TapSession"]

log = logging.getLogger("voicelab.proxy")

Callback = Callable[[float, Event], None]


class TapSession:
    """One app connection: what the app sent and received, recorded on one clock as it happens.

    A live source for `voicelab.widgets.Timeline` and `LatencyChart` (like a `voicelab.Stream`): it has
    `recording`, `on` and `done`. Created and fed by the tap's event loop; read from any thread.

    Attributes:
        number: 1 for the tap's first connection, 2 for the next, …
        client: The app's address, ``host:port``.
        recording: Everything the app sent and received (audio frames as ``chunk`` entries).
        status: The upgrade's HTTP status (101, or the refusal the app got); ``None`` before it.
        close_code: The close code the app saw or sent (1006: no close frame); ``None`` while open.
        close_reason: Its reason.
        closed_by: ``"app"``, ``"server"`` (the upstream) or ``"tap"`` (an injected fault); ``None`` while open.
    """

    def __init__(self, *, number: int, spec: ProviderSpec, recording: Recording, client: str, path: str,
                 secrets: tuple[str, ...]) -> None:
        self.number = number
        self.client = client
        self.path = path
        self.recording = recording
        self.status: int | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_by: str | None = None
        self._spec = spec
        self._secrets = secrets
        self._lock = threading.Lock()
        self._callbacks: list[Callback] = []
        self._events: list[tuple[float, Event]] = []
        self._done = threading.Event()

    # -- live source ----------------------------------------------------------------------------------------
    def on(self, callback: Callback, *, replay: bool = True) -> None:
        """Call ``callback(t, event)`` for every provider event the app receives (on the tap's thread).

        Args:
            callback: The function; its exceptions are logged, never raised into the tap.
            replay: Also call it at once for the events already received.
        """
        past = self.events if replay else []
        with self._lock:
            self._callbacks.append(callback)
        for t, ev in past:
            callback(t, ev)

    @property
    def done(self) -> bool:
        """Whether the connection has ended (or the upgrade was refused)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the connection ends; returns whether it did within ``timeout`` seconds."""
        return self._done.wait(timeout)

    @property
    def events(self) -> list[tuple[float, Event]]:
        """Every provider event the app received so far, parsed by the provider's protocol module."""
        return self.recording.events()

    @property
    def transcript(self) -> str:
        """The finals' text, joined with spaces."""
        return " ".join(ev.text.strip() for _, ev in self.events if isinstance(ev, Final) and ev.text.strip())

    def metrics(self, **kwargs: Any) -> Any:
        """Latency metrics of this session (see `voicelab.recording.metrics.compute_metrics`)."""
        from voicelab.recording.metrics import compute_metrics

        return compute_metrics(self.recording, **kwargs)

    # -- fed by the tap -------------------------------------------------------------------------------------
    @property
    def watched(self) -> bool:
        """Whether anyone listens to events (the tap parses messages live only then)."""
        return bool(self._callbacks)

    def dispatch(self, t: float, message: str) -> None:
        """Parse a provider message the app received and call the callbacks (tap thread)."""
        try:
            events = self._spec.parse(message)
        except ProtocolError as exc:
            events = [Error(provider=self._spec.name, raw=message, code="malformed_message",
                            message=f"the server sent a message that could not be parsed: {exc}")]
        with self._lock:
            callbacks = list(self._callbacks)
        for ev in events:
            for cb in callbacks:
                try:
                    cb(t, ev)
                except Exception:  # a display callback must never break the tap
                    log.exception("tap session callback failed")

    def finish(self, *, code: int | None, reason: str, by: str) -> None:
        """Record the end of the connection, close the Recording's file and wake `wait` (once)."""
        if self._done.is_set():
            return
        self.close_code, self.close_reason, self.closed_by = code, reason, by
        if code is not None:
            self.recording.log("close", code=code, reason=reason, by=by)
        self.recording.close()
        self._done.set()
        log.info("tap session %d from %s ended: %s (%s)", self.number, self.client,
                 f"close {code} {reason!r}" if code is not None else f"HTTP {self.status}", by)

    def __repr__(self) -> str:
        state = "open" if not self.done else (
            f"closed {self.close_code} by {self.closed_by}" if self.close_code is not None else f"HTTP {self.status}")
        st = self.recording.stats
        return redact(f"<TapSession {self.number} {self._spec.name} from {self.client} {self.path}: {state}, "
                      f"{st.chunks_sent} chunks, {st.finals} finals>", self._secrets)
