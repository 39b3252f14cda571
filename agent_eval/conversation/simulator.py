"""A simulated user: a model (any provider, its own limits) playing a persona with a goal and facts.

The simulator sees the conversation with the roles swapped (the agent's replies are its `user`
messages, its own earlier turns are `assistant`), so real chat models answer as the user and the
mock provider's default rules match the agent's last reply. It says the goal is reached by
writing GOAL_MARKER. Its calls are cached per repetition, budgeted, priced and traced (spans of
kind "user") apart from the agent's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent_eval._hashing import canonical_hash
from agent_eval.calls.endpoint import CallFailed, Endpoint
from agent_eval.calls.tracing import Clock, model_span
from agent_eval.modelspec import ModelSpec, PriceSpec
from agent_eval.providers.base import Completion, CompletionRequest
from agent_eval.records import Message, RunError, SimulatorUsage, Span, Usage
from agent_eval.suite.schema import SimulatedUserSpec

if TYPE_CHECKING:
    from agent_eval.calls.budget import Budget
    from agent_eval.calls.cache import ResponseCache

__all__ = ["GOAL_MARKER", "SimulatorFailed", "SimulatorPool", "SimulatorRun", "simulator_prompt"]

GOAL_MARKER = "[GOAL_REACHED]"


class SimulatorFailed(Exception):
    """The simulator's model call failed for good: the run has no verdict."""

    def __init__(self, error: RunError) -> None:
        super().__init__(error.message)
        self.error = error


def simulator_prompt(spec: SimulatedUserSpec) -> str:
    """The simulator's system prompt: persona, goal, facts, and how to play."""
    facts = "".join(f"\n- {fact}" for fact in spec.facts) or "\n- (none)"
    return (
        "You are role-playing a user who is talking to an assistant. Stay in character; never say you are an AI."
        f"\nPersona: {spec.persona or 'an ordinary user'}\nYour goal: {spec.goal}\nWhat you believe (it may be "
        f"wrong; insist on it unless the assistant shows evidence):{facts}\nWrite only your next message to the "
        f"assistant, in one or two sentences. When your goal is reached, or clearly cannot be, write {GOAL_MARKER} "
        "(after a short closing message if you like)."
    )


@dataclass(slots=True)
class SimulatorRun:
    """One conversation's simulator calls: usage, cost and spans, counted apart from the agent's."""

    spec: SimulatedUserSpec
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    spans: list[Span] = field(default_factory=list)

    def usage(self, stop: str) -> SimulatorUsage:
        return SimulatorUsage(model=self.spec.model.name, calls=self.calls, cost_usd=self.cost_usd, stop=stop,
                              tokens=Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens),
                              goal_reached=stop == "goal_reached")


@dataclass(slots=True)
class SimulatorPool:
    """Endpoints per simulator model (made on first use, with the model's own limits), the cache and the budget."""

    budget: Budget
    seed: int
    max_retries: int
    timeout_s: float | None
    cache: ResponseCache | None = None
    pricing: Mapping[str, PriceSpec] = field(default_factory=dict)  # the config's `pricing:` overrides
    _endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def endpoint(self, spec: ModelSpec) -> Endpoint:
        from agent_eval.calls import endpoint_for
        from agent_eval.providers.registry import check_credentials

        key = canonical_hash(spec.model_dump(mode="json"))
        if key not in self._endpoints:
            check_credentials(spec)
            self._endpoints[key] = endpoint_for(
                spec, concurrency=spec.limits.max_concurrency or 4, rpm=spec.limits.rpm, tpm=spec.limits.tpm,
                max_retries=self.max_retries, timeout_s=self.timeout_s or spec.timeout_s)
        return self._endpoints[key]

    async def next_message(self, sim: SimulatorRun, case_id: str, index: int,
                           conversation: list[Message], clock: Clock) -> str:
        """The simulated user's next message, given the conversation so far (agent's view, roles as sent)."""
        from agent_eval.calls.budget import call_estimate
        from agent_eval.calls.cache import cache_key

        spec = sim.spec.model
        endpoint = self.endpoint(spec)
        request = CompletionRequest(
            model=spec.name, messages=(Message(role="system", content=simulator_prompt(sim.spec)), *_swapped(conversation)),
            params=spec.params, seed=self.seed, case_id=f"{case_id}/user", repetition=index,
            timeout_s=endpoint.timeout_s)
        key = cache_key(spec.provider, spec.base_url, request) if self.cache is not None and spec.provider != "mock" else ""
        completion = self.cache.get(key) if self.cache is not None and key else None
        cached = completion is not None
        start = clock.now_ms()
        if completion is None:
            held = await self.budget.reserve_call(*call_estimate(request, self.pricing, spec.provider))
            if held is None:  # held to the budget as it is made, like the agent's own calls
                self.budget.stopped_runs.add((case_id, index))
                raise SimulatorFailed(RunError(kind="budget", message="simulated user: stopped by a budget: "
                                               f"{self.budget.describe()}"))
            try:
                completion, _ = await endpoint.call(request)
            except CallFailed as exc:
                sim.spans.append(model_span(request, None, provider=spec.provider, start_ms=start, kind="user",
                                            duration_ms=clock.now_ms() - start, error=exc.decision.message))
                raise SimulatorFailed(RunError(kind="provider", message=f"simulated user: {exc.decision.message}",
                                               status=exc.decision.status, attempts=exc.attempts)) from None
            finally:
                made = completion is not None
                await self.budget.settle_call(held, made=made, cost_usd=self._cost(spec, completion),
                                              tokens=completion.usage.total if completion is not None else 0)
            if self.cache is not None and key:
                self.cache.put(key, completion)
        cost = self._cost(spec, completion)
        sim.calls += 1
        sim.input_tokens += completion.usage.input_tokens
        sim.output_tokens += completion.usage.output_tokens
        sim.cost_usd = None if sim.cost_usd is None or cost is None else sim.cost_usd + cost
        sim.spans.append(model_span(request, completion, provider=spec.provider, start_ms=start, kind="user",
                                    duration_ms=clock.now_ms() - start, cached=cached))
        return completion.text

    def _cost(self, spec: ModelSpec, completion: Completion | None) -> float | None:
        """As the model that answered; failing a price for it, as the model asked for."""
        from agent_eval.providers.pricing import cost_usd

        if completion is None:
            return None
        cost = cost_usd(completion.model or spec.name, completion.usage, self.pricing, provider=spec.provider)
        if cost is None:
            cost = cost_usd(spec.name, completion.usage, self.pricing, provider=spec.provider)
        return cost

    async def aclose(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.provider.aclose()


def _swapped(conversation: list[Message]) -> list[Message]:
    """The agent's conversation as the simulator sees it: the agent speaks as `user`, the simulator as `assistant`."""
    swapped: list[Message] = [Message(role="user", content="(The assistant is waiting for you to start.)")]
    for message in conversation:
        if message.role == "user":
            swapped.append(Message(role="assistant", content=message.content))
        elif message.role == "assistant" and message.content:
            # only the simulator may say its goal is reached: an agent's marker is not shown to it (or echoed)
            swapped.append(Message(role="user", content=message.content.replace(GOAL_MARKER, "")))
    return swapped
