"""The small async interface every target implements: one (case, repetition) in, one result out.

A target receives the message history so far (the rendered prompt or a case's scripted
conversation) and returns the whole transcript, whose messages after the history are the
turns it generated: the same call serves single answers and, later, conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_eval.records import CheckResult, Message, RunError, Span, ToolCall, Usage
from agent_eval.suite.case import Case

__all__ = ["Target", "TargetResult", "TargetRun"]


@dataclass(frozen=True, slots=True)
class TargetRun:
    """One execution: the case, its repetition and the history to answer."""

    case: Case
    index: int
    messages: tuple[Message, ...]
    deadline: float | None = None  # time.monotonic() after which the run's model calls are refused
    session_id: str | None = None  # a conversation's id, the same for all its turns


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What a target produced; `error` set means the run has no verdict (or, kind `target`, crashed)."""

    output: str = ""
    messages: tuple[Message, ...] = ()  # the history and the generated turns, the final answer excluded
    tool_calls: tuple[ToolCall, ...] = ()  # executed calls carry their result or error
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    latency_ms: float | None = None
    model: str = ""
    trace: tuple[Span, ...] = ()
    steps: int | None = None
    cached: bool = False
    attempts: int = 1
    context: tuple[str, ...] = ()  # documents a retrieval agent used
    error: RunError | None = None
    violations: tuple[CheckResult, ...] = ()  # limits the target hit (max_steps, agent.max_tokens): failed checks
    raw: Any = None  # the target's raw result (an HTTP agent's reply JSON), for `escalation: {json_path}`
    warnings: tuple[str, ...] = ()  # what was repaired in the model's replies (invalid Unicode)


class Target(Protocol):
    """A way to run the agent under test."""

    kind: str

    async def run(self, run: TargetRun) -> TargetResult:
        """Run one case; raise only FatalProviderError (every other failure is in the result)."""
        ...

    async def aclose(self) -> None:
        """Release connections and processes."""
        ...
