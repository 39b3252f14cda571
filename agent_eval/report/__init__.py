"""Report writers: the HTML diff report, JUnit XML and the Markdown summary.

    paths = write_reports(out_dir, results, verdict, baseline, redact=False, run_url=ci_run_url(os.environ))
    # paths.html, paths.junit, paths.markdown

Every writer reads the candidate `Results`, the gate's `Verdict` and optionally the `Baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import Verdict
from agent_eval.records import Results
from agent_eval.report._sides import baseline_side, candidate_side
from agent_eval.report.html import html_with_sides, render_html
from agent_eval.report.junit import combine_junit, render_junit
from agent_eval.report.markdown import (
    ARTIFACT_NAME,
    MARKER,
    append_step_summary,
    ci_run_url,
    combine_markdown,
    combined_outcome,
    markdown_with_sides,
    render_markdown,
)

__all__ = [
    "ARTIFACT_NAME",
    "MARKER",
    "ReportPaths",
    "append_step_summary",
    "ci_run_url",
    "combine_junit",
    "combine_markdown",
    "combined_outcome",
    "render_html",
    "render_junit",
    "render_markdown",
    "write_reports",
]


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where `write_reports` put each file."""

    html: Path
    junit: Path
    markdown: Path


def write_reports(
    out_dir: Path,
    results: Results,
    verdict: Verdict,
    baseline: Baseline | None,
    *,
    redact: bool = False,
    run_url: str | None = None,
) -> ReportPaths:
    """Write report.html, junit.xml and summary.md into `out_dir` (created if needed).

    `run_url` (see `ci_run_url`) links the CI run from summary.md.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "report.html", out_dir / "junit.xml", out_dir / "summary.md")
    base = baseline_side(baseline) if baseline is not None else None
    cand = candidate_side(results)
    paths.html.write_text(html_with_sides(results, verdict, base, cand, redact=redact, baseline=baseline),
                          encoding="utf-8")
    paths.junit.write_text(render_junit(results, verdict, redact=redact, baseline=baseline), encoding="utf-8")
    summary = markdown_with_sides(results, verdict, baseline, (base, cand), paths.html, ARTIFACT_NAME, run_url)
    paths.markdown.write_text(summary, encoding="utf-8")
    return paths
