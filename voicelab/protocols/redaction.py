"""Keeping credentials out of reprs, logs and exception messages.

`SecretURL` and `SecretHeaders` print with their secrets replaced by ``***``; only
`SecretURL.reveal` / `SecretHeaders.reveal` give the real values, for the I/O layer.
`RedactingFilter` is the `logging.Filter` every logger voicelab owns or hands to websockets carries:
it masks ``Authorization``-style header values, credential query parameters and credential JSON
fields in each record (message, arguments and traceback) before any handler sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "RedactingFilter",
    "SecretHeaders",
    "SecretURL",
    "redact",
    "redact_log_text",
    "redact_url",
    "redacting_logger",
]

MASK = "***"
#: Query parameters whose values are credentials.
SECRET_QUERY_PARAMS: frozenset[str] = frozenset({"token", "api_key", "apikey", "key", "access_token"})
#: Header names (lower case) whose values are credentials.
SECRET_HEADERS: frozenset[str] = frozenset({"authorization", "x-api-key", "api-key", "cookie"})


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``.

    Args:
        text: Any text that might contain a credential.
        secrets: The credentials to hide; empty strings and ``None`` are skipped.

    Returns:
        The text with each secret masked.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


#: the value ends at the next parameter, fragment, whitespace or quote (a URL inside a string literal keeps its quote)
_QUERY_SECRET_RE = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_QUERY_PARAMS)) + r")=)[^&#\s'\"]*")


def redact_url(url: str) -> str:
    """Mask the values of credential query parameters (``token``, ``api_key``, ...) in a URL.

    Args:
        url: A URL that may carry a credential in its query string.

    Returns:
        The URL with those values replaced by ``***``.
    """
    return _QUERY_SECRET_RE.sub(lambda m: m.group(1) + MASK, url)


class SecretURL:
    """A URL that may carry a credential; `str` and `repr` show it redacted.

    Args:
        url: The full URL, including any ``?token=`` / ``?api_key=``.
    """

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        """Initialise."""
        self._url = url

    def reveal(self) -> str:
        """Return the full URL with its credentials, for the connection layer only."""
        return self._url

    @property
    def redacted(self) -> str:
        """The URL with credential values masked."""
        return redact_url(self._url)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters, with credential values masked."""
        return dict(parse_qsl(urlsplit(self.redacted).query, keep_blank_values=True))

    @property
    def path(self) -> str:
        """The URL path."""
        return urlsplit(self._url).path

    @property
    def has_secret(self) -> bool:
        """Whether the query string carries a credential."""
        return any(k.lower() in SECRET_QUERY_PARAMS for k, _ in parse_qsl(urlsplit(self._url).query))

    def __str__(self) -> str:
        """Return the readable form."""
        return self.redacted

    def __repr__(self) -> str:
        """Return a representation with secrets hidden."""
        return f"SecretURL({self.redacted!r})"

    def __eq__(self, other: object) -> bool:
        """Compare by value."""
        return isinstance(other, SecretURL) and other._url == self._url

    def __hash__(self) -> int:
        """Hash by value."""
        return hash(self._url)


def with_query(url: str, params: Mapping[str, str]) -> str:
    """Return ``url`` with ``params`` appended to its query string (in order)."""
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([*existing, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class SecretHeaders(Mapping[str, str]):
    """Request headers whose credential values are masked when read or printed.

    Indexing returns masked values for credential headers; `reveal` returns the real ones.

    Args:
        headers: The real headers.
    """

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        """Initialise."""
        self._headers = dict(headers or {})

    def reveal(self) -> dict[str, str]:
        """Return the real headers, for the connection layer only."""
        return dict(self._headers)

    def __getitem__(self, key: str) -> str:
        """Return a header value, masked if it is a credential."""
        value = self._headers[key]
        if key.lower() in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            return f"{scheme} {MASK}" if rest else MASK
        return value

    def __iter__(self) -> Iterator[str]:
        """Iterate over header names."""
        return iter(self._headers)

    def __len__(self) -> int:
        """Return the number of headers."""
        return len(self._headers)

    def __repr__(self) -> str:
        """Return a representation with secrets hidden."""
        return f"SecretHeaders({dict(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        """Compare by value."""
        return isinstance(other, SecretHeaders) and other._headers == self._headers

    def __hash__(self) -> int:
        """Hash by value."""
        return hash(tuple(sorted(self._headers.items())))


#: ``Authorization: Bearer <v>``, ``'x-api-key': '<v>'``, ``Cookie=<v>``, ``"Authorization": f"Bearer {KEY}"`` (a
#: Python string prefix) …: the scheme stays, the value goes.
_HEADER_SECRET_RE = re.compile(
    r"(?i)\b(" + "|".join(re.escape(h) for h in sorted(SECRET_HEADERS)) + r")"
    r"(['\"]?\s*[:=]\s*(?:[rbfu]{1,2}(?=['\"]))?['\"]?)"
    r"(?:(bearer|token|basic|key|digest)\s+)?([^\s'\",]+)"
)
#: ``"token": "<v>"``, ``'access_token': '<v>'``, ``api_key=<v>`` outside a query string (JSON bodies, reprs);
#: a bare ``key`` only when quoted (``"key": …``), since "key: …" is common prose.
_FIELD_NAMES = "|".join(sorted(SECRET_QUERY_PARAMS - {"key"}))
_FIELD_SECRET_RE = re.compile(
    r"(?i)((?:['\"]?\b(?:" + _FIELD_NAMES + r")['\"]?|['\"]key['\"])\s*[:=]\s*)(['\"]?)([^\s'\",&}]+)"
)


def redact_log_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask every credential a log line might carry.

    Masks the given ``secrets`` wherever they occur, credential header values (``Authorization:
    Bearer …`` keeps its scheme), credential query parameters (``?token=…``) and credential fields
    (``"access_token": "…"``, ``api_key=…``).

    Args:
        text: A formatted log message or traceback.
        secrets: Known credentials to mask anywhere in the text.

    Returns:
        The text with each credential replaced by ``***``.
    """
    text = redact(text, secrets)
    if "=" not in text and ":" not in text:
        return text
    text = redact_url(text)
    text = _HEADER_SECRET_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}{MASK}", text)
    return _FIELD_SECRET_RE.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


class RedactingFilter(logging.Filter):
    """A `logging.Filter` that masks credentials in every record it passes (it never drops one).

    The record's message is formatted with its arguments, masked with `redact_log_text` and stored
    back without arguments; a traceback (``exc_info``) is formatted and masked into ``exc_text``, and
    ``stack_info`` is masked too. Attach it to a logger (it then sees that logger's own records) or to
    a handler (it sees everything the handler writes).

    Args:
        secrets: Known credentials to mask wherever they occur (besides the patterns); `add` adds more.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        """Initialise."""
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s}

    def add(self, *secrets: str | None) -> None:
        """Mask these credentials from now on too."""
        self._secrets.update(s for s in secrets if s)

    def __repr__(self) -> str:
        """Return a representation that never shows a secret."""
        return f"RedactingFilter(secrets={len(self._secrets)})"

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; always keep it."""
        secrets = tuple(self._secrets)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_log_text(message, secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text, secrets)
            record.exc_info = None  # a formatter would format it again from the live exception
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info, secrets)
        return True


def redacting_logger(name: str) -> logging.Logger:
    """The logger ``name`` with a `RedactingFilter` attached (once; idempotent).

    Pass it where a library asks for a logger (``websockets.asyncio.client.connect(logger=...)``,
    ``serve(..., logger=...)``) so the records that library writes through it are masked.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
