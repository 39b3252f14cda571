"""Reduce runs to case statistics, then cases to group statistics (the case is the unit).

Errored runs are missing data: they count in `errors` and `error_rate`, never as failures.
The score interval is a 95% Student t interval over case scores, clipped to [0, 1]; it needs
no randomness, so `summarize` accepts `rng_seed` only to keep one signature with the gate.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agent_eval.records import (
    CaseResult,
    CaseStats,
    GroupStats,
    RubricResult,
    RunRecord,
    RunStatus,
    Summary,
)
from agent_eval.stats.describe import mean, mean_ci, percentile
from agent_eval.stats.passk import pass_at_k, pass_hat_k

__all__ = ["CaseInput", "case_stats", "judge_disagreement", "run_score", "summarize"]


def run_score(run: RunRecord) -> float:
    """A completed run's score; a run without one scores 1.0 when it passed, else 0.0 (a target crash 0)."""
    if _target_crash(run):
        return 0.0
    return run.score if run.score is not None else float(run.passed)


def _target_crash(run: RunRecord) -> bool:
    """The agent under test raised or exited non-zero: a failed run, not missing data."""
    return run.status is RunStatus.ERRORED and run.error is not None and run.error.kind == "target"


def _completed(run: RunRecord) -> bool:
    return run.status is not RunStatus.ERRORED or _target_crash(run)


def case_stats(runs: Sequence[RunRecord], k: int) -> CaseStats:
    """Reduce one case's runs; pass^k and pass@k are None with fewer than k completed runs.

    A target crash (error kind `target`) is a completed, failed run with score 0; other errors are missing data.
    """
    done = [r for r in runs if _completed(r)]
    n = len(done)
    c = sum(1 for r in done if r.status is RunStatus.PASSED)
    return CaseStats(
        n=n,
        passed=c,
        errors=len(runs) - n,
        k=k,
        pass_rate=c / n if n else None,
        pass_hat_k=pass_hat_k(n, c, k),
        pass_at_k=pass_at_k(n, c, k),
        score=mean([run_score(r) for r in done]),
        flaky=0 < c < n,
    )


@dataclass(frozen=True, slots=True)
class _Item:
    """One case as `summarize` sees it."""

    id: str
    tags: tuple[str, ...]
    critical: bool
    runs: tuple[RunRecord, ...]
    stats: CaseStats


CaseInput = CaseResult | tuple[Any, Sequence[RunRecord], CaseStats]


def summarize(cases: Sequence[CaseInput], *, rng_seed: int | None = None) -> Summary:
    """Overall and per-tag statistics over cases.

    `cases` holds `CaseResult`s or `(case, runs, stats)` tuples where `case` has `id`, `tags` and
    `critical`. Cost is summed over all runs (errored ones cost money too); `mean_cost_usd`,
    latency, length and refusal figures are over completed runs. `rng_seed` is accepted for a
    stable signature; the t interval does not use it.
    """
    del rng_seed
    from agent_eval.refusal_phrases import is_refusal as check

    is_refusal = functools.lru_cache(maxsize=None)(check)  # each output once, however many tags it has
    items = [_item(c) for c in cases]
    tags = sorted({t for it in items for t in it.tags})
    overall = _group(items, is_refusal)
    return Summary(
        **overall.model_dump(),
        tags={t: _group([it for it in items if t in it.tags], is_refusal) for t in tags},
        judge_cost_usd=math.fsum(
            rb.cost_usd for it in items for r in it.runs for rb in r.rubrics if rb.cost_usd is not None
        ),
        judge_disagreement=judge_disagreement([rb for it in items for r in it.runs for rb in r.rubrics]),
    )


def judge_disagreement(rubrics: Sequence[RubricResult]) -> float | None:
    """Mean standard deviation of a rubric's samples, as a fraction of its scale; None without samples."""
    spreads = [
        statistics.pstdev(rb.samples) / (rb.scale[1] - rb.scale[0])
        for rb in rubrics if len(rb.samples) > 1
    ]
    return mean(spreads)


def _item(case: Any) -> _Item:
    if isinstance(case, CaseResult):
        return _Item(case.id, tuple(case.tags), case.critical, tuple(case.runs), case.stats)
    spec, runs, stats = case
    return _Item(spec.id, tuple(spec.tags), bool(spec.critical), tuple(runs), stats)


def _group(items: Sequence[_Item], is_refusal: Any) -> GroupStats:
    """Statistics over a set of cases; cases without a completed run are left out of the means."""
    scored = [it.stats for it in items if it.stats.n > 0]
    runs = [r for it in items for r in it.runs]
    done = [r for r in runs if _completed(r)]
    errors = len(runs) - len(done)
    latencies = [r.latency_ms for r in done if r.latency_ms is not None]
    lengths = [float(len(r.output)) for r in done]
    costs = [r.cost_usd for r in done if r.cost_usd is not None]
    scores = [s.score for s in scored if s.score is not None]
    return GroupStats(
        cases=len(items),
        runs=len(runs),
        errors=errors,
        error_rate=errors / len(runs) if runs else 0.0,
        pass_rate=_mean_of(s.pass_rate for s in scored),
        pass_hat_k=_mean_of(s.pass_hat_k for s in scored),
        pass_at_k=_mean_of(s.pass_at_k for s in scored),
        score=mean(scores),
        score_ci=mean_ci(scores, lower=0.0, upper=1.0),
        flaky=sum(1 for it in items if it.stats.flaky),
        critical_failed=sum(1 for it in items if it.critical and _failed(it.stats)),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        latency_p99_ms=percentile(latencies, 99),
        cost_usd=math.fsum(r.cost_usd for r in runs if r.cost_usd is not None),
        mean_cost_usd=mean(costs),
        tokens=sum(r.tokens.total for r in runs),
        refusal_rate=mean([float(is_refusal(r.output)) for r in done]),
        output_chars_p50=percentile(lengths, 50),
        output_chars_p95=percentile(lengths, 95),
        cached_runs=sum(1 for r in runs if r.cached),
    )


def _failed(stats: CaseStats) -> bool:
    """A critical case fails unless every completed run passed (and at least one completed)."""
    return stats.n == 0 or stats.passed < stats.n


def _mean_of(values: Iterable[float | None]) -> float | None:
    return mean([v for v in values if v is not None])
