"""`agent-eval power`: how much data the gate needs, from a run's own variance (or for an online A/B test)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

__all__ = ["register"]

_HELP = (
    "How much data is enough.\n\n"
    "`agent-eval power RESULTS [--detect 0.05]`: from a run's between-case and run-to-run variance and the gate's "
    "own rule (the margin test), the true drop that would FAIL with 80% power at its cases and k; with --detect, "
    "the cases, or runs per case, needed for that drop to FAIL with 80% power.\n\n"
    "`agent-eval power --ab --baseline-rate 0.8 --mde 0.05`: sessions per arm for an online A/B test of two "
    "proportions (two-sided, alpha 0.05, power 0.8 by default)."
)


def register(app: typer.Typer) -> None:
    app.command("power", help=_HELP)(power)


def power(
    results: Path | None = typer.Argument(None, help="results.json, or the results folder.", show_default=False),
    detect: float | None = typer.Option(None, "--detect", min=0.0, max=1.0, help="A true drop to plan for (relative, 0.05 = 5%)."),
    max_drop: float | None = typer.Option(None, "--max-drop", min=0, help="The gate's limit.", show_default="the suite's gate.max_drop, else 0.03"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5, help="Significance level (one-sided for the gate, two-sided for --ab)."),
    power_: float = typer.Option(0.8, "--power", min=0.5, max=0.999, help="Power to plan for."),
    routes: int | None = typer.Option(None, "--routes", min=1, help="Tests in the gate's Holm family.", show_default="the gate's main family: overall score, run-level and (for graded scores) pass rate, + the suite's floors"),
    baseline_repeat: int | None = typer.Option(None, "--baseline-repeat", min=1, help="Runs per case of the baseline.", show_default="the suite's gate.baseline_repeat, else 2x k"),
    trials: int = typer.Option(300, "--trials", min=0, max=100_000, help="Simulated gates behind the whole rule's FAIL rate at the printed drop (0: no simulation).", show_default=True),
    ab: bool = typer.Option(False, "--ab", help="Plan an online A/B test of two proportions instead."),
    baseline_rate: float | None = typer.Option(None, "--baseline-rate", min=0.0, max=1.0, help="--ab: the current success rate."),
    mde: float | None = typer.Option(None, "--mde", min=0.0, max=1.0, help="--ab: the smallest change to detect, in rate points (0.05 = 5 points)."),
) -> int:
    from agent_eval.cli._common import consoles
    from agent_eval.errors import UsageError

    out, _ = consoles(False)
    if ab:
        if results is not None or baseline_rate is None or mde is None:
            raise UsageError("--ab takes --baseline-rate and --mde, and no RESULTS")
        return _ab(out, baseline_rate, mde, alpha, power_)
    if results is None:
        raise UsageError("give a results folder or file, or --ab --baseline-rate R --mde D; see agent-eval power --help")
    for line in _plan(results, detect, max_drop, alpha, power_, routes, baseline_repeat, trials):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0


def _ab(out: object, rate: float, mde: float, alpha: float, power_: float) -> int:
    from agent_eval.errors import UsageError
    from agent_eval.stats.power import ab_sessions_per_arm

    try:
        n = ab_sessions_per_arm(rate, mde, alpha=alpha, power=power_)
    except ValueError as exc:
        raise UsageError(f"--ab: {exc}") from None
    other = rate - mde if rate - mde > 0 else rate + mde
    out.print(f"A/B test of two proportions, {rate:.1%} -> {other:.1%} (two-sided alpha {alpha:g}, power {power_:.0%}): "  # type: ignore[attr-defined]
              f"{n:,} sessions per arm, {2 * n:,} in all", markup=False, highlight=False)
    return 0


def _plan(results: Path, detect: float | None, max_drop: float | None, alpha: float, power_: float,
          routes: int | None, baseline_repeat: int | None, trials: int) -> list[str]:
    from agent_eval.baseline.pairing import sides_from_results
    from agent_eval.baseline.store import load_results
    from agent_eval.errors import UsageError
    from agent_eval.flow.gating import suite_gate_spec
    from agent_eval.stats.power import (
        PLANNING_EXPONENT,
        Design,
        binary_moments,
        cases_needed,
        detectable_drop,
        runs_needed,
    )

    run = load_results(results)
    spec = suite_gate_spec(run.suite.path)[0]
    k = run.suite.repeat
    sides = [s for s in sides_from_results(run).values() if s.stats.n > 0]
    if len(sides) < 2:
        raise UsageError(f"{results}: need at least 2 cases with a completed run")
    means = [math.fsum(s.scores) / len(s.scores) for s in sides]
    q = math.fsum(means) / len(means)
    spreads = [_var(s.scores) for s in sides if len(s.scores) >= 2]
    moments = binary_moments([s.scores for s in sides])
    notes = []
    if spreads:
        run_var = math.fsum(spreads) / len(spreads)
        between = max(_var(means) - run_var / k, 0.0)
    else:  # one run per case: run-to-run noise and the spread between cases cannot be told apart
        run_var, between = _var(means), 0.0
        notes.append("one run per case: run-to-run noise cannot be told from the spread between cases, so all of "
                     "it is counted as run-to-run noise (the figures err toward more data); k >= 2 tells them apart")
    margin = max_drop if max_drop is not None else (spec.max_drop if spec and spec.max_drop is not None else 0.03)
    kb = baseline_repeat or (spec.baseline_repeat if spec and spec.baseline_repeat else 2 * k)
    # the pass-rate route joins the family only when scores are graded (it would repeat a pass/fail score test)
    graded = any(score not in (0.0, 1.0) for s in sides for score in s.scores)
    routes = routes or _family(spec, graded)
    design = Design(cases=len(sides), k=k, baseline_k=kb, mean=q, between=between, run_var=run_var,
                    max_drop=margin, alpha=alpha / routes**PLANNING_EXPONENT, power=power_, moments=moments)
    level = f"one-sided alpha {alpha:g}" + (f" / {routes} tests (Holm; planned at alpha / {routes}^0.75, as the "
                                            f"other routes FAIL a drop too)" if routes > 1 else "")
    lines = [
        f"{run.suite.name}: {len(sides)} cases, k={k}, baseline {kb} runs per case; mean score {q:.3f}",
        f"variance between cases {between:.4f}, run to run {run_var:.4f} (per run, mean over cases)"
        + (", pass/fail runs: the candidate's run variance is taken at the drop, p(1-d)(1-p(1-d))"
           if moments is not None else ""),
        f"gate: margin test at max_drop {margin:.1%}, {level}, power {power_:.0%}",
        *notes,
    ]
    fails = detectable_drop(design)
    lines.append(f"a true drop of {fails:.1%} would FAIL with {power_:.0%} power at these sizes" if fails is not None
                 else "no drop would FAIL with that power at these sizes (the spread across cases is too wide)")
    if fails is not None and trials > 0:
        lines.append(_simulated(run, spec, fails, margin, alpha, k, kb, trials))
    if detect is not None:
        if detect <= margin:
            lines.append(f"a drop of {detect:.1%} is within the {margin:.1%} limit: the gate is built not to FAIL it "
                         f"(at most {alpha:g} of the time)")
            return lines
        n = cases_needed(design, detect)
        r = runs_needed(design, detect)
        lines.append(f"to FAIL a true drop of {detect:.1%} with {power_:.0%} power: "
                     + (f"{n:,} cases at k={k}" if n is not None else "no number of cases"))
        lines.append(f"  or {r} runs per case (baseline alike) with these {len(sides)} cases" if r is not None
                     else f"  no number of runs per case does it with {len(sides)} cases: add cases")
    return lines


def _simulated(run: object, spec: object, drop: float, margin: float, alpha: float, k: int, kb: int,
               trials: int) -> str:
    """The whole gate's FAIL rate at `drop`, simulated through the gate's own decision (seeded)."""
    from agent_eval.baseline.options import GateFlags, gate_options
    from agent_eval.baseline.pairing import sides_from_results
    from agent_eval.baseline.power_sim import SimCase, simulate_fail_rate

    sides = sides_from_results(run)  # type: ignore[arg-type]
    cases = [SimCase(s.id, tuple(sorted(s.scores, reverse=True)), tuple(_passes(s)), s.tags, s.critical)
             for s in sides.values()]  # verdicts are not kept per score: the passes go to the highest scores
    opts = gate_options(GateFlags(max_drop=margin, alpha=alpha), spec, repeat=k)  # type: ignore[arg-type]
    sim = simulate_fail_rate(cases, drop, opts, k=k, baseline_k=kb, trials=trials)
    if sim is None:
        return "simulation: fewer than 2 cases with runs"
    return (f"simulated: the whole gate (every route, Holm) FAILed a true drop of {drop:.1%} in {sim.rate:.0%} of "
            f"{sim.trials} trials (95% CI {sim.low:.0%}-{sim.high:.0%}; seed 0)")


def _passes(side: object) -> list[bool]:
    stats = side.stats  # type: ignore[attr-defined]
    return [True] * stats.passed + [False] * (stats.n - stats.passed)


def _family(spec: object, graded: bool) -> int:
    """The gate's main Holm family for this suite: the overall, run-level and (graded scores) pass-rate tests and
    the absolute floors. Tag limits are tested in a budget of their own and critical cases outside Holm."""
    size = 2 + graded
    if spec is None:
        return size
    for limit in getattr(spec, "tags", {}).values():
        if not isinstance(limit, int | float):
            size += sum(v is not None for v in (limit.min_score, limit.min_pass_rate, limit.min_pass_hat_k))
    return size + sum(getattr(spec, name) is not None for name in ("min_score", "min_pass_rate", "min_pass_hat_k"))


def _var(xs: list[float] | tuple[float, ...]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
