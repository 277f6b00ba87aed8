"""Keeping credentials out of reprs, logs and exception messages.

`SecretURL` and `SecretHeaders` print with their secrets replaced by ``***``; only
`SecretURL.reveal` / `SecretHeaders.reveal` give the real values, for the I/O layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "SecretHeaders",
    "SecretURL",
    "redact",
    "redact_url",
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


_QUERY_SECRET_RE = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_QUERY_PARAMS)) + r")=)[^&#\s]*")


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
