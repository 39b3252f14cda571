"""The HTML diff report: one self-contained file rendered by Jinja2 with autoescaping on."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import Verdict
from agent_eval.records import Results

from ._cases import MAX_DIFF_WORDS, STATUS_LABELS, CaseRow, case_rows
from ._config import config_diff
from ._failures import side_failure_view
from ._format import (
    fmt_ci,
    fmt_ms,
    fmt_pct,
    fmt_rel,
    fmt_score,
    fmt_usd,
    visible_controls,
)
from ._metrics import cache_line, metric_rows, provenance_rows, tag_rows
from ._sides import Side, baseline_side, candidate_side
from ._svg import latency_chart, score_chart, tag_chart
from .console import pass_curve, power_lines, short_cases_line
from .conversations import side_escalation_lines

__all__ = ["compile_templates", "html_with_sides", "render_html"]


def _finalize(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value)
    return value


def _details_json(fragments: Iterable[str]) -> Markup:
    """Case details as a JSON array of escaped HTML, one case per line, inert until opened.

    Untrusted text is autoescaped, so it holds no '<'. Escaping '</' and '<!--' in the JSON text
    keeps any markup at all from closing the data block or turning the parser's escape states on.
    """
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in fragments)
    return Markup("[\n" + body.replace("</", "<\\/").replace("<!--", "<\\u0021--") + "\n]")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@lru_cache(maxsize=2)
def _env(finalize: bool = True) -> jinja2.Environment:
    """Templates, always autoescaped. Control characters become visible through `finalize` on the
    page; case details skip that per-value call (it cost more than the rest of their rendering)
    and get one pass over each rendered fragment instead."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent_eval.report", "templates"),
        autoescape=True,  # always: case inputs and model outputs are untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize if finalize else None,
    )
    env.filters.update(ms=fmt_ms, usd=fmt_usd, pct=fmt_pct, plural=_plural, g=lambda v: f"{v:g}")
    env.globals["max_words"] = f"{MAX_DIFF_WORDS:,}"
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return resources.files("agent_eval.report").joinpath("templates", name).read_text("utf-8")


def _csp(script: str) -> str:
    # The one script is allowed by its hash, so injected scripts and inline handlers cannot run.
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"


def _stats_line(verdict: Verdict) -> list[str]:
    if not verdict.has_baseline:
        return [f"score {fmt_score(verdict.candidate_score)} {fmt_ci(verdict.candidate_ci)}".strip()]
    out = [f"score {fmt_score(verdict.baseline_score)} → {fmt_score(verdict.candidate_score)}"]
    absolute = verdict.absolute_rule
    level = f"{(1 - (verdict.bound_alpha or verdict.alpha)) * 100:.4g}%"
    if verdict.relative_change is not None:
        ci = verdict.relative_change_ci
        if absolute:
            top = f" (one-sided {level} upper bound {ci[1]:+.3f})" if ci else ""
            out.append(f"change {verdict.relative_change:+.3f} points{top}")
        else:
            top = f" (one-sided {level} upper bound {fmt_rel(ci[1])})" if ci else ""
            out.append(f"r = {fmt_rel(verdict.relative_change)}{top}")
    if verdict.p_value is not None:
        out.append(f"p = {verdict.p_value:.3g}")
    out.append(f"{verdict.paired_cases} paired cases")
    unit = " points" if absolute else ""
    limit = f"{verdict.max_drop:.3f}" if absolute else fmt_pct(verdict.max_drop)
    out.append(f"allowed drop {limit}{unit}")
    if verdict.baseline_se is not None:
        out.append(f"baseline SE {verdict.baseline_se:.3f} ({verdict.baseline_runs} runs per case)")
    out += power_lines(verdict)
    if verdict.sensitivity:
        out.append(verdict.sensitivity)
    out += verdict.notes
    return out


def _curve_line(results: Results) -> list[str]:
    curve = pass_curve(results)
    short = short_cases_line(results)
    return ([f"pass^1..pass^{results.suite.repeat}: {' '.join(curve)}"] if curve else []) + ([short] if short else [])


def _counts(rows: list[CaseRow]) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
    statuses = Counter(r.status for r in rows)
    ordered = [(k, label, statuses[k]) for k, label in STATUS_LABELS.items() if statuses[k]]
    tags = Counter(t for r in rows for t in r.tags)
    return ordered, sorted(tags.items())


def _calibration(results: Results) -> str | None:
    from agent_eval.calibration.calibration_file import calibration_line

    return calibration_line(results.suite.name, results.suite.path, results.config.judge_model,
                            results.config.judge_prompt_hash)


def _context(results: Results, verdict: Verdict, base: Side | None, cand: Side, redact: bool,
             baseline: Baseline | None = None) -> dict[str, Any]:
    from agent_eval.report._named import named_rows

    rows = case_rows(results, verdict, base, redact=redact)
    tags = tag_rows(verdict, base, cand)
    status_counts, tag_counts = _counts(rows)
    limits = {t.tag: t.limit for t in verdict.tags}
    js = _asset("diff.js") + _asset("report.js")
    detail = _env(False).get_template("_case.html.j2").module.detail  # type: ignore[attr-defined]
    judge = results.config.judge_model
    return {
        "suite_name": results.suite.name,
        "tool_version": results.tool_version,
        "verdict": verdict,
        "has_baseline": base is not None,
        "base": base.provenance if base else None,
        "cand": cand.provenance,
        "cases_total": len(rows),
        "redacted": redact,
        "stats_line": _stats_line(verdict) + _curve_line(results),
        "metrics": metric_rows(verdict, base, cand),
        "named": named_rows(results, baseline),
        "cache_line": cache_line(cand.stats),
        "calibration_line": _calibration(results),
        "ungated": results.ungated,
        "escalation": side_escalation_lines(cand, base),
        "provenance": provenance_rows(base.provenance if base else None, cand.provenance),
        "config_diff": config_diff(verdict, base, cand),
        "score_svg": score_chart(base.case_scores() if base else None, cand.case_scores()),
        "latency_svg": latency_chart(base.latencies() if base else None, cand.latencies()),
        "tag_svg": tag_chart([(t.tag, t.relative, limits.get(t.tag)) for t in tags]) if base is not None else None,
        "tags": tags,
        "rows": rows,
        "details_json": _details_json(visible_controls(detail(r.detail, judge)) for r in rows),
        "status_counts": status_counts,
        "failures": side_failure_view(results, base),
        "tag_counts": tag_counts,
        "css": Markup(_asset("report.css")),
        "js": Markup(js),
        "csp": _csp(js),
    }


def render_html(
    results: Results, verdict: Verdict, baseline: Baseline | None = None, *, redact: bool = False
) -> str:
    """The HTML diff report as one self-contained page (inline CSS, JS and SVG; no network)."""
    base = baseline_side(baseline) if baseline is not None else None
    return html_with_sides(results, verdict, base, candidate_side(results), redact=redact, baseline=baseline)


def compile_templates() -> None:
    """Load and compile the report's templates now (they are cached), so writing the report later does not."""
    _env().get_template("report.html.j2")
    _env(False).get_template("_case.html.j2")


def html_with_sides(results: Results, verdict: Verdict, base: Side | None, cand: Side, *, redact: bool,
                    baseline: Baseline | None = None) -> str:
    """`render_html` with both sides already built (`write_reports` builds them once)."""
    context = _context(results, verdict, base, cand, redact, baseline)
    return _env().get_template("report.html.j2").render(context)
