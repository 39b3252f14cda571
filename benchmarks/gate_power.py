"""False-FAIL rate and power of the whole gate, simulated through `decide_sides()` (the core of `decide()`).

Each trial draws a suite of 100 cases with per-case pass probabilities uniform in [0.8, 1] (a run scores 1
when it passes, else 0), a baseline of 10 runs per case (gate.baseline_repeat, 2x k) and a candidate of
k=5 runs per case, builds the cases as the gate's `Side`s and calls the gate with its default options
(max_drop 3%, alpha 0.05, collapse rule on). One cell per scenario; every rate is over `--trials` trials.

    python benchmarks/gate_power.py [--trials 2000] [--seed 0] [--processes 2] [--only TEXT]
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
    today: str = ""  # the rate before issue 22 (its table, or this benchmark's earlier figure), as text
    scale: float = 1.0  # candidate pass probability = baseline's x scale
    broken: int = 0  # cases that pass in the baseline (with probability broken_from) and never in the candidate
    broken_from: float = 1.0
    errored_cases: int = 0  # cases whose every candidate run errors (provider)
    error_rate: float = 0.0  # random infrastructure errors in both arms
    base_error_rate: float | None = None  # the baseline's own rate, when it differs
    error_kind: str = "provider"  # "timeout": random errors are timeouts of the system under test
    outages: bool = False  # errors arrive as 25-call outages (calls run by run, one a second)
    timed_out: int = 0  # always-passing cases that now fail 30% of runs, every failure surfacing as a timeout
    tags: bool = False  # 5 tags with a 3% limit each
    tagged: bool = False  # 5 tags of 20 cases, no limit set (tested at gate.max_drop in the tag budget)
    tag_scale: float = 1.0  # the first tag's candidate pass probability x this
    critical: int = 0  # critical cases
    critical_p: float = 0.99
    critical_falls: bool = False  # one critical case at p = 1 falls to p = 0.6 (3/5)
    unflagged: bool = False  # the `critical` cases at critical_p, but not marked critical
    diluted: bool = False  # a failed run still passes 2 of its 3 checks (score 2/3)
    icc: float = 0.0  # within-session correlation: each arm's pass probability of a case drawn around p
    pinned: bool = False  # the candidate's k runs of a case are identical (a pinned seed)
    removed: int = 0  # always-passing cases that broke and were removed from the candidate
    base_k: int = BASE_K
    k: int = K
    lo: float = 0.8
    no_baseline: bool = False
    extra: dict[str, object] = field(default_factory=dict)


SCENARIOS = (
    Scenario("A/A", ".002"),
    Scenario("A/A, p in [0.4, 1]", ".005", lo=0.4),
    Scenario("-2% (within the limit)", ".011", scale=0.98),
    Scenario("-3% (at the limit)", ".028", scale=0.97),
    Scenario("-5%", ".192", scale=0.95),
    Scenario("-10%", ".921", scale=0.90),
    Scenario("1 broken case", "1.000", broken=1),
    Scenario("1 broken case, k=3, baseline 6 runs", ".069", broken=1, k=3, base_k=6),
    Scenario("1 broken case, baseline 5 runs (no baseline_repeat)", ".998", broken=1, base_k=5),
    Scenario("1 broken case, baseline 3 runs (FAIL; a warning names the route)", ".006", broken=1, base_k=3),
    Scenario("1 broken case, baseline 1 run (FAIL; a warning names the route)", ".016", broken=1, base_k=1),
    Scenario("1 broken case, --repeat 1 (FAIL; a warning names the route)", ".009", broken=1, k=1, base_k=2),
    Scenario("3 broken cases", "1.000", broken=3),
    Scenario("5 broken cases", "1.000", broken=5),
    Scenario("5 broken cases from p=0.9 (collapse test mostly silent)", ".906", broken=5, broken_from=0.9),
    Scenario("errors: every run of 5 cases (INCOMPLETE)", "INCOMPLETE 1.000", errored_cases=5),
    Scenario("errors: 4% random, both arms (INCOMPLETE)", "INCOMPLETE .040", error_rate=0.04),
    Scenario("errors: 4% in 25-call outages, both arms (INCOMPLETE)", "INCOMPLETE .36", error_rate=0.04,
             outages=True),
    Scenario("timeouts: 20 cases -> 0.7 as timeouts, baseline 5% errors, candidate 0% (PASS)", "PASS .79",
             timed_out=20, base_error_rate=0.05, error_kind="timeout"),
    Scenario("timeouts: 20 cases -> 0.7 as timeouts, baseline 8% errors, candidate 2% (PASS)", "PASS .89",
             timed_out=20, base_error_rate=0.08, error_rate=0.02, error_kind="timeout"),
    Scenario("timeouts: 2% random in both arms, A/A", "", error_rate=0.02, error_kind="timeout"),
    Scenario("-15% plus one case whose every run errored", "INCOMPLETE 1.0 (FAIL 0)", scale=0.85,
             errored_cases=1),
    Scenario("10 always-passing cases broke and were removed", "PASS .95 (FAIL 0)", removed=10),
    Scenario("a failed run passes 2 of 3 checks, A/A", ".002", diluted=True),
    Scenario("a failed run passes 2 of 3 checks, -10% pass rate", ".064", diluted=True, scale=0.90),
    Scenario("between-session drift, ICC .1, A/A", ".036", icc=0.1),
    Scenario("between-session drift, ICC .2, A/A", ".167", icc=0.2),
    Scenario("between-session drift, ICC .3, A/A", ".383", icc=0.3),
    Scenario("pinned seed (k identical runs), A/A", ".94", pinned=True),
    Scenario("5 tags of 20 cases, no limits, A/A", "", tagged=True),
    Scenario("5 tags of 20 cases, no limits, one tag -15% (net -3%)", ".033", tagged=True, tag_scale=0.85),
    Scenario("tags: 5 tags at 3% limits, A/A", ".002", tags=True),
    Scenario("critical: 5 cases at p=0.99, A/A (by design 1 - 0.99^25 = .22)", ".002", critical=5),
    Scenario("critical: a case at 10/10 falls to 3/5", "0", critical=1, critical_p=1.0, critical_falls=True),
    Scenario("-10%, 5 unchanged cases marked critical", ".786", critical=5, critical_p=1.0, scale=0.90),
    Scenario("-10%, 20 unchanged cases marked critical", ".465", critical=20, critical_p=1.0, scale=0.90),
    Scenario("-10%, 50 unchanged cases marked critical", ".043", critical=50, critical_p=1.0, scale=0.90),
    Scenario("-10%, the same 5 cases unflagged", ".916", critical=5, critical_p=1.0, unflagged=True, scale=0.90),
    Scenario("-10%, the same 20 cases unflagged", ".759", critical=20, critical_p=1.0, unflagged=True, scale=0.90),
    Scenario("-10%, the same 50 cases unflagged", ".245", critical=50, critical_p=1.0, unflagged=True, scale=0.90),
    Scenario("whole default gate (tags + 5 critical at p=1), A/A", ".002", tags=True, critical=5, critical_p=1.0),
    Scenario("whole default gate (tags + 5 critical at p=1), -10%", ".812", tags=True, critical=5, critical_p=1.0,
             scale=0.90),
    Scenario("k=3, baseline 6 runs, A/A", ".003", k=3, base_k=6),
    Scenario("k=3, baseline 6 runs, p in [0.4, 1], A/A", ".008", k=3, base_k=6, lo=0.4),
    Scenario("k mismatch: baseline k=3, candidate k=5, A/A", ".001", base_k=3),
    Scenario("no baseline_repeat: baseline k=5, A/A", ".004", base_k=5),
    Scenario("critical without a baseline (every-run rule, by design), A/A", ".231", critical=5, no_baseline=True),
)


def _session(rng: np.random.Generator, p: np.ndarray, icc: float) -> np.ndarray:
    """Each case's pass probability in one session: Beta around p with intra-class correlation icc."""
    if icc <= 0:
        return p
    out = p.copy()
    inner = (p > 0) & (p < 1)
    a, b = p[inner] * (1 - icc) / icc, (1 - p[inner]) * (1 - icc) / icc
    out[inner] = rng.beta(a, b)
    return out


def _errors(rng: np.random.Generator, cases: int, runs: int, rate: float, outages: bool) -> np.ndarray:
    """Which runs error: at random, or in 25-call outages of consecutive calls (the runner goes run by run)."""
    if not rate:
        return np.zeros((cases, runs), dtype=bool)
    if not outages:
        return rng.random((cases, runs)) < rate
    calls = cases * runs
    down = np.zeros(calls, dtype=bool)
    for start in np.flatnonzero(rng.random(calls) < rate / 25):
        down[start:start + 25] = True
    return down.reshape(runs, cases).T  # call number = run index x cases + case


def _sides(rng: np.random.Generator, p: np.ndarray, runs: int, s: Scenario, crit: np.ndarray, rate: float,
           timeout_p: np.ndarray | None = None) -> dict[str, Side]:
    """One arm: `runs` runs per case; infrastructure errors at `rate`; `timeout_p`: failures that time out."""
    q = _session(rng, p, s.icc)
    passed = rng.random((len(p), runs)) < q[:, None]
    errors = _errors(rng, len(p), runs, rate, s.outages)
    fail_score = 2 / 3 if s.diluted else 0.0
    out = {}
    tags = [(TAGS[i % len(TAGS)],) if s.tags or s.tagged else () for i in range(len(p))]
    if not errors.any() and timeout_p is None:  # the common case, kept fast
        return {f"c{i:03d}": make_side(f"c{i:03d}", [1.0 if x else fail_score for x in row], row, k=s.k, tags=tags[i],
                                       critical=bool(crit[i])) for i, row in enumerate(passed.tolist())}
    for i in range(len(p)):
        row, err = passed[i].tolist(), errors[i].tolist()
        timeouts = 0
        if timeout_p is not None and timeout_p[i]:  # every failure of this case is a timeout now
            err = [e or not x for e, x in zip(err, row, strict=True)]
            timeouts = sum(1 for e, x in zip(errors[i].tolist(), row, strict=True) if not e and not x)
        done = [x for x, e in zip(row, err, strict=True) if not e]
        times = [float(j * len(p) + i) for j, e in enumerate(err) if e]
        kind_timeouts = len(times) if s.error_kind == "timeout" else timeouts
        out[f"c{i:03d}"] = make_side(
            f"c{i:03d}", [1.0 if x else fail_score for x in done], done, errors=runs - len(done), k=s.k,
            tags=tags[i], critical=bool(crit[i]), timeouts=kind_timeouts, error_times=times if s.outages else (),
        )
    return out


def trial(rng: np.random.Generator, s: Scenario, opts: GateOptions) -> tuple[Outcome, bool]:
    """One simulated suite through the gate: its outcome, and whether a warning named an unreachable route."""
    p = rng.uniform(s.lo, 1.0, CASES)
    crit = np.zeros(CASES, dtype=bool)
    if s.critical:
        p[-s.critical:] = s.critical_p
        crit[-s.critical:] = not s.unflagged
    cand_p = p * s.scale
    if s.critical:
        cand_p[-s.critical:] = s.critical_p  # the critical cases are unchanged
    if s.tag_scale != 1.0:
        cand_p[::len(TAGS)] = p[::len(TAGS)] * s.tag_scale
    if s.broken or s.removed:
        n = s.broken + s.removed
        p[:n] = s.broken_from
        cand_p[:n] = 0.0
    timeout_p = None
    if s.timed_out:
        p[:s.timed_out] = 1.0
        cand_p[:s.timed_out] = 0.7
        timeout_p = np.arange(CASES) < s.timed_out
    errored = s.errored_cases
    if errored:  # the errored cases are ones that always pass: only the errors could hide anything
        p[s.broken:s.broken + errored] = 1.0
    base_rate = s.error_rate if s.base_error_rate is None else s.base_error_rate
    base = None if s.no_baseline else _sides(rng, p, s.base_k, s, crit, base_rate)
    cand = _sides(rng, cand_p, s.k, s, crit, s.error_rate, timeout_p)
    if errored:
        cand = {i: (make_side(c.id, [], [], errors=s.k, k=s.k, tags=c.tags, critical=c.critical)
                    if s.broken <= int(i[1:]) < s.broken + errored else c) for i, c in cand.items()}
    if s.pinned:
        cand = {i: make_side(c.id, c.scores[:1] * s.k, [c.stats.passed > 0] * s.k, k=s.k, tags=c.tags,
                             critical=c.critical) if c.scores else c for i, c in cand.items()}
    if s.critical_falls:  # exactly 3 of 5 runs pass
        c = cand[f"c{CASES - 1:03d}"]
        cand[c.id] = make_side(c.id, [1.0, 1.0, 1.0, 0.0, 0.0], [True, True, True, False, False], k=s.k,
                               tags=c.tags, critical=True)
    if s.removed:
        cand = {i: c for i, c in cand.items() if int(i[1:]) >= s.broken + s.removed}
    verdict = decide_sides(cand, base, opts)
    return verdict.outcome, any("cannot fire" in w for w in verdict.warnings)


def options(s: Scenario) -> GateOptions:
    tags: dict[str, float] = dict.fromkeys(TAGS, 0.03) if s.tags else {}
    return GateOptions(tag_limits=tags)


def run_cell(args: tuple[Scenario, int, int]) -> tuple[Scenario, dict[Outcome, float], float, float]:
    s, trials, seed = args
    rng = np.random.default_rng(seed)
    opts = options(s)
    start = time.perf_counter()
    counts = dict.fromkeys(Outcome, 0)
    warned = 0
    for _ in range(trials):
        outcome, unreachable = trial(rng, s, opts)
        counts[outcome] += 1
        warned += unreachable
    return s, {o: c / trials for o, c in counts.items()}, warned / trials, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", default="", help="run only the cells whose name contains this text")
    args = parser.parse_args()
    se = math.sqrt(0.05 * 0.95 / args.trials)
    print(f"{args.trials} trials per cell; {CASES} cases, candidate k={K}, baseline {BASE_K} runs per case unless "
          f"noted; pass probability uniform in [0.8, 1]; default gate (max_drop 3%, alpha 0.05, Holm); "
          f"Monte Carlo SE at 5%: {se:.3f}. 'today' is the FAIL rate before issue 22 (or the outcome named)\n")
    print("| scenario | today | FAIL | INCOMPLETE | WARN | PASS | route-cannot-fire warning |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    cells = [s for s in SCENARIOS if args.only in s.name]
    jobs = [(s, args.trials, args.seed + i) for i, s in enumerate(cells)]
    run: Callable[..., object] = map
    if args.processes > 1:
        pool = ProcessPoolExecutor(args.processes)
        run = pool.map
    for s, rates, warned, _ in run(run_cell, jobs):  # type: ignore[operator]
        print(f"| {s.name} | {s.today} | {rates[Outcome.FAIL]:.3f} | {rates[Outcome.INCOMPLETE]:.3f} "
              f"| {rates[Outcome.WARN]:.3f} | {rates[Outcome.PASS]:.3f} | {warned:.3f} |", flush=True)
    print(f"\ntime: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
