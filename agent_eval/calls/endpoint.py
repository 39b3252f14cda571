"""One model endpoint under load: the only retry loop, pacing and adaptive concurrency."""

from __future__ import annotations

import asyncio
import random
import re
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

__all__ = ["CallFailed", "ConfigErrors", "Endpoint", "EndpointStats", "RetryPolicy", "estimate_tokens"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff; Retry-After wins when the server sends one.

    A 429 that says when to come back uses up no attempt: the total waiting of one call is
    bounded instead (`max_wait_s`), and a single wait longer than `max_retry_wait_s` errors the call.
    """

    max_attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 60.0
    max_wait_s: float = 600.0
    max_retry_wait_s: float = 120.0

    def wait_s(self, attempt: int, decision: RetryDecision, rng: random.Random, *, told: int = 0) -> float:
        """Seconds before the next attempt; `told` counts this call's 429s that said when to retry.

        Those follow the server, with a floor that doubles from 50 ms, so a server that keeps
        saying "retry now" is not hammered until --max-wait runs out.
        """
        backoff = min(self.cap_s, self.base_s * 2 ** (max(attempt, told) - 1))
        if decision.retry_after_s is not None:
            floor = backoff * 0.1 if told else 0.0
            return max(decision.retry_after_s, floor) + rng.uniform(0, 0.05)
        return backoff * rng.uniform(0.5, 1.0)


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


_VOLATILE = re.compile(r"\b(?:[0-9a-f]{8,}|[0-9a-z_-]*\d[0-9a-z_-]*)\b", re.IGNORECASE)


@dataclass(slots=True)
class ConfigErrors:
    """The same 4xx for `cases` distinct cases before any success is configuration, not noise: stop the run.

    Request ids and numbers are ignored when comparing messages; a content filter that rejects
    one case again and again stays that case's error.
    """

    cases: int = 3
    succeeded: bool = False
    seen: dict[tuple[int, str], set[str]] = field(default_factory=dict)

    def check(self, decision: RetryDecision, case_id: str) -> None:
        """Raise FatalProviderError when `decision` is the `cases`-th distinct case with this error."""
        status = decision.status
        if self.succeeded or status is None or not 400 <= status < 500 or decision.kind is not RetryKind.NONE:
            return
        key = (status, _VOLATILE.sub("#", decision.message))
        seen = self.seen.setdefault(key, set())
        seen.add(case_id)
        if len(seen) >= self.cases:
            raise FatalProviderError(f"{decision.message} — the same error for {len(seen)} different cases and "
                                     "no success: a configuration problem (key, model, endpoint or parameters), "
                                     "so the run stops")


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
    config_errors: ConfigErrors = field(default_factory=ConfigErrors)

    async def call(self, request: CompletionRequest) -> tuple[Completion, int]:
        """Send with retries; raises CallFailed, or FatalProviderError for 401/403/404 and repeated 4xx."""
        attempt = failures = told_count = 0  # requests sent; failures that use up attempts; 429s that said when
        waited = 0.0
        estimate = estimate_tokens(request)
        while True:
            attempt += 1
            decision = await self._attempt(request, estimate)
            if isinstance(decision, Completion):
                self.config_errors.succeeded = True
                return decision, attempt
            if decision.kind is RetryKind.FATAL:
                raise FatalProviderError(decision.message)
            told = decision.kind is RetryKind.RATE_LIMIT and decision.retry_after_s is not None
            told_count += told
            failures += 0 if told else 1
            if not decision.retryable or failures >= self.policy.max_attempts:
                self.config_errors.check(decision, request.case_id)
                raise CallFailed(decision, attempt)
            wait = self.policy.wait_s(max(1, failures), decision, self.rng, told=told_count if told else 0)
            self._check_wait(decision, wait, waited, attempt)
            waited += wait
            if decision.kind is RetryKind.RATE_LIMIT:
                self.stats.rate_limited += 1
                self.limit.on_rate_limit()
                if told:  # the server says when: follow it
                    self.pacer.pause_until(time.monotonic() + (decision.retry_after_s or 0.0))
                else:  # it says only "too many": learn its rate
                    self.pacer.on_rate_limit()
            self.stats.retries += 1
            await self._sleep(wait)

    def _check_wait(self, decision: RetryDecision, wait: float, waited: float, attempt: int) -> None:
        """Error the call when the server asks for too long a wait, or its waits add up past the bound."""
        policy = self.policy
        if decision.retry_after_s is not None and decision.retry_after_s > policy.max_retry_wait_s:
            message = (f"{decision.message}: the server asked to wait {decision.retry_after_s:g} s, more than "
                       f"--max-retry-wait {policy.max_retry_wait_s:g} s")
            raise CallFailed(RetryDecision(decision.kind, message, decision.status), attempt)
        if waited + wait > policy.max_wait_s:
            message = (f"{decision.message}: gave up after waiting {waited:.0f} s in total for this run "
                       f"(--max-wait {policy.max_wait_s:g} s)")
            raise CallFailed(RetryDecision(decision.kind, message, decision.status), attempt)

    async def _attempt(self, request: CompletionRequest, estimate: int) -> Completion | RetryDecision:
        async with self.limit:
            waited = await self.pacer.acquire(estimate)
            ticket, sent_at = self.pacer.sent, self.pacer.sent_at
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
                decision = self.provider.classify(exc)
                if decision.rate is not None:
                    self.pacer.advertise(decision.rate, ticket, sent_at)
                return decision
        self.limit.on_success()
        self.pacer.on_success()
        if completion.rate is not None:
            self.pacer.advertise(completion.rate, ticket, sent_at)
        self.pacer.correct(estimate, completion.usage.total)
        return completion

    async def _sleep(self, seconds: float) -> None:
        self.stats.waiting += 1
        self.stats.wait_s += seconds
        try:
            await asyncio.sleep(seconds)
        finally:
            self.stats.waiting -= 1
