"""The check interface: a compiled check is a pure function of what one run produced."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from agent_eval.records import CheckResult, Message, ToolCall, Usage
from agent_eval.userregex import RegexTimeout

__all__ = [
    "AsyncEvaluate",
    "CaseRef",
    "Check",
    "CheckInput",
    "CheckServiceError",
    "CheckServices",
    "CheckSpecError",
    "CheckTimeout",
    "Evaluate",
    "Reason",
    "Transform",
    "Verdict",
]


class CheckSpecError(ValueError):
    """A check written in a suite is invalid; `key` names the offending key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class CheckTimeout(Exception):
    """A check used up its time; the caller retries it off the event loop or fails it."""


class CheckServiceError(Exception):
    """An embeddings or moderation call failed after its retries: the run errors, the check does not fail."""


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


class CaseRef(Protocol):
    """The case a run belongs to (a `suite.case.Case`, which holds compiled checks, so checks cannot import
    it); user code gets its public view, `checks.views.CaseView`."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def id(self) -> str: ...

    @property
    def input(self) -> str | tuple[Message, ...]: ...

    @property
    def tags(self) -> tuple[str, ...]: ...

    @property
    def vars(self) -> dict[str, Any]: ...

    @property
    def expected(self) -> str | None: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    @property
    def critical(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CheckInput:
    """What a check may look at: the run so far, before it is scored."""

    output: str
    case: CaseRef
    messages: tuple[Message, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tokens: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    cost_usd: float | None = None
    steps: int | None = None  # model calls the target made
    tools: tuple[Mapping[str, Any], ...] = ()  # the config's tool definitions (tool_args_valid)
    escalated: bool | None = None  # None: the config declares no `escalation:`
    services: CheckServices | None = None


class Reason(str):
    """A one-line reason that also carries its wording for the check's `not_` form."""

    negated: str

    def __new__(cls, text: str, negated: str) -> Reason:
        self = super().__new__(cls, text)
        self.negated = negated
        return self


# (passed, reason), (passed, reason, score in [0, 1] or None) or (passed, reason, score, named scores)
Verdict = tuple[bool, str] | tuple[bool, str, float | None] | tuple[bool, str, float | None, Mapping[str, float]]
# (argument compiled at load time, run) -> verdict
Evaluate = Callable[[Any, CheckInput], Verdict]
AsyncEvaluate = Callable[[Any, CheckInput], Awaitable[Verdict]]


class Transform(Protocol):
    """Turns the output into the text a check looks at; None and a reason when it cannot."""

    def apply(self, run_input: CheckInput) -> tuple[str | None, str]: ...

    @property
    def runs_user_code(self) -> bool:
        """True when applying it calls the user's Python (then it runs off the event loop, time-limited)."""
        ...


@dataclass(frozen=True, slots=True)
class Check:
    """A check as written in the suite, with its argument validated and compiled."""

    name: str  # as written, e.g. "not_contains"
    arg: Any
    evaluate: Evaluate
    negate: bool = False
    weight: float = 1.0
    scope: str = "last"  # conversations: "last" reply, "all_turns" (every reply passes), "any_turn" or "at_least"
    min_turns: int | None = None  # scope "at_least": this many replies pass ...
    min_share: float | None = None  # ... or this share of them
    isolated: bool = False  # user code: evaluated in a worker process (checks.runtime), never by `run`
    timeout_s: float | None = None  # this check's own limit; None: the suite's check_timeout_s
    metric: str | None = None
    transform: Transform | None = None
    aevaluate: AsyncEvaluate | None = None  # checks that call a model (similar, moderation, groups holding them)

    def run(self, run_input: CheckInput) -> CheckResult:
        """Apply a synchronous check in this thread; raises RegexTimeout when a bounded step ran out of time."""
        if self.aevaluate is not None:
            raise TypeError(f"{self.name} calls a model; use `await check.arun(...)`")
        view, failed = self.view(run_input)
        return failed or self.evaluate_view(view)

    async def arun(self, run_input: CheckInput) -> CheckResult:
        """Apply any check in this process, awaiting the ones that call a model."""
        view, failed = self.view(run_input)
        if failed is not None:
            return failed
        if self.aevaluate is None:
            return self.evaluate_view(view)
        return await self.aevaluate_view(view)

    def view(self, run_input: CheckInput) -> tuple[CheckInput, CheckResult | None]:
        """What the check looks at after its transform, or the failure when the transform found nothing."""
        if self.transform is None:
            return run_input, None
        text, why = self.transform.apply(run_input)
        if text is None:  # nothing to check: fails both the check and its not_ form
            return run_input, self.failed(f"transform: {why}")
        return dataclasses.replace(run_input, output=text), None

    def evaluate_view(self, view: CheckInput) -> CheckResult:
        """Evaluate on an already transformed view, in this thread."""
        try:
            verdict = self.evaluate(self.arg, view)
        except (CheckTimeout, RegexTimeout):
            raise
        except RecursionError:  # JSON nested deeper than any parser or validator here can follow
            return self.failed("output is nested too deeply to check")
        except Exception as exc:  # output no check foresaw fails this check, never the whole run
            return self.failed(_crash(self.name, exc))
        return self.verdict(*verdict)

    async def aevaluate_view(self, view: CheckInput) -> CheckResult:
        """Evaluate a check that calls a model; CheckServiceError propagates (the run errors)."""
        assert self.aevaluate is not None
        try:
            verdict = await self.aevaluate(self.arg, view)
        except (CheckServiceError, CheckTimeout, RegexTimeout):
            raise
        except RecursionError:
            return self.failed("output is nested too deeply to check")
        except Exception as exc:
            return self.failed(_crash(self.name, exc))
        return self.verdict(*verdict)

    def failed(self, reason: str) -> CheckResult:
        """A failure that negation does not turn into a pass (a timeout, a crash, a transform that found nothing)."""
        return CheckResult(name=self.name, passed=False, weight=self.weight, reason=reason, metric=self.metric)

    def verdict(self, passed: bool, reason: str, score: float | None = None,
                named_scores: Mapping[str, float] | None = None) -> CheckResult:
        """The result of an evaluation; a negated check inverts the verdict (and a score) and says so."""
        if self.negate:
            passed = not passed
            score = None if score is None else 1.0 - score
            if isinstance(reason, Reason):
                reason = reason.negated
            else:
                reason = f"expected the opposite of: {reason}"
        return CheckResult(name=self.name, passed=passed, weight=self.weight, reason=str(reason), score=score,
                           metric=self.metric, named_scores=dict(named_scores or {}))


def _crash(name: str, exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:100]
    return f"{name} could not evaluate this output: {type(exc).__name__}: {detail}"
