"""The gate's decision: one object drives the printed verdict, the reports and the exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["CaseDelta", "CaseStatus", "Outcome", "Route", "RouteKind", "TagDelta", "Verdict", "combined_exit"]

# score: the overall margin test; tag: a tag's margin test; critical: a critical case against its baseline runs;
# critical-rate: a critical case's min_pass_rate; floor: an absolute floor (overall or a tag's)
# pass-rate: the overall margin test on pass rates; errors: the candidate's errors concentrate where runs would fail;
# unpaired: passing baseline cases missing from the candidate or changed
RouteKind = Literal["score", "run-level", "collapse", "tag", "critical", "critical-rate", "floor", "pass-rate",
                    "errors", "unpaired"]


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
    NEW_FAILURE = "new_failure"  # passed every baseline run, passes no candidate run
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
    def worse(self) -> bool:
        """Regressed or a new failure: the one list every report shows as "regressed"."""
        return self.status in (CaseStatus.REGRESSED, CaseStatus.NEW_FAILURE)

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
    limit: float | None = None  # the tag's max_drop from the suite's gate.tags
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One route to FAIL: its test's p-value (None for a rule without one) and whether it fired.

    Every route with a p-value is in one Holm family at the gate's alpha.
    """

    name: str  # for display: "overall score", "run-level", "tag 'billing'", "critical 'pay'", "min_pass_rate", ...
    text: str  # what it found, as a sentence
    p_value: float | None = None
    failed: bool = False
    warn: bool = False  # a point estimate or bound past the limit without a FAIL
    kind: RouteKind = "score"
    case_id: str | None = None  # the critical case a `critical` or `critical-rate` route tests
    tag: str | None = None  # the tag a `tag` route, or a tag's `floor` route, tests


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
    relative_change_ci: tuple[float, float] | None = None  # 1 - 2 a two-sided; its top is the test's bound at a
    bound_alpha: float | None = None  # a: alpha / the Holm family, so a top below -max_drop always FAILs
    p_value: float | None = None  # of the overall margin test
    min_detectable_drop: float | None = None  # the true drop that would FAIL at 80% power (WARN/PASS only)
    cases_needed: int | None = None  # cases at which the observed drop would FAIL at 80% power (WARN only)
    repeats_needed: int | None = None  # runs per case that would do the same with these cases, if any can
    cases: tuple[CaseDelta, ...] = ()  # most regressed first
    tags: tuple[TagDelta, ...] = ()  # regressions first
    critical_failures: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()  # every route to FAIL that was tested
    baseline_se: float | None = None  # standard error of the baseline score from its run-to-run noise
    baseline_runs: int | None = None  # runs per case of the baseline
    sensitivity: str | None = None  # the verdict if every errored run had failed
    notes: tuple[str, ...] = ()  # how the verdict was reached, when that is not the default
    errored_runs: int = 0  # infrastructure errors in the candidate
    absolute_rule: bool = False  # the change is in score points (--absolute, or a baseline under 0.05)
    versioning: str | None = None  # the version bump understates the change (also among the warnings)
    versioning_blocks: bool = False  # --strict-versioning: that understatement is an error (exit 2)

    @property
    def exit_code(self) -> int:
        """The process exit code: the outcome's, or 2 when --strict-versioning refuses the version bump."""
        if self.versioning is not None and self.versioning_blocks:
            return combined_exit([self.outcome.exit_code, 2])
        return self.outcome.exit_code

    def by_status(self, status: CaseStatus) -> tuple[CaseDelta, ...]:
        return tuple(c for c in self.cases if c.status is status)

    def regressed(self) -> tuple[CaseDelta, ...]:
        """Regressed cases and new failures, most regressed first (the same list in every report)."""
        return tuple(c for c in self.cases if c.worse)


_EXIT_PRECEDENCE = {2: 4, 3: 3, 1: 2, 0: 0}


def combined_exit(codes: Sequence[int]) -> int:
    """The worst exit code in the precedence 2 (invalid input), then 3 (incomplete), then 1 (FAIL), then 0."""
    return max(codes, key=lambda c: _EXIT_PRECEDENCE.get(c, 1), default=0)
