"""The Pulse client driver: binary audio frames, ``finalize``, ``close_stream`` → final with ``is_last``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from voicelab.protocols.errors import ParameterError
from voicelab.protocols.events import Event, Final
from voicelab.protocols.wire import ConnectRequest, Explanation
from voicelab.providers.pulse.handshake import build_connect, explain_close, explain_http_status
from voicelab.providers.pulse.messages import CLOSE_REGION, PROVIDER, close_stream_message, finalize_message
from voicelab.providers.pulse.params import ENDPOINTS, PulseParams
from voicelab.providers.spec import Driver, DriverOptions

__all__ = ["PulseDriver", "make_driver"]


class PulseDriver(Driver):
    """Smallest Pulse (no I/O): what to send and how to read the answers.

    Args:
        query: Pulse query parameters (validated).
        endpoint: ``live`` or ``legacy``.
        region: ``india``, ``india_pinned`` or ``us`` (ignored with ``base_url``).
        base_url: ``ws://host:port`` (e.g. the emulator) instead of the vendor host.
        auth: ``bearer`` (header), ``token`` or ``api_key`` (query).
        use_token: Connect with an access token minted per connection (``POST /waves/v1/auth/token``,
            `voicelab.providers.pulse.tokens`); live endpoint only, as the Bearer header or ``?api_key=``.

    Raises:
        ParameterError: ``use_token`` on the legacy endpoint or with ``auth="token"``.
    """

    provider = PROVIDER

    def __init__(self, *, query: PulseParams | None = None, endpoint: str = "live", region: str = "india",
                 base_url: str | None = None, auth: str = "bearer", use_token: bool = False) -> None:
        if use_token and endpoint != "live":
            raise ParameterError(param="endpoint", value=endpoint, allowed=("live",),
                                 hint="access tokens are accepted on /waves/v1/stt/live only; "
                                 "use the API key (use_token=False) on the legacy path")
        if use_token and auth == "token":
            raise ParameterError(param="auth", value=auth, allowed=("bearer", "api_key"),
                                 hint="access tokens travel as the Authorization: Bearer header or ?api_key=")
        self.query = query or PulseParams()
        self.endpoint = endpoint
        self.region = region
        self.base_url = base_url
        self.auth = auth
        self.use_token = use_token
        self.encoding = self.query.encoding or "linear16"
        self.samplerate = self.query.sample_rate or 16000

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """Build the upgrade request (Bearer header by default)."""
        return build_connect(api_key=credential, params=self.query, endpoint=self.endpoint,  # type: ignore[arg-type]
                             region=self.region, base_url=self.base_url, auth=self.auth)  # type: ignore[arg-type]

    def finalize(self) -> list[str]:
        """``{"type":"finalize"}``."""
        return [finalize_message()]

    def finish(self) -> list[str]:
        """``{"type":"close_stream"}``: the server answers with the last final and closes."""
        return [close_stream_message()]

    def is_terminal(self, event: Event) -> bool:
        """The final with ``is_last``."""
        return isinstance(event, Final) and event.is_last

    def is_fatal_close(self, code: int | None) -> bool:
        """A language the host does not serve (`CLOSE_REGION`) stays unserved on every retry."""
        return code == CLOSE_REGION

    def explain_status(self, status: int) -> Explanation:
        """See `voicelab.providers.pulse.explain_http_status`."""
        return explain_http_status(status)

    def explain_close(self, code: int) -> Explanation:
        """See `voicelab.providers.pulse.explain_close`."""
        return explain_close(code)

    @property
    def params(self) -> dict[str, Any]:
        """The query parameters."""
        return dict(self.query.to_query(endpoint=self.endpoint))  # type: ignore[arg-type]


def make_driver(options: DriverOptions) -> PulseDriver:
    """Build the Pulse driver for a stream.

    voicelab asks for ``word_timestamps`` (resending audio after a drop and latency metrics are exact with
    word times), ``vad_events`` (the provider's speech end marks what a final covers) and
    ``language='en'`` unless the parameters say otherwise.

    Args:
        options: The user's choices; ``params`` are Pulse query parameters.

    Returns:
        The driver.
    """
    p = dict(options.params)
    p.setdefault("word_timestamps", True)
    if "vad" not in p:
        p.setdefault("vad_events", True)
    p.setdefault("language", "en")
    unknown = sorted(set(p) - {f.name for f in fields(PulseParams)})
    if unknown:
        raise ParameterError(param=unknown[0], value=p[unknown[0]], allowed="a PulseParams field",
                             hint="parameters voicelab does not model go in params={'extra': {name: 'value'}}")
    endpoint = options.endpoint or next(iter(ENDPOINTS))
    return PulseDriver(query=PulseParams(**p), endpoint=endpoint, region=options.region or "india",
                       base_url=options.base_url, auth=options.auth or "bearer", use_token=options.use_token)
