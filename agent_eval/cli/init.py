"""`agent-eval init`: scaffold suites, golden data, a workflow and a pre-commit hook."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Path = typer.Argument(Path("."), help="Repository to scaffold into."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
) -> int:
    """Write an offline (mock) example suite, configs, baseline, CI workflow and pre-commit config."""
    from agent_eval.errors import UsageError

    raise UsageError("init is not available yet")
