"""A Python agent: `agent: {python: "pkg.module:function"}`, called as `function(AgentInput, AgentContext)`.

The function is sync or async and returns a string or an AgentResult (or a dict of one). An
exception is an errored run of kind `target` with its traceback kept; a per-run limit it hit
through `ctx` fails the run instead, even when the agent swallowed the refusal.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agent_eval.calls.tracing import agent_span
from agent_eval.records import RunError, Span, Usage
from agent_eval.targets.agent_io import (
    AgentContext,
    AgentResult,
    agent_input,
    messages_of,
    tool_calls_of,
    usage_of,
)
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import ModelCaller, RunMeter
from agent_eval.targets.gateway import Gateway, wire_trajectory

__all__ = ["PythonTarget", "as_result", "build_result"]


def as_result(value: Any) -> AgentResult:
    """A string, an AgentResult or a mapping of one; raises TypeError or ValidationError otherwise."""
    if isinstance(value, AgentResult):
        return value
    if isinstance(value, str):
        return AgentResult(output=value)
    if isinstance(value, dict):
        return AgentResult.model_validate(value)
    raise TypeError(f"an agent returns a str or an AgentResult, got {type(value).__name__}")


def build_result(result: AgentResult, run: TargetRun, meter: RunMeter, *, name: str, start_ms: float,
                 extra: dict[str, Any] | None = None) -> TargetResult:
    """The TargetResult of a custom agent: its transcript and tool calls, and the calls it made through us."""
    end = meter.clock.now_ms()
    # with no report, the tool calls seen on the gateway are the trajectory; a report is checked against them
    calls, tools, mismatch = wire_trajectory(meter.exchanges, tool_calls_of(result.tool_calls), end)
    children = sorted([*meter.spans, *tools], key=lambda s: s.start_ms)  # a wire tool call between its steps
    span = agent_span(name, children, start_ms=start_ms, duration_ms=end - start_ms,
                      attributes=extra)
    messages = messages_of(result, run)
    # no call through agent-eval and no usage reported: the tokens are unknown, not zero
    usage = meter.usage if meter.calls else usage_of(result) if result.usage else Usage(estimated=True)
    steps = meter.calls or sum(1 for m in messages[len(run.messages):] if m.role == "assistant") + 1
    return TargetResult(
        output=result.output, messages=messages, tool_calls=calls, usage=usage,
        cost_usd=meter.cost_usd if meter.calls else None, latency_ms=end - start_ms, model=meter.model,
        trace=(span,), steps=steps, cached=meter.all_cached, attempts=meter.attempts or 1,
        context=tuple(c if isinstance(c, str) else str(c) for c in result.context), violations=meter.violations(),
        raw=result.model_dump(mode="json"),
        warnings=(*meter.warnings, *((mismatch,) if mismatch else ())),
    )


@dataclass(slots=True)
class PythonTarget:
    """Calls the user's agent function once per run, with a context routed through the call layer."""

    caller: ModelCaller
    function: Callable[..., Any]
    ref: str
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    workers: int = 8  # sync agents run in threads: one per run in flight (--max-concurrency)
    kind: str = "python"
    gateway: Gateway = field(init=False)
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.gateway = Gateway(self.caller)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agent")

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline, max_tokens=self.max_tokens, max_cost_usd=self.max_cost_usd)
        token = self.gateway.register(meter, run)
        base_url, anthropic_url = await self.gateway.base_urls(token)
        ctx = AgentContext(
            case_id=run.case.id, repetition=run.index, model=self.caller.model, params=dict(self.caller.params),
            base_url=base_url, anthropic_base_url=anthropic_url, deadline=run.deadline,
            client_factory=lambda kind: self.gateway.client(kind, base_url, anthropic_url),
        )
        start = meter.clock.now_ms()
        try:
            value = await self._call(agent_input(run), ctx)
            result = as_result(value)
        except Exception as exc:
            if meter.fatal is not None:
                raise meter.fatal from None
            return self._crashed(exc, meter, run, start)
        finally:
            self.gateway.unregister(token)
        if meter.fatal is not None:
            raise meter.fatal
        return build_result(result, run, meter, name=f"invoke_agent {self.ref}", start_ms=start)

    async def _call(self, inp: Any, ctx: AgentContext) -> Any:
        if inspect.iscoroutinefunction(self.function):
            return await self.function(inp, ctx)
        call = functools.partial(contextvars.copy_context().run, self.function, inp, ctx)
        value = await asyncio.get_running_loop().run_in_executor(self._pool, call)
        return await value if inspect.isawaitable(value) else value

    def _crashed(self, exc: Exception, meter: RunMeter, run: TargetRun, start: float) -> TargetResult:
        spans: list[Span] = list(meter.spans)
        trace = (agent_span(f"invoke_agent {self.ref}", spans, start_ms=start,
                            duration_ms=meter.clock.now_ms() - start, error=f"{type(exc).__name__}: {exc}"),)
        if meter.limit_hit is not None:  # the agent stopped because we refused: the run fails, it did not crash
            return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=trace,
                                steps=meter.calls, violations=meter.violations(), model=meter.model)
        detail = "".join(traceback.format_exception(exc))
        error = RunError(kind="target", message=f"{self.ref} raised {type(exc).__name__}: {exc}"[:500],
                         detail=detail[-20000:])
        return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=trace,
                            steps=meter.calls, error=error)


    async def aclose(self) -> None:
        await self.gateway.aclose()
        self._pool.shutdown(wait=False, cancel_futures=True)  # a run past its deadline may still hold a thread
