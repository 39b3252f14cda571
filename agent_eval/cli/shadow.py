"""`agent-eval shadow`: production conversations replayed through a candidate, judged against production's replies."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("shadow")(shadow)


def shadow(
    logs: list[Path] = typer.Argument(..., help="Production logs (the `import` formats: chat JSONL, OTLP/JSON)."),
    config: Path = typer.Option(..., "--config", "-c", help="The candidate config.", metavar="FILE"),
    suite: Path | None = typer.Option(None, "--suite", help="A suite whose defaults (checks, head_to_head rubrics) and "
                                      "judge apply; its own cases are not run.", metavar="FILE"),
    stratify: str | None = typer.Option(None, "--stratify", metavar="FIELD",
                                        help="Report (and sample) per value of this log field, as `import` does."),
    sample: float = typer.Option(1.0, "--sample", min=0.0, help="A share of conversations (at most 1, by the "
                                 "import's hash: the same ones every time) or a number of them (above 1)."),
    repeat: int = typer.Option(1, "--repeat", "-k", min=1, max=100, help="Candidate runs per conversation."),
    budget_usd: float | None = typer.Option(None, "--budget-usd", min=0, help="Stop past this spend (runs and judge)."),
    max_concurrency: int | None = typer.Option(None, "--max-concurrency", "-j", min=1, help="Calls in flight."),
    seed: int = typer.Option(0, "--seed", help="Seed for the mock provider and cache keys."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    fmt: str = typer.Option("auto", "--format", help="Log format: auto, chat or otlp."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Results folder.",
                                    show_default=".agent-eval/runs/<time>-shadow-<suite>"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Reuse a non-empty --out folder."),
    redact: bool = typer.Option(False, "--redact", help="Mask inputs and outputs in the files written."),
) -> int:
    """Replay production conversations through a candidate and compare each reply with production's.

    Exit 0, or 1 when the candidate loses to production significantly overall, 3 when the replay is incomplete.
    """
    from agent_eval.cli._common import consoles
    from agent_eval.flow.shadow import ShadowRequest
    from agent_eval.flow.shadow import shadow as run_shadow
    from agent_eval.runner.session import RunOptions

    if not config.exists():
        from agent_eval.errors import UsageError

        raise UsageError(f"--config {config} does not exist")
    console, err = consoles(False)
    options = RunOptions(repeat=repeat, seed=seed, max_concurrency=max_concurrency, budget_usd=budget_usd,
                         use_cache=not no_cache)
    request = ShadowRequest(logs=tuple(logs), config=config, suite=suite, stratify=stratify, sample=sample,
                            log_format=fmt, options=options, out=out, overwrite=overwrite, redact=redact)
    outcome = run_shadow(request, console, err)
    raise typer.Exit(outcome.exit_code)
