"""Head-to-head judgments: a pair judged in both orders, win rates with intervals, the judge's position bias.

A pair counts as a win (or a loss) only when both orders name the same answer; anything else is a tie.
The win rate counts a tie as half a win; its interval is a Student t interval over cases (each case's
pairs are one cluster), falling back to a Wilson interval over cases when every case scored the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent_eval.stats.describe import mean_ci

__all__ = ["PairVerdict", "PositionBias", "WinRate", "pair_outcome", "position_bias", "win_rate"]

Pick = Literal["first", "second", "tie"]
PairVerdict = Literal["win", "tie", "loss"]
_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def pair_outcome(baseline_first: Pick, candidate_first: Pick) -> PairVerdict:
    """The candidate's result from the two orders (`baseline_first`: the baseline was shown first)."""
    if baseline_first == "second" and candidate_first == "first":
        return "win"
    if baseline_first == "first" and candidate_first == "second":
        return "loss"
    return "tie"


@dataclass(frozen=True, slots=True)
class WinRate:
    """Wins, ties and losses of the candidate over `cases` cases, the win rate (ties half) and its 95% interval."""

    cases: int
    pairs: int
    wins: int
    ties: int
    losses: int
    rate: float | None
    ci: tuple[float, float] | None

    @property
    def direction(self) -> str:
        """`better` or `worse` when the interval excludes one half, else `no significant difference`."""
        if self.ci is None:
            return "no significant difference"
        if self.ci[0] > 0.5:
            return "better"
        if self.ci[1] < 0.5:
            return "worse"
        return "no significant difference"


def win_rate(pairs: Sequence[tuple[str, PairVerdict]]) -> WinRate:
    """The win rate of (case id, outcome) pairs, clustered by case."""
    by_case: dict[str, list[float]] = {}
    for case_id, outcome in pairs:
        by_case.setdefault(case_id, []).append(_VALUE[outcome])
    counts = {v: sum(1 for _, o in pairs if o == v) for v in ("win", "tie", "loss")}
    if not pairs:
        return WinRate(0, 0, 0, 0, 0, None, None)
    rate = (counts["win"] + 0.5 * counts["tie"]) / len(pairs)
    means = [math.fsum(v) / len(v) for v in by_case.values()]
    ci: tuple[float, float] | None = None
    if len(means) >= 2:
        spread = max(means) - min(means)
        if spread > 1e-12:
            ci = mean_ci(means, lower=0.0, upper=1.0)
        else:
            ci = _wilson(means[0] * len(means), len(means))
    return WinRate(len(by_case), len(pairs), counts["win"], counts["tie"], counts["loss"], rate, ci)


def _wilson(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class PositionBias:
    """How often the judge named the answer shown first (of the judgments that named one), and the pairs whose
    two orders disagreed (each a tie by the rule above)."""

    judgments: int
    first_rate: float | None
    inconsistent_pairs: int


def position_bias(picks: Sequence[tuple[Pick, Pick]]) -> PositionBias:
    """From each pair's (baseline-first pick, candidate-first pick)."""
    named = [p for pair in picks for p in pair if p != "tie"]
    first = sum(1 for p in named if p == "first")
    inconsistent = sum(1 for a, b in picks if a == b and a != "tie")
    return PositionBias(judgments=2 * len(picks), first_rate=first / len(named) if named else None,
                        inconsistent_pairs=inconsistent)
