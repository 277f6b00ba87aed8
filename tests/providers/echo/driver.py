"""The Echo STT client driver: binary PCM16, a keepalive when idle, ``close`` → last final."""

from __future__ import annotations

from typing import Any

from tests.providers.echo.protocol import (
    NAME,
    build_connect,
    close_message,
    explain_close,
    explain_status,
    keepalive_message,
)
from voicelab.protocols.events import Event, Final, SessionReady
from voicelab.protocols.wire import ConnectRequest, Explanation
from voicelab.providers import Driver, DriverOptions

#: Keepalive after this many idle wall seconds (short, so a test sees it).
KEEPALIVE_SECONDS = 0.4


class EchoDriver(Driver):
    provider = NAME

    def __init__(self, *, base_url: str | None, samplerate: int) -> None:
        self.base_url = base_url or "wss://echo.invalid"
        self.samplerate = samplerate
        self.encoding = "linear16"

    def connect_request(self, *, credential: str) -> ConnectRequest:
        return build_connect(api_key=credential, base_url=self.base_url, samplerate=self.samplerate)

    @property
    def waits_for_ready(self) -> bool:
        return True

    def is_ready(self, event: Event) -> bool:
        return isinstance(event, SessionReady)

    def finish(self) -> list[str]:
        return [close_message()]

    @property
    def keepalive_seconds(self) -> float | None:
        return KEEPALIVE_SECONDS

    def keepalive(self) -> list[str | bytes]:
        return [keepalive_message()]

    def is_terminal(self, event: Event) -> bool:
        return isinstance(event, Final) and event.is_last

    def explain_status(self, status: int) -> Explanation:
        return explain_status(status)

    def explain_close(self, code: int) -> Explanation:
        return explain_close(code)

    @property
    def params(self) -> dict[str, Any]:
        return {"sample_rate": self.samplerate}


def make_driver(options: DriverOptions) -> EchoDriver:
    return EchoDriver(base_url=options.base_url, samplerate=int(options.params.get("sample_rate", 16000)))
