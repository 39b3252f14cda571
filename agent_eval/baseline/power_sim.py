"""The whole gate's power by simulation: how often a true drop FAILs through `decide_sides` itself.

Each trial draws a baseline and a candidate for every case and decides them with the real rule (every
route, Holm, the run-level and collapse tests). Pass/fail cases draw a true pass rate from a beta with the
suite's mean and spread between cases; graded cases resample their own runs. The candidate's runs are
the baseline's model with a true relative drop: each run fails outright (score 0) with probability `drop`.
Seeded, and bounded by a trial count and a time limit.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from agent_eval.baseline.gate import decide_sides
from agent_eval.baseline.options import GateOptions
from agent_eval.baseline.pairing import Side, make_side
from agent_eval.baseline.verdict import Outcome

__all__ = ["SimCase", "Simulated", "simulate_fail_rate"]


@dataclass(frozen=True, slots=True)
class SimCase:
    """One case as the simulation sees it: its id, tags, critical flag and observed run scores and verdicts."""

    id: str
    scores: tuple[float, ...]
    passed: tuple[bool, ...]
    tags: tuple[str, ...] = ()
    critical: bool = False


@dataclass(frozen=True, slots=True)
class Simulated:
    """How often the gate FAILed: its rate, the trials behind it and a 95% interval."""

    rate: float
    trials: int
    low: float
    high: float


def _beta_params(mean: float, spread: float) -> tuple[float, float] | None:
    """Beta(a, b) with this mean and variance; None when there is no spread (every case at the mean)."""
    if spread <= 1e-12 or not 0 < mean < 1 or spread >= mean * (1 - mean):
        return None
    total = mean * (1 - mean) / spread - 1
    return mean * total, (1 - mean) * total


def _draw_runs(rng: random.Random, model: tuple[float, ...] | float, n: int, drop: float) -> tuple[list[float], list[bool]]:
    scores: list[float] = []
    passed: list[bool] = []
    for _ in range(n):
        if rng.random() < drop:
            scores.append(0.0)
            passed.append(False)
        elif isinstance(model, float):
            hit = rng.random() < model
            scores.append(1.0 if hit else 0.0)
            passed.append(hit)
        else:
            i = rng.randrange(len(model) // 2)
            scores.append(model[2 * i])
            passed.append(model[2 * i + 1] > 0.5)
    return scores, passed


def simulate_fail_rate(
    cases: Sequence[SimCase], drop: float, opts: GateOptions, *, k: int, baseline_k: int,
    trials: int = 300, seed: int = 0, time_limit_s: float = 20.0,
) -> Simulated | None:
    """The share of trials in which a true relative `drop` FAILs the gate; None without two cases with runs."""
    used = [c for c in cases if c.scores]
    if len(used) < 2:
        return None
    binary = all(x in (0.0, 1.0) for c in used for x in c.scores)
    beta = None
    means = [math.fsum(c.scores) / len(c.scores) for c in used]
    m1 = math.fsum(means) / len(means)
    if binary:
        within = [m * (1 - m) / (len(c.scores) - 1) for c, m in zip(used, means, strict=True) if len(c.scores) > 1]
        spread = math.fsum((m - m1) ** 2 for m in means) / (len(means) - 1) - (
            math.fsum(within) / len(within) if within else m1 * (1 - m1))  # between-case variance of true rates
        beta = _beta_params(m1, max(spread, 0.0))
    rng = random.Random(seed)
    fails = done = 0
    stop = time.monotonic() + time_limit_s
    while done < trials and (done < 20 or time.monotonic() < stop):
        base: dict[str, Side] = {}
        cand: dict[str, Side] = {}
        for c in used:
            model: tuple[float, ...] | float
            if binary:
                model = rng.betavariate(*beta) if beta is not None else m1
            else:
                model = tuple(v for s, p in zip(c.scores, c.passed, strict=True) for v in (s, 1.0 if p else 0.0))
            bs, bp = _draw_runs(rng, model, baseline_k, 0.0)
            cs, cp = _draw_runs(rng, model, k, drop)
            base[c.id] = make_side(c.id, bs, bp, k=k, tags=c.tags, critical=c.critical, definition_hash="sim")
            cand[c.id] = make_side(c.id, cs, cp, k=k, tags=c.tags, critical=c.critical, definition_hash="sim")
        fails += decide_sides(cand, base, opts).outcome is Outcome.FAIL
        done += 1
    rate = fails / done
    half = 1.96 * math.sqrt(max(rate * (1 - rate), 0.25 / done) / done)
    return Simulated(rate, done, max(0.0, rate - half), min(1.0, rate + half))
