"""`doctor`: check a live connection to a provider step by step, and name what fails with its fix.

The seed symptom is "cannot connect": a bad key, ``Token`` instead of ``Bearer``, an ``https://`` or
``ws://`` URL, a firewall, a proxy, a wrong path. `doctor` walks the connection the way a packet
does and stops at the first step that fails::

    url → dns → tcp → tls → upgrade → auth → session → close

Each step has a status (``ok`` / ``failed`` / ``skipped``), its wall time, a detail line and, when it
fails, a `Finding` with a stable code from `DOCTOR_CODES` (the same format `inspect` uses). Without a
key the walk still goes as far as the upgrade (where a provider that checks keys there answers 401)
and says what it could not check.

Everything provider-specific comes from the provider's `ProviderSpec` and its `Driver`: the URL and
auth form (``connect_request``), where keys are refused (``auth_checked_at``), region rules
(``check_region``), what to send first, how to frame audio, what ends a session and what status
and close codes mean. The network I/O is one blocking socket driven by websockets' sans-I/O
``ClientProtocol``, so each step is timed on its own and no event loop is involved.

Secrets: the key (and a whole ``Authorization`` value given with ``auth_header``) is masked in every
text this module produces — the report, its HTML and JSON, log lines and exception messages —
including text a server sends back.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from voicelab.audio.chunking import chunk
from voicelab.audio.clip import Clip
from voicelab.audio.findings import Finding
from voicelab.audio.io import load
from voicelab.errors import VoicelabError
from voicelab.protocols.errors import ParameterError
from voicelab.protocols.events import Error, Event, Final, Partial, SessionReady
from voicelab.protocols.redaction import SECRET_QUERY_PARAMS, redact, redact_url
from voicelab.protocols.wire import bearer_token, decode_json_object
from voicelab.providers import Driver, DriverOptions, ProviderSpec, get_provider
from voicelab.providers.errors import UnknownProviderError

if TYPE_CHECKING:
    from websockets.client import ClientProtocol
    from websockets.http11 import Response

__all__ = ["DOCTOR_CODES", "STEPS", "DoctorReport", "DoctorSetupError", "Step", "doctor"]

logger = logging.getLogger("voicelab.diagnosis.doctor")

#: The steps, in the order they run.
STEPS: tuple[str, ...] = ("url", "dns", "tcp", "tls", "upgrade", "auth", "session", "close")

#: Finding code → what it means (stable; docs/diagnosis.md lists each with its fix).
DOCTOR_CODES: dict[str, str] = {
    "url_scheme": "the URL is not a WebSocket URL (http/https, no scheme) or uses ws:// where the host needs wss://",
    "url_path": "the server has no WebSocket endpoint at this path (404)",
    "dns_failure": "the host name does not resolve",
    "connection_refused": "nothing listens on that host and port",
    "connect_timeout": "no TCP answer (a firewall, a proxy requirement or no route to the host)",
    "tls_failure": "the TLS handshake failed (certificate, or a port that does not speak TLS)",
    "upgrade_timeout": "TCP is open but the upgrade gets no HTTP answer (a proxy or a black hole)",
    "not_websocket": "an HTTP answer without a WebSocket upgrade (not a WebSocket endpoint)",
    "auth_missing": "no API key was given, so the credentials could not be checked",
    "auth_scheme": "the key is sent in the wrong form (Token/Key/bare instead of Bearer); the documented form works",
    "auth_invalid": "the key is refused",
    "forbidden": "the key is valid but not allowed to use this API (403)",
    "rate_limited": "too many requests or sessions (429, with Retry-After)",
    "server_error": "the server failed (5xx) or reported an internal error",
    "param_rejected": "a parameter is missing or has a value the provider refuses (400, naming it)",
    "region_language": "the region's host does not serve the requested language",
    "no_response": "connected, but no ready event or transcript arrived for the test speech",
    "unclean_close": "the session did not end cleanly (a close code other than 1000, a drop, no end confirmation)",
}

Status = Literal["ok", "failed", "skipped"]

#: The sample speech sent in the session step (from the repository's data/; the first 2 s say "Good morning.").
SAMPLE_SPEECH = Path(__file__).resolve().parents[2] / "data" / "speech" / "s02_weather_16k.flac"
SAMPLE_SECONDS = 2.0
_PLACEHOLDER = "vl-doctor-credential-placeholder"  # marks where a driver puts the key; never sent
_BODY_CHARS = 300
_CLOSE_WAIT = 2.0  # seconds to wait for the server's half of a closing handshake
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_SERVE_HINT = "for a local check, run `voicelab serve` in another terminal and pass the URL it prints"


class DoctorSetupError(VoicelabError, ValueError):
    """The arguments of `doctor` are inconsistent (unknown provider or region, a key variable not set …)."""


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Step:
    """One checked step of a connection.

    Attributes:
        name: One of `STEPS`.
        status: ``ok``, ``failed`` or ``skipped`` (not checked, with the reason in ``detail``).
        seconds: Wall time the step took, in seconds (``None`` when skipped).
        detail: What was seen (secrets masked).
        finding: On failure, the finding with its code, message and fix.
    """

    name: str
    status: Status
    seconds: float | None
    detail: str
    finding: Finding | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"name": self.name, "status": self.status, "seconds": self.seconds, "detail": self.detail,
                "finding": self.finding.to_dict() if self.finding else None}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


_MARKS = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}
_HTML_MARKS = {"ok": ("&#10004;", "#1a7f37"), "failed": ("&#10008;", "#cf222e"), "skipped": ("&ndash;", "#6e7781")}


@dataclass(frozen=True)
class DoctorReport:
    """The result of `doctor`: every step, in order, with its finding on failure.

    Attributes:
        provider: The provider's registry name.
        title: The provider's title.
        url: The URL checked (credentials masked).
        key: Where the key came from (``"api_key="``, ``"$SMALLEST_API_KEY"`` …) or ``"none"``; never the key.
        steps: One `Step` per name in `STEPS`.
        started_at: When the check started (ISO 8601, UTC).
    """

    provider: str
    title: str
    url: str
    key: str
    steps: tuple[Step, ...]
    started_at: str

    @property
    def ok(self) -> bool:
        """Whether every checked step passed (skipped steps do not count)."""
        return not any(s.status == "failed" for s in self.steps)

    @property
    def findings(self) -> list[Finding]:
        """The findings of the failed steps."""
        return [s.finding for s in self.steps if s.finding is not None]

    @property
    def failed_step(self) -> Step | None:
        """The first failed step, if any."""
        return next((s for s in self.steps if s.status == "failed"), None)

    def step(self, name: str) -> Step:
        """The step called ``name``.

        Raises:
            KeyError: No such step.
        """
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def summary(self) -> str:
        """One line: all checked steps pass, or where and why it failed."""
        bad = self.failed_step
        skipped = [s.name for s in self.steps if s.status == "skipped"]
        if bad is None:
            text = "all checked steps pass"
            return text + (f" (not checked: {', '.join(skipped)})" if skipped else "")
        code = bad.finding.code if bad.finding else "failed"
        return f"failed at {bad.name}: {code}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (secrets masked)."""
        return {"provider": self.provider, "title": self.title, "url": self.url, "key": self.key,
                "started_at": self.started_at, "ok": self.ok, "summary": self.summary,
                "steps": [s.to_dict() for s in self.steps],
                "findings": [f.to_dict() for f in self.findings]}

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        lines = [f"voicelab doctor: {self.title} at {self.url}", f"  key: {self.key}"]
        for s in self.steps:
            f = s.finding
            text = s.detail if f is None else f"{f.code}: {f.message}"
            lines.append(f"  {_MARKS[s.status]:<7} {s.name:<8} {_duration(s.seconds):>9}  {text}")
            if f is not None:
                if s.detail != f.message:
                    lines.append(f"{'':29}{s.detail}")
                lines.append(f"{'':29}fix: {f.fix}")
        lines.append(f"  result: {self.summary}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<DoctorReport {self.provider} {self.url}: {self.summary}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = []
        for s in self.steps:
            mark, colour = _HTML_MARKS[s.status]
            f = s.finding
            cell = esc(s.detail)
            if f is not None:
                cell = f"<b style='color:{colour}'>{esc(f.code)}</b>: {esc(f.message)}"
                if s.detail != f.message:
                    cell += f"<br>{esc(s.detail)}"
                cell += f"<br><i>fix:</i> {esc(f.fix)}"
            rows.append(f"<tr><td style='color:{colour};font-weight:bold'>{mark}</td><td><code>{esc(s.name)}</code>"
                        f"</td><td style='text-align:right;white-space:nowrap'>{esc(_duration(s.seconds))}</td>"
                        f"<td style='text-align:left'>{cell}</td></tr>")
        colour = _HTML_MARKS["ok" if self.ok else "failed"][1]
        return (f"<div class='voicelab-doctor'><p><b>voicelab doctor</b>: {esc(self.title)} at "
                f"<code>{esc(self.url)}</code> (key: {esc(self.key)})</p>"
                "<table><thead><tr><th></th><th>step</th><th>time</th><th style='text-align:left'>result</th>"
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<p style='color:{colour}'><b>{esc(self.summary)}</b></p></div>")


# ------------------------------------------------------------------------------------------------ the wire


_wire_logger = logging.getLogger("voicelab.diagnosis.wire")


class _MaskingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The websockets protocol's logger, with every secret masked (it logs request headers at DEBUG)."""

    def __init__(self, logger: logging.Logger, secrets: list[str]) -> None:
        super().__init__(logger, {})
        self.secrets = secrets

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.pop("exc_info", None)
            self.logger.log(level, "%s", redact(redact_url(text), self.secrets), **kwargs)


class _Wire:
    """One blocking WebSocket connection: a socket moved by websockets' sans-I/O ``ClientProtocol``."""

    def __init__(self, sock: socket.socket, url: str, secrets: list[str]) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.sock = sock
        self.protocol: ClientProtocol = ClientProtocol(parse_uri(url), max_size=2**24,
                                                       logger=_MaskingLogger(_wire_logger, secrets))
        self.pending: list[Any] = []  # frames that arrived with the handshake response
        self.raw = bytearray()  # the first bytes received before the handshake ended (for diagnosis)
        self.eof = False
        self._fragments: list[bytes] = []
        self._fragment_text = False

    # -- bytes -------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            try:
                if data:
                    self.sock.sendall(data)
                elif not isinstance(self.sock, ssl.SSLSocket):
                    self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._eof()
                return

    def _eof(self) -> None:
        if not self.eof:
            self.eof = True
            self.protocol.receive_eof()

    def _receive(self, deadline: float) -> None:
        """Read once (raises `TimeoutError` at ``deadline``) and feed the protocol."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise
        except OSError:
            data = b""
        if not data:
            self._eof()
        else:
            if len(self.raw) < 4096 and self.protocol.handshake_exc is None and not self.open:
                self.raw += data[: 4096 - len(self.raw)]
            self.protocol.receive_data(data)
        self.sock.settimeout(max(remaining, 1.0))
        self._flush()

    def drain(self, deadline: float) -> None:
        """Read raw bytes into `raw` until EOF, 4 KiB or ``deadline`` (after a response websockets refused)."""
        while not self.eof and len(self.raw) < 4096 and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(4096 - len(self.raw))
            except OSError:  # includes the timeout
                return
            if not data:
                return
            self.raw += data

    # -- the opening handshake ---------------------------------------------------------------------------
    def handshake(self, headers: Mapping[str, str], deadline: float) -> Response | None:
        """Send the upgrade request; return the response (``None`` when the server closed without one).

        Raises:
            TimeoutError: No complete answer before ``deadline``.
        """
        from websockets.http11 import Response

        request = self.protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        self._flush()
        while True:
            events = self.protocol.events_received()
            for i, event in enumerate(events):
                if isinstance(event, Response):
                    self.pending = events[i + 1:]
                    return event
            if self.eof or self.protocol.handshake_exc is not None:
                return None
            self._receive(deadline)

    @property
    def open(self) -> bool:
        """Whether the WebSocket is open."""
        from websockets.protocol import State

        return self.protocol.state is State.OPEN

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (close frame received or EOF) and every message was read."""
        return (self.eof or self.protocol.close_rcvd is not None) and not self.pending

    @property
    def close_code(self) -> int | None:
        """The server's close code; 1006 when the connection ended without a close frame."""
        if self.protocol.close_rcvd is not None:
            return int(self.protocol.close_rcvd.code)
        return 1006 if self.eof else None

    @property
    def close_reason(self) -> str:
        """The server's close reason."""
        return self.protocol.close_rcvd.reason if self.protocol.close_rcvd is not None else ""

    # -- messages ----------------------------------------------------------------------------------------
    def messages(self, deadline: float) -> list[str | bytes]:
        """Messages that arrive in one read ([] when closed; raises `TimeoutError` at ``deadline``)."""
        from websockets.frames import Frame, Opcode

        if self.pending:
            events, self.pending = self.pending, []
        elif self.closed:
            return []
        else:
            self._receive(deadline)
            events = self.protocol.events_received()
        out: list[str | bytes] = []
        for event in events:
            if not isinstance(event, Frame):
                continue
            if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self._fragments = [bytes(event.data)]
                self._fragment_text = event.opcode is Opcode.TEXT
            elif event.opcode is Opcode.CONT:
                self._fragments.append(bytes(event.data))
            else:
                continue
            if event.fin:
                data = b"".join(self._fragments)
                self._fragments = []
                out.append(data.decode("utf-8", "replace") if self._fragment_text else data)
        return out

    def send(self, message: str | bytes) -> None:
        """Send one text or binary message."""
        if not self.open:
            return
        if isinstance(message, str):
            self.protocol.send_text(message.encode("utf-8"))
        else:
            self.protocol.send_binary(message)
        self._flush()

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (if open) and wait briefly for the server's half."""
        if self.open:
            self.protocol.send_close(code)
            self._flush()
        deadline = time.monotonic() + _CLOSE_WAIT
        while not self.eof and time.monotonic() < deadline:
            try:
                self._receive(deadline)
                self.protocol.events_received()
            except TimeoutError:
                break

    def shutdown(self) -> None:
        """Release the socket."""
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------------------------------ the plan


@dataclass
class _Plan:
    """What to connect to and how, worked out by the url step."""

    url: str  # the URL to send (with a query credential, if any): never printed unmasked
    scheme: str
    host: str
    port: int
    driver: Driver
    headers: dict[str, str]  # as the user's app sends them (auth_header) or the documented form
    documented_headers: dict[str, str]  # the driver's documented auth form
    documented_url: str
    credential_given: bool  # a key (or a credential in the URL or the auth header) is sent


@dataclass
class _Session:
    """What was received on the open connection."""

    events: list[tuple[float, Event]] = field(default_factory=list)  # (time.monotonic() on arrival, event)
    opened: bool = False  # the opening messages were sent
    ready: SessionReady | None = None
    ready_timed_out: bool = False  # the wait for the ready event already ran out (in the auth step)
    session_id: str | None = None
    unparsed: int = 0


class _Checkup:
    """Runs the steps in order; each returns a `Step`; a failure skips the rest with the reason."""

    def __init__(self, spec: ProviderSpec, *, url: str | None, key: str | None, key_source: str,
                 region: str | None, params: Mapping[str, Any], auth_header: str | None, timeout: float,
                 speech: Clip | None) -> None:
        self.spec = spec
        self.url = url
        self.key = key
        self.key_source = key_source
        self.region = region
        self.params = dict(params)
        self.auth_header = auth_header
        self.timeout = timeout
        self.speech = speech
        self.secrets: list[str] = [s for s in (key, auth_header) if s]
        self.plan: _Plan | None = None
        self.addresses: list[tuple[Any, ...]] = []
        self.connected: tuple[Any, ...] | None = None  # the (family, type, proto, _, address) that answered
        self.sock: socket.socket | None = None
        self.wire: _Wire | None = None
        self.response: Response | None = None
        self.session = _Session()
        self.steps: list[Step] = []
        self.shown_url = self._mask_url(url if url is not None else spec.url(spec.hosts[region or spec.default_region]))

    # -- helpers -----------------------------------------------------------------------------------------
    def _mask(self, text: str) -> str:
        return redact(text, self.secrets)

    def _mask_url(self, url: str) -> str:
        return redact(redact_url(url), self.secrets)

    def _finding(self, code: str, message: str, fix: str, *, symptom: str = "cannot_connect",
                 **evidence: Any) -> Finding:
        clean = {k: self._mask(v) if isinstance(v, str) else v for k, v in evidence.items() if v is not None}
        return Finding(code=code, severity="error", message=self._mask(message), symptom=symptom,
                       fix=self._mask(fix), evidence=clean)

    def _ok(self, name: str, t0: float, detail: str) -> Step:
        return Step(name, "ok", time.perf_counter() - t0, self._mask(detail))

    def _skip(self, name: str, detail: str) -> Step:
        return Step(name, "skipped", None, self._mask(detail))

    def _fail(self, name: str, t0: float, finding: Finding, detail: str | None = None) -> Step:
        return Step(name, "failed", time.perf_counter() - t0, self._mask(detail or finding.message), finding)

    # -- the walk ----------------------------------------------------------------------------------------
    def run(self) -> list[Step]:
        checks: dict[str, Callable[[], Step]] = {
            "url": self.check_url, "dns": self.check_dns, "tcp": self.check_tcp, "tls": self.check_tls,
            "upgrade": self.check_upgrade, "auth": self.check_auth, "session": self.check_session,
            "close": self.check_close}
        stop: str | None = None
        try:
            for name in STEPS:
                if stop is not None:
                    self.steps.append(self._skip(name, stop))
                    continue
                step = checks[name]()
                self.steps.append(step)
                logger.debug("doctor %s %s: %s", name, step.status, step.detail)
                if step.status == "failed":
                    stop = f"not checked: the {name} step failed"
        finally:
            if self.wire is not None:
                self.wire.shutdown()
            elif self.sock is not None:
                self.sock.close()
        return self.steps

    # -- url -----------------------------------------------------------------------------------------------
    def check_url(self) -> Step:
        t0 = time.perf_counter()
        spec = self.spec
        vendor = {urlsplit(h).hostname: region for region, h in spec.hosts.items()}
        if self.url is None:
            given = urlsplit(spec.url(spec.hosts[self.region or spec.default_region]))
        else:
            given = urlsplit(self.url.strip())
        query = dict(parse_qsl(given.query, keep_blank_values=True)) if self.url is not None else {}
        self.secrets += [v for k, v in query.items() if k.lower() in SECRET_QUERY_PARAMS and v]
        if given.password:
            self.secrets.append(given.password)
        scheme = given.scheme.lower()
        try:
            host, port = given.hostname or "", given.port
        except ValueError:
            return self._fail("url", t0, self._finding(
                "url_scheme", f"{self.shown_url!r} has an invalid port", f"use a URL like {self._example()}"))
        example = self._example()
        if scheme in ("http", "https"):
            secure = scheme == "https" or host in vendor
            fixed = self._suggest("wss" if secure else "ws", given.netloc, given.path, given.query)
            return self._fail("url", t0, self._finding(
                "url_scheme", f"{scheme}:// is not a WebSocket URL", f"use {self._mask_url(fixed)}", scheme=scheme))
        if scheme not in ("ws", "wss") or not host:
            what = (f"{scheme}:// is not a WebSocket scheme" if scheme and host
                    else "the URL has no ws:// or wss:// scheme and host")
            return self._fail("url", t0, self._finding("url_scheme", what, f"use a URL like {example}"))
        if scheme == "ws" and host in vendor:
            fixed = self._suggest("wss", given.netloc, given.path, given.query)
            return self._fail("url", t0, self._finding(
                "url_scheme", f"{host} serves only wss:// (TLS); ws:// cannot connect", f"use {self._mask_url(fixed)}",
                scheme=scheme, host=host))
        url_credential = any(k.lower() in SECRET_QUERY_PARAMS and v for k, v in query.items())
        if url_credential and not self.key:
            self.key_source = "in the URL's query"
        region = vendor.get(host) or self.region
        path = given.path.rstrip("/")
        endpoint = spec.endpoint_of(path) if path else None
        notes: list[str] = []
        if path and endpoint is None:
            notes.append(f"{path} is not one of {spec.title}'s paths ({', '.join(spec.paths.values())}); "
                         "the server decides")
        if path and endpoint is not None and self.url is not None:
            missing = {k: v for k, v in (spec.required_query.get(endpoint) or {}).items() if k not in query}
            if missing:
                need = ", ".join(missing)
                return self._fail("url", t0, self._finding(
                    "param_rejected", f"the {endpoint} endpoint needs {need} in the URL; the service answers 400 "
                    f"without {'it' if len(missing) == 1 else 'them'}",
                    f"add {'&'.join(f'{k}={v}' for k, v in missing.items())}, e.g. "
                    f"{spec.url(f'{scheme}://{given.netloc}', endpoint=endpoint)}", param=next(iter(missing))))
        base_url = None if self.url is None else f"{scheme}://{given.netloc.rpartition('@')[2]}"
        credential = self.key or _PLACEHOLDER
        problem = spec.check_region({**self.params, **query}, region) if region else None
        if problem is not None:
            return self._fail("url", t0, self._finding(
                "region_language", f"{problem.title}: {problem.cause}", problem.fix, region=region,
                reason=str(problem.code), source=problem.evidence))
        try:
            driver = spec.make_driver(DriverOptions(base_url=base_url, endpoint=endpoint,
                                                    region=region or spec.default_region, params=self.params))
            request = driver.connect_request(credential=credential)
        except ParameterError as exc:
            return self._fail("url", t0, self._finding(
                "param_rejected", f"{spec.title} refuses {exc.param}: {exc}", f"fix or remove {exc.param}",
                param=exc.param))
        except (VoicelabError, TypeError, ValueError) as exc:
            return self._fail("url", t0, self._finding(
                "param_rejected", f"{spec.title} refuses these settings: {exc}", "check the params against the "
                "provider's documentation"))
        built = urlsplit(request.url.reveal())
        built_query = dict(parse_qsl(built.query, keep_blank_values=True))
        auth_query = {k: v for k, v in built_query.items() if v == credential}
        headers = dict(request.headers.reveal())
        auth_headers = {k: v for k, v in headers.items() if credential in v}
        other_headers = {k: v for k, v in headers.items() if k not in auth_headers}
        final_query = {k: v for k, v in built_query.items() if k not in auth_query}
        final_query.update(query)
        path_out = path if path else built.path
        netloc = given.netloc if self.url is not None else built.netloc
        send_headers, send_query = dict(other_headers), dict(final_query)
        if self.auth_header is not None:
            send_headers["Authorization"] = self.auth_header
        elif self.key and not url_credential:
            send_headers.update(auth_headers)
            send_query.update(auth_query)
        documented_query = {**final_query, **(auth_query if self.key else {})}
        self.plan = _Plan(
            url=urlunsplit((scheme, netloc, path_out, urlencode(send_query), "")),
            scheme=scheme, host=host, port=port or (443 if scheme == "wss" else 80),
            driver=driver, headers=send_headers,
            documented_headers={**other_headers, **(auth_headers if self.key else {})},
            documented_url=urlunsplit((scheme, netloc, path_out, urlencode(documented_query), "")),
            credential_given=bool(self.key or self.auth_header or url_credential))
        self.shown_url = self._mask_url(urlunsplit((scheme, netloc, path_out, urlencode(final_query), "")))
        where = "unknown path" if path and endpoint is None else f"{endpoint or next(iter(spec.paths))} endpoint"
        detail = f"{self.shown_url} ({spec.title}, {where}" + (f", region {region})" if region else ")")
        return self._ok("url", t0, "; ".join([detail, *notes]))

    # -- dns -----------------------------------------------------------------------------------------------
    def check_dns(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        try:
            ipaddress.ip_address(plan.host)
            literal = True
        except ValueError:
            literal = False
        result: dict[str, Any] = {}

        def lookup() -> None:
            try:
                result["addresses"] = socket.getaddrinfo(plan.host, plan.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                result["error"] = exc

        worker = threading.Thread(target=lookup, name="voicelab-doctor-dns", daemon=True)
        worker.start()
        worker.join(self.timeout)
        hosts = ", ".join(sorted({urlsplit(h).hostname or h for h in self.spec.hosts.values()}))
        fix = (f"check the host name for typos ({self.spec.title} hosts: {hosts}) and this machine's DNS, "
               f"network or proxy settings; {_SERVE_HINT}")
        if worker.is_alive():
            return self._fail("dns", t0, self._finding(
                "dns_failure", f"no answer from the resolver for {plan.host} in {self.timeout:g} s", fix,
                host=plan.host))
        if "error" in result:
            exc = result["error"]
            why = getattr(exc, "strerror", None) or str(exc)
            return self._fail("dns", t0, self._finding(
                "dns_failure", f"cannot resolve {plan.host}: {why} (no network, no DNS, or a wrong host name)", fix,
                host=plan.host, error=why))
        self.addresses = list(result["addresses"])
        ips = list(dict.fromkeys(str(a[4][0]) for a in self.addresses))
        if literal:
            return self._ok("dns", t0, f"{plan.host} is an IP address: no lookup")
        more = f" (+{len(ips) - 1} more)" if len(ips) > 1 else ""
        return self._ok("dns", t0, f"{plan.host} → {ips[0]}{more}")

    # -- tcp -----------------------------------------------------------------------------------------------
    def check_tcp(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        deadline = time.monotonic() + self.timeout
        failures: list[tuple[str, str]] = []
        for family, kind, proto, _, address in self.addresses:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            t_connect = time.perf_counter()
            try:
                sock.connect(address)
            except TimeoutError:
                failures.append(("timeout", str(address[0])))
                sock.close()
            except ConnectionRefusedError:
                failures.append(("refused", str(address[0])))
                sock.close()
            except OSError as exc:
                failures.append((exc.strerror or "unreachable", str(address[0])))
                sock.close()
            else:
                self.sock = sock
                self.connected = (family, kind, proto, _, address)
                took = time.perf_counter() - t_connect
                return Step("tcp", "ok", time.perf_counter() - t0, self._mask(
                    f"connected to {address[0]}:{address[1]} in {_duration(took)}"))
            if time.monotonic() >= deadline:
                break
        where = f"{plan.host}:{plan.port}"
        if failures and all(kind == "refused" for kind, _ in failures):
            return self._fail("tcp", t0, self._finding(
                "connection_refused", f"{where} refused the connection: nothing listens there",
                "check the host and port (wss:// uses 443 unless the URL names a port); for the local emulator "
                "start `voicelab serve` and use the URL it prints", address=where))
        why = "; ".join(f"{ip}: {kind}" for kind, ip in failures) or "no address to try"
        return self._fail("tcp", t0, self._finding(
            "connect_timeout", f"no TCP answer from {where} in {self.timeout:g} s ({why})",
            "a firewall or proxy blocks it: check that outbound WebSocket connections (wss:// on port 443) are "
            "allowed, configure the proxy, or test from a different network", address=where, attempts=why))

    # -- tls -----------------------------------------------------------------------------------------------
    def check_tls(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        if plan.scheme != "wss":
            return self._skip("tls", "ws:// has no TLS")
        assert self.sock is not None
        context = ssl.create_default_context()
        try:
            tls = context.wrap_socket(self.sock, server_hostname=plan.host, do_handshake_on_connect=False)
        except (ssl.SSLError, OSError) as exc:
            return self._fail("tls", t0, self._finding("tls_failure", f"TLS could not start: {exc}",
                                                       "check the host name"))
        self.sock = tls
        tls.settimeout(self.timeout)
        fix_plain = ("the port does not speak TLS: use ws:// for a plain server such as the local emulator, or the "
                     "provider's wss:// port (443)")
        try:
            tls.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            return self._fail("tls", t0, self._finding(
                "tls_failure", f"the certificate of {plan.host} is not trusted: {exc.verify_message}",
                "check the host name; behind a TLS-intercepting proxy, install its CA certificate "
                "(SSL_CERT_FILE)", error=exc.verify_message))
        except TimeoutError:
            return self._fail("tls", t0, self._finding(
                "tls_failure", f"no TLS answer from {plan.host}:{plan.port} in {self.timeout:g} s", fix_plain))
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            return self._fail("tls", t0, self._finding(
                "tls_failure", f"the TLS handshake with {plan.host}:{plan.port} failed ({reason})", fix_plain,
                error=str(reason)))
        except OSError as exc:
            return self._fail("tls", t0, self._finding(
                "tls_failure", f"{plan.host}:{plan.port} closed the connection during the TLS handshake ({exc})",
                fix_plain))
        cert = tls.getpeercert() or {}
        until = f", certificate valid until {cert['notAfter']}" if "notAfter" in cert else ""
        return self._ok("tls", t0, f"{tls.version()}{until}")

    # -- upgrade -------------------------------------------------------------------------------------------
    def check_upgrade(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        assert self.sock is not None
        self.wire = _Wire(self.sock, plan.url, self.secrets)
        timed_out = False
        try:
            response = self.wire.handshake(plan.headers, time.monotonic() + self.timeout)
        except TimeoutError:
            response, timed_out = None, True
        if response is None and self.wire.raw.startswith(b"HTTP/"):  # HTTP/1.0, or a body that never ends
            self.wire.drain(time.monotonic() + min(self.timeout, 0.5))
            response = _lenient_response(bytes(self.wire.raw))
        if response is None and timed_out:
            return self._fail("upgrade", t0, self._finding(
                "upgrade_timeout", f"TCP is open but no HTTP answer to the upgrade came in {self.timeout:g} s",
                "a proxy or firewall holds the connection, or the port is not an HTTP server: configure the "
                "proxy for WebSocket (Upgrade) requests, check the port, or test from a different network"))
        if response is None:
            raw = bytes(self.wire.raw)
            if raw[:1] in (b"\x15", b"\x16") and raw[1:2] == b"\x03":
                fixed = urlunsplit(("wss",) + urlsplit(plan.url)[1:])
                return self._fail("upgrade", t0, self._finding(
                    "url_scheme", "the server answered with TLS: it needs wss://, not ws://",
                    f"use {self._mask_url(fixed)}"))
            what = (f"an answer that is not HTTP ({raw[:24]!r})" if raw
                    else "no answer: it closed the connection")
            return self._fail("upgrade", t0, self._finding(
                "not_websocket", f"the upgrade got {what}",
                "check the host, port and scheme: this port does not serve WebSocket"))
        self.response = response
        status = response.status_code
        exc = self.wire.protocol.handshake_exc
        body = self._body(response)
        took = time.perf_counter() - t0
        if status == 101 and exc is None:
            return Step("upgrade", "ok", took, "101 Switching Protocols")
        if status == 101:
            return self._fail("upgrade", t0, self._finding(
                "not_websocket", f"101 without a valid WebSocket handshake ({exc})",
                "a proxy in the way may be rewriting the upgrade; test without it"))
        explained = self.spec.explain_status(status)
        said = _server_message(body)
        heard = f"HTTP {status} {response.reason_phrase}" + (f": {said}" if said else "")
        evidence: dict[str, Any] = {"status": status, "body": body,
                                    "request_id": response.headers.get("x-request-id")}
        if status in (401, 403):
            return Step("upgrade", "ok", took, self._mask(f"{heard} (the server checks credentials before the "
                                                          "upgrade)"))
        if status == 400 and "https port" in body.lower():
            return self._fail("upgrade", t0, self._finding(
                "url_scheme", f"{heard}: the port expects TLS", "use wss://", **evidence))
        if status == 400:
            param = self._rejected_param(body)
            named = f" (parameter {param!r})" if param else ""
            fix = f"change or remove {param}, as the server's message says" if param else explained.fix
            return self._fail("upgrade", t0, self._finding(
                "param_rejected", f"{heard}{named}", fix, param=param, **evidence))
        if status == 404:
            return self._fail("upgrade", t0, self._finding(
                "url_path", f"HTTP 404 {response.reason_phrase}: the server has no WebSocket endpoint at "
                f"{urlsplit(plan.url).path}",
                f"use one of {self.spec.title}'s paths: {', '.join(self.spec.paths.values())} "
                f"(e.g. {self._example()})", **evidence))
        if status == 429:
            retry = response.headers.get("Retry-After")
            wait = f"; the server asks to wait {retry} s (Retry-After)" if retry else ""
            return self._fail("upgrade", t0, self._finding(
                "rate_limited", f"{heard}{wait}", explained.fix, retry_after=retry, **evidence))
        if status >= 500:
            return self._fail("upgrade", t0, self._finding(
                "server_error", f"{heard} ({explained.title})", explained.fix, **evidence))
        location = response.headers.get("Location")
        moved = f"; it redirects to {location}" if location else ""
        return self._fail("upgrade", t0, self._finding(
            "not_websocket", f"{heard}{moved}: an HTTP answer, not a WebSocket upgrade",
            f"point the URL at the WebSocket endpoint, e.g. {self._example()}",
            location=location, **evidence))

    def _body(self, response: Response) -> str:
        text = bytes(response.body or b"").decode("utf-8", "replace").strip()
        text = self._mask(" ".join(text.split()))
        return text if len(text) <= _BODY_CHARS else text[: _BODY_CHARS - 1] + "…"

    def _rejected_param(self, body: str) -> str | None:
        """The parameter a 400 body names: a ``param`` field anywhere in its JSON, else a query key it mentions."""
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("param"), str):
                    return str(item["param"])
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        keys = dict(parse_qsl(urlsplit(self._plan().url).query))
        for key in keys:
            if key.lower() not in SECRET_QUERY_PARAMS and re.search(rf"\b{re.escape(key)}\b", body):
                return key
        return None

    # -- auth ----------------------------------------------------------------------------------------------
    def check_auth(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        spec = self.spec
        response = self.response
        status = response.status_code if response is not None else None
        env_fix = f"set ${spec.key_env} (or pass api_key= / --api-key-env NAME); {_SERVE_HINT}"
        if status == 403:
            exp = spec.explain_status(403)
            said = _server_message(self._body(response)) if response else ""
            return self._fail("auth", t0, self._finding(
                "forbidden", f"HTTP 403{': ' + said if said else ''} (likely: {exp.cause})", exp.fix, status=403,
                body=self._body(response) if response else None))
        if status == 401:
            body = self._body(response) if response else ""
            if not plan.credential_given:
                return self._fail("auth", t0, self._finding(
                    "auth_missing", "no API key given: the server answered 401 as expected, so it is there and "
                    "checks credentials; the key, the session and the close were not checked", env_fix,
                    status=401, body=body), detail="no API key given; 401 as expected")
            said = _server_message(body)
            return self._refused(t0, f"HTTP 401: {said}" if said else "HTTP 401")
        # 101: the upgrade went through
        if spec.auth_checked_at != "session":
            if not plan.credential_given:
                return self._skip("auth", "no API key given, and the server accepted the upgrade without one")
            return self._ok("auth", t0, f"accepted at the upgrade ({self._auth_form(plan.headers, plan.url)})")
        verdict = self._open_session(time.monotonic() + self.timeout)
        if verdict == "ready":
            if not plan.credential_given:
                return self._skip("auth", "no API key given, and the server opened a session without one")
            return self._ok("auth", t0, f"accepted: {self._ready_text()} ({self._auth_form(plan.headers, plan.url)})")
        if isinstance(verdict, Error):
            if plan.driver.is_auth_error(verdict):
                said = f"{verdict.code}: {verdict.message}".strip(": ")
                if not plan.credential_given:
                    return self._fail("auth", t0, self._finding(
                        "auth_missing", f"no API key given: the server refused the session as expected ({said}); "
                        "the key, the session and the close were not checked", env_fix, error_code=verdict.code),
                        detail="no API key given; refused as expected")
                if (verdict.code or "").lower() == "forbidden":
                    return self._fail("auth", t0, self._finding(
                        "forbidden", f"the key is not allowed to use {spec.title} ({said})",
                        verdict.fix or "check the key's plan and region", error_code=verdict.code))
                return self._refused(t0, said)
            return self._session_error(t0, "auth", verdict)
        if verdict == "closed":
            return self._closed_early("auth", t0)
        self.session.ready_timed_out = True
        return self._skip("auth", f"no answer to the opening message in {self.timeout:g} s: credentials not verified")

    def _refused(self, t0: float, said: str) -> Step:
        """A key was refused: retry in the documented form when the user's form differs (``auth_scheme``)."""
        plan = self._plan()
        scheme = bearer_token(self.auth_header)[0] if self.auth_header is not None else None
        if self.auth_header is not None and self.key and plan.documented_headers != plan.headers:
            documented_ok = self._probe(plan.documented_url, plan.documented_headers)
            form = f"`Authorization: {scheme} <key>`" if scheme else "a bare key in `Authorization`"
            good = self._auth_form(plan.documented_headers, plan.documented_url)
            if documented_ok:
                return self._fail("auth", t0, self._finding(
                    "auth_scheme", f"the server refused {form} ({said}) but accepted the same key as {good}",
                    f"send {good}, not Token/Key/a bare key", sent=form, works=good))
            said += f"; the documented form ({good}) was refused too"
        return self._fail("auth", t0, self._finding(
            "auth_invalid", f"the key was refused ({said})",
            f"check the key ({self.key_source}) in the provider's console: it may be mistyped, revoked or expired; "
            f"send it as {self._auth_form(plan.documented_headers, plan.documented_url)}"))

    def _auth_form(self, headers: Mapping[str, str], url: str) -> str:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if value is not None:
            scheme = bearer_token(value)[0]
            return f"`Authorization: {scheme} <key>`" if scheme else "a bare key in `Authorization`"
        names = [k for k, v in parse_qsl(urlsplit(url).query) if k.lower() in SECRET_QUERY_PARAMS]
        return f"`?{names[0]}=<key>`" if names else "no credential"

    def _probe(self, url: str, headers: Mapping[str, str]) -> bool:
        """Whether a fresh connection with these credentials is accepted (upgrade, and ready where auth is later)."""
        plan = self._plan()
        wire: _Wire | None = None
        try:
            deadline = time.monotonic() + self.timeout
            family, kind, proto, _, address = self.connected or self.addresses[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout)
            sock.connect(address)
            if plan.scheme == "wss":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=plan.host)
            wire = _Wire(sock, url, self.secrets)
            response = wire.handshake(headers, deadline)
            if response is None or response.status_code != 101:
                return False
            if self.spec.auth_checked_at != "session":
                return True
            for opening in plan.driver.opening(resume_id=None):
                wire.send(opening)
            while not wire.closed:
                for message in wire.messages(deadline):
                    for event in self._parse(message):
                        if plan.driver.is_ready(event):
                            return True
                        if isinstance(event, Error) and plan.driver.is_auth_error(event):
                            return False
            return False
        except (OSError, TimeoutError):
            return False
        finally:
            if wire is not None:
                wire.close()
                wire.shutdown()

    # -- session -------------------------------------------------------------------------------------------
    def _parse(self, message: str | bytes) -> list[Event]:
        try:
            return list(self.spec.parse(message))
        except (VoicelabError, ValueError, TypeError, KeyError):
            self.session.unparsed += 1
            return []

    def _pump(self, deadline: float, until: Callable[[Event], bool] | None = None) -> Event | None:
        """Receive until ``until(event)``, a fatal error, the close or ``deadline``; return the event that ended it."""
        wire = self.wire
        assert wire is not None
        while not wire.closed:
            try:
                messages = wire.messages(deadline)
            except TimeoutError:
                return None
            for message in messages:
                for event in self._parse(message):
                    self.session.events.append((time.monotonic(), event))
                    if isinstance(event, SessionReady):
                        self.session.ready = event
                    sid = self._plan().driver.session_id(event)
                    if sid and not self.session.session_id:
                        self.session.session_id = sid
                    if isinstance(event, Error) and (event.fatal or self._plan().driver.is_auth_error(event)):
                        return event
                    if until is not None and until(event):
                        return event
        return None

    def _open_session(self, deadline: float) -> Literal["ready", "closed", "timeout"] | Error:
        """Send the opening messages and wait for the ready event (or an error, or the close)."""
        driver = self._plan().driver
        wire = self.wire
        assert wire is not None
        if not self.session.opened:
            self.session.opened = True
            for message in driver.opening(resume_id=None):
                wire.send(message)
        if self.session.ready is not None:
            return "ready"
        if self.session.ready_timed_out:
            return "timeout"
        event = self._pump(deadline, driver.is_ready)
        if isinstance(event, Error):
            return event
        if event is not None:
            return "ready"
        return "closed" if wire.closed else "timeout"

    def _ready_text(self) -> str:
        sid = self.session.session_id
        return "session ready" + (f" (session_id {sid})" if sid else "")

    def _session_error(self, t0: float, name: str, error: Error) -> Step:
        said = f"{error.code}: {error.message}".strip(": ")
        if error.param:
            return self._fail(name, t0, self._finding(
                "param_rejected", f"the server refused {error.param!r} ({said})",
                error.fix or f"fix or remove {error.param}", param=error.param, error_code=error.code))
        return self._fail(name, t0, self._finding(
            "server_error", f"the server reported an error ({said})",
            error.fix or "retry with backoff; report the session id and time to the provider's support",
            error_code=error.code, session_id=self.session.session_id))

    def _closed_early(self, name: str, t0: float) -> Step:
        wire = self.wire
        assert wire is not None
        code = wire.close_code or 1006
        exp = self.spec.explain_close(code)
        reason = f", reason {wire.close_reason!r}" if wire.close_reason else ""
        errors = [e for _, e in self.session.events if isinstance(e, Error)]
        said = f"; before it: {errors[-1].code}: {errors[-1].message}" if errors else ""
        return self._fail(name, t0, self._finding(
            "unclean_close", f"the server closed the connection during the session: {code}{reason} ({exp.title}: "
            f"{exp.cause}){said}", exp.fix, symptom="dropped", close_code=code, close_reason=wire.close_reason,
            session_id=self.session.session_id))

    def check_session(self) -> Step:
        t0 = time.perf_counter()
        plan = self._plan()
        driver = plan.driver
        wire = self.wire
        assert wire is not None
        if driver.waits_for_ready or self.spec.auth_checked_at == "session":
            verdict = self._open_session(time.monotonic() + self.timeout)
            if isinstance(verdict, Error):
                return self._session_error(t0, "session", verdict)
            if verdict == "closed":
                return self._closed_early("session", t0)
            if verdict == "timeout":
                return self._fail("session", t0, self._finding(
                    "no_response", f"connected, but no ready event arrived in {self.timeout:g} s after the opening "
                    "message", "the server may be overloaded or a proxy may hold messages back; retry later or "
                    "from a different network, with a longer timeout", symptom="no_transcripts"))
        else:
            self.session.opened = True
            for message in driver.opening(resume_id=None):
                wire.send(message)
        speech = self.speech
        clip = speech if speech is not None else Clip(np.zeros(int(0.5 * driver.samplerate), dtype=np.float32),
                                                      samplerate=driver.samplerate)
        clip = clip.to_mono().resample(driver.samplerate)
        tail = int(round(driver.tail_silence_seconds * driver.samplerate))
        if tail:
            clip = Clip(np.concatenate([clip.samples, np.zeros(tail, dtype=np.float32)]), samplerate=clip.samplerate)
        chunks = list(chunk(clip, encoding=driver.encoding, target=self.spec.target))

        def transcript(event: Event) -> bool:
            return isinstance(event, Partial | Final) and bool(event.text.strip())

        start = time.monotonic()
        stop: Event | None = None
        for c in chunks:
            due = start + c.start
            if due > time.monotonic():
                stop = self._pump(due)
            if stop is not None or wire.closed:
                break
            wire.send(driver.audio(c))
        last_sent = time.monotonic()
        what = "speech" if speech is not None else "silence"
        sent = (f"sent {clip.duration:.1f} s of {what} ({len(chunks)} chunks, {driver.encoding} at "
                f"{driver.samplerate} Hz)")
        if isinstance(stop, Error):
            return self._session_error(t0, "session", stop)
        heard = next((e for _, e in self.session.events if transcript(e)), None)
        if heard is None and not wire.closed and speech is not None:
            stop = self._pump(last_sent + self.timeout, transcript)
            if isinstance(stop, Error):
                return self._session_error(t0, "session", stop)
            heard = stop if stop is not None and transcript(stop) else None
        if wire.closed:
            return self._closed_early("session", t0)
        if speech is None:
            return self._ok("session", t0, f"{sent}: no sample speech found ({SAMPLE_SPEECH} is not "
                                           "installed), so transcripts were not checked; pass speech=")
        if heard is None:
            kinds = sorted({e.kind for _, e in self.session.events})
            seen = f"; it sent only: {', '.join(kinds)}" if kinds else "; it sent nothing"
            if self.session.unparsed:
                seen += f" ({self.session.unparsed} messages voicelab could not read)"
            errors = [e for _, e in self.session.events if isinstance(e, Error)]
            if errors:
                seen += f"; its last error: {errors[-1].code}: {errors[-1].message}"
            return self._fail("session", t0, self._finding(
                "no_response", f"connected and {sent}, but no transcript arrived within "
                f"{self.timeout:g} s{seen}",
                "check that the audio matches the format the URL declares (encoding, sample_rate) and is sent as "
                "the provider expects (binary frames, or its JSON message); `voicelab inspect FILE --target "
                f"{self.spec.name}` checks a file; a server that is overloaded or a proxy holding messages back also "
                "looks like this", symptom="no_transcripts", events=kinds, session_id=self.session.session_id))
        when = next(t for t, e in self.session.events if e is heard) - start
        text = heard.text.strip() if isinstance(heard, Partial | Final) else ""
        sid = f"; session_id {self.session.session_id}" if self.session.session_id else ""
        return self._ok("session", t0, f"{sent}; first transcript {when:.2f} s after the first chunk: "
                                       f"{text[:60]!r}{sid}")

    # -- close ---------------------------------------------------------------------------------------------
    def check_close(self) -> Step:
        t0 = time.perf_counter()
        driver = self._plan().driver
        wire = self.wire
        assert wire is not None
        finish = driver.finish()
        names = ", ".join(_message_name(m) for m in finish) or "a close frame"
        terminal: Event | None = None
        if finish:
            for message in finish:
                wire.send(message)
            stop = self._pump(time.monotonic() + self.timeout, driver.is_terminal)
            if isinstance(stop, Error):
                return self._session_error(t0, "close", stop)
            terminal = stop
            if terminal is None and not wire.closed:
                return self._fail("close", t0, self._finding(
                    "unclean_close", f"sent {names}, but the server did not confirm the end within "
                    f"{self.timeout:g} s", "wait for the provider's last message before closing; if it never "
                    "comes, report the session id to support", symptom="dropped",
                    session_id=self.session.session_id))
            if not wire.closed:
                self._pump(time.monotonic() + _CLOSE_WAIT)
        wire.close(1000)
        code = wire.close_code or 1006
        if code != 1000:
            exp = self.spec.explain_close(code)
            reason = f", reason {wire.close_reason!r}" if wire.close_reason else ""
            return self._fail("close", t0, self._finding(
                "unclean_close", f"after {names} the connection closed with {code}{reason} ({exp.title}: "
                f"{exp.cause})", exp.fix, symptom="dropped", close_code=code, session_id=self.session.session_id))
        if finish and terminal is None:
            return self._fail("close", t0, self._finding(
                "unclean_close", f"sent {names}; the server closed with 1000 but without its last message "
                "(the end of the transcript may be lost)", "wait for the provider's last message before closing",
                symptom="dropped", close_code=code, session_id=self.session.session_id))
        end = f" → {terminal.kind}" if terminal is not None else ""
        return self._ok("close", t0, f"{names}{end} → close 1000")

    def _plan(self) -> _Plan:
        assert self.plan is not None
        return self.plan

    def _suggest(self, scheme: str, netloc: str, path: str, query: str) -> str:
        """The URL with ``scheme``, plus the required query parameters its endpoint lacks."""
        endpoint = self.spec.endpoint_of(path.rstrip("/")) if path.rstrip("/") else None
        if path.rstrip("/") and endpoint is None:
            return urlunsplit((scheme, netloc, path, query, ""))
        params = dict(parse_qsl(query, keep_blank_values=True))
        if endpoint is None:
            endpoint = next(iter(self.spec.paths))
            path = self.spec.paths[endpoint]
        for k, v in (self.spec.required_query.get(endpoint) or {}).items():
            params.setdefault(k, v)
        return urlunsplit((scheme, netloc, path, urlencode(params), ""))

    def _example(self) -> str:
        return self.spec.url(self.spec.hosts[self.spec.default_region])


def _lenient_response(raw: bytes) -> Response | None:
    """An HTTP response websockets would not parse (HTTP/1.0, no end of body yet), read from its first bytes."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return Response(status, parts[2] if len(parts) > 2 else "", headers, body)


def _server_message(body: str) -> str:
    """The words of an error body: its ``error``/``message``/``detail`` text when it is JSON, else the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "reason"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"]).strip()
    return body


def _message_name(message: str | bytes) -> str:
    try:
        kind = decode_json_object(message).get("type")
    except (VoicelabError, ValueError):
        kind = None
    return str(kind) if kind else (repr(message[:30]) if isinstance(message, str | bytes) else "a message")


# ------------------------------------------------------------------------------------------------ entry


def _sample(speech: Clip | str | os.PathLike[str] | None) -> Clip | None:
    if speech is None:
        if not SAMPLE_SPEECH.is_file():
            return None
        speech = SAMPLE_SPEECH
    clip = speech if isinstance(speech, Clip) else load(speech)
    return clip.to_mono().slice(end=min(clip.duration, SAMPLE_SECONDS))


def _key(spec: ProviderSpec, api_key: str | None, api_key_env: str | None) -> tuple[str | None, str]:
    if api_key is not None and api_key_env is not None:
        raise DoctorSetupError("give api_key or api_key_env, not both")
    if api_key is not None:
        if not api_key.strip():
            raise DoctorSetupError("api_key is empty; leave it out to check without a key")
        return api_key.strip(), "api_key="
    if api_key_env is not None:
        shown = f"${api_key_env}" if _ENV_NAME.match(api_key_env) else "the variable named by api_key_env"
        value = os.environ.get(api_key_env, "").strip()
        if not value:
            hint = "" if _ENV_NAME.match(api_key_env) else " (its name is not shown, in case it is a key itself)"
            raise DoctorSetupError(f"{shown} is not set or empty{hint}; export it, or leave it out to check "
                                   "without a key")
        return value, shown
    value = os.environ.get(spec.key_env, "").strip()
    return (value, f"${spec.key_env}") if value else (None, f"none (${spec.key_env} is not set)")


def doctor(
    url: str | None = None,
    *,
    provider: str,
    api_key: str | None = None,
    api_key_env: str | None = None,
    region: str | None = None,
    params: Mapping[str, Any] | None = None,
    auth_header: str | None = None,
    timeout_seconds: float = 10.0,
    speech: Clip | str | os.PathLike[str] | None = None,
) -> DoctorReport:
    """Check a live connection to a provider step by step and name what fails, with the fix.

    Steps: ``url`` (scheme, host, path, required parameters, region rules) → ``dns`` → ``tcp``
    (connect time) → ``tls`` (wss only) → ``upgrade`` (HTTP status and body) → ``auth`` (the key and
    its form) → ``session`` (about 2 s of sample speech; a ready event and a transcript expected) →
    ``close`` (the provider's end message, its last answer, close code 1000). The first failed step
    carries a `Finding` with a code from `DOCTOR_CODES`; the steps after it are skipped. Without a
    key the walk stops after ``auth``: a provider that checks keys at the upgrade answers 401 there,
    which is what a healthy service does (``auth_missing`` says what could not be checked).

    Args:
        url: ``ws(s)://host[:port]`` (the provider's default path is added) or the full URL your app
            uses, query included; ``None`` checks the vendor's host for ``region``. For a local check
            run ``voicelab serve`` in another terminal and pass the URL it prints.
        provider: A registered provider name (``pulse``, ``assemblyai-agent``; see
            `voicelab.providers.provider_names`).
        api_key: The key. Default: the variable named by ``api_key_env``, else the provider's variable
            (``SMALLEST_API_KEY``, ``ASSEMBLYAI_API_KEY``). Never printed.
        api_key_env: The name of an environment variable holding the key.
        region: A key of the provider's hosts (Pulse ``india``/``us``): the host to check when ``url`` is
            ``None``, and the region whose rules apply (``region_language``) when ``url`` is not a vendor host.
        params: The provider's session settings, as for `voicelab.stream` (Pulse query parameters, the
            AssemblyAI ``session`` object).
        auth_header: The whole ``Authorization`` value your app sends (``"Token sk_…"``, a bare key …).
            It is sent as is; when it is refused the documented form is tried with the same key, and
            ``auth_scheme`` says which form works. Never printed.
        timeout_seconds: The longest wait of each step (connect, TLS, upgrade, each answer), seconds.
        speech: The speech for the session step (a Clip or a path; its first 2 s are sent); ``None`` uses
            ``data/speech/s02_weather_16k.flac`` ("Good morning."), or silence when it is not installed
            (then transcripts are not checked).

    Returns:
        The `DoctorReport`: ``.ok``, ``.steps``, ``.findings``; it prints as a checklist, renders as
        HTML in a notebook and converts with ``.to_dict()`` / ``.to_json()``.

    Raises:
        DoctorSetupError: Unknown provider or region, ``api_key`` and ``api_key_env`` both given (or either
            with ``auth_header``), a key variable that is not set, an empty ``auth_header``, or a timeout
            that is not a number of seconds above 0.
    """
    try:
        spec = get_provider(provider)
    except UnknownProviderError as exc:
        raise DoctorSetupError(str(exc)) from None
    if region is not None and region not in spec.hosts:
        raise DoctorSetupError(f"{spec.name} has no region {region!r}; it has {', '.join(spec.hosts)}")
    if not 0 < timeout_seconds < 3600:
        raise DoctorSetupError(f"timeout_seconds must be a number of seconds > 0 (and < 3600), "
                               f"not {timeout_seconds!r}")
    key, source = _key(spec, api_key, api_key_env)
    if auth_header is not None:
        if api_key is not None or api_key_env is not None:
            raise DoctorSetupError("auth_header carries the key: give it without api_key / api_key_env")
        credential = bearer_token(auth_header)[1]
        if not credential:
            raise DoctorSetupError("auth_header is empty; give the whole Authorization value, e.g. 'Token <key>'")
        key, source = credential.strip(), "the Authorization value given (auth_header=)"
    checkup = _Checkup(spec, url=url, key=key, key_source=source, region=region, params=params or {},
                       auth_header=auth_header, timeout=float(timeout_seconds), speech=_sample(speech))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    steps = checkup.run()
    return DoctorReport(provider=spec.name, title=spec.title, url=checkup.shown_url, key=checkup.key_source,
                        steps=tuple(steps), started_at=started)
