"""The tap's decisions, without I/O: where a request goes, what it carries, and which frames are audio.

Everything here reads the provider's `ProviderSpec` only (no provider names):

* `UpstreamPlan`/`plan_upstream`: the upstream URL and headers for an app's upgrade request (its path,
  query and headers passed through, the tap's own parameters ``vl_tap`` and ``vl_fault`` taken out,
  the key added in the provider's documented form with ``inject_auth``), and the app's credentials,
  which the Recording must never show.
* `AudioMeter`: which app frames carry audio and how many seconds each holds. The frame shape is
  learnt from the provider's client driver (`Driver.audio` on a probe chunk: a binary frame, or a JSON
  text whose base64 field carries the bytes); the format (encoding, rate) from the URL query through
  `ProviderSpec.declare_audio`, or from an opening message the driver would build from session settings
  (`Driver.opening`), else the driver's default.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from voicelab.audio.chunking import Chunk
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.encoding_names import ENCODING_ALIASES
from voicelab.errors import VoicelabError
from voicelab.protocols.redaction import SECRET_HEADERS, SECRET_QUERY_PARAMS, redact_url
from voicelab.providers.spec import Driver, DriverOptions, ProviderSpec
from voicelab.proxy.errors import TapConfigError

__all__ = [
    "FAULT_PARAM",
    "HOP_HEADERS",
    "TOKEN_PARAM",
    "AudioFormat",
    "AudioMeter",
    "UpstreamPlan",
    "auth_injection",
    "is_loopback",
    "parse_listen",
    "plan_upstream",
    "upstream_base",
]

#: The query parameter carrying the tap's local token (required with ``inject_auth``; never forwarded).
TOKEN_PARAM = "vl_tap"
#: The query parameter carrying per-connection faults (the emulator's name; never forwarded).
FAULT_PARAM = "vl_fault"
#: Request and response headers that belong to one hop (the tap's own connection), never copied across.
HOP_HEADERS: frozenset[str] = frozenset({
    "host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "sec-websocket-accept", "content-length", "transfer-encoding", "keep-alive", "te",
    "trailer", "proxy-authorization", "proxy-connection", "date", "server",
})
#: Seconds of audio assumed per frame of a compressed encoding (Opus), whose size says nothing of its length.
COMPRESSED_FRAME_SECONDS = 0.02
_PROBE = bytes(range(2, 242))  # 240 bytes: a whole number of samples in every PCM encoding


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``[::1]:0``, ``:8080``) → ``(host, port)``; port 0 picks a free one.

    Raises:
        TapConfigError: Not ``host:port``.
    """
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise TapConfigError(f"listen={listen!r} is not host:port; write e.g. 127.0.0.1:0 (0 picks a free port)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def upstream_base(upstream: str) -> str:
    """Check the upstream URL and return it with a ``ws``/``wss`` scheme (``http(s)`` is accepted too).

    Raises:
        TapConfigError: Another scheme, or no host.
    """
    parts = urlsplit(upstream.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise TapConfigError(f"upstream={redact_url(upstream)!r} is not a WebSocket URL; write ws://host:port or "
                             "wss://host (the real API or the emulator's server.url)")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


@dataclass(frozen=True)
class Injection:
    """What ``inject_auth`` adds upstream: headers and query parameters carrying the key."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def auth_injection(spec: ProviderSpec, key: str) -> Injection:
    """The key in the provider's documented (default) auth form, as the provider's client driver sends it.

    Args:
        spec: The provider.
        key: The API key.

    Returns:
        The headers and query parameters that carry ``key``.
    """
    driver = spec.make_driver(DriverOptions(base_url="ws://127.0.0.1", auth=spec.auth_forms[0]))
    request = driver.connect_request(credential=key)
    headers = {k: v for k, v in request.headers.reveal().items() if key in v}
    query = {k: v for k, v in parse_qsl(urlsplit(request.url.reveal()).query) if key in v}
    return Injection(headers=headers, query=query)


@dataclass(frozen=True)
class UpstreamPlan:
    """Where and how to open the upstream connection for one app request.

    Attributes:
        url: The upstream URL (with any credential the app or the injection put in its query).
        headers: The headers to send (app headers minus hop-by-hop ones, plus the injection).
        subprotocols: The subprotocols the app offered, in order.
        compression: Whether the app offered permessage-deflate (informational: the tap negotiates no
            compression on either hop, which leaves every message unchanged and saves a zlib pass per frame).
        token: The ``vl_tap`` value the app sent, if any.
        fault_spec: The ``vl_fault`` value the app sent, if any.
        query: The app's query without the tap's parameters (the session's parameters).
        secrets: The app's and the injection's credentials (for redaction).
    """

    url: str
    headers: list[tuple[str, str]]
    subprotocols: list[str]
    compression: bool
    token: str | None
    fault_spec: str | None
    query: dict[str, str]
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        return f"UpstreamPlan(url={redact_url(self.url)!r}, {len(self.headers)} headers)"


def _join_path(base_path: str, app_path: str) -> str:
    base_path = base_path.rstrip("/")
    if not app_path or app_path == "/":
        return base_path or "/"
    if not base_path or app_path == base_path or app_path.startswith(base_path + "/"):
        return app_path
    return base_path + app_path


def _credentials(headers: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]]) -> list[str]:
    found = []
    for name, value in headers:
        if name.lower() in SECRET_HEADERS or "key" in name.lower() or "token" in name.lower():
            found.append(value)
            scheme, _, rest = value.partition(" ")
            if rest:
                found.append(rest.strip())
    found += [v for k, v in query if k.lower() in SECRET_QUERY_PARAMS or k == TOKEN_PARAM]
    return [s for s in found if len(s) >= 4]


def plan_upstream(request_path: str, headers: Sequence[tuple[str, str]], *, upstream: str,
                  injection: Injection | None = None) -> UpstreamPlan:
    """Build the upstream request for an app's upgrade request.

    Args:
        request_path: The app's request target (path and query).
        headers: The app's request headers, in order, repeated names kept.
        upstream: The upstream URL (`upstream_base`); its path prefixes the app's unless the app's path
            already starts with it, and its query items are sent when the app's query lacks them.
        injection: The key to add (``inject_auth``): it replaces headers and query items of the same names.

    Returns:
        The plan.
    """
    base = urlsplit(upstream)
    app = urlsplit(request_path)
    items = parse_qsl(app.query, keep_blank_values=True)
    token = next((v for k, v in items if k == TOKEN_PARAM), None)
    fault_spec = next((v for k, v in items if k == FAULT_PARAM), None)
    kept = [(k, v) for k, v in items if k not in (TOKEN_PARAM, FAULT_PARAM)]
    app_keys = {k for k, _ in kept}
    query = [(k, v) for k, v in parse_qsl(base.query, keep_blank_values=True) if k not in app_keys] + kept
    if injection is not None:
        query = [(k, v) for k, v in query if k not in injection.query] + list(injection.query.items())
    url = urlunsplit((base.scheme, base.netloc, _join_path(base.path, app.path), urlencode(query), ""))
    out: list[tuple[str, str]] = []
    subprotocols: list[str] = []
    compression = False
    for name, value in headers:
        low = name.lower()
        if low == "sec-websocket-protocol":
            subprotocols += [p.strip() for p in value.split(",") if p.strip()]
        elif low == "sec-websocket-extensions":
            compression = compression or "permessage-deflate" in value.lower()
        if low in HOP_HEADERS:
            continue
        if injection is not None and low in {h.lower() for h in injection.headers}:
            continue
        out.append((name, value))
    if injection is not None:
        out += list(injection.headers.items())
    secrets = _credentials(headers, items) + _credentials(out, query) + ([token] if token else [])
    return UpstreamPlan(url=url, headers=out, subprotocols=subprotocols, compression=compression, token=token,
                        fault_spec=fault_spec, query=dict(kept), secrets=tuple(dict.fromkeys(secrets)))


# -- audio ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioFormat:
    """The audio an app declared: encoding (voicelab name), rate (Hz), channels, and where it was read."""

    encoding: str
    samplerate: int
    channels: int = 1
    source: str = "default"

    @property
    def bytes_per_second(self) -> float | None:
        """Bytes per second of audio (``None`` for compressed encodings)."""
        width = BYTES_PER_SAMPLE.get(self.encoding)
        return None if width is None else float(width * self.samplerate * self.channels)


def _canonical(value: Any) -> str:
    text = str(value).strip().lower()
    return ENCODING_ALIASES.get(text, text)


def format_from_query(spec: ProviderSpec, query: Mapping[str, str], default: AudioFormat) -> AudioFormat:
    """The audio format a URL query declares, read through `ProviderSpec.declare_audio` (no provider names).

    A candidate (encoding, rate) of the provider's target matches when every parameter it would declare
    is in the query with that value, or absent and equal to the default's.
    """
    base = spec.declare_audio({}, samplerate=default.samplerate, encoding=default.encoding)
    if not any(k in query for k in base):
        return default
    target = spec.target
    for encoding in target.encodings:
        for rate in target.rates_for(encoding):
            declared = spec.declare_audio({}, samplerate=rate, encoding=encoding)
            if all(_canonical(query[k]) == _canonical(v) if k in query else base.get(k) == v
                   for k, v in declared.items()):
                return AudioFormat(encoding, rate, target.channels, source="query")
    return AudioFormat(default.encoding, default.samplerate, default.channels, source="default (query not understood)")


def _b64_nbytes(text: str) -> int:
    text = text.strip()
    return len(text) * 3 // 4 - (2 if text.endswith("==") else 1 if text.endswith("=") else 0)


@dataclass(frozen=True)
class _Template:
    """How the driver frames audio: binary frames, or JSON text with base64 at ``path`` and fixed ``constants``."""

    binary: bool
    path: tuple[str, ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()


def _find(obj: Any, needle: str, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if v == needle:
                return (*path, k)
            found = _find(v, needle, (*path, k))
            if found is not None:
                return found
    return None


def _learn(driver: Driver) -> _Template:
    probe = Chunk(seq=0, data=_PROBE, encoding=driver.encoding, samplerate=driver.samplerate, channels=1,
                  start=0.0, end=0.01)
    frame = driver.audio(probe)
    if isinstance(frame, (bytes, bytearray)):
        return _Template(binary=True)
    obj = json.loads(frame)
    path = _find(obj, base64.b64encode(_PROBE).decode("ascii"))
    if path is None:  # a frame shape voicelab cannot read: count binary frames as audio
        return _Template(binary=True)
    constants = tuple((k, v) for k, v in obj.items() if k != path[0] and isinstance(v, (str, int, float, bool)))
    return _Template(binary=False, path=path, constants=constants)


class AudioMeter:
    """Tell audio frames from control messages and give each audio frame its audio-time span.

    Args:
        spec: The provider.
        query: The app's URL query (without the tap's parameters).
    """

    def __init__(self, spec: ProviderSpec, query: Mapping[str, str]) -> None:
        self._spec = spec
        driver = spec.make_driver(DriverOptions())
        self._template = _learn(driver)
        default = AudioFormat(driver.encoding, driver.samplerate, spec.target.channels)
        self.format = format_from_query(spec, query, default)
        self.seq = 0
        self.position = 0.0

    @property
    def binary_audio(self) -> bool:
        """Whether audio travels in binary frames (else in JSON text frames)."""
        return self._template.binary

    def audio_bytes(self, frame: str | bytes) -> int | None:
        """The audio bytes ``frame`` carries, or ``None`` when it is not an audio frame."""
        tpl = self._template
        if isinstance(frame, (bytes, bytearray, memoryview)):
            return len(frame) if tpl.binary else None
        if tpl.binary or not frame.startswith("{"):
            return None
        try:
            obj = json.loads(frame)
        except ValueError:
            return None
        if not isinstance(obj, dict) or any(obj.get(k) != v for k, v in tpl.constants):
            return None
        value: Any = obj
        for key in tpl.path:
            value = value.get(key) if isinstance(value, dict) else None
        return _b64_nbytes(value) if isinstance(value, str) else None

    def take(self, nbytes: int) -> tuple[int, float, float]:
        """Count one audio frame of ``nbytes``: its ``(seq, audio_start, audio_end)`` (seconds)."""
        bps = self.format.bytes_per_second
        start = self.position
        self.position = start + (nbytes / bps if bps else COMPRESSED_FRAME_SECONDS)
        seq = self.seq
        self.seq += 1
        return seq, start, self.position

    def declared_by(self, message: str) -> AudioFormat | None:
        """The format a control message declares, if it is what the driver would open with for some settings.

        A message whose field ``k`` holds an object ``s`` declares ``s`` when the provider's driver built with
        ``params=s`` opens with the same message (the other fields equal). The meter switches to that format
        (and frame shape) and returns it; otherwise ``None``.
        """
        if not message.startswith("{"):
            return None
        try:
            obj = json.loads(message)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        for key, value in obj.items():
            if not isinstance(value, dict):
                continue
            try:
                driver = self._spec.make_driver(DriverOptions(params=value))
                opening = [json.loads(m) for m in driver.opening(resume_id=None) if isinstance(m, str)]
            except (VoicelabError, TypeError, ValueError):
                continue
            for built in opening:
                if (isinstance(built, dict) and built.keys() == obj.keys()
                        and all(built[k] == obj[k] for k in obj if k != key)):
                    self.format = AudioFormat(driver.encoding, driver.samplerate, self._spec.target.channels,
                                              source="message")
                    self._template = _learn(driver)
                    return self.format
        return None
