"""`--adaptive`: run a suite in stages, looking at the gate after each (`baseline.sequential`), until it is decided.

Each stage is an ordinary run of the same folder (`--resume` semantics: finished runs are kept, the cache
answers repeated calls, budgets count what earlier stages spent), scheduled like any other run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console

from agent_eval.errors import UsageError

if TYPE_CHECKING:
    from agent_eval.baseline.options import GateFlags
    from agent_eval.flow.plan import SuitePlan
    from agent_eval.flow.request import RunRequest
    from agent_eval.runner.engine import Progress
    from agent_eval.runner.session import RunReport

__all__ = ["AdaptiveSummary", "adaptive_wanted", "check_adaptive", "run_adaptive"]


@dataclass(frozen=True, slots=True)
class AdaptiveSummary:
    """How the sequential run stopped and what it used against the fixed-k design."""

    decision: str  # fail | pass | final
    looks: int
    runs: int
    fixed_runs: int
    alpha: float  # the level of the last look

    def line(self) -> str:
        saved = 1 - self.runs / self.fixed_runs if self.fixed_runs else 0.0
        why = {"fail": "FAIL decided early", "pass": "PASS decided early (futility bound)",
               "final": "undecided until every case had k runs"}[self.decision]
        return (f"adaptive: {why} after {self.looks} look(s); {self.runs} candidate runs of the fixed-k design's "
                f"{self.fixed_runs} ({saved:.0%} fewer); last look at alpha {self.alpha:.4f}")


def adaptive_wanted(request: RunRequest, suite_plan: SuitePlan) -> bool:
    return request.adaptive or suite_plan.suite.spec.gate.adaptive


def check_adaptive(request: RunRequest, suite_plan: SuitePlan) -> None:
    """Refuse what a sequential run cannot do (exit 2), before anything runs."""
    if not adaptive_wanted(request, suite_plan):
        return
    if request.options.shard is not None:
        raise UsageError("--adaptive cannot run a --shard: a shard cannot see the whole suite's statistic; run the "
                         "suite unsharded, or without --adaptive")
    if suite_plan.several:
        raise UsageError("--adaptive takes one config; run the arms without --adaptive")
    if request.save_baseline:
        raise UsageError("--adaptive with --save-baseline: a baseline needs every run; save it without --adaptive")


def run_adaptive(err: Console, request: RunRequest, suite_plan: SuitePlan, progress: Callable[[], Progress], *,
                 resume: bool) -> tuple[RunReport, AdaptiveSummary | None, GateFlags]:
    """Stages until `look` stops; returns the last stage's report, the summary and the gate flags to report with
    (the last look's alpha when it was the final one)."""
    from agent_eval.baseline.options import gate_options
    from agent_eval.baseline.pairing import sides_from_baseline, sides_from_results
    from agent_eval.baseline.sequential import SequentialDesign, look, next_targets
    from agent_eval.flow._console import say
    from agent_eval.runner.plan import select_cases
    from agent_eval.runner.session import run_suite

    suite, arm, baseline = suite_plan.suite, suite_plan.arms[0], suite_plan.baseline
    k = arm.options.repeat or suite.spec.repeat
    if baseline is None:
        say(err, "note", "--adaptive needs a baseline to decide against; none here, so every case runs k times")
        report = asyncio.run(run_suite(suite, arm.config, arm.options, arm.folder, progress(), resume=resume))
        return report, None, request.gate
    k_min = min(k, request.k_min or suite.spec.gate.adaptive_k_min or 2)
    design = SequentialDesign(k=k, k_min=k_min)
    cases = select_cases(suite.cases, arm.options.filters)
    targets = {c.id: k_min for c in cases}
    spent, looks = 0.0, 0
    budget = arm.options.budget_usd if arm.options.budget_usd is not None else suite.spec.budget.usd
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    while True:
        options = dataclasses.replace(arm.options, repeat=k, targets=tuple(sorted(targets.items())))
        report = asyncio.run(run_suite(suite, arm.config, options, arm.folder, progress(), resume=resume or looks > 0))
        looks += 1
        results = report.results
        if report.fatal is not None or not results.complete:
            return report, None, request.gate
        opts = gate_options(request.gate, suite.spec.gate, repeat=k, critical_rates=rates, seed=results.seed)
        cand = sides_from_results(results, errors_as_failures=opts.errors_as_failures)
        base = sides_from_baseline(baseline, k, errors_as_failures=opts.errors_as_failures)
        result = look(cand, base, opts, design, spent)
        if result.decision in ("fail", "pass", "final"):
            runs = sum(c.stats.n + c.stats.errors for c in results.cases)
            summary = AdaptiveSummary(result.decision, looks, runs, len(cases) * k, result.alpha)
            flags = dataclasses.replace(request.gate, alpha=result.alpha) if result.decision == "final" else request.gate
            return report, summary, flags
        if result.decision == "continue":
            spent += result.alpha
        targets = next_targets(cand, result, design)
        if budget is not None:  # the next stage may spend what is left
            left = max(0.0, budget - results.summary.cost_usd - results.summary.judge_cost_usd)
            arm = dataclasses.replace(arm, options=dataclasses.replace(arm.options, budget_usd=left))
