"""`write_reports`: the HTML report, JUnit XML and the Markdown summary of one run, side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import Verdict
from agent_eval.records import Results
from agent_eval.report._sides import baseline_side, candidate_side
from agent_eval.report.html import html_with_sides
from agent_eval.report.junit import render_junit
from agent_eval.report.markdown import ARTIFACT_NAME, markdown_with_sides


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
