"""What differs between providers on the client side, as pure data and functions.

The one I/O layer (`voicelab.client.connection`) pumps any provider through a
`Driver`: how to build the upgrade request, what to send first, when the
session is ready, how audio is wrapped, how to end cleanly, which event ends
the session and how to resume. Adding an API means adding a driver here — no
new I/O code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelab.audio.chunking import Chunk
from voicelab.protocols import assemblyai_agent as agent
from voicelab.protocols import pulse
from voicelab.protocols.events import Event, Final, SessionEnded, SessionReady
from voicelab.protocols.wire import ConnectRequest, Explanation

__all__ = ["AgentDriver", "Driver", "PulseDriver"]


@dataclass
class Driver:
    """Base class: the provider-specific half of a streaming session (no I/O).

    Attributes:
        provider: Protocol name.
        encoding: The audio encoding to send (voicelab name).
        samplerate: The audio rate to send, Hz.
    """

    provider: str = ""
    encoding: str = "linear16"
    samplerate: int = 16000

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """The upgrade request for one connection attempt."""
        raise NotImplementedError

    def opening(self, *, resume_id: str | None) -> list[str]:
        """Messages to send right after the upgrade (before any audio)."""
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

    def finalize(self) -> list[str]:
        """Messages that ask for a final for the audio so far, keeping the session open."""
        return []

    def finish(self) -> list[str]:
        """Messages for a clean, intentional end of the session."""
        return []

    @property
    def tail_silence_seconds(self) -> float:
        """Silence to send after the audio, so the provider's VAD closes the last turn (0: not needed)."""
        return 0.0

    def is_terminal(self, event: Event) -> bool:
        """Whether ``event`` is the provider's last word on a clean end."""
        return False

    def session_id(self, event: Event) -> str | None:
        """The session id carried by ``event``, if any."""
        return getattr(event, "session_id", None)

    def explain_status(self, status: int) -> Explanation:
        """Explain a refused handshake."""
        raise NotImplementedError

    def explain_close(self, code: int) -> Explanation:
        """Explain a close code."""
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        """Parameters to record (no secrets)."""
        return {}


@dataclass
class PulseDriver(Driver):
    """Smallest Pulse: binary audio frames, ``finalize``, ``close_stream`` → final with ``is_last``.

    Attributes:
        query: Pulse query parameters (validated).
        endpoint: ``live`` or ``legacy``.
        region: ``india`` or ``us`` (ignored with ``base_url``).
        base_url: ``ws://host:port`` (e.g. the emulator) instead of the vendor host.
        auth: ``bearer`` (header), ``token`` or ``api_key`` (query).
    """

    query: pulse.PulseParams = field(default_factory=pulse.PulseParams)
    endpoint: str = "live"
    region: str = "india"
    base_url: str | None = None
    auth: str = "bearer"

    def __post_init__(self) -> None:
        self.provider = "pulse"
        self.encoding = self.query.encoding or "linear16"
        self.samplerate = self.query.sample_rate or 16000

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """Build the upgrade request (Bearer header by default)."""
        return pulse.build_connect(api_key=credential, params=self.query, endpoint=self.endpoint,  # type: ignore[arg-type]
                                   region=self.region, base_url=self.base_url, auth=self.auth)  # type: ignore[arg-type]

    def finalize(self) -> list[str]:
        """``{"type":"finalize"}``."""
        return [pulse.finalize_message()]

    def finish(self) -> list[str]:
        """``{"type":"close_stream"}``: the server answers with the last final and closes."""
        return [pulse.close_stream_message()]

    def is_terminal(self, event: Event) -> bool:
        """The final with ``is_last``."""
        return isinstance(event, Final) and event.is_last

    def explain_status(self, status: int) -> Explanation:
        """See `voicelab.protocols.pulse.explain_http_status`."""
        return pulse.explain_http_status(status)

    def explain_close(self, code: int) -> Explanation:
        """See `voicelab.protocols.pulse.explain_close`."""
        return pulse.explain_close(code)

    @property
    def params(self) -> dict[str, Any]:
        """The query parameters."""
        return dict(self.query.to_query(endpoint=self.endpoint))  # type: ignore[arg-type]


@dataclass
class AgentDriver(Driver):
    """AssemblyAI Voice Agent: ``session.update`` first, base64 ``input.audio``, ``session.end``.

    Attributes:
        session: The ``session`` object for ``session.update`` (see ``make_session``).
        region: ``us`` or ``eu``.
        base_url: ``ws://host:port`` override (e.g. the emulator).
        use_token: Connect with a single-use temporary token (``?token=``) minted per connection.
    """

    session: Mapping[str, Any] = field(default_factory=dict)
    region: str = "us"
    base_url: str | None = None
    use_token: bool = False

    def __post_init__(self) -> None:
        self.provider = "assemblyai-agent"
        fmt = (self.session.get("input") or {}).get("format") or {}
        enc = fmt.get("encoding", "audio/pcm")
        self.encoding = {"audio/pcm": "linear16", "audio/pcmu": "mulaw", "audio/pcma": "alaw"}.get(enc, "linear16")
        self.samplerate = 24000 if self.encoding == "linear16" else 8000
        self._wire_encoding = enc

    def connect_request(self, *, credential: str) -> ConnectRequest:
        """Bearer header with an API key, or ``?token=`` with a temporary token."""
        if self.use_token:
            return agent.build_connect(token=credential, region=self.region, base_url=self.base_url)
        return agent.build_connect(api_key=credential, region=self.region, base_url=self.base_url)

    def opening(self, *, resume_id: str | None) -> list[str]:
        """``session.resume`` when resuming, else ``session.update`` — always the first message."""
        if resume_id:
            return [agent.session_resume(resume_id)]
        return [agent.session_update(dict(self.session))]

    @property
    def waits_for_ready(self) -> bool:
        """Audio waits for ``session.ready``."""
        return True

    def is_ready(self, event: Event) -> bool:
        """``session.ready``."""
        return isinstance(event, SessionReady)

    def audio(self, chunk: Chunk) -> str:
        """``{"type":"input.audio","audio":"<base64>"}``."""
        return agent.input_audio(chunk.data, encoding=self._wire_encoding)

    def finish(self) -> list[str]:
        """``session.end`` (never leave a billable grace window behind)."""
        return [agent.session_end()]

    @property
    def tail_silence_seconds(self) -> float:
        """One second: turn detection needs trailing silence to end the user's last turn."""
        return 1.0

    def is_terminal(self, event: Event) -> bool:
        """``session.ended``."""
        return isinstance(event, SessionEnded)

    def explain_status(self, status: int) -> Explanation:
        """A generic explanation (the agent reports auth failures inside the session)."""
        return Explanation(code=status, title=f"HTTP {status}", cause="the upgrade was refused",
                           fix="check the URL (wss://agents.assemblyai.com/v1/ws) and the key")

    def explain_close(self, code: int) -> Explanation:
        """See `voicelab.protocols.assemblyai_agent.explain_close`."""
        return agent.explain_close(code)

    @property
    def params(self) -> dict[str, Any]:
        """The session configuration."""
        return {"session": dict(self.session)}
