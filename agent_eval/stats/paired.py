"""Paired comparison of two arms over the same cases: the gate's statistics.

Each case contributes one number per arm (its mean run score); the test is on the per-case
differences d_i = cand_i - base_i, one-sided for "the candidate is worse". numpy and scipy are
imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PairedTest",
    "benjamini_hochberg",
    "bootstrap_change_ci",
    "one_sided_p",
    "paired_test",
]

_ZERO_SD = 1e-12  # below this the differences are constant: the t statistic is undefined


@dataclass(frozen=True, slots=True)
class PairedTest:
    """Means of both arms over n paired cases, the change and the one-sided p-value."""

    n: int
    base_mean: float
    cand_mean: float
    mean_diff: float
    sd_diff: float | None  # sample sd of d_i; None with fewer than 2 cases
    change: float | None  # Q_cand / Q_base - 1, or Q_cand - Q_base if absolute; None if Q_base is 0
    p_value: float | None  # P(mean d this low | no drop); None with fewer than 2 cases

    @property
    def se_diff(self) -> float | None:
        """Standard error of the mean difference."""
        return None if self.sd_diff is None else self.sd_diff / math.sqrt(self.n)


def one_sided_p(diffs: ArrayLike) -> NDArray[np.float64]:
    """Paired t-test p-values for "mean difference < 0" along the last axis (vectorised).

    Constant differences give p = 1 when they are >= 0 and the exact sign-flip p = 2^-n when negative.
    """
    import numpy as np
    from scipy.special import stdtr

    d = np.asarray(diffs, dtype=np.float64)
    n = d.shape[-1]
    if n < 2:
        raise ValueError("the paired t-test needs at least 2 cases")
    m = d.mean(axis=-1)
    sd = d.std(axis=-1, ddof=1)
    flat = sd <= _ZERO_SD * np.maximum(1.0, np.abs(m))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = m / (sd / math.sqrt(n))
        p = stdtr(n - 1, np.where(flat, 0.0, t))
    return np.where(flat, np.where(m < -1e-9, 0.5**n, 1.0), p)


def paired_test(base: Sequence[float], cand: Sequence[float], *, absolute: bool = False) -> PairedTest:
    """Compare the arms case by case; `base[i]` and `cand[i]` are the same case."""
    if len(base) != len(cand) or not base:
        raise ValueError(f"need the same non-zero number of cases, got {len(base)} and {len(cand)}")
    n = len(base)
    qb, qc = math.fsum(base) / n, math.fsum(cand) / n
    d = [c - b for b, c in zip(base, cand, strict=True)]
    md = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - md) ** 2 for x in d) / (n - 1)) if n > 1 else None
    p = float(one_sided_p(d)) if n > 1 else None
    return PairedTest(n, qb, qc, md, sd, _change(qb, qc, absolute), p)


def _change(qb: float, qc: float, absolute: bool) -> float | None:
    if absolute:
        return qc - qb
    return qc / qb - 1.0 if qb > 0 else None


def bootstrap_change_ci(
    base: Sequence[float],
    cand: Sequence[float],
    *,
    rng: np.random.Generator,
    absolute: bool = False,
    iterations: int = 2000,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval for the change, resampling cases (pairs kept together)."""
    import numpy as np

    b, c = np.asarray(base, dtype=np.float64), np.asarray(cand, dtype=np.float64)
    n = len(b)
    if n < 2 or iterations < 1:
        return None
    out = np.empty(iterations)
    step = max(1, 200_000 // n)  # bound memory: at most ~200k indices per chunk
    for start in range(0, iterations, step):
        idx = rng.integers(0, n, size=(min(step, iterations - start), n))
        qb, qc = b[idx].mean(axis=1), c[idx].mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + len(idx)] = qc - qb if absolute else qc / qb - 1.0
    out = out[np.isfinite(out)]
    if not len(out):
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(out, [tail, 100 - tail])
    return (float(lo), float(hi))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1), in input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted
