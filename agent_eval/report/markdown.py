"""summary.md: the verdict in a few lines for a pull-request comment or a CI step summary.

It never contains case inputs or outputs, so it is the same with or without redaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from agent_eval._plain import plain
from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import CaseDelta, Outcome, Verdict
from agent_eval.records import Results
from agent_eval.report._failures import failure_view
from agent_eval.report._format import verdict_headline
from agent_eval.report.console import pass_curve, power_lines, short_cases_line

from ._format import fmt_case_change, fmt_ci, fmt_ck, fmt_rel, fmt_score
from ._metrics import cache_line, metric_rows
from ._sides import Side, baseline_side, candidate_side

__all__ = [
    "ARTIFACT_NAME",
    "MARKER",
    "SuiteEntry",
    "append_step_summary",
    "ci_run_url",
    "combine_markdown",
    "combined_outcome",
    "markdown_with_sides",
    "render_markdown",
]

MARKER = "<!-- agent-eval-summary -->"
ARTIFACT_NAME = "agent-eval-results"
_PRECEDENCE = (Outcome.PASS, Outcome.WARN, Outcome.FAIL, Outcome.INCOMPLETE)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# What a GitHub Actions run URL is made of; anything else is not put into a Markdown link.
_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~-]+)*")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_TOP = 5
Sides = tuple[Side | None, Side]


def combined_outcome(verdicts: Iterable[Verdict]) -> Outcome:
    """The worst outcome: INCOMPLETE > FAIL > WARN > PASS (PASS for no verdicts)."""
    return max((v.outcome for v in verdicts), key=_PRECEDENCE.index, default=Outcome.PASS)


def ci_run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run's URL from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID.

    None when one is missing or does not look like what GitHub sets.
    """
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    if not (_SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repo) and run_id.isascii() and run_id.isdigit()):
        return None
    return f"{server}/{repo}/actions/runs/{run_id}"


def _md(text: str) -> str:
    """Plain text made inert in Markdown: no markup, no HTML, one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(plain(text).split()))


def _code(text: str) -> str:
    """Text as a code span that survives a table cell."""
    text = " ".join(plain(text).split()).replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _stats(verdict: Verdict) -> str:
    if not verdict.has_baseline:
        return f"Score {fmt_score(verdict.candidate_score)} {fmt_ci(verdict.candidate_ci)}; no baseline to compare against."
    parts = []
    if verdict.relative_change is not None:
        absolute = verdict.absolute_rule
        unit = f"{verdict.relative_change:+.3f} points" if absolute else fmt_rel(verdict.relative_change)
        ci = verdict.relative_change_ci
        bound = ""
        if ci is not None:
            top = f"{ci[1]:+.3f} points" if absolute else fmt_rel(ci[1])
            bound = f" (one-sided {(1 - (verdict.bound_alpha or verdict.alpha)) * 100:.4g}% upper bound {top})"
        parts.append(f"change {unit}{bound}")
    if verdict.p_value is not None:
        parts.append(f"p = {verdict.p_value:.3g}")
    parts.append(f"{verdict.paired_cases} paired cases")
    if verdict.baseline_se is not None:
        parts.append(f"baseline standard error {verdict.baseline_se:.3f} ({verdict.baseline_runs} runs per case)")
    parts += power_lines(verdict)
    return "; ".join(parts) + "."


def _curve(results: Results) -> str | None:
    curve = pass_curve(results)
    return f"pass^1..pass^{results.suite.repeat}: {' '.join(curve)}" if curve else None


def _metrics_table(verdict: Verdict, base: Side | None, cand: Side) -> list[str]:
    rows = metric_rows(verdict, base, cand)
    if base is None:
        return ["| Metric | Candidate |", "| --- | ---: |", *(f"| {r.label} | {r.candidate} |" for r in rows)]
    out = ["| Metric | Baseline | Candidate | Change |", "| --- | ---: | ---: | ---: |"]
    for r in rows:
        delta = f"**{r.delta}**" if r.tone == "bad" else r.delta
        out.append(f"| {_md(r.label)} | {r.baseline} | {r.candidate} | {delta} |")
    return out


def _named_table(results: Results, baseline: Baseline | None) -> list[str]:
    from agent_eval.report._named import named_rows

    rows = named_rows(results, baseline)
    if not rows:
        return []
    tags = [tag for tag, _ in rows[0].tags]
    head = ["Named metric", "Value", "95% CI", "Total", *(("Baseline", "Change") if baseline else ()), *map(_md, tags)]
    out = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for r in rows:
        label = f"{_code(r.name)} = {_code(r.formula)}" if r.derived else _code(r.name)
        cells = [label, r.candidate, r.ci or "—", r.total or "—", *((r.baseline, r.delta or "—") if baseline else ())]
        out.append("| " + " | ".join([*cells, *(v for _, v in r.tags)]) + " |")
    return [*out, ""]


def _errors(results: Results) -> list[str]:
    """The most frequent reasons runs errored, with counts (secrets masked)."""
    from ._errors import top_errors

    summary = top_errors(results)
    if not summary.errored:
        return []
    lines = [f"**Errored runs:** {summary.errored} of {summary.runs}; most frequent reasons:", ""]
    lines += [f"- {r.count} × {_md(r.kind)}: {_code(r.message)}" for r in summary.reasons]
    return [*lines, ""]


def _most_regressed(verdict: Verdict) -> list[CaseDelta]:
    return list(verdict.regressed()[:_TOP])


def _regressed_table(verdict: Verdict) -> list[str]:
    top = _most_regressed(verdict)
    if not top:
        return []
    out = [
        f"**Most regressed cases** ({len(top)} of {len(verdict.regressed())})",
        "",
        "| Case | Status | Passed (baseline -> candidate) | Score (baseline -> candidate) | Change |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for d in top:
        crit = " (critical)" if d.critical else ""
        out.append(
            f"| {_code(d.case_id)}{crit} | {str(d.status).replace('_', ' ')} "
            f"| {fmt_ck(d.baseline_passed, d.baseline_n)} -> {fmt_ck(d.candidate_passed, d.candidate_n)} "
            f"| {fmt_score(d.baseline_score)} -> {fmt_score(d.candidate_score)} "
            f"| {fmt_case_change(d.delta, (d.baseline_passed, d.baseline_n), (d.candidate_passed, d.candidate_n))} |"
        )
    return out


def _how_to_open(report_path: str | Path | None, artifact: str | None, run_url: str | None) -> str:
    where = []
    if report_path is not None:
        where.append(f"open {_code(str(report_path))}")
    run = f"[the workflow run]({run_url})" if run_url else "the workflow run"
    if artifact:
        where.append(f"in CI, download the {_code(artifact)} artifact from {run}")
    elif run_url:
        where.append(f"see {run}")
    return ("Full diff report: " + "; ".join(where) + ".") if where else ""


def _section(
    results: Results, verdict: Verdict, baseline: Baseline | None, heading: str, sides: Sides | None = None
) -> list[str]:
    base, cand = sides or (baseline_side(baseline) if baseline is not None else None, candidate_side(results))
    lines = [f"{heading} agent-eval: **{verdict.outcome}** on {_code(results.suite.name)}", ""]
    lines += [_md(verdict_headline(verdict)), ""]
    cfg = results.config
    who = f"Candidate {_code(f'{cfg.name} {cfg.version}')} on {_code(cfg.model)}"
    if baseline is not None:
        p = baseline.provenance
        who += f", baseline {_code(f'{p.config_name} {p.config_version}')} on {_code(p.model)}"
    lines += [who + f"; {len(results.cases)} cases, k={results.suite.repeat}.", ""]
    lines += [f"**Rule:** {_md(verdict.rule)}", ""]
    if verdict.critical_failures:
        lines += ["**Critical case(s) failed:** " + ", ".join(_code(c) for c in verdict.critical_failures), ""]
    if verdict.sensitivity:
        lines += [f"**Sensitivity:** {_md(verdict.sensitivity)}", ""]
    if verdict.notes:
        lines += ["**Notes:**", *(f"- {_md(n)}" for n in verdict.notes), ""]
    if verdict.warnings:
        lines += ["**Warnings:**", *(f"- {_md(w)}" for w in verdict.warnings), ""]
    lines += [_md(_stats(verdict)), ""]
    lines += [*_metrics_table(verdict, base, cand), ""]
    for line in (short_cases_line(results), _curve(results)):
        if line:
            lines += [_md(line), ""]
    lines += _named_table(results, baseline)
    cached = cache_line(cand.stats)
    if cached:
        lines += [_md(cached), ""]
    calibrated = _calibration(results)
    if calibrated:
        lines += [_md(calibrated), ""]
    if results.ungated:
        lines += [f"**Not gated:** {len(results.ungated)} case(s) tagged `needs-review` have no checks or rubrics yet.", ""]
    failed = [r for r in verdict.routes if r.failed]
    if failed:
        lines += ["**Routes that failed:**", *(f"- {_md(r.text)}" for r in failed), ""]
    if not results.complete:
        lines += [f"**Incomplete run:** {_md(results.incomplete_reason or 'stopped early')}", ""]
    lines += _errors(results)
    lines += conversation_markdown(results, cand, base)
    table = _regressed_table(verdict)
    return lines + ([*table, ""] if table else []) + _failure_kinds(results, baseline)


def _failure_kinds(results: Results, baseline: Baseline | None) -> list[str]:
    """Failed runs by kind (tool, retrieval, orchestration, prompt) against the baseline, then the worst cases."""
    view = failure_view(results, baseline)
    if view.empty:
        return []
    change = f" — {_md(', '.join(view.changes))}" if view.changes else ""
    out = [f"**Failure kinds** (failed runs){change}", ""]
    if view.baseline is not None:
        out += [f"| Kind | Baseline ({view.baseline_runs} runs) | Candidate ({view.runs} runs) |", "| --- | ---: | ---: |"]
        out += [f"| {k} | {b} | {c} |" for k, b, c in view.by_kind()]
    else:
        out += ["| Kind | Runs |", "| --- | ---: |"]
        out += [f"| {k} | {c} |" for k, _, c in view.by_kind()]
    out.append("")
    out += [f"- {_code(c.case_id)}: {_md(c.text)}" for c in view.cases[:_TOP]]
    return [*out, ""]


def _calibration(results: Results) -> str | None:
    from agent_eval.calibration.calibration_file import calibration_line

    return calibration_line(results.suite.name, results.suite.path, results.config.judge_model,
                            results.config.judge_prompt_hash)


def conversation_markdown(results: Results, cand: Side, base: Side | None) -> list[str]:
    """Conversation turns that failed (case and turn only: no text) and the escalation rates."""
    from agent_eval.report.conversations import side_escalation_lines
    from agent_eval.stats.escalation import turn_failures

    lines: list[str] = []
    failures = turn_failures(results)
    if failures:
        shown = ", ".join(f"{_code(f.case_id)} turn {f.turn} ({f.failed}/{f.runs} runs)" for f in failures[:10])
        lines += [f"**Conversation turns that failed:** {shown}" + (" …" if len(failures) > 10 else ""), ""]
    escalation = side_escalation_lines(cand, base)
    if escalation:
        lines += [f"**Escalation:** {_md(escalation[0])}", ""]
        lines += [f"{_md(line)}  " for line in escalation[1:] if line.startswith(("warning:", "note:"))]
    return lines


def render_markdown(
    results: Results,
    verdict: Verdict,
    baseline: Baseline | None = None,
    *,
    report_path: str | Path | None = "report.html",
    artifact: str | None = ARTIFACT_NAME,
    run_url: str | None = None,
) -> str:
    """summary.md for one suite; starts with MARKER so CI can update one PR comment in place."""
    return markdown_with_sides(results, verdict, baseline, None, report_path, artifact, run_url)


def markdown_with_sides(
    results: Results,
    verdict: Verdict,
    baseline: Baseline | None,
    sides: Sides | None,
    report_path: str | Path | None,
    artifact: str | None,
    run_url: str | None,
) -> str:
    """`render_markdown` with both sides already built (`write_reports` builds them once)."""
    lines = [MARKER, *_section(results, verdict, baseline, "###", sides)]
    hint = _how_to_open(report_path, artifact, run_url)
    return "\n".join(lines + ([hint] if hint else [])).rstrip() + "\n"


SuiteEntry = tuple[Results, Verdict] | tuple[Results, Verdict, Baseline | None]


def combine_markdown(
    suites: Sequence[SuiteEntry],
    *,
    redact: bool = False,
    report_path: str | Path | None = None,
    artifact: str | None = ARTIFACT_NAME,
    run_url: str | None = None,
) -> str:
    """One summary for several suites: the combined verdict (the worst), a table, then each suite.

    Entries are (results, verdict) or (results, verdict, baseline). `redact` changes nothing:
    the summary never holds inputs or outputs.
    """
    del redact
    entries = [(e[0], e[1], e[2] if len(e) > 2 else None) for e in suites]
    outcome = combined_outcome(v for _, v, _ in entries)
    lines = [MARKER, f"### agent-eval: **{outcome}** ({len(entries)} suites)", ""]
    lines += ["| Suite | Verdict | Score (baseline -> candidate) | Change | p |", "| --- | --- | ---: | ---: | ---: |"]
    for r, v, _ in entries:
        p = "—" if v.p_value is None else f"{v.p_value:.3g}"
        lines.append(
            f"| {_code(r.suite.name)} | **{v.outcome}** | {fmt_score(v.baseline_score)} -> "
            f"{fmt_score(v.candidate_score)} | {fmt_rel(v.relative_change)} | {p} |"
        )
    lines.append("")
    for r, v, b in entries:
        lines += _section(r, v, b, "####")
    hint = _how_to_open(report_path, artifact, run_url)
    return "\n".join(lines + ([hint] if hint else [])).rstrip() + "\n"


def append_step_summary(markdown: str, env: Mapping[str, str]) -> Path | None:
    """Append to the file named by $GITHUB_STEP_SUMMARY, if set; returns that path."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
