"""False-FAIL rate and power of the gate's score rule, simulated in-process.

Each trial draws a suite: per-case pass probabilities uniform in [lo, 1], k binary runs per case
(a run scores 1 if it passes, else 0) in each arm. A/A: both arms use the same probabilities.
Power: the candidate's probabilities are scaled by 0.9 (a 10% lower mean score). The decision is
the gate's own rule, `drop_fails(change, one_sided_p(d))` with max_drop 3% and alpha 0.05, the
functions `decide()` calls, vectorised over trials.

    python benchmarks/gate_power.py [--trials 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agent_eval.stats.paired import drop_fails, min_detectable_drop, one_sided_p

MAX_DROP, ALPHA = 0.03, 0.05
SIZES, KS, SPREADS = (50, 100, 300), (1, 3, 5, 10), ((0.8, 1.0), (0.4, 1.0))


def simulate(rng: np.random.Generator, trials: int, n: int, k: int, lo: float, scale: float) -> dict[str, float]:
    """Rates of FAIL and of p < alpha, and the median minimum detectable drop (relative)."""
    p = rng.uniform(lo, 1.0, (trials, n))
    base = rng.binomial(k, p) / k
    cand = rng.binomial(k, p * scale) / k
    d = cand - base
    qb = base.mean(axis=1)
    change = cand.mean(axis=1) / qb - 1
    pv = one_sided_p(d)
    fails = drop_fails(change, pv, max_drop=MAX_DROP, alpha=ALPHA, strict=False)
    mdd = min_detectable_drop(1.0, alpha=ALPHA) * d.std(axis=1, ddof=1) / math.sqrt(n) / qb
    return {"fail": float(fails.mean()), "p_lt_alpha": float((pv < ALPHA).mean()), "mdd": float(np.median(mdd))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / args.trials)
    start = time.perf_counter()
    print(f"{args.trials} trials per cell; max_drop {MAX_DROP:.0%}, alpha {ALPHA}; '!' marks an A/A rate above "
          f"{bound:.3f} (alpha + 2 Monte Carlo SE)\n")  # fmt: skip
    print("| pass prob. | cases | k | A/A FAIL | A/A p<alpha | power (-10%) | median MDD |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    flagged = []
    for lo, hi in SPREADS:
        for n in SIZES:
            for k in KS:
                aa = simulate(rng, args.trials, n, k, lo, 1.0)
                pw = simulate(rng, args.trials, n, k, lo, 0.9)
                flag = "!" if aa["fail"] > bound else ""
                if flag:
                    flagged.append((n, k, lo))
                print(f"| [{lo}, {hi}] | {n} | {k} | {aa['fail']:.3f}{flag} | {aa['p_lt_alpha']:.3f} "
                      f"| {pw['fail']:.3f} | {pw['mdd']:.1%} |")  # fmt: skip
    print(f"\ncells with A/A FAIL above the bound: {len(flagged)} of {len(SPREADS) * len(SIZES) * len(KS)}")
    for n, k, lo in flagged:  # noise or a real excess? Ten times the trials tells them apart.
        again = simulate(rng, 10 * args.trials, n, k, lo, 1.0)["fail"]
        se = math.sqrt(ALPHA * (1 - ALPHA) / (10 * args.trials))
        print(f"  recheck [{lo}, 1.0], {n} cases, k={k}: A/A FAIL {again:.4f} over {10 * args.trials} trials "
              f"(alpha + 2 SE = {ALPHA + 2 * se:.4f})")  # fmt: skip
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
