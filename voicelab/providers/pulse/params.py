"""Smallest Pulse query parameters: one table, used to encode (client) and decode (server).

`PulseParams` is what a client asks for (``None`` = not sent, the server default applies);
`PulseSessionConfig` is the resolved configuration a server applies, with per-endpoint
defaults filled in. Source: the query parameters of the ``/waves/v1/stt/live`` AsyncAPI spec,
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from voicelab.encoding_names import ENCODING_ALIASES
from voicelab.protocols.errors import ParameterError

__all__ = [
    "AGGREGATORS",
    "BOOL_PARAMS",
    "ENCODINGS",
    "ENDPOINTS",
    "EU_BETA_LANGUAGES",
    "HOSTS",
    "INDIA_ONLY_LANGUAGES",
    "LANGUAGES",
    "LIVE_LANGUAGES",
    "MISSING_LANGUAGE_MESSAGE",
    "PULSE_PRO_MESSAGE",
    "REGION_RULES",
    "SAMPLE_RATES",
    "US_ONLY_LANGUAGES",
    "Endpoint",
    "PulseParams",
    "PulseSessionConfig",
    "Region",
    "check_endpoint_language",
    "decode_query",
    "detected_language",
    "encode_keywords",
    "other_region",
    "region_violation",
]

logger = logging.getLogger("voicelab.providers.pulse")

Endpoint = Literal["live", "legacy"]
Region = Literal["india", "india_pinned", "us"]

#: URL path of each endpoint [DOC: the AsyncAPI specs of both paths].
ENDPOINTS: dict[str, str] = {"live": "/waves/v1/stt/live", "legacy": "/waves/v1/pulse/get_text"}
#: Host of each region. ``india`` is the default host, which the AsyncAPI spec calls the India
#: (ap-south-1) host [DOC]; ``us`` is Oregon [DOC]; ``india_pinned`` is the India-pinned Mumbai host
#: the access-token documentation names [DOC], generated from the vendor's OpenAPI spec:
#: https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
#: (the limits page says the default host routes to the nearest cluster, so a client that must reach
#: India whatever its location uses ``india_pinned``).
HOSTS: dict[str, str] = {"india": "api.smallest.ai", "us": "api.us.smallest.ai",
                         "india_pinned": "api.india.smallest.ai"}
#: Which region's language rules each host follows (see `region_violation`).
REGION_RULES: dict[str, str] = {"india": "india", "india_pinned": "india", "us": "us"}

SINGLE_LANGUAGES: tuple[str, ...] = (
    "en",
    "hi",
    "de",
    "es",
    "ru",
    "it",
    "fr",
    "nl",
    "pt",
    "zh",
    "yue",
    "ja",
    "ko",
    "gu",
    "mr",
    "or",
    "bn",
    "ta",
    "te",
    "kn",
    "ml",
)
#: Every accepted ``language`` value: 21 codes, the aggregators [DOC], and those the vendor's live probe
#: used [VND] (https://github.com/smallest-inc/smallest-ai-documentation/blob/main/scripts/probes/pulse_stt.py).
LANGUAGES: tuple[str, ...] = (
    *SINGLE_LANGUAGES,
    "north_indic",
    "multi-asian",
    "multi-south-indic",
    "multi-eu",
    "multi",
)
#: The ``language`` values ``/waves/v1/stt/live`` takes: its AsyncAPI enum, 21 codes and three aggregators
#: [DOC]. ``multi-eu`` and ``multi`` are pre-recorded only there (the language-detection page) and are
#: accepted on the legacy path alone (the vendor's live probe used them there [VND]).
LIVE_LANGUAGES: tuple[str, ...] = (*SINGLE_LANGUAGES, "north_indic", "multi-asian", "multi-south-indic")
#: Auto-detecting ``language`` values and the codes each detects among [DOC: the language-detection page,
#: https://docs.smallest.ai/models/documentation/speech-to-text-pulse/features/language-detection].
#: Finals then carry the detected code, never the aggregator's name [DOC: the response-format page].
AGGREGATORS: dict[str, tuple[str, ...]] = {
    "north_indic": ("en", "hi", "gu", "mr", "bn", "or"),
    "multi-asian": ("zh", "yue", "ko", "ja", "en"),
    "multi-south-indic": ("ta", "te", "kn", "ml", "en"),
    "multi-eu": ("en", "de", "es", "ru", "it", "fr", "nl", "pt"),
    "multi": ("en",),  # only in the vendor's probe [VND]; what it detects among is not documented
}
EU_BETA_LANGUAGES: frozenset[str] = frozenset({"de", "es", "ru", "it", "fr", "nl", "pt"})
#: Languages served only by the US host [DOC] (see `region_violation`).
US_ONLY_LANGUAGES: frozenset[str] = frozenset({"zh", "yue", "ja", "ko", "multi-asian"})
#: Languages served only by the India host [DOC] (see `region_violation`).
INDIA_ONLY_LANGUAGES: frozenset[str] = frozenset({"ta", "te", "kn", "ml", "multi-south-indic"})
SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)
ENCODINGS: tuple[str, ...] = ("linear16", "linear32", "alaw", "mulaw", "opus", "ogg_opus")
#: voicelab's encoding aliases, mapped to Pulse wire names (float32 has no Pulse name and stays invalid).
_ENCODING_ALIASES = ENCODING_ALIASES
MODELS: tuple[str, ...] = ("pulse",)
NUMERALS: tuple[str, ...] = ("true", "false", "auto")
PULSE_PRO_MESSAGE = "Pulse Pro has no streaming transport. Use POST /waves/v1/stt/?model=pulse-pro instead."
MISSING_MODEL_MESSAGE = "Missing required query param: model. Supported values: pulse | pulse-pro."
#: The 400 text for a live upgrade without ``language`` (required by the AsyncAPI spec [DOC]; the wording
#: copies the ``model`` message's [INF]).
MISSING_LANGUAGE_MESSAGE = ("Missing required query param: language. Supported values: "
                            + " | ".join(LIVE_LANGUAGES) + ".")
MAX_KEYWORDS = 10_000
_EXTERNAL_ID_RE = re.compile(r"^[a-zA-Z0-9_\-.]+$")

#: Boolean parameters and their defaults on (live, legacy) [DOC: the AsyncAPI specs of both paths].
BOOL_PARAMS: dict[str, tuple[bool | None, bool | None]] = {
    "word_timestamps": (False, True),
    "diarize": (False, False),
    "sentence_timestamps": (False, False),
    "full_transcript": (False, False),
    "endpointing": (True, True),
    "finalize_on_words": (True, True),
    "vad_events": (False, False),
    "vad": (None, None),
    "format": (True, True),
    "punctuate": (True, True),
    "capitalize": (True, True),
    "itn_normalize": (False, False),
    "redact_pii": (False, False),
    "redact_pci": (False, False),
    "emotion_detection": (None, None),
    "gender_detection": (None, None),
}


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(param=name, value=value, allowed=(True, False), hint="pass a Python bool")
    return value


def _check_int(name: str, value: object, lo: int, hi: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        allowed = f"a whole number from {lo} to {hi}" if hi is not None else f"a whole number >= {lo}"
        raise ParameterError(param=name, value=value, allowed=allowed)
    return value


def _check_language(value: object) -> str:
    if not isinstance(value, str) or value not in LANGUAGES:
        raise ParameterError(param="language", value=value, allowed=LANGUAGES)
    return value


def check_endpoint_language(language: str | None, endpoint: Endpoint) -> None:
    """Check ``language`` against what an endpoint takes (the client and the server half agree on it).

    ``/waves/v1/stt/live`` requires ``language``, one of `LIVE_LANGUAGES` [DOC: the AsyncAPI spec,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml];
    the legacy ``/waves/v1/pulse/get_text`` keeps its old behaviour: optional, and ``multi-eu``/``multi``
    allowed [VND: the vendor's probe used both there].

    Args:
        language: The requested language (``None``: omitted).
        endpoint: ``"live"`` or ``"legacy"``.

    Raises:
        ParameterError: ``language`` is missing on live, or not one live takes.
    """
    if endpoint != "live":
        return
    if language is None:
        raise ParameterError(param="language", value=None, allowed=LIVE_LANGUAGES,
                             hint="language is required on /waves/v1/stt/live (e.g. language='en'); "
                             "an aggregator such as north_indic detects the language")
    if language not in LIVE_LANGUAGES:
        raise ParameterError(param="language", value=language, allowed=LIVE_LANGUAGES,
                             hint=f"{language!r} is for pre-recorded audio (POST /waves/v1/stt/) or the legacy "
                             "/waves/v1/pulse/get_text path; streaming on /waves/v1/stt/live detects languages "
                             "with north_indic, multi-asian or multi-south-indic")


def detected_language(language: str | None, *, heard: str = "en") -> str:
    """The ``language`` a final reports: the pinned code, or what an aggregator detected.

    [DOC: the response-format page] "set to the specified language, or the detected language if
    ``language`` is set to a regional aggregator"
    (https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format).
    An omitted language (legacy path only) auto-detects too [INF].

    Args:
        language: The requested language (``None``: omitted).
        heard: The language the recognizer heard (the emulator's recognizers are English: ``"en"``).

    Returns:
        A language code, never an aggregator's name.
    """
    if language is None:
        return heard
    covers = AGGREGATORS.get(language)
    if covers is None:
        return language
    return heard if heard in covers else covers[0]


def _check_encoding(value: object) -> str:
    canonical = (
        _ENCODING_ALIASES.get(value.strip().lower(), value.strip().lower())
        if isinstance(value, str)
        else None
    )
    if canonical is None or canonical not in ENCODINGS:
        raise ParameterError(param="encoding", value=value, allowed=ENCODINGS)
    return canonical


def _check_sample_rate(value: object) -> int:
    if isinstance(value, bool) or value not in SAMPLE_RATES:
        raise ParameterError(
            param="sample_rate",
            value=value,
            allowed=SAMPLE_RATES,
            hint="the server does not resample; resample the audio to one of these",
        )
    assert isinstance(value, int)
    return value


def encode_keywords(keywords: str | Sequence[str | tuple[str, float]]) -> str:
    """Validate keywords and encode them as Pulse's one comma-separated string.

    Args:
        keywords: Either the wire string (``"Blackwell:1,Jensen Huang:2"``) or a sequence of
            words / ``(word, intensifier)`` pairs.

    Returns:
        The comma-separated ``word[:intensifier]`` string.

    Raises:
        ParameterError: Empty, a JSON array, too many entries, or a bad intensifier.
    """
    if isinstance(keywords, str):
        text = keywords.strip()
        if text.startswith("["):
            raise ParameterError(
                param="keywords",
                value=keywords,
                allowed="one comma-separated string such as 'Blackwell:1,Jensen Huang:2'",
                hint="a JSON array is accepted by the server but garbles transcripts",
            )
        items = [item for item in text.split(",")]
    else:
        items = []
        for entry in keywords:
            if isinstance(entry, tuple):
                word, boost = entry
                if isinstance(boost, bool) or not isinstance(boost, int | float):
                    raise ParameterError(param="keywords", value=entry, allowed="(word, number) pairs")
                items.append(f"{word}:{boost:g}")
            else:
                items.append(str(entry))
    if not items or any(not item.strip() for item in items):
        raise ParameterError(
            param="keywords",
            value=keywords,
            allowed="non-empty words",
            hint="omit keywords instead of sending ''",
        )
    if len(items) > MAX_KEYWORDS:
        raise ParameterError(
            param="keywords", value=f"<{len(items)} keywords>", allowed=f"at most {MAX_KEYWORDS}"
        )
    for item in items:
        term, sep, boost_text = item.rpartition(":") if ":" in item else (item, "", "")
        if sep:
            try:
                level = float(boost_text)
            except ValueError:
                raise ParameterError(
                    param="keywords",
                    value=item,
                    allowed="word or word:intensifier with a numeric intensifier",
                ) from None
            if level > 5:
                logger.warning(
                    "keyword %r has intensifier %s > 5, which tends to hallucinate; use 1-3", term, boost_text
                )
    return ",".join(item.strip() for item in items)


def _check_external_id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 128 or not _EXTERNAL_ID_RE.match(value):
        raise ParameterError(
            param="external_session_id", value=value, allowed="1-128 characters from [a-zA-Z0-9_-.]"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class PulseParams:
    """Query parameters a client sends; ``None`` means "omit, let the server default apply".

    Every value is validated on construction and raises `ParameterError` naming the parameter.
    Each parameter's meaning: the ``/waves/v1/stt/live`` AsyncAPI spec,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml.
    """

    model: str | None = "pulse"
    language: str | None = None
    sample_rate: int | None = None
    encoding: str | None = None
    word_timestamps: bool | None = None
    diarize: bool | None = None
    sentence_timestamps: bool | None = None
    full_transcript: bool | None = None
    endpointing: bool | None = None
    eou_timeout_ms: int | None = None
    finalize_on_words: bool | None = None
    max_words: int | None = None
    vad_events: bool | None = None
    vad: bool | None = None
    format: bool | None = None
    punctuate: bool | None = None
    capitalize: bool | None = None
    itn_normalize: bool | None = None
    redact_pii: bool | None = None
    redact_pci: bool | None = None
    keywords: str | None = None
    external_session_id: str | None = None
    numerals: str | None = None
    vad_threshold: float | None = None
    vad_min_speech_ms: int | None = None
    emotion_detection: bool | None = None
    gender_detection: bool | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate every field."""
        if self.model is not None:
            if self.model == "pulse-pro":
                raise ParameterError(param="model", value=self.model, allowed=MODELS, hint=PULSE_PRO_MESSAGE)
            if self.model not in MODELS:
                raise ParameterError(param="model", value=self.model, allowed=MODELS)
        if self.language is not None:
            _check_language(self.language)
        if self.sample_rate is not None:
            _check_sample_rate(self.sample_rate)
        if self.encoding is not None:
            object.__setattr__(self, "encoding", _check_encoding(self.encoding))
        for name in BOOL_PARAMS:
            value = getattr(self, name)
            if value is not None:
                _check_bool(name, value)
        if self.eou_timeout_ms is not None:
            _check_int("eou_timeout_ms", self.eou_timeout_ms, 100, 10_000)
        if self.max_words is not None:
            _check_int("max_words", self.max_words, 1, None)
        if self.keywords is not None:
            object.__setattr__(self, "keywords", encode_keywords(self.keywords))
        if self.external_session_id is not None:
            _check_external_id(self.external_session_id)
        if self.numerals is not None and self.numerals not in NUMERALS:
            raise ParameterError(param="numerals", value=self.numerals, allowed=NUMERALS)
        if self.vad_threshold is not None and (
            isinstance(self.vad_threshold, bool)
            or not isinstance(self.vad_threshold, int | float)
            or not 0.0 <= self.vad_threshold <= 1.0
        ):
            raise ParameterError(
                param="vad_threshold", value=self.vad_threshold, allowed="a number from 0 to 1"
            )
        if self.vad_min_speech_ms is not None:
            _check_int("vad_min_speech_ms", self.vad_min_speech_ms, 0, None)
        known = {f.name for f in fields(self)}
        for key, value in self.extra.items():
            if key in known or key in ("token", "api_key"):
                raise ParameterError(
                    param=f"extra[{key!r}]",
                    value="<hidden>" if key in ("token", "api_key") else value,
                    allowed="names of parameters PulseParams does not model",
                    hint=f"pass {key} as its own argument",
                )
            if not isinstance(value, str):
                raise ParameterError(param=f"extra[{key!r}]", value=value, allowed="a string")

    def to_query(self, *, endpoint: Endpoint = "live") -> dict[str, str]:
        """Encode the set parameters as query-string values in a stable order.

        ``model`` is sent first on ``live`` and never on ``legacy``; booleans become
        ``"true"``/``"false"``.

        Args:
            endpoint: ``"live"`` (``/waves/v1/stt/live``) or ``"legacy"`` (``/waves/v1/pulse/get_text``).

        Returns:
            The query parameters as strings.
        """
        if endpoint not in ENDPOINTS:
            raise ParameterError(param="endpoint", value=endpoint, allowed=tuple(ENDPOINTS))
        out: dict[str, str] = {}
        if endpoint == "live":
            out["model"] = self.model or "pulse"
        for f in fields(self):
            if f.name in ("model", "extra"):
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                out[f.name] = "true" if value else "false"
            elif isinstance(value, float):
                out[f.name] = f"{value:g}"
            else:
                out[f.name] = str(value)
        out.update(self.extra)
        return out


@dataclass(frozen=True, kw_only=True)
class PulseSessionConfig:
    """The configuration a Pulse server applies to one connection, defaults resolved.

    Attributes:
        endpoint: ``"live"`` or ``"legacy"``.
        language: The requested language; ``None`` when omitted (legacy path only; auto-detects).
        sample_rate: Hz.
        encoding: One of `ENCODINGS`.
        vad_events: Effective VAD-events switch (``vad_events`` wins over ``vad``).
        auth_method: ``"bearer"``, ``"token"`` or ``"api_key"``.
        access_token: Whether the credential is a short-lived access token (``wat_…``), not an API key.
        region_violation: ``"close_without_frame"``/``"language_not_enabled"`` when the
            language is not served by the region, else ``None``.
        ignored: Unknown query parameters (accepted and ignored, as the real server does).
    """

    endpoint: Endpoint = "live"
    model: str | None = "pulse"
    language: str | None = None
    sample_rate: int = 16000
    encoding: str = "linear16"
    word_timestamps: bool = False
    diarize: bool = False
    sentence_timestamps: bool = False
    full_transcript: bool = False
    endpointing: bool = True
    eou_timeout_ms: int = 800
    finalize_on_words: bool = True
    max_words: int | None = None
    vad_events: bool = False
    format: bool = True
    punctuate: bool = True
    capitalize: bool = True
    itn_normalize: bool = False
    redact_pii: bool = False
    redact_pci: bool = False
    keywords: tuple[tuple[str, float | None], ...] = ()
    external_session_id: str | None = None
    numerals: str = "auto"
    auth_method: str = "bearer"
    access_token: bool = False
    region_violation: str | None = None
    ignored: Mapping[str, str] = field(default_factory=dict)

    @property
    def both_transcript_fields(self) -> bool:
        """Whether messages carry ``transcription`` as well as ``transcript`` (only on live)."""
        return self.endpoint == "live"

    @classmethod
    def resolve(cls, params: PulseParams, *, endpoint: Endpoint = "live", **extra: Any) -> PulseSessionConfig:
        """Resolve client parameters into the configuration a server would apply.

        Args:
            params: The parameters as sent.
            endpoint: Which path the client connected to.
            **extra: Other `PulseSessionConfig` fields (``auth_method``, ``access_token``, ``region_violation``,
                ``ignored``).

        Returns:
            The resolved configuration.
        """
        column = 0 if endpoint == "live" else 1
        values: dict[str, Any] = {}
        for name, defaults in BOOL_PARAMS.items():
            if name in ("vad", "emotion_detection", "gender_detection"):
                continue
            given = getattr(params, name)
            values[name] = defaults[column] if given is None else given
        if params.vad_events is None and params.vad is not None:
            values["vad_events"] = params.vad
        if not values["format"]:
            values.update(punctuate=False, capitalize=False, itn_normalize=False)
        keywords: list[tuple[str, float | None]] = []
        for item in (params.keywords or "").split(",") if params.keywords else []:
            word, sep, boost = item.rpartition(":")
            keywords.append((word, float(boost)) if sep else (item, None))
        return cls(
            endpoint=endpoint,
            model=params.model if endpoint == "live" else None,
            language=params.language,
            sample_rate=params.sample_rate or 16000,
            encoding=params.encoding or "linear16",
            eou_timeout_ms=params.eou_timeout_ms if params.eou_timeout_ms is not None else 800,
            max_words=params.max_words,
            keywords=tuple(keywords),
            external_session_id=params.external_session_id,
            numerals=params.numerals or "auto",
            **values,
            **extra,
        )


def _decode_bool(name: str, text: str) -> bool:
    # The server compares with === "true" [VND: the vendor SDK]; anything else is false.  Strictness here is an
    # emulator choice: an obviously wrong value (e.g. "yes") is rejected so tests see it.
    if text not in ("true", "false"):
        raise ParameterError(param=name, value=text, allowed=("true", "false"))
    return text == "true"


def _decode_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ParameterError(param=name, value=text, allowed="a whole number") from None


def decode_query(query: Mapping[str, str], *, endpoint: Endpoint) -> tuple[PulseParams, dict[str, str]]:
    """Decode query-string values into `PulseParams` (server half).

    Args:
        query: The query parameters as strings (credentials already removed).
        endpoint: Which path the client connected to.

    Returns:
        The parameters and a dict of unknown parameters (accepted and ignored).

    Raises:
        ParameterError: A known parameter has an invalid value, or ``language`` is missing or not
            streamable on live (`check_endpoint_language`).
    """
    kwargs, ignored = _decode_values(query, endpoint=endpoint)
    if endpoint == "legacy":
        kwargs["model"] = None
    params = PulseParams(**kwargs)
    check_endpoint_language(params.language, endpoint)
    return params, ignored


def params_from_query(query: Mapping[str, str], endpoint: str | None) -> dict[str, Any]:
    """The client half: a user's URL query as `voicelab.stream` params (typed), refusing what it cannot use.

    Args:
        query: The query of the URL the user gave (``?model=pulse&language=hi&sample_rate=8000``).
        endpoint: The endpoint the URL's path names (``live``/``legacy``), ``None`` for the default.

    Returns:
        The parameters, typed as `PulseParams` takes them.

    Raises:
        ParameterError: A bad value, or a credential in the URL. Parameters `PulseParams` does not
            model go to ``extra`` and are sent as they came.
    """
    for secret in ("api_key", "token"):
        if secret in query:
            raise ParameterError(param=secret, value="<hidden>", allowed="no credential in url",
                                 hint="pass the key as api_key=... (voicelab sends it as the auth form you choose)")
    kwargs, ignored = _decode_values(query, endpoint=endpoint or "live")  # type: ignore[arg-type]
    if ignored:  # parameters voicelab does not model (or an emulator's vl_fault) are sent on as they came
        kwargs["extra"] = dict(ignored)
    return kwargs


def _decode_values(query: Mapping[str, str], *, endpoint: Endpoint) -> tuple[dict[str, Any], dict[str, str]]:
    kwargs: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    known = {f.name for f in fields(PulseParams)} - {"extra"}
    for key, text in query.items():
        if key not in known:
            ignored[key] = text
            continue
        if key == "model" and endpoint == "legacy":
            ignored[key] = text
            continue
        if key in BOOL_PARAMS:
            kwargs[key] = _decode_bool(key, text)
        elif key in ("sample_rate", "eou_timeout_ms", "max_words", "vad_min_speech_ms"):
            kwargs[key] = _decode_int(key, text)
        elif key == "vad_threshold":
            try:
                kwargs[key] = float(text)
            except ValueError:
                raise ParameterError(param=key, value=text, allowed="a number from 0 to 1") from None
        elif key == "encoding":
            if text not in ENCODINGS:  # the wire takes exact names, not voicelab's aliases
                raise ParameterError(param="encoding", value=text, allowed=ENCODINGS)
            kwargs[key] = text
        else:
            kwargs[key] = text
    return kwargs, ignored


def other_region(region: str) -> str:
    """The region whose host serves what ``region``'s host does not (``us`` ↔ ``india``)."""
    return "india" if REGION_RULES.get(region) == "us" else "us"


def region_violation(language: str | None, region: str | None) -> str | None:
    """Say how a region rejects a language it does not serve.

    Documented in two changelog entries [DOC]: East Asian languages on the US host only,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-16-pulse-stt-asian-languages-us-region.mdx
    and South Indic languages on the India host only,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-29-pulse-stt-south-indic-languages.mdx

    Args:
        language: The requested language.
        region: A key of `HOSTS` (``"india"``: ``api.smallest.ai``, ``"india_pinned"``:
            ``api.india.smallest.ai``, ``"us"``: ``api.us.smallest.ai``), or ``None`` (not judged).

    Returns:
        ``"close_without_frame"`` (East Asian on India), ``"language_not_enabled"``
        (South Indian on US), or ``None``.
    """
    rules = REGION_RULES.get(region) if region is not None else None
    if language is None or rules is None:
        return None
    if rules == "india" and language in US_ONLY_LANGUAGES:
        return "close_without_frame"
    if rules == "us" and language in INDIA_ONLY_LANGUAGES:
        return "language_not_enabled"
    return None
