"""Model calls on behalf of a target: cached, paced and retried (the endpoint), priced and traced.

`ModelCaller` is shared by every run of a session; `RunMeter` accumulates one run's calls
(tokens, cost, spans) and holds its limits: the deadline and `agent.max_tokens/max_cost_usd`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_eval.calls.budget import Budget, Reservation, call_estimate
from agent_eval.calls.cache import ResponseCache, cache_key
from agent_eval.calls.endpoint import CallFailed, Endpoint
from agent_eval.calls.tracing import Clock, model_span
from agent_eval.errors import FatalProviderError
from agent_eval.modelspec import PriceSpec
from agent_eval.providers.base import Completion, CompletionRequest
from agent_eval.records import CheckResult, Span, Usage

__all__ = ["CallRefused", "Exchange", "ModelCaller", "RunMeter"]


class CallRefused(Exception):
    """A model call the run may not make: past its deadline or over its per-run limit."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One model call of an agent through the gateway: what it sent, what came back, and when."""

    request: CompletionRequest
    completion: Completion
    start_ms: float
    end_ms: float


@dataclass(slots=True)
class RunMeter:
    """One run's model calls so far, and the limits they are held to."""

    deadline: float | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    clock: Clock = field(default_factory=Clock)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    calls: int = 0
    cached_calls: int = 0
    attempts: int = 0
    latency_ms: float = 0.0
    model: str = ""
    spans: list[Span] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    limit_hit: str | None = None  # e.g. "agent.max_tokens: 1,204 tokens, limit 1,000"
    fatal: FatalProviderError | None = None
    refused: str | None = None  # every call is refused with this reason (a Python agent's config has no model)
    provider_error: str | None = None  # a call failed for good on the provider's side (an outage, not the agent)

    estimated: bool = False  # a call's usage was not reported, so the counts are partly estimates
    occurrences: Counter[str] = field(default_factory=Counter)  # cache keys asked for so far: the ordinal
    exchanges: list[Exchange] = field(default_factory=list)  # the agent's calls seen by the gateway

    @property
    def usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens, estimated=self.estimated)

    @property
    def all_cached(self) -> bool:
        return self.calls > 0 and self.cached_calls == self.calls

    def refuse_reason(self) -> str | None:
        """Why the next call may not be made, if it may not."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "the run's deadline (--run-timeout) has passed"
        return self.refused or self.limit_hit

    def violations(self) -> tuple[CheckResult, ...]:
        """A hit per-run limit as a failed check, so the run fails and says why."""
        if self.limit_hit is None:
            return ()
        name = self.limit_hit.split(":", 1)[0]
        return (CheckResult(name=name, passed=False, reason=f"stopped: {self.limit_hit}"),)

    def _record(self, completion: Completion, cost: float | None, *, cached: bool, attempts: int) -> None:
        self.calls += 1
        self.cached_calls += cached
        self.attempts += attempts
        self.input_tokens += completion.usage.input_tokens
        self.output_tokens += completion.usage.output_tokens
        self.estimated = self.estimated or completion.usage.estimated
        self.latency_ms += completion.latency_ms
        self.model = completion.model or self.model
        self.warnings.extend(w for w in completion.warnings if w not in self.warnings)
        self.cost_usd = None if self.cost_usd is None or cost is None else self.cost_usd + cost
        used = self.input_tokens + self.output_tokens
        if self.max_tokens is not None and used > self.max_tokens:
            self.limit_hit = f"agent.max_tokens: {used:,} tokens used, limit {self.max_tokens:,}"
        elif self.max_cost_usd is not None and self.cost_usd is not None and self.cost_usd > self.max_cost_usd:
            self.limit_hit = f"agent.max_cost_usd: ${self.cost_usd:.4f} spent, limit ${self.max_cost_usd:g}"


@dataclass(slots=True)
class ModelCaller:
    """The candidate endpoint with its cache and prices; `complete` makes one call of one run."""

    endpoint: Endpoint
    provider_name: str
    base_url: str | None
    model: str
    params: Mapping[str, Any]
    tools: tuple[Mapping[str, Any], ...]
    seed: int
    pricing: Mapping[str, PriceSpec]
    cache: ResponseCache | None = None
    budget: Budget | None = None  # the session's: each call is checked against it as it is made

    def request(self, case_id: str, repetition: int, messages: Any, *, tools: Any = None,
                model: str | None = None, params: Mapping[str, Any] | None = None) -> CompletionRequest:
        """A request with the config's model, parameters and tools unless given."""
        return CompletionRequest(
            model=model or self.model, messages=tuple(messages), params=self.params if params is None else params,
            tools=self.tools if tools is None else tuple(tools), seed=self.seed, case_id=case_id,
            repetition=repetition, timeout_s=self.endpoint.timeout_s,
        )

    async def complete(self, request: CompletionRequest, meter: RunMeter) -> Completion:
        """One call: refused past the deadline or a limit; raises CallFailed when the provider fails for good."""
        refused = meter.refuse_reason()
        if refused is not None:
            raise CallRefused(refused)
        key = self._key(request, meter)
        completion = self.cache.get(key) if self.cache is not None and key else None
        cached = completion is not None
        start = meter.clock.now_ms()
        attempts = 0
        if completion is None:
            held = await self._reserve(request)
            try:
                completion, attempts = await self.endpoint.call(request)
            except FatalProviderError as exc:
                meter.fatal = exc
                raise
            except CallFailed as exc:
                if exc.decision.retryable or (exc.decision.status or 0) >= 500:
                    meter.provider_error = meter.provider_error or exc.decision.message
                meter.spans.append(model_span(request, None, provider=self.provider_name, start_ms=start,
                                              duration_ms=meter.clock.now_ms() - start,
                                              error=exc.decision.message))
                raise
            finally:
                if held is not None and self.budget is not None:
                    made = completion is not None
                    await self.budget.settle_call(
                        held, (request.case_id, request.repetition), made=made,
                        cost_usd=self._price(completion, request.model) if completion is not None else None,
                        tokens=completion.usage.total if completion is not None else 0)
            if self.cache is not None and key:
                self.cache.put(key, completion)
        cost = self._price(completion, request.model)
        meter._record(completion, cost, cached=cached, attempts=attempts)
        meter.spans.append(model_span(request, completion, provider=self.provider_name, start_ms=start,
                                      duration_ms=meter.clock.now_ms() - start, cached=cached))
        return completion

    async def _reserve(self, request: CompletionRequest) -> Reservation | None:
        """Hold the call's expected spend under the budget; CallRefused when it would cross it."""
        if self.budget is None or not self.budget.limited:
            return None
        held = await self.budget.reserve_call(*call_estimate(request, self.pricing, self.provider_name))
        if held is None:
            self.budget.stopped_runs.add((request.case_id, request.repetition))
            raise CallRefused(f"stopped by a budget: {self.budget.describe()}")
        return held

    def _key(self, request: CompletionRequest, meter: RunMeter) -> str | None:
        """The request's key; the same request again in one run adds its occurrence count.

        Counted when asked, not when answered: concurrent calls of a run keep their keys on a rerun.
        """
        if self.cache is None:
            return None
        key = cache_key(self.provider_name, self.base_url, request)
        ordinal = meter.occurrences[key]
        meter.occurrences[key] += 1
        return key if ordinal == 0 else f"{key}#{ordinal}"

    def _price(self, completion: Completion, asked: str) -> float | None:
        """As the model that answered; failing a price for it, as the model asked for (never another)."""
        from agent_eval.providers.pricing import cost_usd

        cost = cost_usd(completion.model or asked, completion.usage, self.pricing, provider=self.provider_name)
        if cost is None:
            cost = cost_usd(asked, completion.usage, self.pricing, provider=self.provider_name)
        return cost
