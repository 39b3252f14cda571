"""The plain prompt call (the default target): one request with the rendered messages, one answer."""

from __future__ import annotations

from dataclasses import dataclass

from agent_eval.calls.endpoint import CallFailed
from agent_eval.records import RunError, Span
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import CallRefused, ModelCaller, RunMeter

__all__ = ["PromptTarget", "call_failed"]


def call_failed(failed: CallFailed | CallRefused, meter: RunMeter, run: TargetRun,
                trace: list[Span] | None = None) -> TargetResult:
    """A run whose model call failed for good (provider) or was refused (deadline, limit)."""
    if isinstance(failed, CallFailed):
        error = RunError(kind="provider", message=failed.decision.message, status=failed.decision.status,
                         attempts=failed.attempts)
    else:
        error = RunError(kind="timeout", message=str(failed))
    return TargetResult(messages=run.messages, error=error, trace=tuple(meter.spans if trace is None else trace), usage=meter.usage,
                        cost_usd=meter.cost_usd, attempts=getattr(failed, "attempts", 0), steps=meter.calls)


@dataclass(slots=True)
class PromptTarget:
    """Sends the case's messages to the config's model once, with its tools offered but not executed."""

    caller: ModelCaller
    kind: str = "prompt"

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline)
        request = self.caller.request(run.case.id, run.index, run.messages)
        try:
            completion = await self.caller.complete(request, meter)
        except (CallFailed, CallRefused) as failed:
            return call_failed(failed, meter, run)
        return TargetResult(
            output=completion.text, messages=run.messages, tool_calls=completion.tool_calls,
            usage=completion.usage, cost_usd=meter.cost_usd, latency_ms=completion.latency_ms,
            model=completion.model, trace=tuple(meter.spans), steps=1, cached=meter.all_cached,
            attempts=meter.attempts, warnings=tuple(meter.warnings),
        )


    async def aclose(self) -> None:
        return None
