"""`--adaptive`: a group-sequential gate that stops adding runs once the verdict is decided.

Every case starts at `k_min` runs; each stage adds one run per case, up to k. At each interim look:

- **FAIL early** when the whole gate (`decide_sides`, every route, Holm) FAILs at the alpha this look may spend:
  the increment of a Lan-DeMets O'Brien-Fleming-type spending function, alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt t),
  t the share of the k runs made (Lan & DeMets 1983, Biometrika 70:659), scaled by INTERIM_SHARE so the last look
  keeps most of alpha. Spending per look and summing (Bonferroni over looks) holds the false-FAIL rate at alpha
  whatever the correlation between looks.
- **PASS early** (a non-binding futility bound: it can only lower the false-FAIL rate) when the gate PASSes at
  full alpha and the drop is significantly smaller than `futility_drop`: the one-sided 90% lower bound of the
  relative change is above -futility_drop. Critical cases and cases that differ from their baseline (a failed
  run where every baseline run passed) first get all k runs (`top_up`), and the look is made again.
- Otherwise every case below k gets one more run; the last look (every case at k) decides at the alpha left.

`look` is the one decision function: the run loop and `benchmarks/adaptive_power.py` call it alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from agent_eval.baseline.options import GateOptions
from agent_eval.baseline.pairing import Side
from agent_eval.baseline.verdict import Outcome, Verdict

__all__ = ["Look", "SequentialDesign", "look", "next_targets", "spent_alpha"]

_Z90 = NormalDist().inv_cdf(0.9)


@dataclass(frozen=True, slots=True)
class SequentialDesign:
    """Stages from `k_min` to `k` runs per case, one run per case per stage."""

    k: int
    k_min: int = 2
    futility_drop: float | None = None  # default: 2 x max_drop

    def __post_init__(self) -> None:
        if not 1 <= self.k_min <= self.k:
            raise ValueError(f"k_min must be between 1 and k ({self.k}), got {self.k_min}")

    @property
    def stages(self) -> tuple[int, ...]:
        """Runs per case at each look."""
        return tuple(range(self.k_min, self.k + 1))


INTERIM_SHARE = 0.3  # of alpha, at most, spent before the last look: the last look keeps 70% (power at k)


def spent_alpha(alpha: float, runs: int, k: int) -> float:
    """The alpha spent once `runs` of k runs per case are made: INTERIM_SHARE of an O'Brien-Fleming-type
    spending function before the last look, all of alpha at it."""
    t = min(1.0, runs / k)
    if t <= 0:
        return 0.0
    if t >= 1:
        return alpha
    z = NormalDist().inv_cdf(1 - alpha / 2)
    return INTERIM_SHARE * min(alpha, 2 * (1 - NormalDist().cdf(z / math.sqrt(t))))


@dataclass(frozen=True, slots=True)
class Look:
    """One look: stop with FAIL or PASS, `continue` (one more run per case), `top_up` (k runs for the cases that owe
    them, then look again) or `final`; the verdict at the level used."""

    decision: Literal["fail", "pass", "continue", "top_up", "final"]
    verdict: Verdict
    alpha: float  # the level this look tested at
    owed: tuple[str, ...] = ()  # critical cases and cases that differ from their baseline, below k runs


def _runs(side: Side) -> int:
    return side.stats.n + side.stats.errors


def look(cand: Mapping[str, Side], base: Mapping[str, Side], opts: GateOptions, design: SequentialDesign,
         spent: float) -> Look:
    """Decide with the candidate's runs so far; `spent` is the alpha earlier looks spent (see `spent_alpha`).

    The information fraction is the share of the k runs the cases have."""
    from agent_eval.baseline.gate import decide_sides

    runs = min((_runs(s) for s in cand.values()), default=design.k)
    if runs >= design.k:
        level = opts.alpha - spent
        return Look("final", decide_sides(cand, base, dataclasses.replace(opts, alpha=level)), level)
    level = max(0.0, spent_alpha(opts.alpha, runs, design.k) - spent)
    strict = decide_sides(cand, base, dataclasses.replace(opts, alpha=level)) if level > 0 else None
    if strict is not None and strict.outcome is Outcome.FAIL:
        return Look("fail", strict, level)
    full = decide_sides(cand, base, opts)
    if full.outcome is Outcome.PASS and _futile(cand, base, opts, design):
        owed = tuple(sorted(i for i, side in cand.items() if _runs(side) < design.k and _owes(side, base.get(i))))
        return Look("top_up" if owed else "pass", full, opts.alpha, owed)
    return Look("continue", strict or full, level)


def next_targets(cand: Mapping[str, Side], result: Look, design: SequentialDesign) -> dict[str, int]:
    """Runs per case after the next stage: k for the owed cases on a top-up, else one more for every case."""
    if result.decision == "top_up":
        return {i: design.k if i in result.owed else _runs(s) for i, s in cand.items()}
    return {i: min(design.k, _runs(s) + 1) for i, s in cand.items()}


def _owes(side: Side, base: Side | None) -> bool:
    """A critical case, or one with a failed run where every baseline run passed."""
    if side.critical:
        return True
    return base is not None and bool(base.stats.n) and base.stats.passed == base.stats.n \
        and side.stats.passed < side.stats.n


def _futile(cand: Mapping[str, Side], base: Mapping[str, Side], opts: GateOptions, design: SequentialDesign) -> bool:
    """The drop is significantly below `futility_drop` (one-sided 90% bound on the paired case means)."""
    pairs = [(b.stats.score, c.stats.score) for i, c in cand.items()
             if (b := base.get(i)) is not None and b.stats.score is not None and c.stats.score is not None]
    if len(pairs) < 2:
        return False
    n = len(pairs)
    diffs = [c - b for b, c in pairs]
    base_mean = math.fsum(b for b, _ in pairs) / n
    mean = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    scale = 1.0 if opts.absolute or base_mean <= 0 else base_mean
    limit = design.futility_drop if design.futility_drop is not None else 2 * opts.max_drop
    return (mean - _Z90 * sd / math.sqrt(n)) / scale > -limit
