"""Console lines for conversations and escalation: turns that failed, and escalation rates vs the baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from agent_eval.records import Results
from agent_eval.stats.escalation import (
    EscalationStats,
    Rate,
    escalation_stats,
    rows_from_baseline,
    rows_from_results,
    turn_failures,
)

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.report._sides import Side

__all__ = ["escalation_lines", "print_conversations", "rate_text", "side_escalation_lines"]


def rate_text(rate: Rate | None) -> str:
    """E.g. `16.7% (3/18)`."""
    if rate is None or rate.value is None:
        return "-"
    return f"{rate.value:.1%} ({rate.escalated}/{rate.runs})"


def escalation_lines(stats: EscalationStats) -> list[str]:
    """The overall rate against the baseline's, precision/recall, and the tags whose rate moved."""
    line = f"escalation rate: {rate_text(stats.overall)}"
    if stats.baseline is not None:
        line += f" · baseline {rate_text(stats.baseline)}"
    if stats.labelled:
        def pct(x: float | None, ci: tuple[float, float] | None) -> str:
            if x is None:
                return "-"
            return f"{x:.0%}" + (f" [{ci[0]:.0%}, {ci[1]:.0%}]" if ci is not None else "")

        line += (f" · precision {pct(stats.precision, stats.precision_ci)}, recall {pct(stats.recall, stats.recall_ci)}"
                 " (cases tagged should-escalate; 95% intervals with the case as the unit)")
    lines = [line]
    band = stats.production_band()
    if band is not None:
        lines.append(band)
    for tag, rate in stats.tags.items():
        base = stats.baseline_tags.get(tag)
        if rate.escalated or (base is not None and base.escalated):
            lines.append(f"  {tag}: {rate_text(rate)}" + (f" · baseline {rate_text(base)}" if base else ""))
    return lines


def print_conversations(console: Console, results: Results, baseline: Baseline | None, *, limit: int = 10) -> None:
    """Turn failures of conversation cases, then escalation rates (when the config declares escalation)."""
    failures = turn_failures(results)
    if failures:
        console.print(Text.assemble(("conversation turns that failed", "bold"), f" ({len(failures)})"))
        for f in failures[:limit]:
            console.print(Text(f"  {f.case_id} turn {f.turn}: {f.failed}/{f.runs} runs · {f.reason}"), soft_wrap=True)
        if len(failures) > limit:
            console.print(f"  … and {len(failures) - limit} more")
    sims = [run.simulated_user for case in results.cases for run in case.runs if run.simulated_user is not None]
    if sims:
        costs = [s.cost_usd for s in sims]
        cost = "unknown price" if any(c is None for c in costs) else f"${sum(c or 0.0 for c in costs):.4f}"
        goals = sum(s.goal_reached for s in sims)
        console.print(Text(f"simulated users: {len(sims)} conversations, goal reached in {goals}, "
                           f"{sum(s.calls for s in sims)} calls, {sum(s.tokens.total for s in sims):,} tokens, {cost} "
                           "(not in the agent's cost)"), soft_wrap=True)
    stats = escalation_stats(rows_from_results(results), rows_from_baseline(baseline) if baseline else None)
    if stats is not None:
        for line in escalation_lines(stats):
            console.print(Text(line), soft_wrap=True)


def side_escalation_lines(cand: Side, base: Side | None) -> list[str]:
    """The escalation lines from the report's sides (the HTML report)."""
    def rows(side: Side) -> list[tuple[tuple[str, ...], bool, str]]:
        return [(tuple(case.tags), run.escalated, case_id) for case_id, case in side.cases.items()
                for run in case.runs if run.escalated is not None and run.status != "errored"]

    stats = escalation_stats(rows(cand), rows(base) if base is not None else None)
    return escalation_lines(stats) if stats is not None else []
