"""The check interface: a compiled check is a pure function of what one run produced."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_eval.records import CheckResult, Message, ToolCall, Usage

if TYPE_CHECKING:
    from agent_eval.suite.case import Case

__all__ = ["Check", "CheckInput", "CheckSpecError", "CheckTimeout", "Evaluate", "Reason"]


class CheckSpecError(ValueError):
    """A check written in a suite is invalid; `key` names the offending key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class CheckTimeout(Exception):
    """A check used up its time; the caller retries it off the event loop or fails it."""


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
    isolated: bool = False  # user code: evaluated in a worker process (checks.runtime), never by `run`
    timeout_s: float | None = None  # this check's own limit; None: the suite's check_timeout_s

    def run(self, run_input: CheckInput) -> CheckResult:
        """Apply the check in this thread; raises CheckTimeout when a bounded step ran out of time."""
        try:
            passed, reason = self.evaluate(self.arg, run_input)
        except CheckTimeout:
            raise
        except RecursionError:  # JSON nested deeper than any parser or validator here can follow
            return self.failed("output is nested too deeply to check")
        except Exception as exc:  # output no check foresaw fails this check, never the whole run
            detail = " ".join(str(exc).split())[:100]
            return self.failed(f"{self.name} could not evaluate this output: {type(exc).__name__}: {detail}")
        return self.verdict(passed, reason)

    def failed(self, reason: str) -> CheckResult:
        """A failure that negation does not turn into a pass (a timeout, a crash)."""
        return CheckResult(name=self.name, passed=False, weight=self.weight, reason=reason)

    def verdict(self, passed: bool, reason: str) -> CheckResult:
        """The result of an evaluation; a negated check inverts the verdict and says so."""
        if self.negate:
            passed = not passed
            if isinstance(reason, Reason):
                reason = reason.negated
            else:
                reason = f"expected the opposite of: {reason}"
        return CheckResult(name=self.name, passed=passed, weight=self.weight, reason=str(reason))
