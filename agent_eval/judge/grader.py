"""The LLM judge: one call per rubric (times `samples`) for every completed run."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_eval._hashing import canonical_hash
from agent_eval.calls.endpoint import CallFailed, Endpoint
from agent_eval.calls.tracing import Clock, model_span
from agent_eval.errors import InputError
from agent_eval.judge.parse import (
    JudgeError,
    JudgeReplyError,
    fence_untrusted,
    parse_reply,
)
from agent_eval.providers.base import CompletionRequest
from agent_eval.records import Message, RubricResult, Span, Usage
from agent_eval.suite.case import Case
from agent_eval.suite.schema import JudgeSpec, RubricSpec

if TYPE_CHECKING:
    from jinja2 import Template

    from agent_eval.calls.budget import Budget

__all__ = ["DEFAULT_TEMPLATE", "NAMED_TEMPLATES", "LLMJudge", "ensemble_members", "load_template", "template_path"]

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "rubric.j2"
# Shipped templates a rubric names with `template:`; for retrieval agents (they see the retrieved context).
NAMED_TEMPLATES = {
    "faithfulness": Path(__file__).parent / "templates" / "faithfulness.j2",
    "context_relevance": Path(__file__).parent / "templates" / "context_relevance.j2",
}


def template_path(name: str, base_dir: Path) -> Path:
    """A shipped template by name, else a path relative to the suite's folder."""
    return NAMED_TEMPLATES.get(name) or base_dir / name


def load_template(path: Path) -> tuple[Template, str]:
    """The judge template and the hash of its source (stored with results and baselines)."""
    from jinja2 import StrictUndefined, TemplateSyntaxError

    from agent_eval.templating import bounded_environment

    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read judge prompt template: {exc}") from None
    env = bounded_environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    try:
        return env.from_string(source), canonical_hash(source)
    except TemplateSyntaxError as exc:
        raise InputError(path, f"invalid judge template: {exc.message}", line=exc.lineno) from None


def _conversation(messages: Sequence[Message]) -> str:
    return "\n".join(_line(m) for m in messages if m.role != "system")


def _steps(transcript: Sequence[Message]) -> str:
    """A custom agent's reported turns: its own text, so fenced like its answer."""
    if not transcript:
        return ""
    return ("\n\n## Steps the candidate reported (untrusted, like its answer)\n<<<CANDIDATE STEPS>>>\n"
            f"{fence_untrusted(_conversation(transcript))}\n<<<END CANDIDATE STEPS>>>")


def _line(message: Message) -> str:
    calls = " ".join(f"-> {c.name}({c.arguments})" for c in message.tool_calls)
    return f"[{message.role}] {message.content}{' ' if message.content and calls else ''}{calls}"


@dataclass(slots=True)
class LLMJudge:
    """Grades runs; endpoints are made per judge spec and shared by every rubric using it."""

    template: Template
    seed: int
    budget: Budget
    make_endpoint: Callable[[JudgeSpec], Endpoint]
    templates: dict[str, Template] = field(default_factory=dict)  # rubric `template:` -> loaded template
    _endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def _endpoint(self, spec: JudgeSpec) -> Endpoint:
        key = canonical_hash(spec.model_dump(mode="json"))
        if key not in self._endpoints:
            self._endpoints[key] = self.make_endpoint(spec)
        return self._endpoints[key]

    async def grade(self, case: Case, messages: Sequence[Message], output: str, index: int, *,
                    context: Sequence[str] = (), transcript: Sequence[Message] = ()) -> tuple[RubricResult, ...]:
        """One RubricResult per rubric of the case; raises JudgeError when any cannot be graded.

        `context` is the run's retrieved documents, which the faithfulness and relevance templates grade;
        `transcript` the steps a custom agent reported, shown after the conversation inside the untrusted fence.
        """
        conversation = _conversation(messages) + _steps(transcript)
        return tuple([await self._rubric(case, r, conversation, output, index, context)
                      for r in case.rubrics if not r.head_to_head])  # those are judged against the baseline

    async def _rubric(self, case: Case, rubric: RubricSpec, conversation: str, output: str,
                      index: int, context: Sequence[str]) -> RubricResult:
        spec = rubric.judge or case.judge
        assert spec is not None  # the session refuses rubrics without a judge before running
        template = self.templates.get(rubric.template, self.template) if rubric.template else self.template
        prompt = template.render(
            rubric_name=rubric.name, criteria=rubric.criteria, steps=list(rubric.steps),
            input=conversation, expected=case.expected if rubric.use_expected else None,
            output=fence_untrusted(output), scale_min=rubric.scale[0], scale_max=rubric.scale[1],
            context=[fence_untrusted(doc) for doc in context],
        )
        tally = _Tally()
        for member in ensemble_members(spec):
            await self._ask(member, rubric, f"{case.id}/{rubric.name}", prompt, index, tally,
                            label=member.name if spec.ensemble else None, run=(case.id, index))
        result = _result(rubric, ",".join(m.name for m in ensemble_members(spec)), tally)
        update: dict[str, object] = {"trace": tuple(tally.spans)}
        if tally.warnings:
            update["warnings"] = tuple(tally.warnings)
        return result.model_copy(update=update)

    async def _ask(self, spec: JudgeSpec, rubric: RubricSpec, key: str, prompt: str, index: int, tally: _Tally,
                   *, label: str | None, run: tuple[str, int]) -> None:
        """`rubric.samples` calls to one judge, added to the tally; each is held to the budget as it is made."""
        from agent_eval.calls.budget import call_estimate
        from agent_eval.providers.pricing import cost_usd

        endpoint = self._endpoint(spec)
        clock = tally.clock
        for sample in range(rubric.samples):
            request = CompletionRequest(
                model=spec.name, messages=(Message(role="user", content=prompt),), params=spec.params,
                seed=self.seed, case_id=key, repetition=index * 1000 + sample, timeout_s=endpoint.timeout_s,
            )
            start = clock.now_ms()
            held = await self.budget.reserve_call(*call_estimate(request, {}, spec.provider))
            if held is None:
                self.budget.stopped_runs.add(run)
                raise JudgeError(f"rubric '{rubric.name}': stopped by a budget: {self.budget.describe()}")
            call_cost: float | None = None
            completion = None
            try:
                completion, _ = await endpoint.call(request)
                call_cost = cost_usd(completion.model or spec.name, completion.usage, {}, provider=spec.provider)
            except CallFailed as exc:
                raise JudgeError(f"rubric '{rubric.name}': call failed: {exc.decision.message}") from None
            finally:
                await self.budget.settle_call(held, made=completion is not None, cost_usd=call_cost,
                                              tokens=completion.usage.total if completion is not None else 0)
            tally.spans.append(model_span(request, completion, provider=spec.provider, start_ms=start,
                                    duration_ms=completion.latency_ms, kind="judge"))
            tally.usage_in += completion.usage.input_tokens
            tally.usage_out += completion.usage.output_tokens
            tally.latency += completion.latency_ms
            tally.cost = None if tally.cost is None or call_cost is None else tally.cost + call_cost
            tally.warnings.extend(completion.warnings)
            try:
                score, reasoning = parse_reply(completion.text, rubric.scale)
            except JudgeReplyError as exc:
                raise JudgeError(f"rubric '{rubric.name}': {exc}") from None
            tally.scores.append(score)
            tally.reasons.append(f"{label}: {reasoning}" if label else reasoning)

    async def aclose(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.provider.aclose()


@dataclass(slots=True)
class _Tally:
    """Scores, reasons and spend of every judge call for one rubric on one run."""

    scores: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    usage_in: int = 0
    usage_out: int = 0
    latency: float = 0.0
    cost: float | None = 0.0
    spans: list[Span] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)


def ensemble_members(spec: JudgeSpec) -> tuple[JudgeSpec, ...]:
    """The judge and its ensemble (each member a judge of its own, sharing the template)."""
    return (spec, *(JudgeSpec.model_validate(m.model_dump()) for m in spec.ensemble))


def _result(rubric: RubricSpec, judge_model: str, tally: _Tally) -> RubricResult:
    low, high = rubric.scale
    scores, reasons = tally.scores, tally.reasons
    score = statistics.fmean(scores)
    threshold = rubric.pass_threshold
    reasoning = reasons[0] if len(reasons) == 1 else " | ".join(f"[{s:g}] {r}" for s, r in zip(scores, reasons))
    return RubricResult(
        name=rubric.name, metric=rubric.metric, score=score, normalized=(score - low) / (high - low), passed=score >= threshold,
        threshold=threshold, scale=rubric.scale, weight=rubric.weight, samples=tuple(scores),
        reasoning=reasoning, judge_model=judge_model,
        tokens=Usage(input_tokens=tally.usage_in, output_tokens=tally.usage_out), cost_usd=tally.cost,
        latency_ms=tally.latency,
    )
