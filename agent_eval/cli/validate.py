"""`agent-eval validate`: check suites and configs without running anything."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def _kind(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    if any(line.startswith("suite:") for line in lines):
        return "suite"
    if any(line.startswith(("model:", "prompt:", "agent:")) for line in lines):
        return "config"
    return "unknown"


def _files(paths: list[Path]) -> list[Path]:
    from agent_eval.errors import InputError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and _kind(p) != "unknown")
        elif path.exists():
            files.append(path)
        else:
            raise InputError(path, "file not found")
    return files


def validate(paths: list[Path] = typer.Argument(..., help="Suite or config files, or folders of them.")) -> int:
    """Check suites and configs (schema, checks, templates, providers) without calling any model.

    Warns when a model name is an alias that moves rather than a pinned version. Exit 2 on any error.
    """
    from rich.text import Text

    from agent_eval.cli._common import consoles, say
    from agent_eval.cli._run_flow import model_warnings
    from agent_eval.errors import AgentEvalError
    from agent_eval.judge import judge_provenance
    from agent_eval.report._plain import plain
    from agent_eval.runner.plan import plan_items
    from agent_eval.suite.loader import load_config, load_suite
    from agent_eval.targets import check_target

    out, err = consoles(False)
    failed = 0
    for file in _files(paths):
        try:
            if _kind(file) == "suite":
                suite = load_suite(file)
                judge_provenance(suite, suite.cases)  # reads the judge templates: an unknown one is an error
                config_path = suite.config_path()
                note = f"suite '{suite.name}', {len(suite.cases)} cases"
                if config_path is not None:
                    config = load_config(config_path)
                    plan_items(suite.cases, config, 1)  # renders every template with this config
                    note += f", config {config.spec.name} {config.spec.version}"
                    for warning in check_target(config):
                        say(err, "warning", warning)
                    for warning in model_warnings(suite, config):
                        say(err, "warning", warning)
            else:
                config = load_config(file)
                note = f"config {config.spec.name} {config.spec.version} ({config.spec.model.provider})"
                if config.spec.agent is not None:
                    note = f"config {config.spec.name} {config.spec.version} ({config.spec.agent.kind} agent)"
                for warning in check_target(config):
                    say(err, "warning", warning)
                from agent_eval.providers.aliases import is_unpinned

                if is_unpinned(config.spec.model.provider, config.spec.model.name):
                    say(err, "warning", f"{file}: model '{config.spec.model.name}' is an alias "
                        "that can change under you; pin a dated version")
        except AgentEvalError as exc:
            failed += 1
            say(err, "error", str(exc))
            continue
        out.print(Text(plain(f"ok  {file}: {note}")))
    return 2 if failed else 0
