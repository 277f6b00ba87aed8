"""The Voice Agent client driver: ``session.update`` first, base64 ``input.audio``, ``session.end``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicelab.audio.chunking import Chunk
from voicelab.protocols.errors import ParameterError
from voicelab.protocols.events import Error, Event, SessionEnded, SessionReady
from voicelab.protocols.wire import ConnectRequest, Explanation
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES
from voicelab.providers.assemblyai_agent.handshake import build_connect, explain_close, explain_http_status
from voicelab.providers.assemblyai_agent.messages import (
    PROVIDER,
    input_audio,
    parse,
    session_end,
    session_resume,
    session_update,
)
from voicelab.providers.spec import Driver, DriverOptions

__all__ = ["AUTH_ERROR_CODES", "RESUME_FAILURE_CODES", "AgentDriver", "make_driver"]

#: ``session.error`` codes after which a resume has failed and a fresh session is started.
RESUME_FAILURE_CODES = frozenset({"session_not_found", "session_forbidden", "session_expired"})
#: ``session.error`` codes that reject the credentials.
AUTH_ERROR_CODES = frozenset({"unauthorized", "UNAUTHORIZED", "forbidden", "FORBIDDEN"})
#: Silence sent after the audio: turn detection needs trailing silence to end the user's last turn.
TAIL_SILENCE_SECONDS = 1.0


class AgentDriver(Driver):
    """AssemblyAI Voice Agent (no I/O): what to send and how to read the answers.

    Args:
        config: The ``session`` object for ``session.update`` (see ``make_session``).
        region: ``us`` or ``eu``.
        base_url: ``ws://host:port`` override (e.g. the emulator).
        use_token: Connect with a single-use temporary token (``?token=``) minted per connection.
    """

    provider = PROVIDER

    def __init__(self, *, config: Mapping[str, Any] | None = None, region: str = "us", base_url: str | None = None,
                 use_token: bool = False) -> None:
        self.config = dict(config or {})
        self.region = region
        self.base_url = base_url
        self.use_token = use_token
        fmt = (self.config.get("input") or {}).get("format") or {}
        self._wire_encoding = fmt.get("encoding", "audio/pcm")
        if self._wire_encoding not in ENCODING_RATES:
            raise ParameterError(param="input.format.encoding", value=self._wire_encoding,
                                 allowed=tuple(ENCODING_RATES))
        self.encoding, self.samplerate = ENCODING_RATES[self._wire_encoding]
        out = (self.config.get("output") or {}).get("format") or {}
        self._output_encoding = str(out.get("encoding", "audio/pcm"))

    def parse(self, message: str | bytes) -> list[Event]:
        """Parse with this session's ``output.format.encoding``, so reply audio carries its true encoding and rate."""
        return parse(message, output_encoding=self._output_encoding)

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """Bearer header with an API key, or ``?token=`` with a temporary token."""
        if self.use_token:
            return build_connect(token=credential, region=self.region or "us", base_url=self.base_url)
        return build_connect(api_key=credential, region=self.region or "us", base_url=self.base_url)

    def opening(self, *, resume_id: str | None) -> list[str]:
        """``session.resume`` when resuming, else ``session.update`` — always the first message."""
        if resume_id:
            return [session_resume(resume_id)]
        return [session_update(dict(self.config))]

    @property
    def waits_for_ready(self) -> bool:
        """Audio waits for ``session.ready``."""
        return True

    def is_ready(self, event: Event) -> bool:
        """``session.ready``."""
        return isinstance(event, SessionReady)

    def audio(self, chunk: Chunk) -> str:
        """``{"type":"input.audio","audio":"<base64>"}``."""
        return input_audio(chunk.data, encoding=self._wire_encoding)

    def finish(self) -> list[str]:
        """``session.end`` (never leave a billable grace window behind)."""
        return [session_end()]

    @property
    def tail_silence_seconds(self) -> float:
        """See `TAIL_SILENCE_SECONDS`."""
        return TAIL_SILENCE_SECONDS

    def is_terminal(self, event: Event) -> bool:
        """``session.ended``."""
        return isinstance(event, SessionEnded)

    @property
    def resumable(self) -> bool:
        """A dropped session is resumed with ``session.resume`` within its grace window."""
        return True

    def resume_failed(self, error: Error) -> bool:
        """``session_not_found``, ``session_forbidden`` or ``session_expired`` after a resume."""
        return error.code in RESUME_FAILURE_CODES

    def is_auth_error(self, error: Error) -> bool:
        """``UNAUTHORIZED`` / ``FORBIDDEN`` (either case)."""
        return error.code in AUTH_ERROR_CODES

    def explain_status(self, status: int) -> Explanation:
        """See `voicelab.providers.assemblyai_agent.explain_http_status`."""
        return explain_http_status(status)

    def explain_close(self, code: int) -> Explanation:
        """See `voicelab.providers.assemblyai_agent.explain_close`."""
        return explain_close(code)

    @property
    def params(self) -> dict[str, Any]:
        """The session configuration."""
        return {"session": dict(self.config)}


def make_driver(options: DriverOptions) -> AgentDriver:
    """Build the Voice Agent driver for a stream (``options.params`` is the ``session`` object).

    Args:
        options: The user's choices.

    Returns:
        The driver.
    """
    return AgentDriver(config=options.params, region=options.region or "us", base_url=options.base_url,
                       use_token=options.use_token)
