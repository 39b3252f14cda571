"""A conversation run as a chat: each user turn, the agent's reply beside the baseline run's, the turn's verdict."""

from __future__ import annotations

from dataclasses import dataclass

from agent_eval.records import CheckResult, RubricResult, RunRecord

from ._format import REDACTED

__all__ = ["ChatTurn", "chat_turns"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One turn of the chat view."""

    index: int
    user: str
    output: str
    baseline_output: str | None  # None: the baseline run has no such turn (or no transcript)
    passed: bool | None
    score: float | None
    checks: tuple[CheckResult, ...]
    rubrics: tuple[RubricResult, ...]
    tools: tuple[str, ...]  # names of the tools called in the turn


def chat_turns(run: RunRecord, baseline_turns: tuple[str, ...] | None, redact: bool) -> tuple[ChatTurn, ...]:
    """The run's turns for the report (texts and reasons redacted under --redact)."""
    if not run.turns:
        return ()
    views = []
    for turn in run.turns:
        base = baseline_turns[turn.index - 1] if baseline_turns and turn.index <= len(baseline_turns) else None
        checks, rubrics = turn.checks, turn.rubrics
        if redact:
            checks = tuple(c.model_copy(update={"reason": REDACTED}) for c in checks)
            rubrics = tuple(r.model_copy(update={"reasoning": REDACTED if r.reasoning else ""}) for r in rubrics)
        views.append(ChatTurn(
            index=turn.index, user=REDACTED if redact else turn.user, output=REDACTED if redact else turn.output,
            baseline_output=None if base is None else (REDACTED if redact else base), passed=turn.passed,
            score=turn.score, checks=checks, rubrics=rubrics, tools=tuple(c.name for c in turn.tool_calls)))
    return tuple(views)
