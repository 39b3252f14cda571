"""`agent-eval init`: scaffold suites, golden data, a workflow and a pre-commit hook."""

from __future__ import annotations

from pathlib import Path

import typer

from agent_eval.scaffold import DEFAULT_ACTION, EXAMPLE_SUITE

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Path = typer.Argument(Path("."), help="Repository to scaffold into."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
    action: str = typer.Option(DEFAULT_ACTION, "--action",
                               help="The GitHub Action the workflow uses (OWNER/REPO@REF)."),
) -> int:
    """Write an offline (mock) example suite, configs, baseline, CI workflow and pre-commit config.

    Refuses (exit 2, nothing written) when any of those files exists, unless --force.
    """
    from agent_eval.cli._common import consoles
    from agent_eval.scaffold import write_scaffold

    out, _ = consoles(False)
    written = write_scaffold(folder, force=force, action=action)
    lines = [f"wrote {len(written)} files into {folder}:"]
    lines += [f"  {path.relative_to(folder).as_posix()}" for path in written]
    suite = f"suites/{EXAMPLE_SUITE}.yaml"
    lines += [
        "", "next:",
        *([] if folder.resolve() == Path.cwd().resolve() else [f"  cd {folder}"]),
        "  # the example passes against its baseline, offline (exit 0):",
        f"  agent-eval run {suite}",
        "  # a \"friendlier\" candidate config breaks structured output (FAIL, exit 1):",
        f"  agent-eval run {suite} --config suites/configs/shop-regressed.yaml",
        "  # smoke-run the suites you change before each commit:",
        "  pip install pre-commit && pre-commit install",
        "  # after an intended change of quality, record the new baseline and commit it:",
        f"  agent-eval run {suite} --save-baseline",
        "  # then push and open a pull request: .github/workflows/agent-eval.yml gates it",
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0
