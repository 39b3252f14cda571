"""Which providers exist, how to build one, and where its key and endpoint come from.

SDKs are imported only when their provider is chosen, so `--help` and `validate`
never load them. Keys are read from the environment here and handed straight to
the SDK client; they never appear in a message or a record.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from agent_eval.errors import ConfigError
from agent_eval.modelspec import PROVIDER_NAMES, ModelSpec
from agent_eval.providers.base import Provider

__all__ = [
    "NO_KEY_PLACEHOLDER",
    "PROVIDERS",
    "check_credentials",
    "create_provider",
    "default_endpoint",
    "endpoint_label",
    "key_env",
    "provider_names",
    "resolve_api_key",
    "resolve_base_url",
]

# name -> "module:factory"; each factory is create(spec, *, max_connections, api_key, base_url).
PROVIDERS: dict[str, str] = {name: f"agent_eval.providers.{name}:create" for name in PROVIDER_NAMES}

_SDK_PACKAGE = {"openai": "openai", "anthropic": "anthropic"}
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_DEFAULT_ENDPOINT = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}

NO_KEY_PLACEHOLDER = "not-needed"  # sent to a custom endpoint (vLLM, Ollama) that wants no key


def provider_names() -> tuple[str, ...]:
    """The provider names a model spec may use."""
    return tuple(PROVIDERS)


def key_env(spec: ModelSpec) -> str | None:
    """The environment variable holding the key; None for providers without keys (mock)."""
    default = _KEY_ENV.get(spec.provider)
    return (spec.api_key_env or default) if default is not None else None


def resolve_api_key(spec: ModelSpec) -> str | None:
    """The key from the environment, or None when unset, empty, or not needed."""
    var = key_env(spec)
    if var is None:
        return None
    return os.environ.get(var) or None


def resolve_base_url(spec: ModelSpec) -> str | None:
    """The custom endpoint (spec first, then the SDK's env var); None means the default."""
    if spec.base_url:
        return spec.base_url
    var = _BASE_URL_ENV.get(spec.provider)
    return (os.environ.get(var) or None) if var else None


def default_endpoint(provider: str) -> str | None:
    """The provider's public endpoint, or None for offline providers."""
    return _DEFAULT_ENDPOINT.get(provider)


def endpoint_label(spec: ModelSpec) -> str:
    """Where the calls go, for messages: the custom URL or the default endpoint."""
    return resolve_base_url(spec) or default_endpoint(spec.provider) or f"the {spec.provider} provider"


def check_credentials(spec: ModelSpec) -> None:
    """Raise ConfigError when the default endpoint is used without a key."""
    var = key_env(spec)
    if var is None or resolve_base_url(spec) is not None or resolve_api_key(spec) is not None:
        return
    raise ConfigError(
        f"{var} is not set: the {spec.provider} provider needs an API key for "
        f"{default_endpoint(spec.provider)} (or set base_url to a compatible local server)"
    )


def _factory(name: str) -> Callable[..., Provider]:
    target = PROVIDERS.get(name)
    if target is None:
        raise ConfigError(f"unknown provider '{name}'; expected one of: {', '.join(provider_names())}")
    module_name, _, attr = target.partition(":")
    sdk = _SDK_PACKAGE.get(name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if sdk is not None and (exc.name or "").partition(".")[0] == sdk:
            raise ConfigError(f"the {name} provider needs the {sdk} package: pip install {sdk}") from None
        raise
    factory: Callable[..., Provider] = getattr(module, attr)
    return factory


def create_provider(spec: ModelSpec, *, max_connections: int, workers: int = 1) -> Provider:
    """Build the provider for `spec`, sized for `max_connections` calls in flight.

    `workers` > 1: an SDK provider's calls are made by `workers - 1` worker processes (the SDKs' CPU on
    more cores); this process keeps pacing, retries, budget and cache.
    """
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, got {max_connections}")
    factory = _factory(spec.provider)
    check_credentials(spec)
    kwargs: dict[str, Any] = {
        "max_connections": max_connections,
        "api_key": resolve_api_key(spec),
        "base_url": resolve_base_url(spec),
    }
    provider = factory(spec, **kwargs)
    if workers > 1 and spec.provider in _SDK_PACKAGE:
        from agent_eval.providers.workers import CallWorkers

        return CallWorkers(provider, spec, count=workers - 1, **kwargs)
    return provider
