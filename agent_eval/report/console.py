"""What `run` and `compare` print: the per-tag table, the verdict and the cases that moved."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import CaseDelta, CaseStatus, Outcome, Verdict
from agent_eval.records import GroupStats, Results

__all__ = ["print_named_metrics", "print_results", "print_verdict"]

_STYLE = {Outcome.PASS: "bold green", Outcome.WARN: "bold yellow", Outcome.FAIL: "bold red",
          Outcome.INCOMPLETE: "bold magenta"}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(group: GroupStats) -> str:
    return "-" if group.score_ci is None else f"[{group.score_ci[0]:.3f}, {group.score_ci[1]:.3f}]"


def _row(name: str, g: GroupStats) -> list[str]:
    return [name, str(g.cases), _pct(g.pass_rate), _pct(g.pass_hat_k), _pct(g.pass_at_k), _num(g.score), _ci(g),
            str(g.flaky), str(g.errors), _num(g.latency_p50_ms, 0), _num(g.latency_p95_ms, 0),
            f"${g.cost_usd:.4f}"]


def print_results(console: Console, results: Results) -> None:
    """The per-tag and overall table, with k and the config under test."""
    cfg = results.config
    k = results.suite.repeat
    table = Table(title=f"{results.suite.name} · {cfg.name} {cfg.version} ({cfg.provider}/{cfg.model}) · k={k}",
                  title_justify="left")
    for header in ("tag", "cases", "pass rate", f"pass^{k}", f"pass@{k}", "score", "95% CI", "flaky",
                   "errors", "p50 ms", "p95 ms", "cost"):
        if header == "tag":
            width = max([len("overall"), *(len(t) for t in results.summary.tags)])
            table.add_column(header, min_width=min(width, 24), overflow="fold")
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for tag, group in results.summary.tags.items():
        table.add_row(*_row(tag, group))
    table.add_row(*_row("overall", results.summary), style="bold")
    console.print(table)
    if results.summary.judge_disagreement is not None:
        console.print(f"judge disagreement across samples: {results.summary.judge_disagreement:.1%} of the scale")
    if results.summary.cached_runs:
        console.print(f"{results.summary.cached_runs} of {results.summary.runs} runs came from the cache")
    if not results.complete:
        console.print(Text.assemble(("incomplete: ", "magenta"), results.incomplete_reason or ""))


def print_named_metrics(console: Console, results: Results, baseline: Baseline | None) -> None:
    """Named and derived metrics: mean [CI], the baseline's and the change, then one column per tag."""
    from agent_eval.report._named import named_rows

    rows = named_rows(results, baseline)
    if not rows:
        return
    tags = [tag for tag, _ in rows[0].tags]
    table = Table(title="named metrics", title_justify="left")
    headers = ["metric", "value", "95% CI", "total", *(("baseline", "change") if baseline else ()), *tags]
    for header in headers:
        table.add_column(header, justify="left" if header == "metric" else "right", no_wrap=header != "metric")
    for row in rows:
        formula = row.formula if len(row.formula) <= 40 else row.formula[:39] + "…"
        label = f"{row.name} = {formula}" if row.derived else row.name
        cells = [label, row.candidate, row.ci or "-", row.total or "-", *((row.baseline, row.delta or "-") if baseline else ())]
        table.add_row(*cells, *(value for _, value in row.tags))
    console.print(table)


def _moved(delta: CaseDelta) -> str:
    def side(passed: int | None, n: int | None) -> str:
        return "-" if passed is None or n is None else f"{passed}/{n}"

    change = "" if delta.delta is None else f"  ({delta.delta:+.3f})"
    return (f"{delta.case_id}: {side(delta.baseline_passed, delta.baseline_n)} -> "
            f"{side(delta.candidate_passed, delta.candidate_n)}{change}")


def _figures(v: Verdict) -> str:
    unit = "points" if v.absolute else "%"
    def fmt(x: float) -> str:
        return f"{x:+.3f}" if v.absolute else f"{x:+.1%}"

    parts = [f"baseline {_num(v.baseline_score)}"
             + (f" [{v.baseline_ci[0]:.3f}, {v.baseline_ci[1]:.3f}]" if v.baseline_ci else ""),
             f"candidate {_num(v.candidate_score)}"
             + (f" [{v.candidate_ci[0]:.3f}, {v.candidate_ci[1]:.3f}]" if v.candidate_ci else "")]
    if v.relative_change is not None:
        ci = f" [{fmt(v.relative_change_ci[0])}, {fmt(v.relative_change_ci[1])}]" if v.relative_change_ci else ""
        parts.append(f"change {fmt(v.relative_change)}{ci}")
    if v.p_value is not None:
        parts.append(f"p={v.p_value:.3g}")
    if v.min_detectable_drop is not None:
        mdd = f"{v.min_detectable_drop:.3f} {unit}" if v.absolute else f"{v.min_detectable_drop:.1%}"
        parts.append(f"min detectable drop {mdd}")
    return " · ".join(parts)


def print_verdict(console: Console, verdict: Verdict, *, limit: int = 10) -> None:
    """The verdict line with the rule that fired, warnings, and the cases that moved."""
    for warning in verdict.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    if verdict.has_baseline:
        console.print(_figures(verdict))
    console.print(Text.assemble((verdict.outcome.value, _STYLE[verdict.outcome]), " ", verdict.rule))
    sections = [
        ("most regressed", [d for d in verdict.cases if d.delta is not None and d.delta < 0]),
        ("new failures", list(verdict.by_status(CaseStatus.NEW_FAILURE))),
        ("fixed", list(verdict.by_status(CaseStatus.FIXED))),
        ("flaky", list(verdict.by_status(CaseStatus.FLAKY))),
        ("errored", list(verdict.by_status(CaseStatus.ERROR))),
        ("not compared (new, missing or changed)",
         [d for d in verdict.cases if d.status in (CaseStatus.NEW, CaseStatus.MISSING, CaseStatus.CHANGED)]),
    ]
    for title, deltas in sections:
        if not deltas:
            continue
        console.print(f"[bold]{title}[/] ({len(deltas)})")
        for delta in deltas[:limit]:
            console.print(Text(f"  {_moved(delta)}"))
        if len(deltas) > limit:
            console.print(f"  … and {len(deltas) - limit} more")
