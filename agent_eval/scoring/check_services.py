"""The endpoints `similar` and `moderation` checks call: embeddings and moderation, cached and retried."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from agent_eval.calls.cache import ResponseCache
from agent_eval.checks.base import CheckServiceError
from agent_eval.modelspec import ModelSpec

__all__ = ["ModelServices"]

_DEFAULT_MODELS = {"embed": "text-embedding-3-small", "moderate": "omni-moderation-latest"}
_ATTEMPTS = 4


@dataclass(slots=True)
class ModelServices:
    """Embeddings and moderation through the providers' SDKs; results cached in memory and on disk."""

    embed_spec: ModelSpec
    moderate_spec: ModelSpec
    cache: ResponseCache | None = None
    _providers: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    async def embed(self, texts: list[str], model: str | None) -> list[list[float]]:
        name = self._model(self.embed_spec, model, "embed")
        keys = [self._key("embed", self.embed_spec, name, text) for text in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if self._lookup(k) is None]
        if missing:
            unique = dict(missing)
            vectors = await self._call("embed", self.embed_spec, list(unique.values()), name)
            for key, vector in zip(unique, vectors, strict=True):
                self._store(key, vector)
        return [self._lookup(k) for k in keys]

    async def moderate(self, text: str, model: str | None) -> dict[str, float]:
        name = self._model(self.moderate_spec, model, "moderate")
        key = self._key("moderate", self.moderate_spec, name, text)
        found = self._lookup(key)
        if found is None:
            found = await self._call("moderate", self.moderate_spec, text, name)
            self._store(key, found)
        return dict(found)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        if self.cache is not None:
            self.cache.close()

    @classmethod
    def build(cls, candidate: ModelSpec, embeddings: ModelSpec | None, moderation: ModelSpec | None,
              cache: ResponseCache | None) -> ModelServices:
        """Dedicated endpoints when the suite names them, else the candidate's endpoint with a default model."""
        return cls(embed_spec=embeddings or _default(candidate, "embed"),
                   moderate_spec=moderation or _default(candidate, "moderate"), cache=cache)

    def _model(self, spec: ModelSpec, model: str | None, kind: str) -> str:
        return model or spec.name

    def _key(self, kind: str, spec: ModelSpec, model: str, text: str) -> str:
        from agent_eval._hashing import canonical_hash
        from agent_eval.providers.registry import resolve_base_url

        return canonical_hash({"kind": kind, "provider": spec.provider, "base_url": resolve_base_url(spec) or "",
                               "model": model, "text": text})

    def _lookup(self, key: str) -> Any:
        if key in self._memo:
            return self._memo[key]
        value = self.cache.get_value(key) if self.cache is not None else None
        if value is not None:
            self._memo[key] = value
        return value

    def _store(self, key: str, value: Any) -> None:
        self._memo[key] = value
        if self.cache is not None:
            self.cache.put_value(key, value)

    async def _call(self, kind: str, spec: ModelSpec, arg: Any, model: str) -> Any:
        from agent_eval.providers.registry import create_provider

        provider = self._providers.get(kind)
        if provider is None:
            provider = self._providers[kind] = create_provider(spec, max_connections=4)
        method = getattr(provider, kind, None)
        if method is None:
            raise CheckServiceError(f"provider {spec.provider} has no {kind} endpoint")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await method(arg, model)
            except Exception as exc:  # classified by the provider, like completions
                decision = provider.classify(exc)
                if not decision.retryable or attempt == _ATTEMPTS:
                    raise CheckServiceError(f"{kind} call failed: {decision.message}") from None
                await asyncio.sleep(min(decision.retry_after_s or 0.2 * 2**attempt, 5.0))
        raise AssertionError("unreachable")


def _default(candidate: ModelSpec, kind: str) -> ModelSpec:
    if candidate.provider == "mock":
        return candidate
    return candidate.model_copy(update={"name": _DEFAULT_MODELS[kind], "params": {}})
