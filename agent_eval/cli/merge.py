"""`agent-eval merge`: combine shard results into one folder, then gate and report as usual."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("merge")(merge)


def merge(
    folders: list[Path] = typer.Argument(..., help="Results folders of the shards (run --shard i/n)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the merged results."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Baseline.", show_default="golden/baselines/<suite>.json"),
    max_drop: float | None = typer.Option(None, "--max-drop", min=0, help="Largest tolerated drop.", show_default="0.03"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5, help="Significance level."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the point estimate alone."),
    absolute: bool = typer.Option(False, "--absolute", help="Read --max-drop as score points."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Reuse a non-empty --out folder."),
) -> int:
    """Merge shards of one suite, config and seed (refusing overlaps and gaps); exit like `run`."""
    from agent_eval._files import write_atomic
    from agent_eval.baseline.options import GateFlags
    from agent_eval.baseline.store import load_results
    from agent_eval.cli._common import consoles
    from agent_eval.errors import UsageError
    from agent_eval.flow.gating import gate_and_report, resolve_baseline, suite_gate_spec
    from agent_eval.runner.merge import merge_results

    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"results folder {out} is not empty; pass --overwrite or choose another --out")
    shards = [(folder, load_results(folder)) for folder in folders]
    merged = merge_results(shards)
    out.mkdir(parents=True, exist_ok=True)
    lines = [line for folder in folders for line in (folder / "runs.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()] if all((f / "runs.jsonl").exists() for f in folders) else []
    write_atomic(out / "runs.jsonl", "".join(f"{line}\n" for line in lines))
    write_atomic(out / "results.json", merged.model_dump_json(indent=2) + "\n")
    base, base_path, looked_for = resolve_baseline(baseline, merged.suite.name, merged.suite.path)
    gate_spec, redact, rates = suite_gate_spec(merged.suite.path)
    flags = GateFlags(max_drop=max_drop, alpha=alpha, strict=strict, absolute=absolute)
    outcome = gate_and_report(consoles(False)[0], merged, base, base_path, flags, gate_spec, out,
                              redact_default=redact, step_summary=True, critical_rates=rates, looked_for=looked_for)
    return outcome.verdict.exit_code
