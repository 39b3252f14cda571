"""A conversation's verdict: turn checks and rubrics (named "turn N: ..."), case checks by scope, per-turn results."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent_eval.checks.base import Check, CheckInput
from agent_eval.conversation.driver import Played, TurnPlayed
from agent_eval.records import CheckResult, RubricResult, TurnResult, Usage
from agent_eval.scoring.score import score_run
from agent_eval.suite.case import Case

if TYPE_CHECKING:
    from agent_eval.judge.protocol import Judge

__all__ = ["RunChecks", "case_checks", "grade_turns", "named", "record_fields", "turn_checks"]

# The engine's check runner: built-in checks inline, `python:` checks in worker processes.
RunChecks = Callable[[Sequence[Check], CheckInput], Awaitable[tuple[CheckResult, ...]]]


def named(per_turn: Mapping[int, Sequence[CheckResult | RubricResult]], case: Case | None = None) -> tuple[Any, ...]:
    """Turn results as the run's own, named after their turn ("turn 2: contains"); a failed one fails the run.
    With a simulated user's `turn_threshold`, one result per check or rubric ("turns: contains") counts replies."""
    threshold = case.simulated_user.turn_threshold if case is not None and case.simulated_user is not None else None
    if threshold is None or not per_turn:
        return tuple(r.model_copy(update={"name": f"turn {n}: {r.name}"}) for n, rs in per_turn.items() for r in rs)
    by_position: dict[int, list[tuple[int, Any]]] = {}
    for n, rs in per_turn.items():
        for position, result in enumerate(rs):
            by_position.setdefault(position, []).append((n, result))
    return tuple(_over_turns(results, threshold.needed(len(results))) for results in by_position.values())


def _over_turns(results: list[tuple[int, Any]], needed: int) -> Any:
    """One turn check's or rubric's results over the replies as one result: enough of them passed."""
    hits = sum(1 for _, r in results if r.passed)
    failed = next(((n, r) for n, r in results if not r.passed), None)
    first = results[0][1]
    summary = f"{hits} of {len(results)} replies passed, at least {needed} needed"
    if isinstance(first, RubricResult):
        scores = [r.score for _, r in results if r.score is not None]
        normalized = [r.normalized for _, r in results if r.normalized is not None]
        detail = f"; turn {failed[0]}: {failed[1].reasoning or failed[1].error or ''}" if failed is not None else ""
        return first.model_copy(update={
            "name": f"turns: {first.name}", "passed": hits >= needed, "reasoning": (summary + detail)[:2000],
            "score": sum(scores) / len(scores) if scores else None,
            "normalized": sum(normalized) / len(normalized) if normalized else None,
            "samples": (), "trace": (),  # the turns' records keep theirs; spreads across turns are no disagreement
            "tokens": Usage(input_tokens=sum(r.tokens.input_tokens for _, r in results),
                            output_tokens=sum(r.tokens.output_tokens for _, r in results),
                            estimated=any(r.tokens.estimated for _, r in results)),
            "cost_usd": None if any(r.cost_usd is None for _, r in results) else sum(r.cost_usd for _, r in results),
            "latency_ms": sum(r.latency_ms or 0.0 for _, r in results)})
    detail = f"; turn {failed[0]}: {failed[1].reason}" if failed is not None else ""
    return first.model_copy(update={"name": f"turns: {first.name}", "passed": hits >= needed,
                                    "reason": summary + detail, "score": hits / len(results)})


def _turn_view(turn: TurnPlayed, run: CheckInput) -> CheckInput:
    """A turn's reply as checks see it, with the run's check services (embeddings, moderation)."""
    return dataclasses.replace(turn.view, services=run.services)


async def turn_checks(played: Played, run_checks: RunChecks, view: CheckInput) -> dict[int, tuple[CheckResult, ...]]:
    """Each turn's own checks on its reply."""
    return {t.index: await run_checks(t.checks, _turn_view(t, view)) for t in played.turns if t.checks}


async def case_checks(case: Case, view: CheckInput, played: Played, run_checks: RunChecks) -> tuple[CheckResult, ...]:
    """The case's checks on the last reply, or on every reply (`scope: all_turns`) or any (`any_turn`)."""
    results: list[CheckResult] = []
    for check in case.checks:
        if check.scope == "last" or not played.turns:
            results.extend(await run_checks((check,), view))
            continue
        per_turn = [(t.index, (await run_checks((check,), _turn_view(t, view)))[0]) for t in played.turns]
        if check.scope == "at_least":
            results.append(_at_least(check, per_turn))
            continue
        if check.scope == "all_turns":
            failed = next(((n, r) for n, r in per_turn if not r.passed), None)
            passed = failed is None
            reason = (f"every reply ({len(per_turn)} turns): {per_turn[-1][1].reason}" if failed is None
                      else f"turn {failed[0]}: {failed[1].reason}")
        else:
            hit = next(((n, r) for n, r in per_turn if r.passed), None)
            passed = hit is not None
            reason = (f"turn {hit[0]}: {hit[1].reason}" if hit is not None
                      else f"no reply of {len(per_turn)} passed; last: {per_turn[-1][1].reason}")
        results.append(CheckResult(name=check.name, passed=passed, weight=check.weight, reason=reason))
    return tuple(results)


def _at_least(check: Check, per_turn: list[tuple[int, CheckResult]]) -> CheckResult:
    """`scope: {at_least: n}` or `{at_least_share: s}`: enough replies pass; scored by the share that did."""
    hits = [n for n, r in per_turn if r.passed]
    total = len(per_turn)
    needed = check.min_turns if check.min_turns is not None else math.ceil((check.min_share or 1.0) * total - 1e-9)
    passed = len(hits) >= needed
    failed = next(((n, r) for n, r in per_turn if not r.passed), None)
    detail = f"; turn {failed[0]}: {failed[1].reason}" if failed is not None else ""
    reason = f"{len(hits)} of {total} replies passed, at least {needed} needed{detail}"
    return CheckResult(name=check.name, passed=passed, weight=check.weight, reason=reason,
                       score=len(hits) / total, metric=check.metric)


async def grade_turns(judge: Judge | None, case: Case, played: Played, index: int) -> dict[int, tuple[RubricResult, ...]]:
    """Each turn's rubrics on its reply, the history up to it as context (raises JudgeError like any grading)."""
    graded: dict[int, tuple[RubricResult, ...]] = {}
    if judge is None:
        return graded
    for turn in played.turns:
        if turn.rubrics:
            view = dataclasses.replace(case, id=f"{case.id}#turn{turn.index}", rubrics=turn.rubrics)
            graded[turn.index] = await judge.grade(view, turn.view.messages, turn.view.output, index)
    return graded


def _turn_result(turn: TurnPlayed, checks: tuple[CheckResult, ...], rubrics: tuple[RubricResult, ...]) -> TurnResult:
    judged = bool(checks or rubrics)
    score, passed = score_run(checks, rubrics) if judged else (None, None)
    return TurnResult(index=turn.index, user=turn.user, output=turn.view.output, passed=passed, score=score,
                      checks=checks, rubrics=rubrics, tool_calls=turn.view.tool_calls)


def record_fields(played: Played, checks: Mapping[int, tuple[CheckResult, ...]],
                  graded: Mapping[int, tuple[RubricResult, ...]]) -> dict[str, Any]:
    """The RunRecord fields a conversation adds: its turns and the simulated user's usage."""
    return {"turns": tuple(_turn_result(t, checks.get(t.index, ()), graded.get(t.index, ())) for t in played.turns),
            "simulated_user": played.simulator}
