"""The call layer below the runner, the judge and agents: endpoints, pacing, retries, cache, budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval.calls.endpoint import Endpoint, RetryPolicy
from agent_eval.calls.limits import AdaptiveLimit, Pacer

if TYPE_CHECKING:
    from agent_eval.modelspec import ModelSpec

__all__ = ["endpoint_for"]


def endpoint_for(
    spec: ModelSpec, *, concurrency: int, rpm: float | None, tpm: float | None, max_retries: int,
    timeout_s: float, max_wait_s: float = 600.0, max_retry_wait_s: float = 120.0, workers: int = 1,
) -> Endpoint:
    """A provider behind its pacer, adaptive limit and retry policy (its calls made by `workers` processes)."""
    from agent_eval.providers.registry import create_provider

    return Endpoint(
        provider=create_provider(spec, max_connections=concurrency, workers=workers),
        pacer=Pacer(rpm=rpm, tpm=tpm),
        limit=AdaptiveLimit(concurrency),
        policy=RetryPolicy(max_attempts=max(1, max_retries), max_wait_s=max_wait_s,
                           max_retry_wait_s=max_retry_wait_s),
        timeout_s=timeout_s,
    )
