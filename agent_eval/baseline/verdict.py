"""The gate's decision: one object drives the printed verdict, the reports and the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CaseDelta", "CaseStatus", "Outcome", "TagDelta", "Verdict"]


class Outcome(StrEnum):
    """The verdict, worst last; each maps to one exit code."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    INCOMPLETE = "INCOMPLETE"

    @property
    def exit_code(self) -> int:
        return {"PASS": 0, "WARN": 0, "FAIL": 1, "INCOMPLETE": 3}[self.value]


class CaseStatus(StrEnum):
    """How one case moved between baseline and candidate."""

    REGRESSED = "regressed"  # score dropped
    NEW_FAILURE = "new_failure"  # passed all k runs before, fails now
    FIXED = "fixed"  # failed before, passes all k runs now
    FLAKY = "flaky"  # candidate passes some but not all runs
    ERROR = "error"  # candidate has errored runs
    UNCHANGED = "unchanged"
    NEW = "new"  # only in the candidate: listed, not gated
    MISSING = "missing"  # only in the baseline: listed, not gated
    CHANGED = "changed"  # definition changed under the same id: listed, not gated


@dataclass(frozen=True, slots=True)
class CaseDelta:
    """One case, baseline against candidate (either side may be absent)."""

    case_id: str
    tags: tuple[str, ...]
    status: CaseStatus
    critical: bool = False
    baseline_passed: int | None = None
    baseline_n: int | None = None
    candidate_passed: int | None = None
    candidate_n: int | None = None
    candidate_errors: int = 0
    baseline_score: float | None = None
    candidate_score: float | None = None

    @property
    def delta(self) -> float | None:
        if self.baseline_score is None or self.candidate_score is None:
            return None
        return self.candidate_score - self.baseline_score


@dataclass(frozen=True, slots=True)
class TagDelta:
    """One tag's mean case score on both sides, and whether its own limit was crossed."""

    tag: str
    cases: int
    baseline_score: float | None
    candidate_score: float | None
    relative_change: float | None
    p_value: float | None = None
    p_adjusted: float | None = None  # Benjamini-Hochberg across tags
    limit: float | None = None  # from the suite's gate.tags
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision and every figure behind it. Without a baseline only `candidate_*` is set."""

    outcome: Outcome
    rule: str  # the rule that fired, as a sentence
    warnings: tuple[str, ...] = ()
    has_baseline: bool = False
    max_drop: float = 0.03
    alpha: float = 0.05
    absolute: bool = False
    strict: bool = False
    paired_cases: int = 0
    baseline_score: float | None = None
    baseline_ci: tuple[float, float] | None = None
    candidate_score: float | None = None
    candidate_ci: tuple[float, float] | None = None
    relative_change: float | None = None  # r = Q_cand / Q_base - 1 (or the point drop if absolute)
    relative_change_ci: tuple[float, float] | None = None
    p_value: float | None = None
    min_detectable_drop: float | None = None  # relative (or points if absolute), at 80% power
    cases_needed: int | None = None  # cases that would resolve max_drop at the observed variance
    repeats_needed: int | None = None  # runs per case resolving max_drop with these cases, if any can
    cases: tuple[CaseDelta, ...] = ()  # most regressed first
    tags: tuple[TagDelta, ...] = ()  # regressions first
    critical_failures: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    def by_status(self, status: CaseStatus) -> tuple[CaseDelta, ...]:
        return tuple(c for c in self.cases if c.status is status)
