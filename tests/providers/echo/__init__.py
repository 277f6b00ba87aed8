"""A minimal third provider that exists only for tests: "Echo STT" (``echo-test``).

Everything voicelab knows about it lives in this package: the sans-I/O protocol (`protocol`),
the client driver (`driver`), the emulator route (`emulator`, the only I/O code here) and the
spec below. Registering it is one line, ``voicelab.providers.register(SPEC)`` (or
``VOICELAB_PROVIDERS=tests.providers.echo:SPEC`` for a subprocess such as the CLI); after that
`voicelab.stream`, the ``voicelab`` CLI, the emulator, the audio targets and the metrics pick it
up with no edit anywhere else.

The wire protocol: ``wss://host/test/v1/listen?sample_rate=16000`` with ``Authorization: Bearer
<key>``; binary PCM16 frames; ``{"type":"keepalive"}`` when idle; ``{"type":"close"}`` to end.
The server answers ``{"type":"ready","session_id":…}``, ``{"type":"partial","text":…}``,
``{"type":"final","text":…,"start":…,"end":…,"last":false}`` and, after ``close``, a last
final with ``"last": true`` and the number of keepalives it received, then closes 1000.
"""

from __future__ import annotations

from tests.providers.echo.driver import make_driver
from tests.providers.echo.protocol import (
    NAME,
    PATH,
    closed,
    explain_close,
    explain_status,
    parse,
)
from voicelab.audio.targets import Target
from voicelab.providers import ProviderSpec

TARGET = Target(
    name=NAME,
    title="Echo STT (test provider)",
    samplerates=(16000, 8000),
    encodings=("linear16",),
    recommended_samplerate=16000,
    recommended_encoding="linear16",
    transport="binary",
    chunk_bytes=3200,
    chunk_seconds=0.1,
    interval_seconds=(0.05, 0.2),
)

SPEC = ProviderSpec(
    name=NAME,
    title="Echo STT (test provider)",
    key_env="ECHO_TEST_API_KEY",
    hosts={"local": "wss://echo.invalid"},
    default_region="local",
    paths={"listen": PATH},
    target=TARGET,
    parse=parse,
    closed=closed,
    explain_close=explain_close,
    explain_status=explain_status,
    make_driver=make_driver,
    emulator="tests.providers.echo.emulator:route",
)
