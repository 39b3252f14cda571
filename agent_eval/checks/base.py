"""The check interface: a compiled check is a pure function of what one run produced."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_eval.records import CheckResult, Message, ToolCall, Usage

if TYPE_CHECKING:
    from agent_eval.suite.case import Case

__all__ = ["Check", "CheckInput", "CheckSpecError", "Evaluate", "Reason"]


class CheckSpecError(ValueError):
    """A check written in a suite is invalid; `key` names the offending key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


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
    steps: int | None = None  # model calls the target made
    tools: tuple[Mapping[str, Any], ...] = ()  # the config's tool definitions (tool_args_valid)


class Reason(str):
    """A one-line reason that also carries its wording for the check's `not_` form."""

    negated: str

    def __new__(cls, text: str, negated: str) -> Reason:
        self = super().__new__(cls, text)
        self.negated = negated
        return self


# (argument compiled at load time, run) -> (passed, one-line reason)
Evaluate = Callable[[Any, CheckInput], tuple[bool, str]]


@dataclass(frozen=True, slots=True)
class Check:
    """A check as written in the suite, with its argument validated and compiled."""

    name: str  # as written, e.g. "not_contains"
    arg: Any
    evaluate: Evaluate
    negate: bool = False
    weight: float = 1.0

    def run(self, run_input: CheckInput) -> CheckResult:
        """Apply the check; a negated check inverts the verdict and says so."""
        passed, reason = self.evaluate(self.arg, run_input)
        if self.negate:
            passed = not passed
            if isinstance(reason, Reason):
                reason = reason.negated
            else:
                reason = f"expected the opposite of: {reason}"
        return CheckResult(name=self.name, passed=passed, weight=self.weight, reason=str(reason))
