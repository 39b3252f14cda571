"""`agent-eval compare`: gate a results file against a baseline, offline (no model calls)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


def compare(
    baseline: Path = typer.Argument(..., help="Baseline file (golden/baselines/<suite>.json)."),
    results: Path = typer.Argument(..., help="results.json, or the results folder."),
    max_drop: float | None = typer.Option(None, "--max-drop", min=0, help="Largest tolerated drop.", show_default="0.03"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5, help="Significance level."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the point estimate alone."),
    absolute: bool = typer.Option(False, "--absolute", help="Read --max-drop as score points."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write report.html, junit.xml, summary.md here.",
                                    show_default="beside the results"),
    redact: bool = typer.Option(False, "--redact", help="Mask inputs and outputs in the reports."),
    strict_versioning: bool = typer.Option(False, "--strict-versioning",
                                           help="Exit 2 when a patch or minor bump moved the score significantly."),
    output_format: str = typer.Option("text", "--format", help="text, or json for a machine-readable verdict."),
    errors_as_failures: bool = typer.Option(False, "--errors-as-failures", help="Score every errored run 0 (a failure), not missing data."),
    accept_unpaired: list[str] | None = typer.Option(None, "--accept-unpaired", metavar="ID",
                                                     help="Baseline case id that may be missing or changed; repeatable."),
) -> int:
    """Decide PASS / WARN / FAIL / INCOMPLETE for RESULTS against BASELINE; exit 0, 1 or 3 accordingly.

    The reports (report.html, junit.xml, summary.md) are written beside the results, or to --out."""
    from agent_eval.baseline.options import GateFlags
    from agent_eval.baseline.store import load_baseline, load_results
    from agent_eval.cli._common import consoles, print_json
    from agent_eval.errors import UsageError
    from agent_eval.flow.gating import gate_and_report, suite_gate_spec
    from agent_eval.flow.outcome import outcome_json

    if output_format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, got {output_format!r}")
    console, _ = consoles(output_format == "json")
    base = load_baseline(baseline)
    candidate = load_results(results)
    gate_spec, redact_default, rates = suite_gate_spec(candidate.suite.path)
    flags = GateFlags(max_drop=max_drop, alpha=alpha, strict=strict, absolute=absolute, redact=redact,
                      errors_as_failures=errors_as_failures, strict_versioning=strict_versioning,
                      accept_unpaired=tuple(accept_unpaired or ()))
    folder = out or (results if results.is_dir() else results.parent)
    outcome = gate_and_report(console, candidate, base, baseline, flags, gate_spec, folder,
                              redact_default=redact_default, critical_rates=rates)
    if output_format == "json":
        print_json(outcome_json([outcome]))
    return outcome.exit_code
