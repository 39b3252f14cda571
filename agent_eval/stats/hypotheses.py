"""The gate's hypothesis tests: the margin test, the run-level test, exact counts tests and Holm.

Every test is one-sided for "the candidate is worse" and returns a p-value; the gate puts all of
them in one Holm family. Differences below `TOL` are float noise and count as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb
from statistics import NormalDist

__all__ = [
    "TOL",
    "LimitTest",
    "MarginTest",
    "at_least",
    "binomial_at_most",
    "effective_runs",
    "fisher_fewer",
    "holm",
    "icc_from_dispersion",
    "limit_test",
    "margin_test",
    "run_level_test",
    "session_dispersion",
    "t_cdf",
    "t_quantile",
]

TOL = 1e-9  # score differences smaller than this are float noise, not regressions


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with df degrees of freedom (the normal one when df is 0)."""
    if df < 1:
        return NormalDist().inv_cdf(p)
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with df degrees of freedom."""
    from scipy.special import stdtr

    return float(stdtr(df, x))


@dataclass(frozen=True, slots=True)
class MarginTest:
    """The paired margin test of "the candidate dropped by more than `margin`" over n cases.

    Null: Q_cand >= (1 - margin) Q_base (relative) or Q_cand >= Q_base - margin (absolute), tested
    on e_i = cand_i - (1 - margin) base_i (or cand_i - base_i + margin). `upper` is the one-sided
    (1 - alpha) upper bound of the change with the standard error under the margin, so
    p < alpha exactly when upper < -margin.
    """

    n: int
    base_mean: float
    cand_mean: float
    change: float  # Q_cand / Q_base - 1, or Q_cand - Q_base when absolute
    margin: float
    absolute: bool
    sd_e: float | None  # sample sd of e_i, in score points; None with one case
    se: float | None  # standard error of the change (relative units unless absolute)
    upper: float | None  # one-sided upper bound of the change at the test's alpha
    p_value: float | None  # None with one case

    @property
    def scale(self) -> float:
        """Score points per unit of change: Q_base when relative, 1 when absolute."""
        return 1.0 if self.absolute else self.base_mean


def margin_test(
    base: Sequence[float], cand: Sequence[float], *, margin: float, alpha: float, absolute: bool
) -> MarginTest:
    """Test the margin on paired case scores; `absolute` reads the margin in score points."""
    n = len(base)
    if n != len(cand) or n == 0:
        raise ValueError(f"need the same non-zero number of cases, got {len(base)} and {len(cand)}")
    qb, qc = math.fsum(base) / n, math.fsum(cand) / n
    if absolute:
        e = [c - b + margin for b, c in zip(base, cand, strict=True)]
        change, scale = qc - qb, 1.0
    else:
        e = [c - (1.0 - margin) * b for b, c in zip(base, cand, strict=True)]
        change, scale = (qc / qb - 1.0 if qb > 0 else 0.0), qb
    if abs(change) < TOL:
        change = 0.0
    e = [0.0 if abs(x) < TOL else x for x in e]
    if n < 2:
        return MarginTest(n, qb, qc, change, margin, absolute, None, None, None, None)
    me = math.fsum(e) / n
    sd = math.sqrt(math.fsum((x - me) ** 2 for x in e) / (n - 1))
    if sd <= TOL:  # every e_i equal: the exact sign-flip p-value, 2^-n when all are below zero
        p = 0.5**n if me < -TOL else 1.0
        return MarginTest(n, qb, qc, change, margin, absolute, 0.0, 0.0, change, p)
    se_e = sd / math.sqrt(n)
    p = t_cdf(me / se_e, n - 1)
    se = se_e / scale if scale > 0 else None
    upper = change + t_quantile(1 - alpha, n - 1) * se if se is not None else None
    return MarginTest(n, qb, qc, change, margin, absolute, sd, se, upper, p)


def run_level_test(
    pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *, margin: float, absolute: bool,
    dispersion: float = 1.0,
) -> float | None:
    """A run-level test within cases: the stratified permutation test, with the margin.

    Each case's runs are exchangeable between the arms under "no change"; the statistic is the
    mean over cases of (candidate mean - baseline mean), its permutation mean 0 and variance
    sum_i S_i^2 (1/n_b + 1/n_c) / m^2 are exact, and the p-value is the normal one of
    (T + margin x Q_base) / sd. Unlike the paired t-test it does not count the spread of the
    per-case effects as noise, so a few cases that broke completely stand out. `dispersion` (>= 1, see
    `session_dispersion`) widens the variance when runs of one session are correlated. None without pairs.
    """
    m = 0
    total = var = base_sum = 0.0
    for b, c in pairs:
        nb, nc = len(b), len(c)
        if nb == 0 or nc == 0:
            continue
        m += 1
        mb, mc = math.fsum(b) / nb, math.fsum(c) / nc
        total += mc - mb
        base_sum += mb
        pooled = [*b, *c]
        if len(pooled) > 1:
            mp = math.fsum(pooled) / len(pooled)
            s2 = math.fsum((x - mp) ** 2 for x in pooled) / (len(pooled) - 1)
            var += s2 * (1 / nb + 1 / nc)
    if m == 0:
        return None
    shift = margin if absolute else margin * base_sum / m
    stat = total / m + shift
    if abs(stat) < TOL:
        stat = 0.0
    if var <= TOL * TOL:
        return 1.0 if stat >= 0 else 0.5**m
    return NormalDist().cdf(stat / (math.sqrt(var * max(1.0, dispersion)) / m))


_OUTLIER_Z = 3.5  # cases further out than this are breaks, not drift: left out of the dispersion


def session_dispersion(pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *, min_cases: int = 10) -> float:
    """How much more the case differences vary than independent runs allow (>= 1): sum_i (d_i - mean d)^2 over
    sum_i (S_b^2 / n_b + S_c^2 / n_c), leaving out cases that collapsed (every run of one arm at the top score, every run
    of the other at the bottom) or lie more than 3.5 of their sd away: those are breaks, not drift. Runs of one
    session that share a drift (the arm's pass probability wandering between sessions) inflate it; a uniform shift
    does not (the mean is removed). Used only when it exceeds 1 by more than twice its standard error under
    independence, sqrt(2 / cases); else 1, as with fewer than `min_cases` cases."""
    diffs, variances = [], []
    for b, c in pairs:
        nb, nc = len(b), len(c)
        if nb < 2 or nc < 2:
            continue
        pooled = [*b, *c]
        top, bottom = max(pooled), min(pooled)
        if top - bottom > TOL and ((min(b) >= top - TOL and max(c) <= bottom + TOL)
                                   or (min(c) >= top - TOL and max(b) <= bottom + TOL)):
            continue  # collapsed: the collapse test's business
        diffs.append(math.fsum(c) / nc - math.fsum(b) / nb)
        variances.append(_sample_var(b) / nb + _sample_var(c) / nc)
    informative = sum(1 for v in variances if v > TOL)
    if len(diffs) < min_cases or informative < min_cases:
        return 1.0
    mean_d = math.fsum(diffs) / len(diffs)
    kept = [(d, v) for d, v in zip(diffs, variances, strict=True) if (d - mean_d) ** 2 <= _OUTLIER_Z**2 * v]
    spread = math.fsum(v for _, v in kept)
    if spread <= TOL:
        return 1.0
    phi = math.fsum((d - mean_d) ** 2 for d, _ in kept) / spread
    return phi if phi > 1 + 2 * math.sqrt(2 / informative) else 1.0


def _sample_var(xs: Sequence[float]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def effective_runs(n: int, icc: float) -> float:
    """Runs of one session worth as much as independent ones: n / (1 + (n - 1) icc)."""
    return n / (1 + (n - 1) * max(0.0, icc))


def icc_from_dispersion(dispersion: float, nb: int, nc: int) -> float:
    """The within-session correlation of runs that inflates the variance of a case difference by `dispersion`."""
    if dispersion <= 1 or nb < 2 or nc < 2:
        return 0.0
    return min(1.0, (dispersion - 1) * (1 / nb + 1 / nc) / ((nb - 1) / nb + (nc - 1) / nc))


def _hypergeom_pmf(k: int, total: int, successes: int, draws: int) -> float:
    return comb(successes, k) * comb(total - successes, draws - k) / comb(total, draws)


def fisher_fewer(cand_hits: int, cand_n: int, base_hits: int, base_n: int) -> float:
    """One-sided Fisher exact p that the candidate's hit rate is lower than the baseline's."""
    total, hits = cand_n + base_n, cand_hits + base_hits
    if total == 0 or cand_n == 0 or base_n == 0:
        return 1.0
    low = max(0, cand_n - (total - hits))
    return min(1.0, math.fsum(_hypergeom_pmf(k, total, hits, cand_n) for k in range(low, cand_hits + 1)))


def binomial_at_most(hits: int, n: int, rate: float) -> float:
    """P(X <= hits) for X ~ Binomial(n, rate): the exact p that the true rate is below `rate`."""
    if n == 0:
        return 1.0
    return min(1.0, math.fsum(comb(n, k) * rate**k * (1 - rate) ** (n - k) for k in range(hits + 1)))


def at_least(count: int, probabilities: Sequence[float]) -> float:
    """P(X >= count) for X a sum of independent Bernoulli(p_i) (the Poisson-binomial tail), exactly."""
    if count <= 0:
        return 1.0
    below = [1.0] + [0.0] * (count - 1)  # below[j] = P(X = j) for j < count, updated case by case
    for p in probabilities:
        for j in range(count - 1, -1, -1):
            below[j] = below[j] * (1 - p) + (below[j - 1] * p if j > 0 else 0.0)
    return max(0.0, 1.0 - math.fsum(below))


@dataclass(frozen=True, slots=True)
class LimitTest:
    """A mean over cases against an absolute floor: its estimate, one-sided bounds and p-value."""

    n: int
    mean: float
    lower: float | None
    upper: float | None
    p_value: float | None  # of "the true mean is below the limit"; None with one case


def limit_test(values: Sequence[float], limit: float, *, alpha: float) -> LimitTest | None:
    """One-sided t-test of "the mean is below `limit`", with its (1 - alpha) one-sided bounds."""
    n = len(values)
    if n == 0:
        return None
    m = math.fsum(values) / n
    if n < 2:
        return LimitTest(n, m, None, None, None)
    sd = math.sqrt(math.fsum((x - m) ** 2 for x in values) / (n - 1))
    if sd <= TOL:
        p = 0.5**n if m < limit - TOL else 1.0
        return LimitTest(n, m, m, m, p)
    se = sd / math.sqrt(n)
    q = t_quantile(1 - alpha, n - 1) * se
    return LimitTest(n, m, m - q, m + q, t_cdf((m - limit) / se, n - 1))


def holm(p_values: Sequence[float], alpha: float) -> list[float | None]:
    """Holm's step-down procedure, in input order: the level each rejected hypothesis met, None if kept."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    levels: list[float | None] = [None] * m
    for rank, i in enumerate(order):
        if p_values[i] >= alpha / (m - rank):
            break
        levels[i] = alpha / (m - rank)
    return levels
