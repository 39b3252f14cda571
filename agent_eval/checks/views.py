"""What a user's check or transform function receives: a narrow, read-only view of the case and the run.

    def my_check(output: str, case: CaseView, run: RunView) -> bool: ...

Public (exported as `agent_eval.CaseView` and `agent_eval.RunView`); the loader's `Case` and the
runner's check input stay internal and may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_eval.records import Message, ToolCall, Usage

if TYPE_CHECKING:
    from agent_eval.checks.base import CaseRef, CheckInput

__all__ = ["CaseView", "RunView", "case_view", "run_view"]


@dataclass(frozen=True, slots=True)
class CaseView:
    """A golden case: its id, input (text, or chat messages), tags, template vars, expected answer, metadata."""

    id: str
    input: str | tuple[Message, ...]
    tags: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    expected: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    critical: bool = False


@dataclass(frozen=True, slots=True)
class RunView:
    """One run of the case, before it is scored: the final output, the conversation and what it cost."""

    output: str
    case: CaseView
    messages: tuple[Message, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tokens: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    cost_usd: float | None = None
    steps: int | None = None  # model calls the target made
    escalated: bool | None = None  # None: the config declares no `escalation:`


def case_view(case: CaseRef) -> CaseView:
    """The public view of a loaded case."""
    return CaseView(id=case.id, input=case.input, tags=case.tags, vars=dict(case.vars), expected=case.expected,
                    metadata=dict(case.metadata), critical=case.critical)


def run_view(run: CheckInput) -> RunView:
    """The public view of a check's input."""
    return RunView(output=run.output, case=case_view(run.case), messages=run.messages, tool_calls=run.tool_calls,
                   tokens=run.tokens, latency_ms=run.latency_ms, cost_usd=run.cost_usd, steps=run.steps,
                   escalated=run.escalated)
