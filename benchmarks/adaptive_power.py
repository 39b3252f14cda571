"""`--adaptive` against the fixed-k gate: FAIL rates and candidate runs, simulated through the same decision
functions the run loop calls (`baseline.sequential.look` and `next_targets`, which call `decide_sides`).

Each trial draws 100 cases with pass probabilities uniform in [0.8, 1], a baseline of 10 runs per case and a
candidate of k=5 runs per case (binary runs); the fixed-k gate sees all 5, the adaptive gate starts at k_min=2
and adds runs stage by stage until `look` stops. Both gates see the same draws.

    python benchmarks/adaptive_power.py [--trials 2000] [--seed 0] [--processes 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agent_eval.baseline.gate import GateOptions, decide_sides
from agent_eval.baseline.pairing import Side, make_side
from agent_eval.baseline.sequential import SequentialDesign, look, next_targets
from agent_eval.baseline.verdict import Outcome

CASES, K, BASE_K, K_MIN = 100, 5, 10, 2


@dataclass(frozen=True)
class Scenario:
    name: str
    scale: float = 1.0  # candidate pass probability = baseline's x scale
    cases: int = CASES
    critical: int = 0  # critical cases at p = 0.99


SCENARIOS = (
    Scenario("A/A"),
    Scenario("-3% (at the limit)", scale=0.97),
    Scenario("-5%", scale=0.95),
    Scenario("-10%", scale=0.90),
    Scenario("A/A, 5 critical cases at p=0.99", critical=5),
    Scenario("-10%, 5 critical cases at p=0.99", scale=0.90, critical=5),
)


def _side(i: int, row: np.ndarray, k: int, critical: bool) -> Side:
    runs = [bool(x) for x in row]
    return make_side(f"c{i:03d}", [float(x) for x in runs], runs, k=k, critical=critical)


def trial(rng: np.random.Generator, s: Scenario, opts: GateOptions,
          design: SequentialDesign) -> tuple[Outcome, Outcome, int]:
    """(fixed-k outcome, adaptive outcome, adaptive candidate runs) on the same draws."""
    p = rng.uniform(0.8, 1.0, s.cases)
    if s.critical:
        p[-s.critical:] = 0.99
    crit = [i >= s.cases - s.critical for i in range(s.cases)]
    base_runs = rng.random((s.cases, BASE_K)) < p[:, None]
    cand_runs = rng.random((s.cases, K)) < (p * s.scale)[:, None]
    base = {f"c{i:03d}": _side(i, base_runs[i], K, crit[i]) for i in range(s.cases)}
    fixed = decide_sides({f"c{i:03d}": _side(i, cand_runs[i], K, crit[i]) for i in range(s.cases)}, base, opts)
    targets = {f"c{i:03d}": K_MIN for i in range(s.cases)}
    spent = 0.0
    while True:
        cand = {cid: _side(i, cand_runs[i, :targets[cid]], K, crit[i]) for i, cid in enumerate(targets)}
        result = look(cand, base, opts, design, spent)
        if result.decision in ("fail", "pass", "final"):
            return fixed.outcome, result.verdict.outcome, sum(targets.values())
        if result.decision == "continue":
            spent += result.alpha
        targets = next_targets(cand, result, design)


def run_cell(args: tuple[Scenario, int, int]) -> tuple[str, float, float, float]:
    s, trials, seed = args
    rng = np.random.default_rng(seed)
    opts, design = GateOptions(), SequentialDesign(k=K, k_min=K_MIN)
    fixed_fail = adaptive_fail = 0
    runs = 0
    for _ in range(trials):
        fixed, adaptive, used = trial(rng, s, opts, design)
        fixed_fail += fixed is Outcome.FAIL
        adaptive_fail += adaptive is Outcome.FAIL
        runs += used
    return s.name, fixed_fail / trials, adaptive_fail / trials, 1 - runs / (trials * s.cases * K)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", default="", help="Run only the cells whose name contains this text.")
    args = parser.parse_args()
    print(f"{args.trials} trials per cell; {CASES} cases, k={K} (adaptive from k_min={K_MIN}), baseline {BASE_K} runs "
          "per case; pass probability uniform in [0.8, 1]; default gate (max_drop 3%, alpha 0.05)\n")
    print("| scenario | FAIL, fixed k | FAIL, adaptive | candidate runs saved |")
    print("|---|---:|---:|---:|")
    start = time.perf_counter()
    jobs = [(s, args.trials, args.seed + i) for i, s in enumerate(SCENARIOS) if args.only in s.name]
    run: Callable[..., object] = map
    pool = ProcessPoolExecutor(args.processes) if args.processes > 1 else None
    if pool is not None:
        run = pool.map
    for name, fixed, adaptive, saved in run(run_cell, jobs):  # type: ignore[operator]
        print(f"| {name} | {fixed:.3f} | {adaptive:.3f} | {saved:.0%} |", flush=True)
    if pool is not None:
        pool.shutdown()
    print(f"\ntime: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
