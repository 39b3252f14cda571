"""Named and derived metrics as the reports show them: now, in the baseline, and per tag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_eval.records import GroupStats, Results
from agent_eval.stats.named import compare_metrics

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline

__all__ = ["NamedRow", "named_rows"]


@dataclass(frozen=True, slots=True)
class NamedRow:
    """One named (mean over cases) or derived (formula over totals) metric."""

    name: str
    derived: bool
    candidate: str
    ci: str
    total: str  # sum over completed runs (a count for pass/fail checks); empty for derived metrics
    baseline: str
    delta: str
    tags: tuple[tuple[str, str], ...]
    formula: str = ""


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _tag_value(group: GroupStats, name: str, derived: bool) -> str:
    if derived:
        return _num(group.derived[name].value) if name in group.derived else "—"
    return _num(group.metrics[name].mean) if name in group.metrics else "—"


def named_rows(results: Results, baseline: Baseline | None) -> list[NamedRow]:
    """Rows for every named and derived metric of the run; empty when the suite names none."""
    summary = results.summary
    if not summary.metrics and not summary.derived:
        return []
    deltas = compare_metrics(summary, baseline, [c.id for c in results.cases])
    rows = []
    for d in deltas:
        ci = f"[{d.current_ci[0]:.3f}, {d.current_ci[1]:.3f}]" if d.current_ci else ""
        rows.append(NamedRow(
            name=d.name, derived=d.derived, candidate=_num(d.current), ci=ci,
            total="" if d.derived else f"{summary.metrics[d.name].total:.4g}",
            baseline=_num(d.baseline) if baseline is not None else "",
            delta="" if d.delta is None else f"{d.delta:+.3f}",
            tags=tuple((tag, _tag_value(g, d.name, d.derived)) for tag, g in summary.tags.items()),
            formula=summary.derived[d.name].formula if d.derived else "",
        ))
    return rows
