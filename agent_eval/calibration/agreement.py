"""Judge against human: agreement figures on one rubric's labelled outputs. Pure; no I/O.

- Cohen's kappa, quadratic-weighted (w_ij = (i - j)^2 / (K - 1)^2; on a two-point scale it is plain
  kappa), with a 95% interval that covers at small n and on pass/fail rubrics: the jackknife with a t
  quantile (kappa ± t_{n-1} × jackknife SE), widened on a pass/fail scale, or whenever every label agrees
  (the jackknife is then [1, 1]), to a Wilson interval on the observed disagreement mapped through
  kappa = 1 - D_o / D_e. Labels carry sampling
  weights (`review export` picks every borderline output and a sample of the rest): kappa and its
  interval are weighted back to the population, the Wilson one at Kish's effective size.
- Spearman's rank correlation, the confusion matrix (rows human, columns judge), the bias (mean judge
  minus human) and the false-pass rate (judge passes what the human fails).
- Length bias: Spearman of output length with the judge's score, with the human's, and with their
  difference (a judge that rewards length more than humans do shows a positive difference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MIN_LABELS",
    "TRUST_THRESHOLD",
    "Agreement",
    "agreement",
    "confusion",
    "kappa_interval",
    "labels_needed",
    "spearman",
    "weighted_kappa",
]

TRUST_THRESHOLD = 0.6  # "substantial" agreement (Landis & Koch): the interval's lower bound must reach it
MIN_LABELS = 10  # below this the jackknife interval is too unreliable to trust (perfect agreement on 3 gives [1, 1])
_Z = 1.959963984540054


def _category(score: float, low: int, high: int) -> int:
    """A score (possibly the mean of samples) as a whole point on the scale, halves rounded up."""
    return min(high, max(low, math.floor(score + 0.5)))


def confusion(judge: Sequence[int], human: Sequence[int], low: int, high: int) -> list[list[int]]:
    """Counts with the human's category as the row and the judge's as the column."""
    k = high - low + 1
    matrix = [[0] * k for _ in range(k)]
    for j, h in zip(judge, human, strict=True):
        matrix[h - low][j - low] += 1
    return matrix


def _disagreement(judge: Sequence[int], human: Sequence[int], low: int, high: int,
                  weights: Sequence[float] | None = None) -> tuple[float, float] | None:
    """(observed, chance) mean quadratic disagreement, each in [0, 1]; None without labels."""
    w = list(weights) if weights is not None else [1.0] * len(judge)
    total = math.fsum(w)
    if not judge or total <= 0:
        return None
    k = high - low + 1
    rows = [0.0] * k
    cols = [0.0] * k
    observed = 0.0
    for j, h, x in zip(judge, human, w, strict=True):
        rows[h - low] += x
        cols[j - low] += x
        observed += x * (j - h) ** 2 / (k - 1) ** 2
    expected = math.fsum((i - m) ** 2 / (k - 1) ** 2 * rows[i] * cols[m] for i in range(k) for m in range(k))
    return observed / total, expected / total**2


def weighted_kappa(judge: Sequence[int], human: Sequence[int], low: int, high: int,
                   weights: Sequence[float] | None = None) -> float | None:
    """Quadratic-weighted Cohen's kappa (with sampling weights, the population's); None when it is undefined
    (no expected disagreement)."""
    found = _disagreement(judge, human, low, high, weights)
    if found is None or found[1] == 0:
        return None
    return 1.0 - found[0] / found[1]


def kappa_interval(judge: Sequence[int], human: Sequence[int], low: int, high: int,
                   weights: Sequence[float] | None = None) -> tuple[float, float] | None:
    """The 95% interval of the weighted kappa (see the module); None with fewer than 3 items or when undefined."""
    from agent_eval.stats.hypotheses import t_quantile

    n = len(judge)
    w = list(weights) if weights is not None else [1.0] * n
    full = weighted_kappa(judge, human, low, high, w)
    found = _disagreement(judge, human, low, high, w)
    if full is None or found is None or n < 3:
        return None
    leave_out = [weighted_kappa([*judge[:i], *judge[i + 1:]], [*human[:i], *human[i + 1:]], low, high,
                                [*w[:i], *w[i + 1:]]) for i in range(n)]
    values = [v for v in leave_out if v is not None]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    se = math.sqrt((len(values) - 1) / len(values) * sum((v - mean) ** 2 for v in values))
    half = t_quantile(0.975, n - 1) * se
    observed, chance = found
    if high - low > 1 and se > 0:  # on a longer scale the Wilson bound (disagreements weigh 0 or 1) is far too wide
        return max(-1.0, full - half), min(1.0, full + half)
    n_eff = math.fsum(w) ** 2 / math.fsum(x * x for x in w)  # Kish: weights cost precision
    low_d, high_d = _wilson(observed, n_eff)
    low_k, high_k = 1.0 - high_d / chance, 1.0 - low_d / chance
    return max(-1.0, min(full - half, low_k)), min(1.0, max(full + half, high_k))


def _wilson(p: float, n: float) -> tuple[float, float]:
    z2 = _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z / (1 + z2 / n) * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on average ranks); None when either side is constant or n < 2."""
    if len(x) < 2:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def labels_needed(kappa: float | None, interval: tuple[float, float] | None, n: int,
                  target: float = TRUST_THRESHOLD) -> int | None:
    """More labels that would lift the interval's lower bound to `target` if kappa held (0: already there).

    None when kappa itself is at or below the target: more labels would not help; fix the rubric or judge.
    The interval half-width shrinks as 1/sqrt(n).
    """
    if kappa is None or interval is None or kappa <= target:
        return None
    half = kappa - interval[0]
    floor = max(0, MIN_LABELS - n)
    if interval[0] >= target or half <= 0:
        return floor
    return max(1, floor, math.ceil(n * (half / (kappa - target)) ** 2) - n)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Judge-versus-human figures for one rubric (or one scale)."""

    n: int
    scale: tuple[int, int]
    kappa: float | None
    kappa_ci: tuple[float, float] | None
    spearman: float | None
    confusion: list[list[int]]
    bias: float  # mean(judge - human), in scale points
    false_pass_rate: float | None  # judge passes / human fails
    false_fail_rate: float | None  # judge fails / human passes
    length_judge: float | None  # Spearman(length, judge score)
    length_human: float | None  # Spearman(length, human score)
    length_residual: float | None  # Spearman(length, judge - human)

    @property
    def trustworthy(self) -> bool:
        return self.n >= MIN_LABELS and self.kappa_ci is not None and self.kappa_ci[0] >= TRUST_THRESHOLD

    @property
    def more_labels(self) -> int | None:
        return labels_needed(self.kappa, self.kappa_ci, self.n)


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def agreement(judge: Sequence[float], human: Sequence[float], lengths: Sequence[int], scale: tuple[int, int],
              threshold: float, weights: Sequence[float] | None = None) -> Agreement:
    """Every figure for paired judge and human scores on one scale, with the outputs' lengths; kappa and its
    interval use the labels' sampling weights (the rest are plain counts of the labels)."""
    low, high = scale
    j_cat = [_category(s, low, high) for s in judge]
    h_cat = [_category(s, low, high) for s in human]
    human_fail = [j >= threshold for j, h in zip(judge, human, strict=True) if h < threshold]
    human_pass = [j < threshold for j, h in zip(judge, human, strict=True) if h >= threshold]
    diffs = [j - h for j, h in zip(judge, human, strict=True)]
    lens = [float(x) for x in lengths]
    return Agreement(
        n=len(judge), scale=scale, kappa=weighted_kappa(j_cat, h_cat, low, high, weights),
        kappa_ci=kappa_interval(j_cat, h_cat, low, high, weights), spearman=spearman(judge, human),
        confusion=confusion(j_cat, h_cat, low, high), bias=sum(diffs) / len(diffs) if diffs else 0.0,
        false_pass_rate=_rate(sum(human_fail), len(human_fail)),
        false_fail_rate=_rate(sum(human_pass), len(human_pass)),
        length_judge=spearman(lens, judge), length_human=spearman(lens, human),
        length_residual=spearman(lens, diffs),
    )
