"""The built-in tool loop: call the model, run the tool calls it makes, feed the results back, repeat.

The loop stops at the first answer without tool calls, or fails the run at `max_steps` (a
runaway). Tool calls of one step run concurrently (parallel tool calls); their results go
back in the order the model asked for them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from agent_eval.calls.endpoint import CallFailed
from agent_eval.calls.tracing import agent_span, tool_span
from agent_eval.records import CheckResult, Message, RunError, Span, ToolCall
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import CallRefused, ModelCaller, RunMeter
from agent_eval.targets.prompt import call_failed
from agent_eval.targets.toolbox import ToolBox, ToolContext, ToolCrashed

__all__ = ["ToolLoopTarget", "tool_message_content"]


def tool_message_content(result: Any, error: str | None) -> str:
    """What the model reads back: the result as text (JSON unless it is a string), or the error."""
    if error is not None:
        return f"error: {error}"
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


@dataclass(slots=True)
class _Step:
    """One model call and the tool calls it made, executed."""

    calls: tuple[ToolCall, ...]
    spans: tuple[Span, ...]


@dataclass(slots=True)
class ToolLoopTarget:
    """Runs the config's model with its tools until a final answer or `max_steps`."""

    caller: ModelCaller
    toolbox: ToolBox
    max_steps: int
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    kind: str = "loop"

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline, max_tokens=self.max_tokens, max_cost_usd=self.max_cost_usd)
        ctx = ToolContext(case_id=run.case.id, repetition=run.index, vars=run.case.vars,
                          metadata=run.case.metadata)
        messages = list(run.messages)
        executed: list[ToolCall] = []
        trace: list[Span] = []
        output = ""
        violation: CheckResult | None = None
        for step in range(1, self.max_steps + 1):
            start = meter.clock.now_ms()
            request = self.caller.request(run.case.id, run.index, messages)
            try:
                completion = await self.caller.complete(request, meter)
            except CallRefused as refused:
                if meter.limit_hit is None:  # the deadline: no verdict
                    return call_failed(refused, meter, run, trace)
                violation = meter.violations()[0]
                break
            except CallFailed as failed:
                trace.append(agent_span(f"step {step}", meter.spans[-1:], start_ms=start,
                                        duration_ms=meter.clock.now_ms() - start, error="model call failed"))
                return call_failed(failed, meter, run, trace)
            model = meter.spans.pop()
            output = completion.text
            if not completion.tool_calls:
                trace.append(agent_span(f"step {step}", (model,), start_ms=start,
                                        duration_ms=meter.clock.now_ms() - start))
                break
            messages.append(Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls))
            try:
                result = await self._run_tools(completion.tool_calls, run, ctx, meter)
            except ToolCrashed as crashed:
                trace.append(agent_span(f"step {step}", (model,), start_ms=start,
                                        duration_ms=meter.clock.now_ms() - start, error=str(crashed)[:500]))
                return TargetResult(messages=tuple(messages), usage=meter.usage, cost_usd=meter.cost_usd,
                                    trace=tuple(trace), steps=meter.calls,
                                    error=RunError(kind="target", message=str(crashed)[:500]))
            messages.extend(Message(role="tool", content=tool_message_content(c.result, c.error), tool_call_id=c.id)
                            for c in result.calls)
            executed.extend(result.calls)
            trace.append(agent_span(f"step {step}", (model, *result.spans), start_ms=start,
                                    duration_ms=meter.clock.now_ms() - start))
        else:
            trace[-1] = trace[-1].model_copy(update={"error": f"max_steps ({self.max_steps}) reached"})
            violation = CheckResult(name="agent.loop.max_steps", passed=False,
                                    reason=f"stopped at agent.loop.max_steps={self.max_steps} without a final answer "
                                    f"({len(executed)} tool calls)")
        violations = (violation,) if violation is not None else ()
        return TargetResult(
            output=output, messages=tuple(messages), tool_calls=tuple(executed), usage=meter.usage,
            cost_usd=meter.cost_usd, latency_ms=meter.clock.now_ms(), model=meter.model, trace=tuple(trace),
            steps=meter.calls, cached=meter.all_cached, attempts=meter.attempts, violations=violations,
            warnings=tuple(meter.warnings),
        )

    async def _run_tools(self, calls: tuple[ToolCall, ...], run: TargetRun, ctx: ToolContext,
                         meter: RunMeter) -> _Step:
        start = meter.clock.now_ms()
        outcomes = await asyncio.gather(*(self.toolbox.execute(call, run.case, ctx) for call in calls))
        done: list[ToolCall] = []
        spans: list[Span] = []
        for call, (result, error, duration_ms) in zip(calls, outcomes, strict=True):
            done.append(call.model_copy(update={"result": result, "error": error}))
            spans.append(tool_span(call.name, call.parsed_arguments(), result, start_ms=start,
                                   duration_ms=duration_ms, error=error, call_id=call.id))
        return _Step(calls=tuple(done), spans=tuple(spans))


    async def prepare(self, runs: int) -> None:
        """Start the tools' worker processes before any run's clock starts."""
        await self.toolbox.prepare(runs)

    async def aclose(self) -> None:
        await self.toolbox.aclose()
