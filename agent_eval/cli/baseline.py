"""`agent-eval baseline save|update|show`: the committed reference a pull request is gated against."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from agent_eval.records import Results

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
    from agent_eval.errors import UsageError
    from agent_eval.flow.gating import baseline_location

    loaded = load_results(results)
    path = to or baseline_location(loaded.suite.name, loaded.suite.path)
    incomplete = _incomplete_rule(loaded)
    if incomplete:
        raise UsageError(f"refusing to save an INCOMPLETE run as the baseline ({incomplete}); nothing was saved")
    save_baseline(loaded, path)
    typer.echo(f"baseline saved: {path} ({len(loaded.cases)} cases, k={loaded.suite.repeat})")
    return 0


def _incomplete_rule(results: Results) -> str | None:
    """The gate's reason for calling this run INCOMPLETE on its own (e.g. too many errored runs), if any."""
    from agent_eval.baseline.gate import decide
    from agent_eval.baseline.verdict import Outcome

    verdict = decide(results, None)
    if verdict.outcome is Outcome.INCOMPLETE:
        return verdict.rule.removeprefix("no baseline: ")
    if results.summary.runs and results.summary.errors >= results.summary.runs:
        return "every run errored"
    return None



@baseline_app.command("update")
def update(
    results: Path = typer.Argument(..., help="results.json, or the results folder, of a run of those cases."),
    cases: list[str] = typer.Option(..., "--cases", metavar="ID", help="Case id to re-record (or remove when the "
                                    "results do not have it); repeatable, or comma-separated."),
    to: Path | None = typer.Option(None, "--to", help="Baseline file.", show_default="golden/baselines/<suite>.json, found from the suite's folder as `run` finds it"),
) -> int:
    """Re-record just these cases in the stored baseline (removed, renamed or edited cases), keeping the rest."""
    from agent_eval._files import write_atomic
    from agent_eval.baseline.store import dump_json, load_baseline, load_results, update_cases
    from agent_eval.flow.gating import baseline_location

    loaded = load_results(results)
    path = to or baseline_location(loaded.suite.name, loaded.suite.path)
    ids = [i.strip() for item in cases for i in item.split(",") if i.strip()]
    updated, recorded, removed = update_cases(load_baseline(path), loaded, ids)
    write_atomic(path, dump_json(updated))
    typer.echo(f"baseline updated: {path} (re-recorded: {', '.join(recorded) or 'none'}; "
               f"removed: {', '.join(removed) or 'none'})")
    return 0


@baseline_app.command("show")
def show(file: Path = typer.Argument(..., help="Baseline file.")) -> int:
    """Print a baseline's provenance and cases as a table."""
    from rich.table import Table
    from rich.text import Text

    from agent_eval._plain import plain
    from agent_eval.baseline.store import load_baseline
    from agent_eval.cli._common import consoles

    b = load_baseline(file)
    console, _ = consoles(False)
    if not console.is_terminal:  # a pipe or a log: wide enough for every id and tag, never cut
        ids = max((len(c.id) for c in b.cases), default=0)
        tags = max((len(",".join(c.tags)) for c in b.cases), default=0)
        console.width = max(console.width, ids + tags + 70)
    console.print(f"schema_version: {b.schema_version}")
    for key, value in _flat(b.provenance.model_dump(mode="json")):
        console.print(Text(plain(f"{key}: {value}")))
    table = Table(title=f"{len(b.cases)} cases", title_justify="left")
    for header in ("case", "tags", "passed", "score", "pass^k", "flaky", "errors"):
        if header == "case":  # ids are join keys: folded onto more lines, never cut
            table.add_column(header, overflow="fold", min_width=min(40, max((len(c.id) for c in b.cases), default=4)))
        else:
            table.add_column(header, justify="left" if header == "tags" else "right", overflow="fold")
    for case in b.cases:
        s = case.stats
        table.add_row(Text(plain(case.id)), Text(plain(",".join(case.tags))), f"{s.passed}/{s.n}",
                      "-" if s.score is None else f"{s.score:.3f}",
                      "-" if s.pass_hat_k is None else f"{s.pass_hat_k:.2f}", "yes" if s.flaky else "", str(s.errors))
    console.print(table)
    return 0


def _flat(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested provenance (the config block) as dotted keys, sorted; long texts on one line."""
    out: list[tuple[str, Any]] = []
    for key, value in sorted(data.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += _flat(value, f"{name}.")
        elif isinstance(value, str):
            out.append((name, " ".join(value.split())))
        else:
            out.append((name, value))
    return out
