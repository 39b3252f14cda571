"""Play one conversation: the target answers each user turn with the whole history so far.

Scripted turns come from the case (`conversation:`); a simulated user's from its model, until a
stop condition or `max_turns`. Each turn is one `target.run`, so every kind of target (the
prompt call, the tool loop, Python, HTTP and command agents) holds a conversation. The turns'
usage, tool calls and traces are combined into one TargetResult scored like any run.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_eval.calls.tracing import Clock, agent_span
from agent_eval.checks.base import Check, CheckInput
from agent_eval.conversation.simulator import GOAL_MARKER, SimulatorFailed, SimulatorPool, SimulatorRun
from agent_eval.records import CheckResult, Message, RunError, SimulatorUsage, Span, Usage
from agent_eval.scoring.escalation import detect_escalation
from agent_eval.suite.case import Case
from agent_eval.suite.loader import LoadedConfig
from agent_eval.suite.render import render_user_turn
from agent_eval.suite.schema import EscalationSpec, RubricSpec, StopSpec
from agent_eval.targets.base import Target, TargetResult, TargetRun

__all__ = ["Conversations", "Played", "TurnPlayed"]


@dataclass(frozen=True, slots=True)
class TurnPlayed:
    """One answered user turn: the user's words, the reply as checks see it, and the turn's own checks."""

    index: int  # 1-based
    user: str
    view: CheckInput
    checks: tuple[Check, ...] = ()
    rubrics: tuple[RubricSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Played:
    """A finished (or failed) conversation: the combined result and its turns."""

    result: TargetResult
    turns: tuple[TurnPlayed, ...]
    simulator: SimulatorUsage | None = None
    escalated: bool | None = None


@dataclass(slots=True)
class _Transcript:
    """What the turns so far produced."""

    parts: list[TargetResult] = field(default_factory=list)
    turns: list[TurnPlayed] = field(default_factory=list)
    trace: list[Span] = field(default_factory=list)
    escalated: bool | None = None
    escalated_now: bool = False  # the last turn escalated


@dataclass(slots=True)
class Conversations:
    """Everything a conversation needs beyond the target: the config (user template), tools, simulators."""

    config: LoadedConfig
    tools: tuple[Mapping[str, Any], ...] = ()
    escalation: EscalationSpec | None = None
    simulators: SimulatorPool | None = None

    async def play(self, target: Target, case: Case, index: int, messages: tuple[Message, ...],
                   deadline: float | None) -> Played:
        """Run every turn of `case`; `messages` is the rendered history up to its first user turn."""
        clock = Clock()
        done = _Transcript(escalated=None if self.escalation is None else False)
        sim = SimulatorRun(case.simulated_user) if case.simulated_user is not None else None
        session = f"{case.id}-{index}-{uuid.uuid4().hex[:12]}"
        history = list(messages)
        words = render_user_turn(case, self.config, str(case.input))[0]
        stop = ""
        for number in range(1, 1_000):
            start = clock.now_ms()
            run = TargetRun(case=dataclasses.replace(case, input=words), index=index, messages=tuple(history),
                            deadline=deadline, session_id=session)
            result = await target.run(run)
            done.parts.append(result)
            done.trace.append(agent_span(f"turn {number}", result.trace, start_ms=start,
                                         duration_ms=clock.now_ms() - start, attributes={"agent_eval.turn": number},
                                         error=result.error.message if result.error else None))
            if result.error is not None:
                return self._finish(done, sim, stop, error=result.error)
            self._answered(done, case, number, words, result)
            history = [*result.messages, Message(role="assistant", content=result.output)]
            try:
                stop, words = await self._next_words(case, index, number, history, result, sim, clock, done)
            except SimulatorFailed as failed:
                return self._finish(done, sim, "error", error=failed.error)
            if stop:
                break
            history.append(Message(role="user", content=render_user_turn(
                case, self.config, words, template=False)[1]))
        return self._finish(done, sim, stop)

    def _answered(self, done: _Transcript, case: Case, number: int, words: str, result: TargetResult) -> None:
        escalation = detect_escalation(self.escalation, result)
        escalated = escalation.escalated
        if escalation.warning is not None:  # kept with the turn's result: the conversation's lists it
            done.parts[-1] = dataclasses.replace(result, warnings=(*result.warnings,
                                                                   f"turn {number}: {escalation.warning}"))
        done.escalated_now = bool(escalated)
        if escalated:
            done.escalated = True
        view = CheckInput(output=result.output, case=case, messages=result.messages, tool_calls=result.tool_calls,
                          tokens=result.usage, latency_ms=result.latency_ms, cost_usd=result.cost_usd,
                          steps=result.steps, tools=self.tools, escalated=escalated)
        turn = case.conversation[number - 1] if case.conversation is not None else case.every_turn
        done.turns.append(TurnPlayed(index=number, user=words, view=view, checks=turn.checks if turn else (),
                                     rubrics=turn.rubrics if turn is not None else ()))

    async def _next_words(self, case: Case, index: int, number: int, history: list[Message],
                          result: TargetResult, sim: SimulatorRun | None, clock: Clock,
                          done: _Transcript) -> tuple[str, str]:
        """(why the conversation stops, or "") and the user's next words (scripted turns are rendered)."""
        if case.conversation is not None:
            if number >= len(case.conversation):
                return "scripted", ""
            return "", render_user_turn(case, self.config, case.conversation[number].user)[0]
        assert sim is not None and self.simulators is not None
        stop = _agent_stop(sim.spec.stop, result) or ("escalated" if done.escalated_now else "")
        if stop:  # the agent ended it, or handed off to a human (by the config's `escalation:`)
            return stop, ""
        text = await self.simulators.next_message(sim, case.id, index, history, clock)
        done.trace.append(sim.spans[-1])
        if _simulator_marked(text, result.output) and sim.spec.stop.goal_reached:
            return "goal_reached", ""
        if number >= sim.spec.max_turns:
            return "max_turns", ""
        words = text.replace(GOAL_MARKER, "").strip()
        return ("ended", "") if not words else ("", words)

    def _finish(self, done: _Transcript, sim: SimulatorRun | None, stop: str,
                error: RunError | None = None) -> Played:
        extra: tuple[CheckResult, ...] = ()
        if sim is not None and stop == "max_turns" and sim.spec.stop.goal_reached:
            extra = (CheckResult(name="simulated_user.goal_reached", passed=False,
                                 reason=f"the simulated user did not reach its goal in max_turns="
                                 f"{sim.spec.max_turns} turns"),)
        result = _combine(done.parts, done.trace, extra, error)
        usage = sim.usage(stop) if sim is not None else None
        return Played(result=result, turns=tuple(done.turns), simulator=usage, escalated=done.escalated)

    async def aclose(self) -> None:
        if self.simulators is not None:
            await self.simulators.aclose()


def _simulator_marked(text: str, reply: str) -> bool:
    """The simulator wrote the goal marker itself, not only as a copy of the agent's reply that carried one."""
    if GOAL_MARKER not in text:
        return False
    return GOAL_MARKER not in reply or bool(text.replace(reply, "").count(GOAL_MARKER))


def _agent_stop(stop: StopSpec, result: TargetResult) -> str:
    """Whether the agent ended the conversation: a stop tool called, or a stop phrase in its reply."""
    if any(call.name in stop.tools for call in result.tool_calls):
        return "tool"
    reply = result.output.casefold()
    if any(phrase.casefold() in reply for phrase in stop.phrases):
        return "phrase"
    return ""


def _combine(parts: Sequence[TargetResult], trace: list[Span], extra: tuple[CheckResult, ...],
             error: RunError | None) -> TargetResult:
    """The conversation as one result: the last reply and transcript, everything else summed over the turns."""
    last = parts[-1]
    costs = [p.cost_usd for p in parts]
    steps = [p.steps for p in parts if p.steps is not None]
    return TargetResult(
        output=last.output, messages=last.messages, tool_calls=tuple(c for p in parts for c in p.tool_calls),
        usage=Usage(input_tokens=sum(p.usage.input_tokens for p in parts),
                    output_tokens=sum(p.usage.output_tokens for p in parts),
                    estimated=any(p.usage.estimated for p in parts)),
        cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        latency_ms=sum(p.latency_ms or 0.0 for p in parts), model=next((p.model for p in reversed(parts) if p.model), ""),
        trace=tuple(trace), steps=sum(steps) if steps else None, cached=all(p.cached for p in parts),
        attempts=sum(p.attempts for p in parts), context=tuple(d for p in parts for d in p.context),
        error=error, violations=tuple(v for p in parts for v in p.violations) + extra, raw=last.raw,
        warnings=tuple(w for p in parts for w in p.warnings),
    )
