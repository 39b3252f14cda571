"""Escalation rates (overall and per tag, against the baseline) and precision/recall against the
cases tagged `should-escalate`; conversations' turn failures. Computed from the runs' records."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Protocol

from agent_eval.records import Results, RunStatus

__all__ = [
    "HEALTHY_BAND", "MISCALIBRATED_ABOVE", "PRODUCTION_TAG", "SHOULD_ESCALATE", "EscalationStats", "Rate", "Rows", "TurnFailure", "clustered_ratio_ci", "escalation_stats", "rows_from_baseline",
    "rows_from_results", "turn_failures",
]

SHOULD_ESCALATE = "should-escalate"
PRODUCTION_TAG = "imported"  # the tag `agent-eval import` gives production samples
HEALTHY_BAND = (0.10, 0.15)  # the escalation rates production teams call healthy
MISCALIBRATED_ABOVE = 0.30  # above it, escalation signals miscalibrated confidence


@dataclass(frozen=True, slots=True)
class Rate:
    """Escalated runs out of completed runs that recorded escalation."""

    escalated: int
    runs: int

    @property
    def value(self) -> float | None:
        return self.escalated / self.runs if self.runs else None


@dataclass(frozen=True, slots=True)
class EscalationStats:
    """The candidate's escalation rates, the baseline's when it recorded them, and precision/recall."""

    overall: Rate
    tags: dict[str, Rate] = field(default_factory=dict)
    baseline: Rate | None = None
    baseline_tags: dict[str, Rate] = field(default_factory=dict)
    precision: float | None = None  # of escalated runs, the share whose case is tagged should-escalate
    recall: float | None = None  # of should-escalate runs, the share that escalated
    labelled: bool = False  # some case is tagged should-escalate
    precision_ci: tuple[float, float] | None = None  # 95%, with the case as the unit (runs of a case move together)
    recall_ci: tuple[float, float] | None = None

    @property
    def production(self) -> Rate | None:
        """The rate over production samples (cases tagged `imported`), where the field's bands apply."""
        return self.tags.get(PRODUCTION_TAG)

    def production_band(self) -> str | None:
        """A warning when the production samples' rate is above 30%, a note when outside 10-15%; else None."""
        rate = self.production
        if rate is None or rate.value is None:
            return None
        low, high = HEALTHY_BAND
        if rate.value > MISCALIBRATED_ABOVE:
            return (f"warning: production samples escalate {rate.value:.1%} of runs, above "
                    f"{MISCALIBRATED_ABOVE:.0%}: a sign of miscalibrated confidence")
        if not low <= rate.value <= high:
            return f"note: production samples escalate {rate.value:.1%} of runs, outside the healthy {low:.0%}-{high:.0%}"
        return None


def _rates(rows: Iterable[tuple[tuple[str, ...], bool, str]]) -> tuple[Rate, dict[str, Rate]]:
    total = [0, 0]
    tags: dict[str, list[int]] = {}
    for case_tags, escalated, _ in rows:
        total[0] += escalated
        total[1] += 1
        for tag in case_tags:
            counts = tags.setdefault(tag, [0, 0])
            counts[0] += escalated
            counts[1] += 1
    return Rate(*total), {tag: Rate(*counts) for tag, counts in sorted(tags.items())}


Rows = list[tuple[tuple[str, ...], bool, str]]  # (the case's tags, whether the run escalated, case id) per completed run


def rows_from_results(results: Results) -> Rows:
    return [(tuple(case.tags), bool(run.escalated), case.id) for case in results.cases for run in case.runs
            if run.escalated is not None and run.status is not RunStatus.ERRORED]


class _PastCase(Protocol):
    @property
    def tags(self) -> Sequence[str]: ...

    @property
    def runs(self) -> Sequence[object]: ...


class PastEscalations(Protocol):
    """What `rows_from_baseline` reads of a baseline (a `baseline.schema.Baseline`): its cases' tags and runs."""

    @property
    def cases(self) -> Sequence[_PastCase]: ...


def rows_from_baseline(baseline: PastEscalations) -> Rows:
    rows = []
    for case in baseline.cases:
        for run in case.runs:
            recorded: Any = getattr(run, "escalation", None)  # schema 2 keeps {"escalated": bool}
            if isinstance(recorded, dict) and isinstance(recorded.get("escalated"), bool):
                rows.append((tuple(case.tags), recorded["escalated"], str(getattr(case, "id", ""))))
    return rows


def escalation_stats(rows: Rows, base_rows: Rows | None = None) -> EscalationStats | None:
    """None when no run recorded escalation (the config declares no `escalation:`)."""
    if not rows:
        return None
    overall, tags = _rates(rows)
    base, base_tags = _rates(base_rows) if base_rows else (None, {})
    should = [SHOULD_ESCALATE in t for t, _, _ in rows]
    labelled = any(should)
    true_pos = sum(1 for (_, e, _), s in zip(rows, should, strict=True) if e and s)
    escalated = sum(1 for _, e, _ in rows if e)
    by_case: dict[str, list[int]] = {}  # case id -> [true positives, escalated runs, should-escalate runs]
    for (_, e, case), s in zip(rows, should, strict=True):
        counts = by_case.setdefault(case, [0, 0, 0])
        counts[0] += e and s
        counts[1] += e
        counts[2] += s
    return EscalationStats(
        overall=overall, tags=tags, baseline=base, baseline_tags=base_tags, labelled=labelled,
        precision=(true_pos / escalated if escalated else None) if labelled else None,
        recall=(true_pos / sum(should)) if labelled else None,
        precision_ci=clustered_ratio_ci([(c[0], c[1]) for c in by_case.values()]) if labelled else None,
        recall_ci=clustered_ratio_ci([(c[0], c[2]) for c in by_case.values()]) if labelled else None,
    )


def clustered_ratio_ci(cases: Sequence[tuple[int, int]], level: float = 0.95) -> tuple[float, float] | None:
    """A Wilson interval for sum(hits) / sum(trials) with the case as the unit: the runs of one case are not
    independent, so the binomial count is shrunk by the design effect of the cluster-robust (ratio) variance to
    an effective number of runs, at least the number of cases that count and at most the runs. None when no
    case has a trial."""
    used = [(h, t) for h, t in cases if t > 0]
    trials = sum(t for _, t in used)
    if not used:
        return None
    p = sum(h for h, _ in used) / trials
    m = len(used)
    if 0 < p < 1 and m > 1:
        robust = m / (m - 1) * math.fsum((h - p * t) ** 2 for h, t in used) / trials**2
        n_eff = p * (1 - p) / robust if robust > 0 else float(trials)
        n_eff = min(max(n_eff, float(m)), float(trials))
    else:  # no spread to measure: count each case once
        n_eff = float(m)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class TurnFailure:
    """A conversation turn that failed in some runs of its case."""

    case_id: str
    turn: int
    failed: int
    runs: int
    reason: str  # the first failed check or rubric of that turn


def turn_failures(results: Results) -> list[TurnFailure]:
    """Per case and turn, how many runs failed that turn and the first reason."""
    found: dict[tuple[str, int], list[Any]] = {}
    for case in results.cases:
        for run in case.runs:
            for turn in run.turns or ():
                if turn.passed is None:
                    continue
                entry = found.setdefault((case.id, turn.index), [0, 0, ""])
                entry[1] += 1
                if not turn.passed:
                    entry[0] += 1
                    if not entry[2]:
                        entry[2] = _first_reason(turn)
    return [TurnFailure(case_id=c, turn=t, failed=f, runs=n, reason=r)
            for (c, t), (f, n, r) in found.items() if f]


def _first_reason(turn: Any) -> str:
    for check in turn.checks:
        if not check.passed:
            return f"{check.name}: {check.reason}"
    for rubric in turn.rubrics:
        if not rubric.passed:
            return f"{rubric.name}: {rubric.score:g} < {rubric.threshold:g}" if rubric.score is not None else rubric.name
    return "failed"
