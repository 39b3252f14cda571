"""Head-to-head judging after a run: each candidate run against the baseline's run of the same case.

Also the pair judging that `agent-eval shadow` uses against production replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent_eval.errors import UsageError
from agent_eval.records import Message, Results, RunStatus
from agent_eval.suite.case import Case
from agent_eval.suite.schema import JudgeSpec, RubricSpec

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.judge.head_to_head import HeadToHeadJudge, Judgment
    from agent_eval.report.head_to_head import HeadToHead
    from agent_eval.runner.session import RunOptions
    from agent_eval.suite.loader import LoadedSuite

__all__ = ["PairTask", "check_head_to_head_baseline", "head_to_head_cases", "judge_pairs", "run_head_to_head",
           "summarize_pairs"]


@dataclass(frozen=True, slots=True)
class PairTask:
    """One candidate answer to compare with its reference answer under one rubric."""

    case_id: str
    group: tuple[str, ...]
    rubric: RubricSpec
    judge: JudgeSpec
    conversation: tuple[Message, ...]
    expected: str | None
    reference: str
    candidate: str
    index: int


def head_to_head_cases(cases: Sequence[Case]) -> list[Case]:
    """The cases with at least one `head_to_head: true` rubric."""
    return [c for c in cases if any(r.head_to_head for r in c.rubrics)]


def check_head_to_head_baseline(suite: LoadedSuite, baseline: Baseline | None, path: Path | None) -> None:
    """Refuse (exit 2) a head-to-head suite whose baseline lacks whole outputs: redacted or older than version 3."""
    if baseline is None or not head_to_head_cases(suite.cases) or baseline.outputs_for_head_to_head:
        return
    raise UsageError(f"suite '{suite.name}' has head_to_head rubrics but its baseline {path} has no outputs to "
                     "compare with (redacted, or older than baseline schema 3); re-record it with "
                     "`agent-eval run SUITE --save-baseline` (without redaction)")


def _asked(messages: Sequence[Message]) -> tuple[Message, ...]:
    """The conversation up to the last user message: what both answers reply to."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
    return tuple(m for m in messages[:last + 1] if m.role != "system")


def _tasks(suite: LoadedSuite, results: Results, baseline: Baseline) -> tuple[list[PairTask], int]:
    """Every completed candidate run of a head-to-head case against the baseline's completed run of the same
    repetition (cycling when the baseline has fewer); and the cases left out (new or edited since the baseline)."""
    by_id = {c.id: c for c in head_to_head_cases(suite.cases)}
    tasks: list[PairTask] = []
    skipped = 0
    for case in results.cases:
        spec = by_id.get(case.id)
        if spec is None:
            continue
        base = baseline.case(case.id)
        if base is None or base.definition_hash != case.definition_hash:
            skipped += 1
            continue
        reference = [r for r in sorted(base.runs, key=lambda r: r.index) if r.status is not RunStatus.ERRORED]
        if not reference:
            skipped += 1
            continue
        for run in sorted(case.runs, key=lambda r: r.index):
            if run.status is RunStatus.ERRORED:
                continue
            for rubric in spec.rubrics:
                judge = rubric.judge or spec.judge
                if not rubric.head_to_head or judge is None:
                    continue
                tasks.append(PairTask(case_id=case.id, group=tuple(case.tags) or ("(untagged)",), rubric=rubric,
                                      judge=judge, conversation=_asked(run.messages), expected=spec.expected,
                                      reference=reference[run.index % len(reference)].output,
                                      candidate=run.output, index=run.index))
    return tasks, skipped


async def judge_pairs(tasks: Sequence[PairTask], judge: HeadToHeadJudge,
                      concurrency: int) -> list[tuple[PairTask, Judgment | str]]:
    """Every pair in both orders, `concurrency` at a time; a pair the judge cannot answer carries its error."""
    from agent_eval.judge.parse import JudgeError

    gate = asyncio.Semaphore(concurrency)

    async def one(task: PairTask) -> tuple[PairTask, Judgment | str]:
        async with gate:
            try:
                return task, await judge.compare(task.rubric, task.judge, task.conversation, task.expected,
                                                 task.reference, task.candidate, f"{task.case_id}/{task.index}")
            except JudgeError as exc:
                return task, str(exc)

    try:
        return list(await asyncio.gather(*(one(t) for t in tasks)))
    finally:
        await judge.aclose()


def summarize_pairs(judged: Sequence[tuple[PairTask, Judgment | str]], *, kind: Literal["head_to_head", "shadow"], suite: str, candidate: str,
                    reference: str, grouped_by: str, redact: bool, cost_usd: float | None = 0.0,
                    calls: int = 0) -> HeadToHead:
    """Win rates overall and per group, the judge's position bias, and every pair (texts masked with `redact`)."""
    from agent_eval.masking import REDACTED, redact_error_text
    from agent_eval.report.head_to_head import ComparedPair, HeadToHead, PositionBiasEntry, WinRateEntry
    from agent_eval.stats.head_to_head import PairVerdict, pair_outcome, position_bias, win_rate

    outcomes: list[tuple[PairTask, PairVerdict]] = []
    pairs: list[ComparedPair] = []
    picks = []
    errors = 0
    cost = cost_usd
    for task, result in judged:
        text = (lambda s: REDACTED if redact and s else s)
        common = {"case_id": task.case_id, "group": task.group, "rubric": task.rubric.name, "index": task.index,
                  "input": text("\n".join(f"[{m.role}] {m.content}" for m in task.conversation)),
                  "reference_output": text(task.reference), "candidate_output": text(task.candidate)}
        if isinstance(result, str):
            errors += 1
            error = redact_error_text(result) if redact else result
            pairs.append(ComparedPair(outcome="error", error=error, **common))  # type: ignore[arg-type]
            continue
        verdict = pair_outcome(result.baseline_first, result.candidate_first)
        outcomes.append((task, verdict))
        picks.append((result.baseline_first, result.candidate_first))
        calls += 2
        cost = None if cost is None or result.cost_usd is None else cost + result.cost_usd
        pairs.append(ComparedPair(outcome=verdict, baseline_first=result.baseline_first,
                                  candidate_first=result.candidate_first,
                                  reasons=tuple(text(r) for r in result.reasons), **common))  # type: ignore[arg-type]

    def entry(group: str, items: Sequence[tuple[PairTask, PairVerdict]]) -> WinRateEntry:
        rate = win_rate([(t.case_id, v) for t, v in items])
        return WinRateEntry(group=group, cases=rate.cases, pairs=rate.pairs, wins=rate.wins, ties=rate.ties,
                            losses=rate.losses, win_rate=rate.rate, ci=rate.ci, direction=rate.direction)

    names = sorted({g for t, _ in outcomes for g in t.group})
    groups = tuple(entry(g, [(t, v) for t, v in outcomes if g in t.group]) for g in names)
    bias = position_bias(picks)
    return HeadToHead(kind=kind, suite=suite, candidate=candidate, reference=reference, grouped_by=grouped_by,
                      overall=entry("all", outcomes), groups=groups if len(groups) > 1 or grouped_by != "tag" else (),
                      position_bias=PositionBiasEntry(judgments=bias.judgments, first_rate=bias.first_rate,
                                                      inconsistent_pairs=bias.inconsistent_pairs),
                      errors=errors, cost_usd=cost, calls=calls, pairs=tuple(pairs))


def run_head_to_head(suite: LoadedSuite, results: Results, baseline: Baseline, options: RunOptions, *,
                     redact: bool) -> tuple[HeadToHead, int] | None:
    """Judge the run's head-to-head rubrics against the baseline; None when the suite has none.

    Returns the comparison and how many cases were left out (new or edited since the baseline)."""
    from agent_eval.calls.budget import Budget
    from agent_eval.judge.head_to_head import build_head_to_head_judge

    if not head_to_head_cases(suite.cases):
        return None
    tasks, skipped = _tasks(suite, results, baseline)
    budget = Budget(usd=options.budget_usd if options.budget_usd is not None else suite.spec.budget.usd,
                    tokens=options.budget_tokens if options.budget_tokens is not None else suite.spec.budget.tokens)
    concurrency = options.max_concurrency or 8
    judge = build_head_to_head_judge(budget, concurrency=concurrency, seed=options.seed,
                                     max_retries=options.max_retries, timeout_s=options.timeout_s,
                                     max_wait_s=options.max_wait_s, max_retry_wait_s=options.max_retry_wait_s)
    judged = asyncio.run(judge_pairs(tasks, judge, concurrency))
    p = baseline.provenance
    h2h = summarize_pairs(judged, kind="head_to_head", suite=results.suite.name,
                          candidate=f"{results.config.name} {results.config.version}",
                          reference=f"baseline {p.config_name} {p.config_version}", grouped_by="tag", redact=redact)
    return h2h, skipped
