"""How much data is enough: the power of the gate's margin test, shared by the verdict and `agent-eval power`.

Under the margin test a true drop of exactly max_drop FAILs with probability alpha at any size, so
"cases needed to resolve max_drop" has no meaning. What has one: the true drop that FAILs with the
given power, max_drop + (t_{1-alpha} + t_{power}) x SE of the change, and the cases or runs per case
needed for a given drop to FAIL with that power. Student t quantiles with n - 1 degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

from agent_eval.stats.hypotheses import t_quantile

__all__ = ["PLANNING_EXPONENT", "Design", "ab_sessions_per_arm", "binary_moments", "cases_needed", "detectable_drop", "fail_drop",
           "paired_fail_drop", "runs_needed"]

_MAX_CASES = 10_000_000
_MAX_RUNS = 1000
_MIN_EFFECT = 1e-9
# The drop "with 80% power" is planned for the overall test at alpha / m^0.75 (m: the Holm family): at
# alpha / m it ignores that the run-level route (and the others) can FAIL the same drop too, and the whole
# gate then FAILs it .83-.86 of the time; at m^0.75 it FAILs it .80-.85 (simulated through the gate, k = 3,
# 5, 10 and 20-300 cases, pass rates U[0.8, 1]).
PLANNING_EXPONENT = 0.75


def _multiplier(n: int, alpha: float, power: float) -> float:
    return t_quantile(1 - alpha, n - 1) + t_quantile(power, n - 1)


def fail_drop(se: float, n: int, *, max_drop: float, alpha: float, power: float = 0.8) -> float:
    """The true drop that FAILs with `power`: max_drop + (t_{1-alpha,n-1} + t_{power,n-1}) x se.

    `se` is the standard error of the change (relative, or points when absolute) over n cases.
    """
    return max_drop + _multiplier(n, alpha, power) * se


def paired_fail_drop(base_runs: Sequence[Sequence[float]], cand_runs: Sequence[Sequence[float]], *, sd_e: float,
                     base_mean: float, max_drop: float, alpha: float, power: float = 0.8,
                     absolute: bool = False) -> float | None:
    """The true drop that FAILs with `power`, from the paired cases' runs: with pass/fail runs the candidate's
    variance is taken at that drop (p(1-d)(1-p(1-d)), not p(1-p)); otherwise `fail_drop` on the observed
    standard error."""
    n = len(base_runs)
    scale = 1.0 if absolute else base_mean
    moments = binary_moments(base_runs)
    if n < 2 or scale <= 0:
        return None
    if moments is None:
        return fail_drop(sd_e / math.sqrt(n) / scale, n, max_drop=max_drop, alpha=alpha, power=power)
    k = max(1, round(math.fsum(len(r) for r in cand_runs) / n))
    kb = max(1, round(math.fsum(len(r) for r in base_runs) / n))
    design = Design(cases=n, k=k, baseline_k=kb, mean=base_mean, between=0.0, run_var=0.0, max_drop=max_drop,
                    alpha=alpha, power=power, absolute=absolute, moments=moments)
    return detectable_drop(design)  # no spread of per-case effects: a drop "of d" is d on every case


@dataclass(frozen=True, slots=True)
class Design:
    """A suite as the gate sees it, for planning: sizes and variance components in score points.

    Var(e_i) = tau2 + x^2 between + run_var / k + (1 - max_drop)^2 run_var / baseline_k, where x is
    how far the true relative drop lies beyond the margin (the `between` term is absent when
    absolute), tau2 the spread of per-case effects that repetitions cannot shrink.

    With pass/fail runs (`moments` = E[p], E[p^2] of the baseline's per-case pass rates) the candidate's
    run variance is taken at the drop itself: p(1-d)(1-p(1-d)) averaged over cases, not the baseline's
    p(1-p), and `between` and the baseline's run variance come from the moments too.
    """

    cases: int
    k: int
    baseline_k: int
    mean: float  # the baseline's mean score
    between: float  # variance of the true case scores
    run_var: float  # variance of one run's score around its case's mean, averaged over cases
    max_drop: float
    alpha: float
    power: float = 0.8
    absolute: bool = False
    tau2: float = 0.0
    moments: tuple[float, float] | None = None  # pass/fail runs: E[p] and E[p^2] over cases

    @property
    def scale(self) -> float:
        return 1.0 if self.absolute else self.mean

    def var_e(self, beyond: float) -> float:
        keep = 1.0 if self.absolute else 1.0 - self.max_drop
        if self.moments is None:
            spread = 0.0 if self.absolute else beyond**2 * self.between
            return self.tau2 + spread + self.run_var / self.k + keep**2 * self.run_var / self.baseline_k
        m1, m2 = self.moments
        d = beyond + self.max_drop
        if self.absolute:  # p - d for every case (floored at 0 in expectation only roughly)
            cand = max(m1 - d - (m2 - 2 * d * m1 + d * d), 0.0)
            spread = 0.0
        else:
            cand = max((1 - d) * m1 - (1 - d) ** 2 * m2, 0.0)
            spread = beyond**2 * max(m2 - m1 * m1, 0.0)
        return self.tau2 + spread + cand / self.k + keep**2 * max(m1 - m2, 0.0) / self.baseline_k

    def _fails(self, drop: float) -> bool:
        """Whether a true `drop` FAILs with at least the design's power."""
        beyond = drop - self.max_drop
        if beyond <= 0 or self.scale <= 0:
            return False
        se = math.sqrt(self.var_e(beyond) / self.cases) / self.scale
        return _multiplier(self.cases, self.alpha, self.power) * se <= beyond + 1e-12


def detectable_drop(design: Design) -> float | None:
    """The true drop that FAILs with the design's power (closed form, or by bisection with pass/fail
    moments, whose variance moves with the drop); None when no drop does."""
    if design.cases < 2 or design.scale <= 0:
        return None
    if design.moments is not None:
        top = 1.0 if not design.absolute else design.mean
        if not design._fails(top):
            return None
        lo, hi = design.max_drop, top
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if design._fails(mid) else (mid, hi)
        return hi
    c = _multiplier(design.cases, design.alpha, design.power) / (math.sqrt(design.cases) * design.scale)
    w = design.var_e(0.0)
    b = 0.0 if design.absolute else design.between
    if c * c * b >= 1:
        return None
    return design.max_drop + c * math.sqrt(w / (1 - c * c * b))


def cases_needed(design: Design, drop: float) -> int | None:
    """Cases at which a true `drop` FAILs with the design's power; None when drop <= max_drop."""
    if drop <= design.max_drop or design.scale <= 0:
        return None
    lo, hi = 2, 2
    while not replace(design, cases=hi)._fails(drop):
        lo, hi = hi, hi * 2
        if hi > _MAX_CASES:
            return None
    while lo < hi:
        mid = (lo + hi) // 2
        if replace(design, cases=mid)._fails(drop):
            hi = mid
        else:
            lo = mid + 1
    return hi


def runs_needed(design: Design, drop: float) -> int | None:
    """Runs per case (the baseline's scaled alike) at which a true `drop` FAILs with the design's power.

    None when no number of runs would do (the per-case spread alone is too large, or drop <= max_drop).
    """
    ratio = design.baseline_k / design.k

    def fails(k: int) -> bool:
        return replace(design, k=k, baseline_k=max(1, round(k * ratio)))._fails(drop)

    if not fails(_MAX_RUNS):
        return None
    lo, hi = 1, _MAX_RUNS  # more runs never hurt: the smallest k that works, by bisection
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def binary_moments(runs: Sequence[Sequence[float]]) -> tuple[float, float] | None:
    """E[p] and E[p^2] of the cases' true pass rates from pass/fail runs (1.0 / 0.0), unbiased; None when a
    score is neither. Cases with one run tell nothing of p^2: with no case of two runs E[p^2] is taken as
    E[p]^2 (no spread between cases: the most run-to-run noise, so the figure errs toward more data)."""
    cases = [r for r in runs if r]
    if not cases or any(x not in (0.0, 1.0) for r in cases for x in r):
        return None
    m1 = math.fsum(math.fsum(r) / len(r) for r in cases) / len(cases)
    squares = [(math.fsum(r) / len(r)) ** 2 - _p_var(r) / (len(r) - 1) for r in cases if len(r) >= 2]
    m2 = math.fsum(squares) / len(squares) if squares else m1 * m1
    return m1, min(max(m2, m1 * m1), m1)


def _p_var(r: Sequence[float]) -> float:
    p = math.fsum(r) / len(r)
    return p * (1 - p)


def ab_sessions_per_arm(baseline_rate: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Sessions per arm for a two-sided test of two proportions to detect `mde` (absolute) at `power`.

    n = (z_{1-alpha/2} sqrt(2 p q) + z_{power} sqrt(p1 q1 + p2 q2))^2 / (p1 - p2)^2, with p2 = p1 - mde
    (p1 + mde when that would be negative) and p the mean of p1 and p2 (Fleiss, without continuity correction).
    """
    if not 0 < baseline_rate < 1 or not 0 < mde < 1:
        raise ValueError("the baseline rate and the effect must be in (0, 1)")
    p1 = baseline_rate
    p2 = p1 - mde if p1 - mde > 0 else p1 + mde
    if not 0 < p2 < 1:
        raise ValueError(f"a change of {mde} from {p1} leaves (0, 1)")
    if mde < _MIN_EFFECT:  # far below this, p1 - mde rounds back to p1 in floating point
        raise ValueError(f"a change of {mde:g} is too small to plan for (the smallest is {_MIN_EFFECT:g})")
    z = NormalDist().inv_cdf
    p = (p1 + p2) / 2
    num = z(1 - alpha / 2) * math.sqrt(2 * p * (1 - p)) + z(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(num**2 / (p1 - p2) ** 2)
