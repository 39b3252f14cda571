"""Spans for a run's trace, named with the OpenTelemetry GenAI semantic conventions.

The builders here are the one place that knows the attribute names; targets, the judge and the
OTLP exporter only pass values through them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from agent_eval.providers.base import Completion, CompletionRequest
from agent_eval.records import Span

__all__ = ["Clock", "agent_span", "model_span", "tool_span"]


class Clock:
    """Milliseconds since the start of one run (span offsets)."""

    __slots__ = ("_t0",)

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def now_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0


def model_span(
    request: CompletionRequest, completion: Completion | None, *, provider: str, start_ms: float,
    duration_ms: float | None, error: str | None = None, kind: str = "model", cached: bool = False,
) -> Span:
    """One model call: request parameters, messages, the reply, tokens and finish reason."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": request.model,
        "gen_ai.input.messages": [m.model_dump(exclude_defaults=True) for m in request.messages],
    }
    attributes.update({f"gen_ai.request.{k}": v for k, v in request.params.items() if _scalar(v)})
    if cached:
        attributes["agent_eval.cached"] = True
    if completion is not None:
        output: dict[str, Any] = {"role": "assistant", "content": completion.text}
        if completion.tool_calls:
            output["tool_calls"] = [c.model_dump() for c in completion.tool_calls]
        attributes.update({
            "gen_ai.response.model": completion.model or request.model,
            "gen_ai.usage.input_tokens": completion.usage.input_tokens,
            "gen_ai.usage.output_tokens": completion.usage.output_tokens,
            "gen_ai.output.messages": [output],
        })
        if completion.finish_reason:
            attributes["gen_ai.response.finish_reasons"] = [completion.finish_reason]
    return Span(kind=kind, name=f"chat {request.model}", start_ms=start_ms,  # type: ignore[arg-type]
                duration_ms=duration_ms, attributes=attributes, error=error)


def tool_span(
    name: str, arguments: Any, result: Any, *, start_ms: float, duration_ms: float | None,
    error: str | None = None, call_id: str = "",
) -> Span:
    """One tool execution: name, arguments, and its result or error."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.arguments": arguments,
    }
    if call_id:
        attributes["gen_ai.tool.call.id"] = call_id
    if error is None:
        attributes["gen_ai.tool.call.result"] = result
    return Span(kind="tool", name=f"execute_tool {name}", start_ms=start_ms, duration_ms=duration_ms,
                attributes=attributes, error=error)


def agent_span(
    name: str, children: Sequence[Span], *, start_ms: float, duration_ms: float | None,
    attributes: Mapping[str, Any] | None = None, error: str | None = None,
) -> Span:
    """One agent step (or the whole agent invocation) holding its model and tool spans."""
    attrs = {"gen_ai.operation.name": "invoke_agent", **(attributes or {})}
    return Span(kind="agent", name=name, start_ms=start_ms, duration_ms=duration_ms, attributes=attrs,
                error=error, children=tuple(children))


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
