"""Failure kinds for the reports: counts per suite and per case, and what changed since the baseline."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from agent_eval.baseline.schema import Baseline
from agent_eval.records import FailureKind, Results
from agent_eval.trace.failure import (
    FAILURE_KINDS,
    failure_changes,
    failure_counts,
    failure_kind,
    median_steps,
    results_failure_kinds,
)

from ._sides import Side

__all__ = ["CaseFailures", "FailureView", "failure_view", "kinds_text", "kinds_view", "side_failure_view"]


@dataclass(frozen=True, slots=True)
class CaseFailures:
    """The failure kinds of one case's failed runs, on both sides."""

    case_id: str
    candidate: dict[FailureKind, int]
    baseline: dict[FailureKind, int] | None

    @property
    def text(self) -> str:
        base = "" if self.baseline is None else f" (baseline: {kinds_text(self.baseline) or 'none'})"
        return f"{kinds_text(self.candidate) or 'none'}{base}"


@dataclass(frozen=True, slots=True)
class FailureView:
    """Counts per kind on each side, the phrases that say what changed, and the cases with failures."""

    candidate: dict[FailureKind, int]
    baseline: dict[FailureKind, int] | None
    changes: tuple[str, ...]
    cases: tuple[CaseFailures, ...]
    runs: int = 0  # the candidate's runs
    baseline_runs: int = 0  # the baseline's (often 2 x k: the changes are counted at the candidate's scale)

    @property
    def empty(self) -> bool:
        return not self.candidate and not self.baseline

    def line(self) -> str:
        """'failure kinds: prompt 3, tool 1 of 50 runs (baseline: prompt 2 of 100 runs); 2 new prompt failures, ...'.

        The changes compare each case at the candidate's number of runs (a baseline often has 2 x k).
        """
        text = f"failure kinds: {kinds_text(self.candidate, sep=' ') or 'none'} of {self.runs} runs"
        if self.baseline is not None:
            text += f" (baseline: {kinds_text(self.baseline, sep=' ') or 'none'} of {self.baseline_runs} runs)"
            if self.changes:
                text += "; " + ", ".join(self.changes)
        return text

    def by_case(self) -> dict[str, str]:
        """Case id -> the candidate's failure kinds, e.g. 'tool ×2, prompt ×1' (cases with failed runs only)."""
        return {c.case_id: kinds_text(c.candidate) for c in self.cases if c.candidate}

    def by_kind(self) -> list[tuple[str, int | None, int]]:
        """(kind, baseline count or None, candidate count) for every kind seen on either side."""
        seen = [k for k in FAILURE_KINDS if self.candidate.get(k) or (self.baseline or {}).get(k)]
        return [(k, None if self.baseline is None else self.baseline.get(k, 0), self.candidate.get(k, 0))
                for k in seen]


def kinds_text(counts: dict[FailureKind, int], sep: str = " ×") -> str:
    return ", ".join(f"{k}{sep}{n}" for k, n in counts.items())


KindsByCase = Mapping[str, Sequence[FailureKind | str | None]]


def failure_view(results: Results, baseline: Baseline | None) -> FailureView:
    """Failure kinds of the candidate's runs, derived against the baseline, and the baseline's (per suite and
    per case)."""
    base = {c.id: [r.failure_kind for r in c.runs] for c in baseline.cases} if baseline is not None else None
    return kinds_view(results_failure_kinds(results, baseline), base)


def side_failure_view(results: Results, base: Side | None) -> FailureView:
    """`failure_view` with the baseline already read as a report `Side`."""
    if base is None:
        return kinds_view(results_failure_kinds(results, None), None)
    medians = {i: median_steps(r.steps for r in c.runs) for i, c in base.cases.items()}
    cand = {c.id: [failure_kind(r, medians.get(c.id)) for r in c.runs] for c in results.cases}
    return kinds_view(cand, {c.id: [r.failure_kind for r in c.runs] for c in base.cases.values()})


def kinds_view(candidate: KindsByCase, baseline: KindsByCase | None) -> FailureView:
    """The view of failure kinds per case id, on each side."""
    cand = failure_counts(_kinds(k for kinds in candidate.values() for k in kinds))
    base = failure_counts(_kinds(k for kinds in baseline.values() for k in kinds)) if baseline is not None else None
    runs = sum(len(kinds) for kinds in candidate.values())
    base_runs = sum(len(kinds) for kinds in baseline.values()) if baseline is not None else 0
    cases = []
    for case_id, kinds in candidate.items():
        counts = failure_counts(_kinds(kinds))
        bkinds = baseline.get(case_id) if baseline is not None else None
        bcounts = failure_counts(_kinds(bkinds)) if bkinds is not None else None
        if counts or bcounts:
            cases.append(CaseFailures(case_id, counts, bcounts if baseline is not None else None))
    cases.sort(key=lambda c: (-_worse(c), c.case_id))
    changes = tuple(failure_changes(cand, _expected(candidate, baseline))) if baseline is not None else ()
    return FailureView(cand, base, changes, tuple(cases), runs, base_runs)


def _expected(candidate: KindsByCase, baseline: KindsByCase) -> dict[FailureKind, int]:
    """The baseline's failures per kind at the candidate's scale: per case run in both, its counts times the
    candidate's runs over the baseline's (a baseline often has 2 x k runs); cases new to the candidate add 0."""
    expected: dict[FailureKind, float] = {}
    for case_id, kinds in candidate.items():
        base = baseline.get(case_id)
        if not base or not kinds:
            continue
        for kind, n in failure_counts(_kinds(base)).items():
            expected[kind] = expected.get(kind, 0.0) + n * len(kinds) / len(base)
    return {k: round(v) for k, v in expected.items()}


def _kinds(values: Iterable[FailureKind | str | None]) -> Iterator[FailureKind]:
    return (v for v in values if v in FAILURE_KINDS)  # type: ignore[misc]


def _worse(case: CaseFailures) -> int:
    return sum(case.candidate.values()) - sum((case.baseline or {}).values())
