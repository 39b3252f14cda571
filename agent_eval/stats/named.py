"""Named metrics (`metric:` on checks and rubrics) and `derived_metrics` formulas, per suite and per tag.

Per completed run, a metric's value is the mean score of the checks and rubrics naming it
(1/0 for a pass/fail check, the graded score otherwise). Per case it is the mean over runs; per
group, the mean over cases with a 95% t interval. A formula reads each metric's *total* (the sum
over completed runs, so a tp/fp/fn check counts), plus `runs`, `cases` and `passed` (passed runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_eval.formula import parse_formula
from agent_eval.records import CaseResult, DerivedMetric, GroupStats, MetricStats, RunRecord, RunStatus, Summary
from agent_eval.stats.describe import mean, mean_ci

__all__ = ["MetricDelta", "compare_metrics", "run_metrics", "with_named_metrics"]


def run_metrics(run: RunRecord) -> dict[str, float]:
    """Metric name -> this run's value (mean of the checks and rubrics that name it)."""
    found: dict[str, list[float]] = {}
    for check in run.checks:
        if check.metric:
            found.setdefault(check.metric, []).append(check.score if check.score is not None else float(check.passed))
        for name, value in check.named_scores.items():
            found.setdefault(name, []).append(value)
    for rubric in run.rubrics:
        if rubric.metric and rubric.normalized is not None:
            found.setdefault(rubric.metric, []).append(rubric.normalized)
    return {name: math.fsum(v) / len(v) for name, v in found.items()}


@dataclass(frozen=True, slots=True)
class _CaseRuns:
    tags: tuple[str, ...]
    runs: tuple[dict[str, float], ...]  # completed runs' metric values
    passed: int


def _metric_stats(cases: Sequence[_CaseRuns]) -> dict[str, MetricStats]:
    names = sorted({n for c in cases for r in c.runs for n in r})
    out: dict[str, MetricStats] = {}
    for name in names:
        per_case = [vals for c in cases if (vals := [r[name] for r in c.runs if name in r])]
        means = [math.fsum(v) / len(v) for v in per_case]
        unit = all(0.0 <= m <= 1.0 for m in means)  # scores and counts: the interval stays in [0, 1]
        ci = mean_ci(means, lower=0.0, upper=1.0) if unit else mean_ci(means)
        out[name] = MetricStats(mean=mean(means), ci=ci, cases=len(per_case),
                                runs=sum(len(v) for v in per_case), total=math.fsum(x for v in per_case for x in v))
    return out


def _derived(cases: Sequence[_CaseRuns], metrics: Mapping[str, MetricStats],
             formulas: Mapping[str, str]) -> dict[str, DerivedMetric]:
    values: dict[str, float | None] = {name: m.total for name, m in metrics.items()}
    values.update(runs=float(sum(len(c.runs) for c in cases)), cases=float(len(cases)),
                  passed=float(sum(c.passed for c in cases)))
    out: dict[str, DerivedMetric] = {}
    for name, text in formulas.items():
        formula = parse_formula(text)
        scope = {**{n: 0.0 for n in formula.names if n not in values}, **values}  # a metric never seen: 0 runs
        value, note = formula.outcome(scope)
        out[name] = DerivedMetric(formula=text, value=value, note=note)
        values[name] = value  # later formulas may use earlier ones
    return out


def _group(cases: Sequence[_CaseRuns], formulas: Mapping[str, str]) -> dict[str, object]:
    metrics = _metric_stats(cases)
    return {"metrics": metrics, "derived": _derived(cases, metrics, formulas)}


def _case_runs(case: CaseResult) -> _CaseRuns:
    done = [r for r in case.runs if r.status is not RunStatus.ERRORED]
    return _CaseRuns(tags=tuple(case.tags), runs=tuple(run_metrics(r) for r in done),
                     passed=sum(1 for r in done if r.status is RunStatus.PASSED))


def with_named_metrics(summary: Summary, cases: Iterable[CaseResult], formulas: Mapping[str, str]) -> Summary:
    """The summary with `metrics` and `derived` filled in, overall and per tag."""
    items = [_case_runs(c) for c in cases]
    if not formulas and not any(r for it in items for r in it.runs):
        return summary
    tags: dict[str, GroupStats] = {
        tag: group.model_copy(update=_group([it for it in items if tag in it.tags], formulas))
        for tag, group in summary.tags.items()
    }
    return summary.model_copy(update={**_group(items, formulas), "tags": tags})


@dataclass(frozen=True, slots=True)
class MetricDelta:
    """A named or derived metric now and in the baseline."""

    name: str
    current: float | None
    current_ci: tuple[float, float] | None
    baseline: float | None
    derived: bool = False

    @property
    def delta(self) -> float | None:
        return None if self.current is None or self.baseline is None else self.current - self.baseline


class _PastRun(Protocol):
    @property
    def status(self) -> RunStatus: ...

    @property
    def metrics(self) -> Mapping[str, float]: ...


class _PastCase(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def runs(self) -> Sequence[_PastRun]: ...


class PastMetrics(Protocol):
    """What `compare_metrics` reads of a baseline (a `baseline.schema.Baseline`): its cases' runs' metrics."""

    @property
    def cases(self) -> Sequence[_PastCase]: ...


def compare_metrics(summary: Summary, baseline: PastMetrics | None,
                    case_ids: Iterable[str] | None = None) -> list[MetricDelta]:
    """Each named and derived metric of `summary` beside the baseline's, over the same cases."""
    base: dict[str, object] | None = None
    if baseline is not None:
        wanted = set(case_ids) if case_ids is not None else None
        items = [
            _CaseRuns(tags=(), runs=tuple(dict(r.metrics) for r in c.runs if r.status is not RunStatus.ERRORED),
                      passed=sum(1 for r in c.runs if r.status is RunStatus.PASSED))
            for c in baseline.cases if wanted is None or c.id in wanted
        ]
        base = _group(items, {n: d.formula for n, d in summary.derived.items()})
    metrics: Mapping[str, MetricStats] = base["metrics"] if base else {}  # type: ignore[assignment]
    derived: Mapping[str, DerivedMetric] = base["derived"] if base else {}  # type: ignore[assignment]
    out = [MetricDelta(name, m.mean, m.ci, metrics[name].mean if name in metrics else None)
           for name, m in summary.metrics.items()]
    out += [MetricDelta(name, d.value, None, derived[name].value if name in derived else None, derived=True)
            for name, d in summary.derived.items()]
    return out
