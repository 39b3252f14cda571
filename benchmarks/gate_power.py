"""False-FAIL rate and power of the whole gate, simulated through `decide_sides()` (the core of `decide()`).

Each trial draws a suite of 100 cases with per-case pass probabilities uniform in [0.8, 1] (a run scores 1
when it passes, else 0), a baseline of 10 runs per case (gate.baseline_repeat, 2x k) and a candidate of
k=5 runs per case, builds the cases as the gate's `Side`s and calls the gate with its default options
(max_drop 3%, alpha 0.05, collapse rule on). One cell per scenario; every rate is over `--trials` trials.

    python benchmarks/gate_power.py [--trials 2000] [--seed 0] [--processes 2]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agent_eval.baseline.gate import GateOptions, decide_sides
from agent_eval.baseline.pairing import Side, make_side
from agent_eval.baseline.verdict import Outcome

CASES, K, BASE_K = 100, 5, 10
TAGS = ("billing", "account", "format", "safety", "smoke")


@dataclass(frozen=True)
class Scenario:
    """One cell: how the candidate differs from the baseline, and the gate's options."""

    name: str
    scale: float = 1.0  # candidate pass probability = baseline's x scale
    broken: int = 0  # cases that pass in the baseline (with probability broken_from) and never in the candidate
    broken_from: float = 1.0
    errored_cases: int = 0  # cases whose every candidate run errors (provider)
    error_rate: float = 0.0  # random infrastructure errors in both arms
    tags: bool = False  # 5 tags with a 3% limit each
    critical: int = 0  # critical cases at p = 0.99
    base_k: int = BASE_K
    k: int = K
    lo: float = 0.8
    no_baseline: bool = False
    extra: dict[str, object] = field(default_factory=dict)


SCENARIOS = (
    Scenario("A/A"),
    Scenario("A/A, p in [0.4, 1]", lo=0.4),
    Scenario("-2% (within the limit)", scale=0.98),
    Scenario("-3% (at the limit)", scale=0.97),
    Scenario("-5%", scale=0.95),
    Scenario("-10%", scale=0.90),
    Scenario("1 broken case", broken=1),
    Scenario("1 broken case, k=3, baseline 6 runs", broken=1, k=3, base_k=6),
    Scenario("1 broken case, baseline 5 runs (no baseline_repeat)", broken=1, base_k=5),
    Scenario("3 broken cases", broken=3),
    Scenario("5 broken cases", broken=5),
    Scenario("5 broken cases from p=0.9 (collapse test mostly silent)", broken=5, broken_from=0.9),
    Scenario("errors: every run of 5 cases", errored_cases=5),
    Scenario("errors: 4% random, both arms", error_rate=0.04),
    Scenario("tags: 5 tags at 3% limits, A/A", tags=True),
    Scenario("critical: 5 cases at p=0.99, A/A", critical=5),
    Scenario("whole default gate (tags + critical), A/A", tags=True, critical=5),
    Scenario("whole default gate, -10%", tags=True, critical=5, scale=0.90),
    Scenario("k=3, baseline 6 runs, A/A", k=3, base_k=6),
    Scenario("k=3, baseline 6 runs, p in [0.4, 1], A/A", k=3, base_k=6, lo=0.4),
    Scenario("k mismatch: baseline k=3, candidate k=5, A/A", base_k=3),
    Scenario("no baseline_repeat: baseline k=5, A/A", base_k=5),
    Scenario("critical without a baseline (every-run rule), A/A", critical=5, no_baseline=True),
)


def _sides(rng: np.random.Generator, p: np.ndarray, runs: int, s: Scenario, crit: int) -> dict[str, Side]:
    """One arm: `runs` binary runs per case, random infrastructure errors at the scenario's rate."""
    passed = (rng.random((len(p), runs)) < p[:, None]).tolist()
    errors = (rng.random((len(p), runs)) < s.error_rate).tolist() if s.error_rate else None
    out = {}
    for i, row in enumerate(passed):
        done = [x for x, e in zip(row, errors[i], strict=True) if not e] if errors else row
        out[f"c{i:03d}"] = make_side(
            f"c{i:03d}", [float(x) for x in done], done, errors=runs - len(done), k=s.k,
            tags=(TAGS[i % len(TAGS)],) if s.tags else (), critical=i >= len(p) - crit,
        )
    return out


def trial(rng: np.random.Generator, s: Scenario, opts: GateOptions) -> Outcome:
    p = rng.uniform(s.lo, 1.0, CASES)
    crit = s.critical
    if crit:
        p[-crit:] = 0.99
    cand_p = p * s.scale
    if s.broken:
        p[:s.broken] = s.broken_from
        cand_p[:s.broken] = 0.0
    errored = s.errored_cases
    if errored:  # the errored cases are ones that always pass: only the errors could hide anything
        p[s.broken:s.broken + errored] = 1.0
    base = None if s.no_baseline else _sides(rng, p, s.base_k, s, crit)
    cand = _sides(rng, cand_p, s.k, s, crit)
    if errored:
        cand = {i: (make_side(c.id, [], [], errors=s.k, k=s.k, tags=c.tags, critical=c.critical)
                    if s.broken <= int(i[1:]) < s.broken + errored else c) for i, c in cand.items()}
    return decide_sides(cand, base, opts).outcome


def options(s: Scenario) -> GateOptions:
    tags: dict[str, float] = dict.fromkeys(TAGS, 0.03) if s.tags else {}
    return GateOptions(tag_limits=tags)


def run_cell(args: tuple[Scenario, int, int]) -> tuple[str, dict[Outcome, float], float]:
    s, trials, seed = args
    rng = np.random.default_rng(seed)
    opts = options(s)
    start = time.perf_counter()
    counts = dict.fromkeys(Outcome, 0)
    for _ in range(trials):
        counts[trial(rng, s, opts)] += 1
    return s.name, {o: c / trials for o, c in counts.items()}, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    se = math.sqrt(0.05 * 0.95 / args.trials)
    print(f"{args.trials} trials per cell; {CASES} cases, candidate k={K}, baseline {BASE_K} runs per case unless "
          f"noted; pass probability uniform in [0.8, 1]; default gate (max_drop 3%, alpha 0.05, Holm); "
          f"Monte Carlo SE at 5%: {se:.3f}\n")
    print("| scenario | FAIL | INCOMPLETE | WARN | PASS |")
    print("|---|---:|---:|---:|---:|")
    start = time.perf_counter()
    jobs = [(s, args.trials, args.seed + i) for i, s in enumerate(SCENARIOS)]
    run: Callable[..., object] = map
    if args.processes > 1:
        pool = ProcessPoolExecutor(args.processes)
        run = pool.map
    for name, rates, _ in run(run_cell, jobs):  # type: ignore[operator]
        print(f"| {name} | {rates[Outcome.FAIL]:.3f} | {rates[Outcome.INCOMPLETE]:.3f} "
              f"| {rates[Outcome.WARN]:.3f} | {rates[Outcome.PASS]:.3f} |")
    print(f"\ntime: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
