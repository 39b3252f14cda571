"""`agent-eval report`: rebuild report.html, junit.xml and summary.md from files, calling no model."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    results: Path = typer.Argument(..., help="results.json, or the results folder."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Baseline file to diff against.", show_default="golden/baselines/<suite>.json found from the suite's folder, if it exists"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder.", show_default="the results folder"),
    redact: bool = typer.Option(False, "--redact", help="Mask inputs and outputs."),
) -> int:
    """Rebuild the reports of a finished run (with or without a baseline). Exits with the verdict's code."""
    from agent_eval.baseline.options import GateFlags
    from agent_eval.baseline.store import load_results
    from agent_eval.cli._common import consoles
    from agent_eval.flow.gating import gate_and_report, resolve_baseline, suite_gate_spec

    loaded = load_results(results)
    folder = out or (results if results.is_dir() else results.parent)
    base, base_path, looked_for = resolve_baseline(baseline, loaded.suite.name, loaded.suite.path)
    gate_spec, redact_default, rates = suite_gate_spec(loaded.suite.path)
    outcome = gate_and_report(consoles(False)[0], loaded, base, base_path, GateFlags(redact=redact),
                              gate_spec, folder, redact_default=redact_default, critical_rates=rates,
                              looked_for=looked_for)
    return outcome.verdict.exit_code
