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
from typing import Any, Protocol

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

__all__ = [
    "AnyRun",
    "CaseInput",
    "GroupCase",
    "case_stats",
    "completed",
    "critical_failed",
    "error_kind",
    "group_stats",
    "judge_disagreement",
    "refused",
    "run_score",
    "summarize",
    "tag_stats",
]


class AnyRun(Protocol):
    """A run in either file: a results `RunRecord` or a baseline `BaselineRun`."""

    @property
    def status(self) -> RunStatus: ...
    @property
    def passed(self) -> bool: ...
    @property
    def score(self) -> float | None: ...
    @property
    def output(self) -> str: ...
    @property
    def latency_ms(self) -> float | None: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def refused(self) -> bool | None: ...


class _Counts(Protocol):
    @property
    def n(self) -> int: ...
    @property
    def passed(self) -> int: ...


class _Critical(Protocol):
    @property
    def critical(self) -> bool: ...
    @property
    def stats(self) -> _Counts: ...


class GroupCase(Protocol):
    """A case as the group statistics read it: a `CaseResult`, a `BaselineCase` or a `summarize` item."""

    @property
    def critical(self) -> bool: ...
    @property
    def stats(self) -> CaseStats: ...
    @property
    def runs(self) -> Sequence[AnyRun]: ...


def error_kind(run: AnyRun) -> str | None:
    """The error kind of an errored run (a RunRecord's `error.kind`, a BaselineRun's `error_kind`)."""
    if run.status is not RunStatus.ERRORED:
        return None
    error = getattr(run, "error", None)
    return getattr(error, "kind", None) or getattr(run, "error_kind", None)


def completed(run: AnyRun) -> bool:
    """Not errored, or errored in the target itself (a crash of the agent is a failed run, not missing data)."""
    return run.status is not RunStatus.ERRORED or error_kind(run) == "target"


def run_score(run: AnyRun) -> float:
    """A completed run's score; a run without one scores 1.0 when it passed, else 0.0 (a target crash 0)."""
    if run.status is RunStatus.ERRORED:
        return 0.0
    return run.score if run.score is not None else float(run.passed)


def refused(run: AnyRun) -> bool:
    """Whether the reply reads as a refusal: as recorded when scored, else (older files) from the output."""
    return run.refused if run.refused is not None else _phrase_refusal(run.output)


@functools.lru_cache(maxsize=4096)
def _phrase_refusal(output: str) -> bool:
    from agent_eval.refusal_phrases import is_refusal

    return is_refusal(output)


def critical_failed(case: _Critical) -> bool:
    """A critical case fails unless every completed run passed and at least one completed."""
    return case.critical and (case.stats.n == 0 or case.stats.passed < case.stats.n)


def case_stats(runs: Sequence[RunRecord], k: int) -> CaseStats:
    """Reduce one case's runs; pass^k and pass@k are None with fewer than k completed runs.

    A target crash (error kind `target`) is a completed, failed run with score 0; other errors are missing data.
    """
    done = [r for r in runs if completed(r)]
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
    items = [_item(c) for c in cases]
    overall = group_stats(items)
    return Summary(
        **overall.model_dump(),
        tags=tag_stats(items),
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


def tag_stats(cases: Sequence[Any]) -> dict[str, GroupStats]:
    """`group_stats` of each tag's cases, tags sorted; `cases` carry `tags` besides what `GroupCase` needs."""
    tags = sorted({t for c in cases for t in c.tags})
    return {t: group_stats([c for c in cases if t in c.tags]) for t in tags}


def group_stats(cases: Sequence[GroupCase]) -> GroupStats:
    """Statistics over a set of cases, results or baseline alike; cases without a completed run are left out
    of the means. A baseline run has no tokens and is never cached: those count 0."""
    scored = [c.stats for c in cases if c.stats.n > 0]
    runs = [r for c in cases for r in c.runs]
    done = [r for r in runs if completed(r)]
    errors = len(runs) - len(done)
    latencies = [r.latency_ms for r in done if r.latency_ms is not None]
    lengths = [float(len(r.output)) for r in done]
    costs = [r.cost_usd for r in done if r.cost_usd is not None]
    scores = [s.score for s in scored if s.score is not None]
    records = [r for r in runs if isinstance(r, RunRecord)]
    return GroupStats(
        cases=len(cases),
        runs=len(runs),
        errors=errors,
        error_rate=errors / len(runs) if runs else 0.0,
        pass_rate=_mean_of(s.pass_rate for s in scored),
        pass_hat_k=_mean_of(s.pass_hat_k for s in scored),
        pass_at_k=_mean_of(s.pass_at_k for s in scored),
        score=mean(scores),
        score_ci=mean_ci(scores, lower=0.0, upper=1.0),
        flaky=sum(1 for c in cases if c.stats.flaky),
        critical_failed=sum(1 for c in cases if critical_failed(c)),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        latency_p99_ms=percentile(latencies, 99),
        cost_usd=math.fsum(r.cost_usd for r in runs if r.cost_usd is not None),
        mean_cost_usd=mean(costs),
        cost_unknown_runs=len(done) - len(costs),
        tokens=sum(r.tokens.total for r in records),
        refusal_rate=mean([float(refused(r)) for r in done]),
        output_chars_p50=percentile(lengths, 50),
        output_chars_p95=percentile(lengths, 95),
        cached_runs=sum(1 for r in records if r.cached),
    )


def _mean_of(values: Iterable[float | None]) -> float | None:
    return mean([v for v in values if v is not None])
