"""Several configs on one suite: the matrix (`matrix.json`, `matrix.html`, `summary.md`) and its console tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from agent_eval.flow.outcome import SuiteOutcome

if TYPE_CHECKING:
    from agent_eval.report.matrix import Matrix

__all__ = ["print_matrix", "write_suite_matrix"]


def write_suite_matrix(root: Path, outcomes: Sequence[SuiteOutcome], *, alpha: float, reference: str | None,
                       redact: bool) -> tuple[Matrix, Path]:
    """Build the matrix of the arms' outcomes and write it in `root`; returns it and the HTML path."""
    from agent_eval.report.matrix import ArmInput, build_matrix
    from agent_eval.report.matrix_render import write_matrix

    inputs = [ArmInput(label=o.arm or o.results.config.name, results=o.results, folder=str(o.out_dir),
                       outcome=o.verdict.outcome.value, exit_code=o.verdict.exit_code) for o in outcomes]
    matrix = build_matrix(inputs, alpha=alpha, reference=reference)
    return matrix, write_matrix(root, matrix, redact=redact)


def print_matrix(console: Console, matrix: Matrix) -> None:
    """The arms' table and the pairwise comparisons."""
    from agent_eval.report._format import fmt_cost
    from agent_eval.report.matrix import fmt_diff, fmt_p

    table = Table(title=f"{matrix.suite} · {len(matrix.arms)} configs · k={matrix.repeat}", title_justify="left")
    for header in ("config", "model", "verdict", "score", "95% CI", "pass rate", "errors", "cost", "p50 ms"):
        table.add_column(header, justify="left" if header in ("config", "model", "verdict") else "right")
    for a in matrix.arms:
        ci = f"[{a.score_ci[0]:.3f}, {a.score_ci[1]:.3f}]" if a.score_ci else "-"
        table.add_row(a.label, a.model, a.outcome, "-" if a.score is None else f"{a.score:.3f}", ci,
                      "-" if a.pass_rate is None else f"{a.pass_rate:.1%}", str(a.errors), fmt_cost(a),
                      "-" if a.latency_p50_ms is None else f"{a.latency_p50_ms:.0f}")
    console.print(table)
    pairs = Table(title="pairwise, paired over cases (B - A)", title_justify="left")
    for header in ("A", "B", "cases", "B - A [95% CI]", "p", "p (BH)", "better"):
        pairs.add_column(header, justify="right" if header in ("cases", "p", "p (BH)") else "left")
    for p in matrix.pairs:
        pairs.add_row(p.a, p.b, str(p.cases), fmt_diff(p), fmt_p(p.p_value), fmt_p(p.p_adjusted),
                      p.better or "no significant difference")
    console.print(pairs)
