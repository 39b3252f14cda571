"""A Python agent: `agent: {python: "pkg.module:function"}`, called as `function(AgentInput, AgentContext)`.

The function is sync or async and returns a string or an AgentResult (or a dict of one). It runs
in a worker process (`isolation.py`) unless AGENT_EVAL_ISOLATION=none. An exception or an exit of
any kind is an errored run of kind `target` with its traceback kept; a per-run limit it hit through
`ctx` fails the run instead, even when the agent swallowed the refusal; a model endpoint behind
`ctx` that failed for good makes it kind `provider`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_eval.calls.tracing import agent_span
from agent_eval.records import RunError, Usage
from agent_eval.targets.agent_io import (
    OUTPUT_LIMIT_CHARS,
    PRINTED_LIMIT_CHARS,
    AgentContext,
    AgentResult,
    agent_input,
    cut_text,
    messages_of,
    tool_calls_of,
    usage_of,
)
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import ModelCaller, RunMeter
from agent_eval.targets.gateway import Gateway, wire_trajectory
from agent_eval.targets.isolation import AgentWorkerPool, WorkerEnded

__all__ = ["PythonTarget", "as_result", "build_result", "provider_failed"]


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
    """The TargetResult of a custom agent: its transcript and tool calls, and the calls it made through us.

    With no report, the tool calls seen on the gateway are the trajectory; a report is checked against them.
    A transcript that is not one (an unknown role, malformed `tool_calls`) is an errored run of kind `target`.
    """
    end = meter.clock.now_ms()
    output, _ = cut_text(result.output, OUTPUT_LIMIT_CHARS, "the agent's output")
    try:  # whatever the agent reported (nested 100,000 deep, an unknown role), it cannot crash the run
        calls, tools, mismatch = wire_trajectory(meter.exchanges, tool_calls_of(result.tool_calls), end,
                                                 _stamps(result, meter, start_ms, end))
        messages = messages_of(result, run)
        context = tuple(c if isinstance(c, str) else str(c) for c in result.context)
        raw = {**result.model_dump(mode="json"), "output": output}
    except Exception as exc:
        span = agent_span(name, list(meter.spans), start_ms=start_ms, duration_ms=end - start_ms, attributes=extra,
                          error="unreadable AgentResult")
        error = RunError(kind="target", message=f"{name.removeprefix('invoke_agent ')}: its AgentResult cannot be "
                         f"recorded (a malformed transcript?): {type(exc).__name__}: {exc}"[:500])
        return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd if meter.calls else None,
                            trace=(span,), steps=meter.calls, error=error, model=meter.model)
    children = sorted([*meter.spans, *tools], key=lambda s: s.start_ms)  # a wire tool call between its steps
    span = agent_span(name, children, start_ms=start_ms, duration_ms=end - start_ms, attributes=extra)
    # no call through agent-eval and no usage reported: the tokens are unknown, not zero
    usage = meter.usage if meter.calls else usage_of(result) if result.usage else Usage(estimated=True)
    steps = meter.calls or sum(1 for m in messages[len(run.messages):] if m.role == "assistant") + 1
    return TargetResult(
        output=output, messages=messages, tool_calls=calls, usage=usage,
        cost_usd=meter.cost_usd if meter.calls else None, latency_ms=end - start_ms, model=meter.model,
        trace=(span,), steps=steps, cached=meter.all_cached, attempts=meter.attempts or 1,
        context=context, violations=meter.violations(), raw=raw,
        warnings=(*meter.warnings, *((mismatch,) if mismatch else ())),
    )


def _stamps(result: AgentResult, meter: RunMeter, start_ms: float, end_ms: float) -> list[tuple[float | None, float | None]]:
    """(start, duration) in ms on the run's clock of each reported tool call that says when it ran."""
    origin = time.time() - meter.clock.now_ms() / 1000.0  # the wall-clock time of the run clock's zero
    out: list[tuple[float | None, float | None]] = []
    for call in result.tool_calls:
        start = None
        if call.started_at is not None:  # kept within the agent's own span
            start = min(max((call.started_at.timestamp() - origin) * 1000.0, start_ms), end_ms)
        out.append((start, call.duration_ms))
    return out


def provider_failed(run: TargetRun, meter: RunMeter, name: str, start_ms: float) -> TargetResult | None:
    """Kind `provider` when the model endpoint behind `ctx` failed for good: missing data, not the agent's fault."""
    if meter.provider_error is None:
        return None
    span = agent_span(name, list(meter.spans), start_ms=start_ms, duration_ms=meter.clock.now_ms() - start_ms,
                      error=meter.provider_error)
    error = RunError(kind="provider", message=f"the model endpoint behind ctx failed: {meter.provider_error}"[:500])
    return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=(span,),
                        steps=meter.calls, error=error, model=meter.model, attempts=meter.attempts or 1)


@dataclass(slots=True)
class PythonTarget:
    """Calls the user's agent function once per run, with a context routed through the call layer.

    Isolated (the default), each run goes to a worker process that reaches the call layer over the
    gateway's loopback URL; with AGENT_EVAL_ISOLATION=none it runs here (threads for sync agents).
    """

    caller: ModelCaller
    function: Callable[..., Any]
    ref: str
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    workers: int = 8  # one run in flight per worker (--max-concurrency)
    base_dir: Path = field(default_factory=Path.cwd)
    timeout_s: float | None = None  # agent.timeout_s: past it the run is a timeout and its worker killed
    isolate: bool = True
    no_model: bool = False  # the config names no model: ctx clients are refused
    kind: str = "python"
    gateway: Gateway = field(init=False)
    _pool: ThreadPoolExecutor | None = field(init=False, default=None)
    _workers: AgentWorkerPool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.gateway = Gateway(self.caller)
        if self.isolate:
            self._workers = AgentWorkerPool(self.workers)
        else:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agent")

    async def prepare(self, runs: int) -> None:
        """Start the workers the first runs need (and import the agent in them) before any run's clock starts."""
        if self._workers is not None:
            await self._workers.prestart(min(self.workers, runs),
                                         {"preload": self.ref, "base_dir": str(self.base_dir.resolve()),
                                          "sdk": not self.no_model})

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline, max_tokens=self.max_tokens, max_cost_usd=self.max_cost_usd,
                         refused=_NO_MODEL if self.no_model else None)
        token = self.gateway.register(meter, run)
        name = f"invoke_agent {self.ref}"
        start = meter.clock.now_ms()
        try:
            base_url, anthropic_url = await self.gateway.base_urls(token)
            if self._workers is not None:
                return await self._isolated(run, meter, base_url, anthropic_url, name, start)
            return await self._in_process(run, meter, base_url, anthropic_url, name, start)
        finally:
            self.gateway.unregister(token)

    async def _isolated(self, run: TargetRun, meter: RunMeter, base_url: str, anthropic_url: str, name: str,
                        start: float) -> TargetResult:
        assert self._workers is not None
        remaining = None if run.deadline is None else max(0.0, run.deadline - time.monotonic())
        request = {
            "ref": self.ref, "base_dir": str(self.base_dir.resolve()), "printed_limit": PRINTED_LIMIT_CHARS,
            "input": agent_input(run).model_dump(mode="json"),
            "ctx": {"case_id": run.case.id, "repetition": run.index, "model": self.caller.model,
                    "params": dict(self.caller.params), "base_url": base_url, "anthropic_base_url": anthropic_url,
                    "remaining_s": remaining},
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._workers.call(request)
        except TimeoutError:
            return self._failed(meter, run, start, RunError(
                kind="timeout", message=f"{self.ref} gave no answer within agent.timeout_s={self.timeout_s:g} s "
                "(its worker process was killed)"))
        except WorkerEnded as exc:
            return self._failed(meter, run, start, RunError(kind="target", message=f"{self.ref}: {exc}"[:500]))
        if meter.fatal is not None:
            raise meter.fatal
        printed = answer.get("printed") or ""
        extra = {"agent_eval.printed": printed} if printed else None
        if "unsendable" in answer:
            return self._crashed(meter, run, start, f"{self.ref} {answer['unsendable']}", printed or None)
        if "error" in answer:
            message, detail = answer["error"]
            if printed:
                detail += f"\n--- printed by the agent ---\n{printed}"
            return self._crashed(meter, run, start, f"{self.ref} raised {message}", detail)
        try:
            result = as_result(answer["result"])
        except Exception as exc:
            return self._crashed(meter, run, start, f"{self.ref} returned no AgentResult: {exc}", printed or None)
        return provider_failed(run, meter, name, start) or build_result(result, run, meter, name=name,
                                                                         start_ms=start, extra=extra)

    async def _in_process(self, run: TargetRun, meter: RunMeter, base_url: str, anthropic_url: str, name: str,
                          start: float) -> TargetResult:
        ctx = AgentContext(
            case_id=run.case.id, repetition=run.index, model=self.caller.model, params=dict(self.caller.params),
            base_url=base_url, anthropic_base_url=anthropic_url, deadline=run.deadline,
            client_factory=lambda kind: self.gateway.client(kind, base_url, anthropic_url),
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                result = as_result(await self._call(agent_input(run), ctx))
        except TimeoutError:
            return self._failed(meter, run, start, RunError(
                kind="timeout", message=f"{self.ref} gave no answer within agent.timeout_s={self.timeout_s:g} s"))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # ours: --run-timeout or a stop
                raise
            return self._crashed(meter, run, start, f"{self.ref} raised CancelledError", None)
        except (Exception, KeyboardInterrupt, SystemExit) as exc:
            if meter.fatal is not None:
                raise meter.fatal from None
            message = f"{self.ref} raised {type(exc).__name__}: {exc}"
            return self._crashed(meter, run, start, message, "".join(traceback.format_exception(exc)))
        if meter.fatal is not None:
            raise meter.fatal
        return provider_failed(run, meter, name, start) or build_result(result, run, meter, name=name,
                                                                         start_ms=start)

    async def _call(self, inp: Any, ctx: AgentContext) -> Any:
        if inspect.iscoroutinefunction(self.function):
            return await self.function(inp, ctx)
        assert self._pool is not None
        call = functools.partial(contextvars.copy_context().run, self.function, inp, ctx)
        value = await asyncio.get_running_loop().run_in_executor(self._pool, call)
        return await value if inspect.isawaitable(value) else value

    def _crashed(self, meter: RunMeter, run: TargetRun, start: float, message: str,
                 detail: str | None) -> TargetResult:
        """The agent raised: a failed run when we refused its call (a limit), kind `provider` when its model
        endpoint failed, else an errored run of kind `target` with its traceback."""
        if meter.fatal is not None:
            raise meter.fatal
        name = f"invoke_agent {self.ref}"
        failed = provider_failed(run, meter, name, start)
        if failed is not None:
            return failed
        trace = (agent_span(name, list(meter.spans), start_ms=start, duration_ms=meter.clock.now_ms() - start,
                            error=message.removeprefix(f"{self.ref} raised ")),)
        if meter.limit_hit is not None:  # the agent stopped because we refused: the run fails, it did not crash
            return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=trace,
                                steps=meter.calls, violations=meter.violations(), model=meter.model)
        error = RunError(kind="target", message=message[:500], detail=detail[-20000:] if detail else None)
        return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=trace,
                            steps=meter.calls, error=error)

    def _failed(self, meter: RunMeter, run: TargetRun, start: float, error: RunError) -> TargetResult:
        if meter.fatal is not None:
            raise meter.fatal
        trace = (agent_span(f"invoke_agent {self.ref}", list(meter.spans), start_ms=start,
                            duration_ms=meter.clock.now_ms() - start, error=error.message),)
        return TargetResult(messages=run.messages, usage=meter.usage, cost_usd=meter.cost_usd, trace=trace,
                            steps=meter.calls, error=error)

    async def aclose(self) -> None:
        await self.gateway.aclose()
        if self._workers is not None:
            await self._workers.aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # a run past its deadline may still hold a thread


_NO_MODEL = "the config names no `model:`, so a Python agent's ctx clients have no model to call"
