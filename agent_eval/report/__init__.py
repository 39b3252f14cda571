"""Report writers: the HTML diff report, JUnit XML and the Markdown summary.

    paths = write_reports(out_dir, results, verdict, baseline, redact=False, run_url=ci_run_url(os.environ))
    # paths.html, paths.junit, paths.markdown

Every writer reads the candidate `Results`, the gate's `Verdict` and optionally the `Baseline`.
The names below are imported on first use: the console helpers load without jinja2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval._lazy import lazy_exports

if TYPE_CHECKING:
    from agent_eval.report.html import render_html
    from agent_eval.report.junit import combine_junit, render_junit
    from agent_eval.report.markdown import (
        ARTIFACT_NAME,
        MARKER,
        append_step_summary,
        ci_run_url,
        combine_markdown,
        combined_outcome,
        render_markdown,
    )
    from agent_eval.report.writer import ReportPaths, write_reports

_EXPORTS = {
    **dict.fromkeys(["ARTIFACT_NAME", "MARKER", "append_step_summary", "ci_run_url", "combine_markdown",
                     "combined_outcome", "render_markdown"], "agent_eval.report.markdown"),
    **dict.fromkeys(["combine_junit", "render_junit"], "agent_eval.report.junit"),
    **dict.fromkeys(["ReportPaths", "write_reports"], "agent_eval.report.writer"),
    "render_html": "agent_eval.report.html",
}
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
