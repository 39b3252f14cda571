"""A recorded case's "target": the answer it carries, graded as it is (nothing is called, nothing is spent)."""

from __future__ import annotations

from dataclasses import dataclass

from agent_eval.targets.base import TargetResult, TargetRun

__all__ = ["RecordedTarget"]


@dataclass(slots=True)
class RecordedTarget:
    """Returns a case's `recorded` output, history and tool calls."""

    kind: str = "recorded"

    async def run(self, run: TargetRun) -> TargetResult:
        recorded = run.case.recorded
        assert recorded is not None  # the runner sends only recorded cases here
        return TargetResult(output=recorded.output, messages=run.messages, tool_calls=recorded.tool_calls,
                            cost_usd=0.0, model="recorded", steps=0)

    async def aclose(self) -> None:
        return None
