"""The provider registry: every part of voicelab finds providers here, by name.

Built-in providers are registered when `voicelab.providers` is imported. Others register with
one line, ``voicelab.providers.register(SPEC)``, or without any code change by naming their
spec in the ``VOICELAB_PROVIDERS`` environment variable (``module:attribute``, comma-separated),
which also reaches subprocesses such as the ``voicelab`` CLI.
"""

from __future__ import annotations

import importlib
import os
import threading

from voicelab.audio.targets import register_target, unregister_target
from voicelab.providers.errors import ProviderError, UnknownProviderError
from voicelab.providers.spec import ProviderSpec

__all__ = ["PLUGINS_ENV", "get_provider", "provider_names", "providers", "register", "unregister"]

#: Environment variable naming extra provider specs (``module:attribute``, comma-separated).
PLUGINS_ENV = "VOICELAB_PROVIDERS"

_REGISTRY: dict[str, ProviderSpec] = {}
_ALIASES: dict[str, str] = {}
_lock = threading.Lock()
_plugins_loaded = False


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register(spec: ProviderSpec, *, replace: bool = False) -> ProviderSpec:
    """Register a provider (and its audio target) under its name and aliases.

    Args:
        spec: The provider's spec.
        replace: Replace a provider already registered under the same name.

    Returns:
        ``spec``, so a module can write ``SPEC = register(ProviderSpec(...))``.

    Raises:
        ProviderError: The name or an alias is taken by another provider.
    """
    if not isinstance(spec, ProviderSpec):
        raise ProviderError(f"register() takes a ProviderSpec, not {type(spec).__name__}")
    name = _key(spec.name)
    with _lock:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not spec and not replace:
            raise ProviderError(f"a provider named {name!r} is already registered; pass replace=True to replace it")
        for alias in spec.aliases:
            owner = _ALIASES.get(_key(alias))
            if (owner not in (None, name)) or _key(alias) in _REGISTRY:
                raise ProviderError(f"the alias {alias!r} of {name!r} is already taken by {owner or alias!r}")
        _REGISTRY[name] = spec
        for alias in spec.aliases:
            _ALIASES[_key(alias)] = name
        register_target(spec.target, aliases=spec.aliases, replace=True)
    return spec


def unregister(name: str) -> ProviderSpec:
    """Remove a registered provider (and its audio target); the inverse of `register`.

    Args:
        name: The provider's name or alias.

    Returns:
        The spec that was removed.

    Raises:
        UnknownProviderError: No such provider.
    """
    spec = get_provider(name)
    with _lock:
        _REGISTRY.pop(_key(spec.name), None)
        for alias in [a for a, owner in _ALIASES.items() if owner == _key(spec.name)]:
            del _ALIASES[alias]
        unregister_target(spec.target.name)
    return spec


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for item in filter(None, (s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(","))):
        module, _, attr = item.partition(":")
        try:
            spec = getattr(importlib.import_module(module), attr or "SPEC")
        except (ImportError, AttributeError) as exc:
            raise ProviderError(f"{PLUGINS_ENV} names {item!r}, which cannot be loaded ({exc}); "
                                "give module:attribute of an importable ProviderSpec") from exc
        if _key(spec.name) not in _REGISTRY or _REGISTRY[_key(spec.name)] is not spec:
            register(spec, replace=True)


def providers() -> tuple[ProviderSpec, ...]:
    """Every registered provider, built-ins first."""
    _load_plugins()
    return tuple(_REGISTRY.values())


def provider_names() -> tuple[str, ...]:
    """The registered providers' names."""
    return tuple(s.name for s in providers())


def get_provider(name: str | ProviderSpec) -> ProviderSpec:
    """Return the provider registered under ``name`` (or an alias; case-insensitive, ``_`` for ``-``).

    Args:
        name: A provider name or alias, or a `ProviderSpec` (returned as it is).

    Returns:
        The provider's spec.

    Raises:
        UnknownProviderError: The name is not registered; the message lists the known names.
    """
    if isinstance(name, ProviderSpec):
        return name
    _load_plugins()
    key = _key(name) if isinstance(name, str) else ""
    spec = _REGISTRY.get(_ALIASES.get(key, key))
    if spec is None:
        raise UnknownProviderError(f"unknown provider {name!r}; known providers: {', '.join(_REGISTRY)}")
    return spec
