"""`tap`: run the recording proxy on a background thread with its own event loop (like `voicelab.serve`)."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from voicelab.client.eventloop import new_event_loop
from voicelab.client.server_thread import ServerThread
from voicelab.emulator.faults import Faults, parse_faults
from voicelab.protocols.redaction import redact, redact_url
from voicelab.providers.registry import get_provider
from voicelab.proxy.errors import NoTapSessionError, TapConfigError, TapStartError
from voicelab.proxy.forward import TapServer, check_faults
from voicelab.proxy.session import TapSession
from voicelab.proxy.wire import TOKEN_PARAM, auth_injection, is_loopback, parse_listen, upstream_base

__all__ = ["Tap", "tap"]

log = logging.getLogger("voicelab.proxy")

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


class Tap:
    """A running tap: a WebSocket proxy that records every app connection it forwards.

    Use it as a context manager (or call `close`). Every connection an app makes to `url` is forwarded
    to the upstream unchanged and recorded in its own `TapSession` (`sessions`); a session is a live
    source for the widgets (``vl.widgets.Timeline(tap.session())``; ``Timeline(tap)`` follows the latest).

    Attributes:
        provider: The provider's registry name.
        host: The bound address.
        port: The bound port.
        upstream: Where connections go (credentials in its query are hidden).
        inject_auth: Whether the tap adds the provider's key upstream.
    """

    def __init__(self, server: TapServer, *, inject_auth: bool, announce: bool) -> None:
        self._server = server
        server._on_session = self._on_session  # wakes the waiters of `session`
        self._changed = threading.Condition()
        self.inject_auth = inject_auth
        self.provider = server.spec.name
        self.upstream = redact_url(server.upstream)
        self._runner = ServerThread(start=server.start, stop=server.stop,
                                    loop=new_event_loop(),  # the client's: timers (fault delays) to well under a ms
                                    name="voicelab-tap", error=TapStartError, what="the tap", log=log,
                                    start_timeout_seconds=_START_TIMEOUT, stop_timeout_seconds=_STOP_TIMEOUT)
        self.host = server.host
        self.port = server.port
        if announce:
            print(self.banner())
        log.info("tap for %s listening at %s, upstream %s", self.provider, self.url, self.upstream)

    def _on_session(self, session: TapSession) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- URLs -------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, ``ws://host:port``: the app connects here instead of the API's host."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    def url_for(self, endpoint: str | None = None) -> str:
        """The URL of one of the provider's endpoints through the tap, with its required query.

        With ``inject_auth`` it carries the tap's local token (``vl_tap=…``), which the tap requires.

        Args:
            endpoint: A key of the provider's `paths` (``None``: its default endpoint).
        """
        url = get_provider(self.provider).url(self.url, endpoint=endpoint)
        token = self._server.token
        if token is None:
            return url
        return url + ("&" if "?" in url else "?") + urlencode({TOKEN_PARAM: token})

    @property
    def token(self) -> str | None:
        """The local token apps must send as ``?vl_tap=`` (``inject_auth`` only); never in reprs or logs."""
        return self._server.token

    # -- faults ---------------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The faults applied to the next connections (the emulator's syntax)."""
        return self._server.faults

    @faults.setter
    def faults(self, spec: str | Iterable[str] | Mapping[str, Any] | Faults | None) -> None:
        """Change the faults of the connections that come next (open ones keep theirs)."""
        self._server.faults = check_faults(parse_faults(spec))

    # -- sessions ---------------------------------------------------------------------------------------
    @property
    def sessions(self) -> list[TapSession]:
        """Every app connection so far (refused ones included), oldest first."""
        return list(self._server.sessions)

    def session(self, index: int = -1, *, timeout: float | None = 0.0) -> TapSession:
        """One session: ``index`` 0 is the first connection, -1 the latest.

        Args:
            index: Position in `sessions`.
            timeout: Seconds to wait for it to exist (``None``: forever; 0: do not wait).

        Raises:
            NoTapSessionError: It does not exist (in time).
        """
        need = index + 1 if index >= 0 else -index
        with self._changed:
            self._changed.wait_for(lambda: len(self._server.sessions) >= need, timeout=timeout)
            found = list(self._server.sessions)
        if len(found) < need:
            raise NoTapSessionError(
                f"the tap has {len(found)} session(s), not {need}: connect the app to {self.url} first "
                "(or pass timeout= to wait for it)")
        return found[index]

    def live_session(self) -> TapSession:
        """The latest session, for views given the tap itself (``vl.widgets.Timeline(tap)``)."""
        return self.session(-1)

    @property
    def recording(self) -> Any:
        """The latest session's Recording."""
        return self.session(-1).recording

    # -- lifecycle --------------------------------------------------------------------------------------
    def banner(self) -> str:
        """The start-up text: where to connect (with the local token when ``inject_auth``) and the upstream."""
        lines = [f"voicelab tap for {self.provider}: {self.url}  ->  {self.upstream}",
                 f"  connect your app to  {self.url_for()}"]
        if self.inject_auth:
            lines.append(f"  the tap adds ${get_provider(self.provider).key_env} upstream; it serves only URLs "
                         f"with this {TOKEN_PARAM} token (made for this run)")
        return "\n".join(lines)

    def close(self) -> None:
        """Close every session on both sides (1001), stop listening and join the thread."""
        self._runner.close()

    @property
    def done(self) -> bool:
        """Whether the tap has been closed."""
        return self._runner.closed

    def __enter__(self) -> Tap:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._runner.closed else "running"
        text = (f"Tap({self.provider}, url={self.url!r}, upstream={self.upstream!r}, "
                f"{len(self._server.sessions)} sessions, {state})")
        return redact(text, self._server.secrets)


def tap(
    provider: str,
    upstream: str,
    *,
    listen: str = "127.0.0.1:0",
    record: str | os.PathLike[str] | None = None,
    inject_auth: bool = False,
    faults: str | Iterable[str] | Mapping[str, Any] | Faults | None = None,
    announce: bool = True,
    open_timeout: float = 10.0,
) -> Tap:
    """Start a tap: a transparent recording proxy between any app and the API (or the emulator).

    Point the app at ``tap.url`` (or ``tap.url_for()``) instead of the API's host; every connection is
    forwarded unchanged and recorded in its own session (`Tap.sessions`).

    Args:
        provider: The provider whose protocol the app speaks (a name or alias, e.g. ``"pulse"``).
        upstream: The real API (``wss://api.smallest.ai``) or the emulator (``server.url``); ``ws``,
            ``wss``, ``http`` or ``https``.
        listen: ``host:port`` to listen on (port 0: a free one).
        record: A JSONL file for the first session's Recording (the next ones get ``-2``, ``-3`` … before the
            suffix), or an existing directory (``tap-001.jsonl`` …); ``None`` keeps them in memory.
        inject_auth: Add the key from the provider's environment variable upstream, in its documented form,
            so a browser page can connect without holding it. Needs a loopback ``listen`` address; apps
            must then carry the tap's local token (``url_for()`` includes it).
        faults: The emulator's fault syntax, applied to every connection (``"close_after_chunks:20;
            close_code:1011"``); an app adds its own with ``?vl_fault=…``.
        announce: Print where to connect once at start.
        open_timeout: Seconds to wait for the upstream's answer to an upgrade.

    Returns:
        The running tap; use it as a context manager or call ``close()``.

    Raises:
        TapConfigError: A bad upstream or listen address, or ``inject_auth`` off loopback or without a key.
        FaultSpecError: A bad fault specification, or a fault only the emulator can apply.
        TapStartError: The address cannot be bound.
        UnknownProviderError: No such provider.
    """
    spec = get_provider(provider)
    base = upstream_base(upstream)
    host, port = parse_listen(listen)
    parsed = check_faults(parse_faults(faults))
    injection, token, hidden = None, None, []
    if inject_auth:
        if not is_loopback(host):
            raise TapConfigError(f"inject_auth adds your API key to every connection, so the tap must listen on "
                                 f"loopback only; got listen={listen!r}: use 127.0.0.1:PORT")
        key = os.environ.get(spec.key_env, "").strip()
        if not key:
            raise TapConfigError(f"inject_auth reads the key from ${spec.key_env}, which is not set; export it "
                                 "before starting the tap")
        injection = auth_injection(spec, key)
        token = secrets.token_urlsafe(24)
        hidden = [key, token, *injection.headers.values()]
    server = TapServer(spec=spec, upstream=base, host=host, port=port,
                       record=Path(record) if record is not None else None, injection=injection, token=token,
                       faults=parsed, secrets=tuple(hidden), open_timeout=open_timeout)
    return Tap(server, inject_auth=inject_auth, announce=announce)
