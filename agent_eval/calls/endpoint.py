"""One model endpoint under load: the only retry loop, pacing and adaptive concurrency."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from agent_eval.calls.limits import AdaptiveLimit, Pacer
from agent_eval.errors import FatalProviderError
from agent_eval.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    RetryDecision,
    RetryKind,
)

__all__ = ["CallFailed", "Endpoint", "EndpointStats", "RetryPolicy", "estimate_tokens"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff; Retry-After wins when the server sends one."""

    max_attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 60.0

    def wait_s(self, attempt: int, decision: RetryDecision, rng: random.Random) -> float:
        if decision.retry_after_s is not None:
            return decision.retry_after_s + rng.uniform(0, 0.05)
        return min(self.cap_s, self.base_s * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


@dataclass(slots=True)
class EndpointStats:
    """Live counters shown by the progress display."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    waiting: int = 0
    wait_s: float = 0.0


class CallFailed(Exception):
    """A call that failed for good: not retryable, or out of attempts."""

    def __init__(self, decision: RetryDecision, attempts: int) -> None:
        super().__init__(decision.message)
        self.decision = decision
        self.attempts = attempts


def estimate_tokens(request: CompletionRequest) -> int:
    """Prompt characters / 4 plus the output allowance, for token pacing before the call."""
    chars = sum(len(m.content) for m in request.messages)
    allowance = request.params.get("max_tokens") or request.params.get("max_completion_tokens") or 512
    return chars // 4 + int(allowance)


@dataclass(slots=True)
class Endpoint:
    """A provider with its limits; `call` returns a completion and the attempts it took."""

    provider: Provider
    pacer: Pacer
    limit: AdaptiveLimit
    policy: RetryPolicy = RetryPolicy()
    timeout_s: float = 60.0
    stats: EndpointStats = field(default_factory=EndpointStats)
    rng: random.Random = field(default_factory=random.Random)

    async def call(self, request: CompletionRequest) -> tuple[Completion, int]:
        """Send with retries; raises CallFailed, or FatalProviderError for 401/403/404."""
        attempt = 0
        estimate = estimate_tokens(request)
        while True:
            attempt += 1
            decision = await self._attempt(request, estimate)
            if isinstance(decision, Completion):
                return decision, attempt
            if decision.kind is RetryKind.FATAL:
                raise FatalProviderError(decision.message)
            if not decision.retryable or attempt >= self.policy.max_attempts:
                raise CallFailed(decision, attempt)
            wait = self.policy.wait_s(attempt, decision, self.rng)
            if decision.kind is RetryKind.RATE_LIMIT:
                self.stats.rate_limited += 1
                self.limit.on_rate_limit()
                if decision.retry_after_s is not None:  # the server says when: follow it
                    self.pacer.pause_until(time.monotonic() + decision.retry_after_s)
                else:  # it says only "too many": learn its rate
                    self.pacer.on_rate_limit()
            self.stats.retries += 1
            await self._sleep(wait)

    async def _attempt(self, request: CompletionRequest, estimate: int) -> Completion | RetryDecision:
        async with self.limit:
            waited = await self.pacer.acquire(estimate)
            self.stats.wait_s += waited
            self.stats.calls += 1
            try:
                async with asyncio.timeout(self.timeout_s + 1.0):
                    completion = await self.provider.complete(request)
            except TimeoutError:
                return RetryDecision(RetryKind.TRANSIENT, f"no answer within {self.timeout_s:g} s")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # classified below; nothing escapes unclassified
                return self.provider.classify(exc)
        self.limit.on_success()
        self.pacer.on_success()
        self.pacer.correct(estimate, completion.usage.total)
        return completion

    async def _sleep(self, seconds: float) -> None:
        self.stats.waiting += 1
        self.stats.wait_s += seconds
        try:
            await asyncio.sleep(seconds)
        finally:
            self.stats.waiting -= 1
