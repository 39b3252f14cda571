"""Write a multi-config run's matrix: matrix.json, matrix.html (self-contained) and summary.md."""

from __future__ import annotations

from pathlib import Path

from agent_eval._files import write_atomic
from agent_eval.report._format import REDACTED, fmt_cost
from agent_eval.report.matrix import Matrix, fmt_diff, fmt_p

__all__ = ["matrix_markdown", "redact_matrix", "write_matrix"]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ci(value: tuple[float, float] | None) -> str:
    return "—" if value is None else f"[{value[0]:.3f}, {value[1]:.3f}]"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _best(matrix: Matrix) -> str | None:
    scored = [a for a in matrix.arms if a.score is not None]
    return max(scored, key=lambda a: a.score or 0.0).label if scored else None


def _metric_names(matrix: Matrix) -> list[str]:
    return list(dict.fromkeys(name for arm in matrix.arms for name in arm.metrics))


def matrix_html(matrix: Matrix, *, redact: bool = False) -> str:
    """The side-by-side report; every value is escaped (model output is untrusted)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("agent_eval.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("matrix.html.j2").render(
        m=matrix, redact=redact, best=_best(matrix), metric_names=_metric_names(matrix), num=_num, pct=_pct, ci=_ci, usd=_usd, cost=fmt_cost, ms=_ms,
        diff=fmt_diff, fp=fmt_p,
    )


def matrix_markdown(matrix: Matrix) -> str:
    """A short Markdown summary: per-config scores and the pairwise comparisons (no outputs)."""
    lines = [f"### agent-eval matrix: `{matrix.suite}` ({len(matrix.arms)} configs, k={matrix.repeat})", "",
             "| Config | Model | Verdict | Score [95% CI] | Pass rate | Cost | p50 ms |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for a in matrix.arms:
        lines.append(f"| `{a.label}` | `{a.model}` | **{a.outcome}** | {_num(a.score)} {_ci(a.score_ci)} | "
                     f"{_pct(a.pass_rate)} | {fmt_cost(a)} | {_ms(a.latency_p50_ms)} |")
    names = _metric_names(matrix)
    if names:
        lines += ["", "| Config | " + " | ".join(f"`{n}`" for n in names) + " |", "| --- |" + " ---: |" * len(names)]
        lines += [f"| `{a.label}` | " + " | ".join(_num(a.metrics.get(n)) for n in names) + " |" for a in matrix.arms]
    lines += ["", "| A | B | B − A [95% CI] | p (BH) | Better |", "| --- | --- | ---: | ---: | --- |"]
    for p in matrix.pairs:
        better = f"`{p.better}`" if p.better else "no significant difference"
        lines.append(f"| `{p.a}` | `{p.b}` | {fmt_diff(p)} | {fmt_p(p.p_adjusted)} | {better} |")
    return "\n".join(lines) + "\n"


def write_matrix(folder: Path, matrix: Matrix, *, redact: bool = False) -> Path:
    """matrix.json, matrix.html and summary.md in `folder`; returns the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    if redact:
        matrix = redact_matrix(matrix)
    write_atomic(folder / "matrix.json", matrix.model_dump_json(indent=2) + "\n")
    html = folder / "matrix.html"
    write_atomic(html, matrix_html(matrix, redact=redact))
    write_atomic(folder / "summary.md", matrix_markdown(matrix))
    return html


def redact_matrix(matrix: Matrix) -> Matrix:
    """The matrix without case inputs and run outputs (`--redact`): figures only."""
    cases = tuple(c.model_copy(update={
        "input": REDACTED if c.input else "",
        "cells": tuple(cell.model_copy(update={"runs": tuple(r.model_copy(update={"output": REDACTED if r.output else ""})
                                                              for r in cell.runs)}) for cell in c.cells)})
        for c in matrix.cases)
    return matrix.model_copy(update={"cases": cases})
