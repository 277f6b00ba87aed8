"""What to send a vendor's support team: a plain-text message filled from a `Recording`.

Both vendors' troubleshooting pages list what to send before contacting support. Smallest AI Pulse
("Getting Help"): the session id, error messages, code snippets sanitized of API keys, network
conditions. AssemblyAI Voice Agent API ("Before you contact support"): the ``session_id`` from
``session.ready``, the WebSocket close code and reason, the timestamp at session start, and whether the
US (``agents.assemblyai.com``) or EU endpoint was used. `support_message` fills those lines from
`Recording.summary` (credentials already masked), a `voicelab.doctor` report and a support bundle.

Provider knowledge stays in the provider's `voicelab.providers.spec.ProviderSpec`: the support contact
(``support_contact``) and the vendor hosts per region (``hosts``, read by `region_of`).
"""

from __future__ import annotations

import ipaddress
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from voicelab.protocols.redaction import redact_log_text
from voicelab.providers.registry import get_provider
from voicelab.providers.spec import ProviderSpec

if TYPE_CHECKING:
    from voicelab.diagnosis.doctor import DoctorReport
    from voicelab.recording.log import Recording

__all__ = ["region_of", "support_message"]

#: Items listed per line (session ids excepted); the rest are counted, and all of them are in summary.json.
MAX_ITEMS = 10
#: Characters of a refused handshake's body quoted in the message.
BODY_CHARS = 200
_LABEL = 21  # width of "Session start (UTC): "


def _hostname(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return host.lower() if host else None


def region_of(url: str, provider: str | ProviderSpec) -> str | None:
    """The region of the provider's vendor host that ``url`` points at (pure: reads the spec's ``hosts``).

    Args:
        url: A WebSocket URL (``wss://agents.eu.assemblyai.com/v1/ws``); its path, query and port are
            ignored.
        provider: A registered provider name (or alias), or its `ProviderSpec`.

    Returns:
        A key of the spec's ``hosts`` (``"eu"``), or ``None`` when the URL's host is none of them
        (voicelab's emulator, a proxy, a typo).
    """
    spec = provider if isinstance(provider, ProviderSpec) else get_provider(provider)
    host = _hostname(url)
    if host is None:
        return None
    for region, vendor in spec.hosts.items():
        if _hostname(vendor if "://" in vendor else f"wss://{vendor}") == host:
            return region
    return None


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _vendor_hosts(spec: ProviderSpec) -> str:
    return ", ".join(f"{region}: {_hostname(h) or h}" for region, h in spec.hosts.items())


def _region(summary: Mapping[str, Any], spec: ProviderSpec) -> str:
    """The Region line: read from the hosts connected to, else the header's region (no connection made)."""
    described: list[str] = []
    for url in summary["connected_to"]:
        host = _hostname(url) or url
        region = region_of(url, spec)
        if region is not None:
            text = f"{region} ({host})"
        elif _is_local(host):
            text = (f"none: {host} is a local address (voicelab's emulator, or a local proxy such as "
                    "voicelab tap), not a vendor host")
        else:
            text = f"unknown: {host} is none of the {spec.title} hosts ({_vendor_hosts(spec)})"
        if text not in described:
            described.append(text)
    if described:
        return "; ".join(described)
    region = summary.get("region")
    if region is not None:
        host = spec.hosts.get(region)
        where = f" ({_hostname(host) or host})" if host else ""
        return f"{region}{where}, the session's region (no connection was made)"
    return "unknown (no connection was made)"


def _lines(items: list[str], empty: str) -> str:
    """Items one per line under the label's column, the first ``MAX_ITEMS``; the rest counted."""
    if not items:
        return empty
    shown = items[:MAX_ITEMS]
    if len(items) > MAX_ITEMS:
        shown.append(f"... and {len(items) - MAX_ITEMS} more (all in summary.json)")
    return ("\n" + " " * _LABEL).join(shown)


def _close(close: Mapping[str, Any]) -> str:
    code, reason = close.get("code"), close.get("reason")
    if code is None:
        what = "no close frame (the connection dropped)"
    else:
        what = f'{code} "{reason}"' if reason else f"{code} (no reason given)"
    return f"{what} after {float(close['t']):.2f} s"


def _error(error: Mapping[str, Any]) -> str:
    when = f"(after {float(error['t']):.2f} s)"
    if error.get("where") == "handshake":
        if error.get("status") is not None:
            body = error.get("body")
            text = "" if body in (None, "") else f": {' '.join(str(body).split())[:BODY_CHARS]}"  # one line
            return f"HTTP {error['status']} at the upgrade{text} {when}"
        return f"{error.get('error')} at the upgrade: {error.get('message')} {when}"
    return f"{error.get('code')}: {error.get('message')} {when}"


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _network(doctor: DoctorReport | None, reconnects: int) -> str:
    if doctor is None:
        text = "not checked (run vl.doctor(...) and pass its report: support_message(doctor=report))"
    else:
        timed = ", ".join(f"{s.name} {_seconds(s.seconds)}" for s in doctor.steps
                          if s.status == "ok" and s.seconds is not None)
        text = f"voicelab doctor: {doctor.summary}"
        bad = doctor.failed_step
        if bad is not None and bad.finding is not None:
            text += f" ({bad.finding.message})"
        text += (f"; {timed}" if timed else "") + f" (checked {doctor.url} at {doctor.started_at})"
    if reconnects:
        text += f"; {reconnects} reconnect{'s' if reconnects != 1 else ''} during the session"
    return text


def _client(recorded: str | None) -> str:
    from voicelab.recording.log import _environment  # what support_bundle writes as environment.json

    env = _environment()
    versions = env["packages"]
    now = versions.get("voicelab")
    voicelab = f"voicelab {recorded or 'unknown'}"
    if now and recorded and now != recorded:
        voicelab += f" (recorded; voicelab {now} installed now)"
    websockets = f", websockets {versions['websockets']}" if versions.get("websockets") else ""
    return f"{voicelab}{websockets}, Python {env['python']} on {env['platform']}"


def _attached(bundle: str | os.PathLike[str] | None) -> str:
    from voicelab.recording.log import RecordingError

    if bundle is None:
        return 'nothing yet: attach rec.support_bundle("support.zip", doctor=report)'
    try:
        with zipfile.ZipFile(bundle) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise RecordingError(f"cannot read the support bundle {os.fspath(bundle)!r} ({exc}); pass the path "
                             "rec.support_bundle(...) returned") from None
    return f"{Path(bundle).name}: {', '.join(names)} (keys redacted)"


def support_message(recording: Recording, *, doctor: DoctorReport | None = None,
                    bundle: str | os.PathLike[str] | None = None) -> str:
    """A plain-text message for the provider's support team, filled from a Recording (no key in it).

    The lines answer both vendors' lists: the session ids (one per connection: a reconnect starts a new
    session), the session start (UTC), the URLs connected to (credentials masked) and the region their
    host serves (from the provider spec's ``hosts``: ``us`` or ``eu`` for the Voice Agent API), each close
    code with its reason and time, the errors (the server's error messages; a refused upgrade's HTTP
    status and body), the network conditions (``doctor``'s verdict and step timings, and the reconnects),
    the client versions and what is attached. Placeholders in ``<…>`` are left for what only you know.

    Everything comes from `Recording.summary`, whose strings are already masked; the message is masked
    once more with the Recording's keys and the credential patterns of
    `voicelab.protocols.redaction.redact_log_text`. The Client line's Python, platform and package
    versions are those `Recording.support_bundle` writes as ``environment.json`` (this Python's); the
    only file read is the bundle's list of members, so the message names what is really attached.

    Args:
        recording: The session's `Recording` (live or loaded).
        doctor: The report ``vl.doctor(...)`` returned, for the network conditions; ``None``: not checked.
        bundle: The zip ``recording.support_bundle(...)`` wrote, to list under Attached; ``None``: none yet.

    Returns:
        The message: ``To:`` and ``Subject:`` lines, a blank line, then one labelled line per item.

    Raises:
        RecordingError: ``doctor`` is not a doctor report, or ``bundle`` is not a readable zip.
    """
    from voicelab.recording.log import RecordingError

    if doctor is not None:
        from voicelab.diagnosis.doctor import DoctorReport

        if not isinstance(doctor, DoctorReport):
            raise RecordingError(f"doctor= takes the report vl.doctor(...) returns, not a {type(doctor).__name__}")
    summary = recording.summary()
    spec = get_provider(summary["provider"])
    ids = [str(i) for i in summary["session_ids"]]
    connected = [str(u) for u in summary["connected_to"]]
    endpoint = _lines(connected, f"{summary.get('endpoint')} (no connection was made)")
    lines = [
        f"To: {spec.support_contact or f'the support team of {spec.title}'}",
        f"Subject: {spec.title}: session {ids[0] if ids else '(none reported)'} - <what went wrong, in one line>",
        "",
        "What happened:       <what you expected, what you saw instead>",
        f"Session ids:         {', '.join(ids) or 'none reported (the session never became ready)'}",
        f"Session start (UTC): {summary.get('started_at')}",
        f"Endpoint:            {endpoint}",
        f"Region:              {_region(summary, spec)}",
        f"Close code, reason:  {_lines([_close(c) for c in summary['closes']], 'no close recorded')}",
        f"Error messages:      {_lines([_error(e) for e in summary['errors']], 'none from the server')}",
        f"Network conditions:  {_network(doctor, int(summary['stats']['reconnects']))}",
        f"Client:              {_client(summary.get('voicelab'))}",
        f"Attached:            {_attached(bundle)}",
        "Code:                <the lines that open the connection, the key read from the environment, not pasted>",
    ]
    return redact_log_text("\n".join(lines), recording._secrets)
