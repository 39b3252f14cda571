"""The head-to-head judge: two answers to the same conversation, which is better, asked in both orders."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_eval._hashing import canonical_hash
from agent_eval.calls.endpoint import CallFailed, Endpoint
from agent_eval.judge.grader import ensemble_members, load_template
from agent_eval.judge.parse import JudgeError, fence_untrusted
from agent_eval.providers.base import CompletionRequest
from agent_eval.records import Message
from agent_eval.stats.head_to_head import Pick
from agent_eval.suite.schema import JudgeSpec, RubricSpec
from agent_eval.untrusted import parse_json

if TYPE_CHECKING:
    from jinja2 import Template

    from agent_eval.calls.budget import Budget

__all__ = ["HEAD_TO_HEAD_TEMPLATE", "HeadToHeadJudge", "Judgment", "build_head_to_head_judge", "parse_winner"]

HEAD_TO_HEAD_TEMPLATE = Path(__file__).parent / "templates" / "head_to_head.j2"
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Judgment:
    """Both orders of one pair: the pick with the baseline (or production reply) first, then with the candidate
    first, the judge's reasons and what the two calls cost (None: unknown)."""

    baseline_first: Pick
    candidate_first: Pick
    reasons: tuple[str, str]
    cost_usd: float | None


def parse_winner(reply: str) -> tuple[Pick, str]:
    """("first" | "second" | "tie", reasoning) from the last JSON object with a `winner` of A, B or tie."""
    for candidate in reversed(_OBJECT.findall(reply)):
        try:
            data = parse_json(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and "winner" in data:
            winner = str(data["winner"]).strip().lower()
            pick: Pick | None = {"a": "first", "b": "second", "tie": "tie"}.get(winner)  # type: ignore[assignment]
            if pick is None:
                raise JudgeError(f"winner {data['winner']!r} is not A, B or tie")
            return pick, str(data.get("reasoning", ""))
    snippet = " ".join(reply[:400].split())[:80]
    raise JudgeError(f"no JSON winner in the judge's reply: {snippet!r}")


@dataclass(slots=True)
class HeadToHeadJudge:
    """Compares two answers per `head_to_head` rubric; the first member of an ensemble judges."""

    seed: int
    budget: Budget
    make_endpoint: Callable[[JudgeSpec], Endpoint]
    template: Template = field(default_factory=lambda: load_template(HEAD_TO_HEAD_TEMPLATE)[0])
    _endpoints: dict[str, Endpoint] = field(default_factory=dict)

    async def compare(self, rubric: RubricSpec, spec: JudgeSpec, conversation: Sequence[Message], expected: str | None,
                      baseline: str, candidate: str, key: str) -> Judgment:
        """Ask with the baseline first, then with the candidate first; raises JudgeError when either fails."""
        text = "\n".join(f"[{m.role}] {m.content}" for m in conversation if m.role != "system")
        first = await self._ask(rubric, spec, text, expected, baseline, candidate, f"{key}/baseline-first")
        second = await self._ask(rubric, spec, text, expected, candidate, baseline, f"{key}/candidate-first")
        cost = None if first[2] is None or second[2] is None else first[2] + second[2]
        return Judgment(baseline_first=first[0], candidate_first=second[0], reasons=(first[1], second[1]),
                        cost_usd=cost)

    async def _ask(self, rubric: RubricSpec, spec: JudgeSpec, conversation: str, expected: str | None, shown_first: str,
                   shown_second: str, key: str) -> tuple[Pick, str, float | None]:
        from agent_eval.calls.budget import call_estimate
        from agent_eval.providers.pricing import cost_usd

        member = ensemble_members(spec)[0]
        endpoint = self._endpoint(member)
        prompt = self.template.render(
            rubric_name=rubric.name, criteria=rubric.criteria, steps=list(rubric.steps), input=conversation,
            expected=expected if rubric.use_expected else None, first=fence_untrusted(shown_first),
            second=fence_untrusted(shown_second))
        request = CompletionRequest(model=member.name, messages=(Message(role="user", content=prompt),),
                                    params=member.params, seed=self.seed, case_id=key, timeout_s=endpoint.timeout_s)
        held = await self.budget.reserve_call(*call_estimate(request, {}, member.provider))
        if held is None:
            raise JudgeError(f"rubric '{rubric.name}': stopped by a budget: {self.budget.describe()}")
        completion = None
        cost: float | None = None
        try:
            completion, _ = await endpoint.call(request)
            cost = cost_usd(completion.model or member.name, completion.usage, {}, provider=member.provider)
        except CallFailed as exc:
            raise JudgeError(f"rubric '{rubric.name}': call failed: {exc.decision.message}") from None
        finally:
            await self.budget.settle_call(held, made=completion is not None, cost_usd=cost,
                                          tokens=completion.usage.total if completion is not None else 0)
        pick, reason = parse_winner(completion.text)
        return pick, reason, cost

    def _endpoint(self, spec: JudgeSpec) -> Endpoint:
        key = canonical_hash(spec.model_dump(mode="json"))
        if key not in self._endpoints:
            self._endpoints[key] = self.make_endpoint(spec)
        return self._endpoints[key]

    async def aclose(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.provider.aclose()


def build_head_to_head_judge(budget: Budget, *, concurrency: int, seed: int, max_retries: int,
                             timeout_s: float | None, max_wait_s: float = 600.0,
                             max_retry_wait_s: float = 120.0) -> HeadToHeadJudge:
    """A head-to-head judge whose endpoints use the judge's own limits, as `build_judge` does."""
    from agent_eval.calls import endpoint_for

    def make(spec: JudgeSpec) -> Endpoint:
        return endpoint_for(spec, concurrency=spec.limits.max_concurrency or concurrency, rpm=spec.limits.rpm,
                            tpm=spec.limits.tpm, max_retries=max_retries, timeout_s=timeout_s or spec.timeout_s,
                            max_wait_s=max_wait_s, max_retry_wait_s=max_retry_wait_s)

    return HeadToHeadJudge(seed=seed, budget=budget, make_endpoint=make)
