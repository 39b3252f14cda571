"""A run's trajectory read from its trace: the steps it took and the tool calls it made, in order.

Baselines store it (so a later run can be compared step by step) and the failure classifier reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import Field

from agent_eval.records import Record, RunRecord, Span

__all__ = ["TrajectoryCall", "executed_calls", "iter_spans", "run_steps", "run_trajectory"]


class TrajectoryCall(Record):
    """One tool call of a run: which step made it, with its arguments and its result or error."""

    step: int = Field(0, description="0-based index of the agent step (model call) that asked for it.")
    name: str
    arguments: Any = None
    result: Any = None
    error: str | None = None


def iter_spans(spans: Sequence[Span]) -> Iterator[Span]:
    """Every span of a tree, depth first, in recorded order."""
    for span in spans:
        yield span
        yield from iter_spans(span.children)


def run_steps(run: RunRecord) -> int | None:
    """Model calls the target made: `run.steps`, else the model spans of its trace, else 1 for a reply."""
    if run.steps is not None:
        return run.steps
    models = sum(1 for s in iter_spans(run.trace) if s.kind == "model")
    if models:
        return models
    return 1 if run.output or run.tool_calls else None


def run_trajectory(run: RunRecord) -> tuple[TrajectoryCall, ...]:
    """The tool calls executed in the trace; for a plain call (no tool spans), the calls the model asked for."""
    calls = executed_calls(run)
    if calls:
        return calls
    return tuple(TrajectoryCall(name=c.name, arguments=c.parsed_arguments(), result=c.result, error=c.error)
                 for c in run.tool_calls)


def executed_calls(run: RunRecord) -> tuple[TrajectoryCall, ...]:
    """The tool calls the target executed: the tool spans of the trace, with the step that asked for each."""
    calls: list[TrajectoryCall] = []
    step = -1
    for span in iter_spans(run.trace):
        if span.kind == "model":
            step += 1
        elif span.kind == "tool":
            attrs = span.attributes
            calls.append(TrajectoryCall(
                step=max(step, 0), name=str(attrs.get("gen_ai.tool.name", span.name)),
                arguments=_decoded(attrs.get("gen_ai.tool.call.arguments")),
                result=attrs.get("gen_ai.tool.call.result"), error=span.error,
            ))
    return tuple(calls)


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
