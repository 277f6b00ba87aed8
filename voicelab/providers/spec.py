"""What the rest of voicelab may know about a provider: `ProviderSpec` and the client `Driver`.

A provider package (``voicelab.providers.pulse``, ``voicelab.providers.assemblyai_agent``, or one of
your own) holds everything voicelab knows about one API and exposes one `ProviderSpec`. The client,
the CLI, the emulator, the audio targets, metrics and widgets read the spec; none of them compares
a provider's name or checks a driver's class.

Pure: no asyncio, no websockets. The emulator route is named by a dotted path and imported only
when an emulator starts, so reading a spec never loads I/O code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from voicelab.audio.chunking import Chunk
from voicelab.audio.targets import Target
from voicelab.protocols.events import Closed, Error, Event
from voicelab.protocols.wire import ConnectRequest, Explanation, HttpRequest

__all__ = ["Driver", "DriverOptions", "ProviderSpec", "TokenMinting"]


@dataclass(frozen=True, kw_only=True)
class DriverOptions:
    """What a user chose for one stream, handed to a provider's ``make_driver``.

    Attributes:
        base_url: ``ws(s)://host[:port]`` to connect to instead of the vendor host (e.g. the emulator);
            ``None`` uses the provider's host for ``region``.
        endpoint: The provider endpoint name (a key of `ProviderSpec.paths`); ``None`` for its default.
        region: A key of `ProviderSpec.hosts`; ``None`` for its default.
        params: The provider's session settings: Pulse query parameters, the AssemblyAI ``session``
            object of ``session.update``, …
        auth: The credential form (one of `ProviderSpec.auth_forms`); ``None`` for its default.
        use_token: Connect with a short-lived token minted for each connection (`ProviderSpec.token`).
    """

    base_url: str | None = None
    endpoint: str | None = None
    region: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    auth: str | None = None
    use_token: bool = False


class Driver:
    """The provider-specific half of a streaming session, as decisions only (no I/O).

    The one I/O layer (`voicelab.client.connection`) asks a driver what to send and how to read
    what comes back; a provider subclasses it and overrides what differs. Defaults describe a
    provider that needs no opening message, takes binary audio and has no terminal event.

    Attributes:
        provider: The registry name of the provider.
        encoding: The audio encoding to send (voicelab name).
        samplerate: The audio rate to send, Hz.
        use_token: Connect with a per-connection token minted through `ProviderSpec.token`.
        base_url: The ``ws(s)://host[:port]`` override, if any (also where tokens are minted).
        region: The vendor region.
    """

    provider: str = ""
    encoding: str = "linear16"
    samplerate: int = 16000
    use_token: bool = False
    base_url: str | None = None
    region: str | None = None

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """The upgrade request for one connection attempt (``credential``: key or minted token)."""
        raise NotImplementedError

    def opening(self, *, resume_id: str | None) -> list[str]:
        """Messages to send right after the upgrade, before any audio."""
        return []

    @property
    def waits_for_ready(self) -> bool:
        """Whether audio must wait for a ready event."""
        return False

    def is_ready(self, event: Event) -> bool:
        """Whether ``event`` opens the session for audio."""
        return True

    def audio(self, chunk: Chunk) -> bytes | str:
        """The frame that carries ``chunk``."""
        return chunk.data

    def parse(self, message: str | bytes) -> list[Event]:
        """Parse a server message into events, as this session's settings imply (default: the spec's ``parse``)."""
        from voicelab.providers.registry import get_provider

        return get_provider(self.provider).parse(message)

    def finalize(self) -> list[str]:
        """Messages that ask for a final for the audio so far, keeping the session open (``[]``: none)."""
        return []

    def finish(self) -> list[str]:
        """Messages for a clean, intentional end of the session."""
        return []

    @property
    def keepalive_seconds(self) -> float | None:
        """Send `keepalive` after this many wall seconds without any frame sent; ``None``: never."""
        return None

    def keepalive(self) -> list[str | bytes]:
        """The frames that keep an idle connection open."""
        return []

    @property
    def tail_silence_seconds(self) -> float:
        """Silence to send after the audio so the provider's VAD closes the last turn (0: none)."""
        return 0.0

    def is_terminal(self, event: Event) -> bool:
        """Whether ``event`` is the provider's last word after a clean end."""
        return False

    def session_id(self, event: Event) -> str | None:
        """The provider session id carried by ``event``, if any."""
        return getattr(event, "session_id", None)

    @property
    def resumable(self) -> bool:
        """Whether a dropped session can be resumed by its id (`opening` with ``resume_id``)."""
        return False

    def resume_failed(self, error: Error) -> bool:
        """Whether ``error`` says a resume failed, so a fresh session must start."""
        return False

    def is_auth_error(self, error: Error) -> bool:
        """Whether ``error`` rejects the credentials."""
        return False

    def is_fatal_close(self, code: int | None) -> bool:
        """Whether a close with ``code`` cannot be fixed by reconnecting (the retry policy then gives up)."""
        return False

    def explain_status(self, status: int) -> Explanation:
        """Explain a refused handshake."""
        raise NotImplementedError

    def explain_close(self, code: int) -> Explanation:
        """Explain a close code."""
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        """The session settings to record (no secrets)."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider} {self.encoding} @ {self.samplerate} Hz>"


@dataclass(frozen=True, kw_only=True)
class TokenMinting:
    """How a provider mints short-lived tokens, as a request builder and a response parser.

    Attributes:
        build_request: ``(api_key=, base_url=, region=) -> HttpRequest``; ``base_url`` is
            ``http(s)://host[:port]`` or ``None`` for the vendor host.
        parse_response: The response body → the token.
        path: The endpoint's HTTP path (the emulator serves it there too).
        ttl_seconds: The lifetime voicelab asks for.
    """

    build_request: Callable[..., HttpRequest]
    parse_response: Callable[[bytes], str]
    path: str
    ttl_seconds: int = 60


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """Everything the rest of voicelab reads about one provider.

    Attributes:
        name: The registry name (``"pulse"``); lower case, ``-`` separated.
        title: The human-readable API name.
        aliases: Other names accepted by `voicelab.providers.get_provider`.
        key_env: The environment variable holding the API key.
        hosts: Region → ``wss://host`` of the vendor service.
        default_region: The region used when none is given.
        paths: Endpoint name → WebSocket path (the first is the default).
        required_query: Endpoint name → query parameters a bare URL of it must carry (Pulse live:
            ``model=pulse``).
        auth_forms: The credential forms the client can use (the first is the default).
        target: The audio the API expects (rates, encodings, chunking).
        parse: A server message → normalised events.
        closed: ``(code=, reason=)`` → a `Closed` event.
        explain_close: A close code → what it means and the fix.
        explain_status: A refused upgrade's HTTP status → what it means and the fix.
        make_driver: `DriverOptions` → the client `Driver`.
        token: How to mint short-lived tokens, if the provider has them.
        emulator: ``"module:attribute"`` of the emulator `Route` factory, if voicelab emulates it.
        ready_event: The event after which a session counts as connected (``"handshake"`` when the
            upgrade itself is enough), for the connect-time metric's label.
        params_from_query: ``(query, endpoint)`` → the settings a user's URL query string gives, typed as
            ``params`` (the client merges them and refuses conflicts); ``None``: the provider takes no
            settings in the URL, and a query string is refused with the fix.
        declare_audio: ``(params, samplerate=, encoding=)`` → the params with the audio format declared
            where the provider takes it from params (Pulse's ``sample_rate``/``encoding``); values the
            user gave win. The default returns the params unchanged (the format is fixed).
        auth_checked_at: Where the service refuses a missing or wrong credential: ``"upgrade"`` (an
            HTTP 401 instead of ``101``, e.g. Pulse) or ``"session"`` (the upgrade succeeds, then an
            error event the driver's ``is_auth_error`` recognises and a close, e.g. the AssemblyAI Voice
            Agent API). `voicelab.doctor` reads it to know that a 401 is the expected answer without a
            key, and where to look for the verdict on a key. Default ``"upgrade"``.
        check_region: ``(params, region)`` → an `Explanation` when the host of ``region`` does not
            serve what ``params`` ask for (Pulse: a language served by the other region only), else
            ``None``; ``params`` are the session settings as the user gave them, with the URL's query on top.
            `voicelab.doctor` reports it as ``region_language``. The default finds nothing.
        unended_grace_seconds: Seconds the service keeps (and bills) a session whose client closed
            without the driver's `Driver.finish` messages, so it can be resumed (AssemblyAI Voice Agent:
            30 s after a close without ``session.end``); ``0`` when an unended session costs nothing
            more. `voicelab.diagnose` reads it to report ``session_end_missing`` instead of
            ``no_end_signal``. Default ``0.0``.
        support_contact: Where the vendor's troubleshooting page sends support requests (an address, a
            channel), for the ``To:`` line of `voicelab.recording.support.support_message`; ``""`` when
            unknown.
    """

    name: str
    title: str
    aliases: tuple[str, ...] = ()
    key_env: str
    hosts: Mapping[str, str]
    default_region: str
    paths: Mapping[str, str]
    required_query: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    auth_forms: tuple[str, ...] = ("bearer",)
    target: Target
    parse: Callable[..., list[Event]]
    closed: Callable[..., Closed]
    explain_close: Callable[[int], Explanation]
    explain_status: Callable[[int], Explanation]
    make_driver: Callable[[DriverOptions], Driver]
    token: TokenMinting | None = None
    emulator: str | None = None
    ready_event: str = "handshake"
    declare_audio: Callable[..., dict[str, Any]] = field(default=lambda params, **_: dict(params))
    params_from_query: Callable[[Mapping[str, str], str | None], dict[str, Any]] | None = None
    auth_checked_at: Literal["upgrade", "session"] = "upgrade"
    check_region: Callable[[Mapping[str, Any], str], Explanation | None] = field(
        default=lambda params, region: None)
    unended_grace_seconds: float = 0.0
    support_contact: str = ""

    def __repr__(self) -> str:
        return f"ProviderSpec(name={self.name!r})"

    @property
    def default_path(self) -> str:
        """The default endpoint's WebSocket path."""
        return next(iter(self.paths.values()))

    def url(self, base_url: str, *, endpoint: str | None = None) -> str:
        """The URL of an endpoint at ``base_url`` (``ws://host:port``) with its required query.

        Args:
            base_url: ``ws(s)://host[:port]``.
            endpoint: A key of `paths`; ``None`` for the default endpoint.

        Returns:
            The URL, e.g. ``ws://127.0.0.1:8765/waves/v1/stt/live?model=pulse``.

        Raises:
            ProviderError: No such endpoint.
        """
        from urllib.parse import urlencode

        from voicelab.providers.errors import ProviderError

        name = endpoint or next(iter(self.paths))
        if name not in self.paths:
            raise ProviderError(f"{self.name} has no endpoint {name!r}; it has {', '.join(self.paths)}")
        query = self.required_query.get(name) or {}
        return base_url.rstrip("/") + self.paths[name] + (f"?{urlencode(query)}" if query else "")

    def endpoint_of(self, path: str) -> str | None:
        """The endpoint name whose path ``path`` is (``None`` when it is not one of them)."""
        for name, p in self.paths.items():
            if path.rstrip("/") == p:
                return name
        return None

    def load_emulator_route(self) -> Any:
        """Import and return the emulator's route for this provider (an `voicelab.emulator.server.Route`).

        Raises:
            ProviderError: The provider has no emulator route, or its code cannot be imported.
        """
        from voicelab.providers.errors import ProviderError

        if not self.emulator:
            raise ProviderError(f"the {self.name!r} provider has no emulator route; pass url= to a real service")
        module, _, attr = self.emulator.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise ProviderError(
                f"the {self.name!r} emulator route could not be imported ({exc}); "
                "install the emulator extra: pip install 'voicelab[emulator]'") from exc
        return factory()
