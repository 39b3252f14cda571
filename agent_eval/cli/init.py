"""`agent-eval init`: scaffold suites, golden data, a workflow and a pre-commit hook."""

from __future__ import annotations

from pathlib import Path

import typer

from agent_eval.scaffold import EXAMPLE_SUITE, WORKFLOW

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Path = typer.Argument(Path("."), help="Repository to scaffold into."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
    action: str | None = typer.Option(
        None, "--action", show_default=False,
        help="The GitHub repository and tag or commit the workflow's action and package come from (OWNER/REPO@REF) "
             "[default: where this agent-eval was installed from, when that is a GitHub repository; else no "
             "workflow is written]."),
) -> int:
    """Write an offline (mock) example suite, configs, baseline, CI workflow and pre-commit config.

    Refuses (exit 2, nothing written) when any of those files exists, unless --force.
    """
    from agent_eval.cli._common import consoles
    from agent_eval.scaffold import write_scaffold
    from agent_eval.scaffold.source import installed_action

    out, _ = consoles(False)
    pinned = action or installed_action()
    written = write_scaffold(folder, force=force, action=pinned)
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
        *(["  # then push and open a pull request: .github/workflows/agent-eval.yml gates it"] if pinned else []),
    ]
    if pinned is None:
        lines += [
            "", f"no {WORKFLOW} written: this agent-eval was not installed from a GitHub repository, so there is",
            "no action and package source to pin. Name the repository and tag or commit you install it from:",
            f"  agent-eval init {folder} --action OWNER/REPO@REF --force",
            "  (README: CI, \"Where the action and the package come from\")",
        ]
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0
