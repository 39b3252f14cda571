"""`agent-eval baseline save|show`: the committed reference a pull request is gated against."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]

baseline_app = typer.Typer(help="Save or show a baseline (golden/baselines/<suite>.json).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save")
def save(
    results: Path = typer.Argument(..., help="results.json, or the results folder."),
    to: Path | None = typer.Option(None, "--to", help="Baseline file.", show_default="golden/baselines/<suite>.json, found from the suite's folder as `run` finds it"),
) -> int:
    """Store a complete run as the baseline (written atomically, keys sorted, diff-friendly)."""
    from agent_eval.baseline.store import load_results, save_baseline
    from agent_eval.cli._pipeline import baseline_location

    loaded = load_results(results)
    path = to or baseline_location(loaded.suite.name, loaded.suite.path)
    save_baseline(loaded, path)
    typer.echo(f"baseline saved: {path} ({len(loaded.cases)} cases, k={loaded.suite.repeat})")
    return 0


@baseline_app.command("show")
def show(file: Path = typer.Argument(..., help="Baseline file.")) -> int:
    """Print a baseline's provenance and cases as a table."""
    from rich.console import Console
    from rich.table import Table

    from agent_eval.baseline.store import load_baseline

    b = load_baseline(file)
    console = Console(highlight=False)
    data = b.model_dump(mode="json")
    provenance = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
    for key, value in sorted(provenance.items()):
        console.print(f"{key}: {value}")
    table = Table(title=f"{len(b.cases)} cases", title_justify="left")
    for header in ("case", "tags", "passed", "score", "pass^k", "flaky", "errors"):
        table.add_column(header, justify="left" if header in ("case", "tags") else "right")
    for case in b.cases:
        s = case.stats
        table.add_row(case.id, ",".join(case.tags), f"{s.passed}/{s.n}", "-" if s.score is None else f"{s.score:.3f}",
                      "-" if s.pass_hat_k is None else f"{s.pass_hat_k:.2f}", "yes" if s.flaky else "",
                      str(s.errors))
    console.print(table)
    return 0
