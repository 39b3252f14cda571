"""What `run` and `compare` print: the per-tag table, the verdict and the cases that moved."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import CaseDelta, CaseStatus, Outcome, Verdict
from agent_eval.records import GroupStats, Results
from agent_eval.report._failures import failure_view
from agent_eval.report._format import fmt_case_change, fmt_cost, verdict_headline
from agent_eval.stats.passk import pass_hat_curve

__all__ = [
    "pass_curve", "power_lines", "print_errors", "print_failure_kinds", "print_named_metrics", "print_results", "print_verdict",
    "short_cases_line",
]


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
            fmt_cost(g)]


# Columns left out, in this order, when the terminal is too narrow for all of them (the tag stays readable)
_OPTIONAL = ("p95 ms", "95% CI", "p50 ms", "pass@", "flaky", "cost")


def _fit(console: Console, headers: list[str], rows: list[list[str]]) -> list[int]:
    """The indexes of the columns to show: all, or without the optional ones until the table fits."""
    def width(i: int) -> int:
        cell = max([len(headers[i]), *(len(r[i]) for r in rows)])
        return (min(cell, 24) if i == 0 else cell) + 3  # padding and the border on one side

    shown = list(range(len(headers)))
    for prefix in _OPTIONAL:
        if sum(width(i) for i in shown) + 1 <= console.width:
            break
        shown = [i for i in shown if not headers[i].startswith(prefix)]
    return shown
def short_cases_line(results: Results) -> str | None:
    """pass^k is n/a for cases with fewer than k completed runs: how many, when any."""
    k = results.suite.repeat
    short = sum(1 for c in results.cases if c.stats.n < k)
    if not short:
        return None
    return f"pass^{k} and pass@{k}: n/a for {short} case(s) with fewer than {k} completed runs (left out of the means)"


def pass_curve(results: Results) -> list[str]:
    """pass^1 .. pass^k over cases (the mean of each case's curve), as tau-bench plots reliability."""
    k = results.suite.repeat
    if k < 2:
        return []
    curves = [pass_hat_curve(c.stats.n, c.stats.passed, k) for c in results.cases if c.stats.n > 0]
    out = []
    for j in range(k):
        values = [v for cv in curves if (v := cv[j]) is not None]
        out.append(_pct(sum(values) / len(values)) if values else "n/a")
    return out


def print_results(console: Console, results: Results) -> None:
    """The per-tag and overall table, with k and the config under test; columns drop out on narrow terminals."""
    cfg = results.config
    k = results.suite.repeat
    title = Text(plain(f"{results.suite.name} · {cfg.name} {cfg.version} ({cfg.provider}/{cfg.model}) · k={k}"))
    headers = ["tag", "cases", "pass rate", f"pass^{k}", f"pass@{k}", "score", "95% CI", "flaky", "errors",
               "p50 ms", "p95 ms", "cost"]
    rows = [_row(plain(tag), group) for tag, group in results.summary.tags.items()]
    rows.append(_row("overall", results.summary))
    shown = _fit(console, headers, rows)
    table = Table(title=title, title_justify="left")
    for i in shown:
        if i == 0:
            width = max([len("overall"), *(len(r[0]) for r in rows)])
            table.add_column(headers[i], min_width=min(width, 24), overflow="fold")
        else:
            table.add_column(headers[i], justify="right", no_wrap=True)
    for n, row in enumerate(rows):
        table.add_row(*(Text(row[i]) for i in shown), style="bold" if n == len(rows) - 1 else None)
    console.print(table)
    short = short_cases_line(results)
    if short:
        console.print(short)
    curve = pass_curve(results)
    if curve:
        console.print("pass^1..pass^" + f"{k}: " + " ".join(curve))
    if results.summary.judge_disagreement is not None:
        console.print(f"judge disagreement across samples: {results.summary.judge_disagreement:.1%} of the scale")
    if results.summary.cached_runs:
        console.print(f"{results.summary.cached_runs} of {results.summary.runs} runs came from the cache")
    if not results.complete:
        console.print(Text.assemble(("incomplete: ", "magenta"), plain(results.incomplete_reason or "")))
    print_errors(console, results)


def print_errors(console: Console, results: Results) -> None:
    """How many runs errored and the most frequent reasons, so "errored" always comes with why."""
    from agent_eval.report._errors import top_errors

    summary = top_errors(results)
    if not summary.errored:
        return
    console.print(Text.assemble(("errors: ", "magenta"), f"{summary.errored} of {summary.runs} runs errored"))
    for reason in summary.reasons:
        console.print(Text(f"  {reason.count} × {reason.kind}: {plain(reason.message)}"))


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
    for name, derived in results.summary.derived.items():
        if derived.value is None and derived.note:
            console.print(Text.assemble(("warning: ", "yellow"), f"derived metric {plain(name)} is n/a: {derived.note}"))


def _moved(delta: CaseDelta) -> str:
    def side(passed: int | None, n: int | None) -> str:
        return "-" if passed is None or n is None else f"{passed}/{n}"

    change = fmt_case_change(delta.delta, (delta.baseline_passed, delta.baseline_n),
                             (delta.candidate_passed, delta.candidate_n))
    label = " [new failure]" if delta.status is CaseStatus.NEW_FAILURE else ""
    return (f"{plain(delta.case_id)}: {side(delta.baseline_passed, delta.baseline_n)} -> "
            f"{side(delta.candidate_passed, delta.candidate_n)}  ({change}){label}")


def _figures(v: Verdict) -> str:
    absolute = v.absolute_rule

    def fmt(x: float) -> str:
        return f"{x:+.3f}" if absolute else f"{x:+.1%}"

    base_se = f" ± {v.baseline_se:.3f} SE ({v.baseline_runs} runs per case)" if v.baseline_se is not None else ""
    parts = [f"baseline {_num(v.baseline_score)}{base_se}",
             f"candidate {_num(v.candidate_score)}"
             + (f" [{v.candidate_ci[0]:.3f}, {v.candidate_ci[1]:.3f}]" if v.candidate_ci else "")]
    if v.relative_change is not None:
        unit = " points" if absolute else ""
        ci = v.relative_change_ci
        bound = f" (one-sided {_level(v)} upper bound {fmt(ci[1])})" if ci else ""
        parts.append(f"change {fmt(v.relative_change)}{unit}{bound}")
    if v.p_value is not None:
        parts.append(f"p={v.p_value:.3g}")
    return " · ".join(parts)


def _level(v: Verdict) -> str:
    """The bound's confidence: 1 - alpha / the Holm family, the level at which a bound below the limit FAILs."""
    return f"{(1 - (v.bound_alpha or v.alpha)) * 100:.4g}%"


def power_lines(v: Verdict) -> list[str]:
    """What the suite can resolve: only on PASS and WARN (a FAIL has resolved its drop)."""
    if v.outcome not in (Outcome.PASS, Outcome.WARN):
        return []
    unit = " points" if v.absolute_rule else ""
    fmt = (lambda x: f"{x:.3f}") if v.absolute_rule else (lambda x: f"{x:.1%}")
    out = []
    if v.min_detectable_drop is not None:
        out.append(f"a true drop of {fmt(v.min_detectable_drop)}{unit} would FAIL with 80% power at this size")
    if v.cases_needed is not None and v.relative_change is not None:
        more = f" (or {v.repeats_needed} runs per case)" if v.repeats_needed is not None else ""
        out.append(f"about {v.cases_needed} cases{more} would FAIL the observed drop of "
                   f"{fmt(abs(v.relative_change))}{unit} with 80% power")
    return out


def print_verdict(console: Console, verdict: Verdict, *, limit: int = 10) -> None:
    """The verdict in plain words, then its figures and the rule that fired, warnings, and the cases that moved."""
    console.print(Text.assemble((verdict.outcome.value, _STYLE[verdict.outcome]),
                                plain(verdict_headline(verdict).removeprefix(verdict.outcome.value))))
    for warning in verdict.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), plain(warning)))
    for note in verdict.notes:
        console.print(Text.assemble(("note: ", "cyan"), plain(note)))
    if verdict.has_baseline:
        console.print(Text(_figures(verdict)))
    for line in power_lines(verdict):
        console.print(Text(line))
    console.print(Text.assemble(("rule: ", "bold"), plain(verdict.rule)))
    if verdict.sensitivity:
        console.print(Text.assemble(("sensitivity: ", "magenta"), plain(verdict.sensitivity)))
    if verdict.critical_failures:
        console.print(Text.assemble(("critical case(s) failed: ", "bold red"),
                                    ", ".join(plain(c) for c in verdict.critical_failures)))
    sections = [
        ("regressed" if verdict.outcome is not Outcome.PASS else "moved down, within noise",
         list(verdict.regressed())),
        ("fixed", list(verdict.by_status(CaseStatus.FIXED))),
        ("flaky", list(verdict.by_status(CaseStatus.FLAKY))),
        ("errored", list(verdict.by_status(CaseStatus.ERROR))),
        ("not compared (new, missing or changed)",
         [d for d in verdict.cases if d.status in (CaseStatus.NEW, CaseStatus.MISSING, CaseStatus.CHANGED)]),
    ]
    for title, deltas in sections:
        if not deltas:
            continue
        console.print(Text.assemble((title, "bold"), f" ({len(deltas)})"))
        for delta in deltas[:limit]:
            console.print(Text(f"  {_moved(delta)}"))
        if len(deltas) > limit:
            console.print(f"  … and {len(deltas) - limit} more")


def print_failure_kinds(console: Console, results: Results, baseline: Baseline | None, *, limit: int = 10) -> None:
    """Failure kinds of the failed runs (tool, retrieval, orchestration, prompt), against the baseline's."""
    view = failure_view(results, baseline)
    if view.empty:
        return
    console.print(Text(view.line()))
    for case in view.cases[:limit]:
        console.print(Text(f"  {plain(case.case_id)}: {case.text}"))
    if len(view.cases) > limit:
        console.print(f"  … and {len(view.cases) - limit} more")
