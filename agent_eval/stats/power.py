"""How much data is enough: the power of the gate's margin test, shared by the verdict and `agent-eval power`.

Under the margin test a true drop of exactly max_drop FAILs with probability alpha at any size, so
"cases needed to resolve max_drop" has no meaning. What has one: the true drop that FAILs with the
given power, max_drop + (t_{1-alpha} + t_{power}) x SE of the change, and the cases or runs per case
needed for a given drop to FAIL with that power. Student t quantiles with n - 1 degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

from agent_eval.stats.hypotheses import t_quantile

__all__ = ["Design", "ab_sessions_per_arm", "cases_needed", "detectable_drop", "fail_drop", "runs_needed"]

_MAX_CASES = 10_000_000
_MAX_RUNS = 1000
_MIN_EFFECT = 1e-9


def _multiplier(n: int, alpha: float, power: float) -> float:
    return t_quantile(1 - alpha, n - 1) + t_quantile(power, n - 1)


def fail_drop(se: float, n: int, *, max_drop: float, alpha: float, power: float = 0.8) -> float:
    """The true drop that FAILs with `power`: max_drop + (t_{1-alpha,n-1} + t_{power,n-1}) x se.

    `se` is the standard error of the change (relative, or points when absolute) over n cases.
    """
    return max_drop + _multiplier(n, alpha, power) * se


@dataclass(frozen=True, slots=True)
class Design:
    """A suite as the gate sees it, for planning: sizes and variance components in score points.

    Var(e_i) = tau2 + x^2 between + run_var / k + (1 - max_drop)^2 run_var / baseline_k, where x is
    how far the true relative drop lies beyond the margin (the `between` term is absent when
    absolute), tau2 the spread of per-case effects that repetitions cannot shrink.
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

    @property
    def scale(self) -> float:
        return 1.0 if self.absolute else self.mean

    def var_e(self, beyond: float) -> float:
        keep = 1.0 if self.absolute else 1.0 - self.max_drop
        spread = 0.0 if self.absolute else beyond**2 * self.between
        return self.tau2 + spread + self.run_var / self.k + keep**2 * self.run_var / self.baseline_k

    def _fails(self, drop: float) -> bool:
        """Whether a true `drop` FAILs with at least the design's power."""
        beyond = drop - self.max_drop
        if beyond <= 0 or self.scale <= 0:
            return False
        se = math.sqrt(self.var_e(beyond) / self.cases) / self.scale
        return _multiplier(self.cases, self.alpha, self.power) * se <= beyond + 1e-12


def detectable_drop(design: Design) -> float | None:
    """The true drop that FAILs with the design's power (closed form); None when no drop does."""
    if design.cases < 2 or design.scale <= 0:
        return None
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
