"""The check interface: a compiled check is a pure function of what one run produced."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent_eval.records import CheckResult, Message, ToolCall, Usage

if TYPE_CHECKING:
    from agent_eval.suite.case import Case

__all__ = ["AsyncEvaluate", "Check", "CheckInput", "CheckServices", "CheckSpecError", "Evaluate", "Reason", "Transform", "Verdict"]


class CheckSpecError(ValueError):
    """A check written in a suite is invalid; `key` names the offending key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class CheckServices(Protocol):
    """Model endpoints a check may call (embeddings, moderation); the runner provides them."""

    async def embed(self, texts: list[str], model: str | None) -> list[list[float]]:
        """One embedding vector per text."""
        ...

    async def moderate(self, text: str, model: str | None) -> dict[str, float]:
        """The flagged categories of one text and their scores in [0, 1]."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class CheckInput:
    """What a check may look at: the run so far, before it is scored."""

    output: str
    case: Case
    messages: tuple[Message, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tokens: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    cost_usd: float | None = None
    services: CheckServices | None = None


class Reason(str):
    """A one-line reason that also carries its wording for the check's `not_` form."""

    negated: str

    def __new__(cls, text: str, negated: str) -> Reason:
        self = super().__new__(cls, text)
        self.negated = negated
        return self


# (passed, one-line reason) or (passed, reason, score in [0, 1]) for a graded check
Verdict = tuple[bool, str] | tuple[bool, str, float]
# (argument compiled at load time, run) -> verdict
Evaluate = Callable[[Any, CheckInput], Verdict]
AsyncEvaluate = Callable[[Any, CheckInput], Awaitable[Verdict]]


class Transform(Protocol):
    """Turns the output into the text a check looks at; None and a reason when it cannot."""

    def apply(self, run_input: CheckInput) -> tuple[str | None, str]: ...


@dataclass(frozen=True, slots=True)
class Check:
    """A check as written in the suite, with its argument validated and compiled."""

    name: str  # as written, e.g. "not_contains"
    arg: Any
    evaluate: Evaluate
    negate: bool = False
    weight: float = 1.0
    metric: str | None = None
    transform: Transform | None = None
    aevaluate: AsyncEvaluate | None = None  # checks that call a model (similar, moderation, groups)

    def run(self, run_input: CheckInput) -> CheckResult:
        """Apply a synchronous check; a negated check inverts the verdict and says so."""
        if self.aevaluate is not None:
            raise TypeError(f"{self.name} calls a model; use `await check.arun(...)`")
        view, failed = self._view(run_input)
        return failed or self._result(self.evaluate(self.arg, view))

    async def arun(self, run_input: CheckInput) -> CheckResult:
        """Apply any check, awaiting the ones that call a model."""
        view, failed = self._view(run_input)
        if failed is not None:
            return failed
        verdict = await self.aevaluate(self.arg, view) if self.aevaluate else self.evaluate(self.arg, view)
        return self._result(verdict)

    def _view(self, run_input: CheckInput) -> tuple[CheckInput, CheckResult | None]:
        if self.transform is None:
            return run_input, None
        text, why = self.transform.apply(run_input)
        if text is None:  # nothing to check: fails both the check and its not_ form
            return run_input, self._make(False, f"transform: {why}", 0.0)
        return dataclasses.replace(run_input, output=text), None

    def _result(self, verdict: Verdict) -> CheckResult:
        passed, reason = verdict[0], verdict[1]
        score = verdict[2] if len(verdict) == 3 else None  # type: ignore[misc]
        if self.negate:
            passed = not passed
            score = None if score is None else 1.0 - score
            if isinstance(reason, Reason):
                reason = reason.negated
            else:
                reason = f"expected the opposite of: {reason}"
        return self._make(passed, str(reason), score)

    def _make(self, passed: bool, reason: str, score: float | None) -> CheckResult:
        return CheckResult(name=self.name, passed=passed, weight=self.weight, reason=reason,
                           score=score, metric=self.metric)
