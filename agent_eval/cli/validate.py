"""`agent-eval validate`: check suites and configs without running anything; `--against REF` adds the
versioning rules (a CI step and a pre-commit hook)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

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
            from agent_eval.suite.discovery import yaml_files

            files += [p for p in yaml_files(path) if _kind(p) != "unknown"]
        elif path.exists():
            files.append(path)
        else:
            raise InputError(path, "file not found")
    return files


def _check(file: Path, err: Console, strict_aliases: bool) -> tuple[str, int]:
    """Load one file; (what it is, errors found). Alias and opacity warnings are printed here."""
    from agent_eval.cli._common import say
    from agent_eval.flow.plan import model_warnings
    from agent_eval.judge import judge_provenance
    from agent_eval.runner.plan import plan_items
    from agent_eval.suite.loader import load_config, load_suite
    from agent_eval.targets import check_target

    warnings: list[str] = []
    if _kind(file) == "suite":
        suite = load_suite(file)
        judge_provenance(suite, suite.cases)  # reads the judge templates: an unknown one is an error
        note = f"suite '{suite.name}', {len(suite.cases)} cases"
        config_path = suite.config_path()
        if config_path is not None:
            config = load_config(config_path)
            plan_items(suite.cases, config, 1)  # renders every template with this config
            note += f", config {config.spec.name} {config.spec.version}"
            warnings = [*check_target(config), *model_warnings(suite, config)]
    else:
        from agent_eval.providers.aliases import is_unpinned

        config = load_config(file)
        note = f"config {config.spec.name} {config.spec.version} ({config.spec.model.provider})"
        if config.spec.agent is not None:
            note = f"config {config.spec.name} {config.spec.version} ({config.spec.agent.kind} agent)"
        warnings = [*check_target(config), *(f"{file}: {w}" for w in config.warnings)]
        if is_unpinned(config.spec.model.provider, config.spec.model.name):
            warnings.append(f"{file}: model '{config.spec.model.name}' is an alias that can change under you; "
                            "pin a dated version")
    errors = 0
    for warning in warnings:
        alias = "is an alias" in warning
        say(err, "error" if alias and strict_aliases else "warning", warning)
        errors += alias and strict_aliases
    return note, errors


def validate(
    paths: list[Path] | None = typer.Argument(None, help="Suite or config files, or folders of them.",
                                              show_default=". with --against"),
    against: str | None = typer.Option(
        None, "--against", metavar="REF",
        help="Compare every config with its version at git REF and enforce the versioning rules; "
        "REF 'auto' is the merge base with origin/main, else main."),
    strict_aliases: bool = typer.Option(False, "--strict-aliases",
                                        help="A model alias that moves (-latest, no date or version) is an error."),
) -> int:
    """Check suites and configs (schema, checks, templates, providers) without calling any model.

    Warns when a model name is an alias that moves rather than a pinned version (an error with
    --strict-aliases). With --against, a config whose behaviour changed since REF must carry a new version
    (major for a model, provider, response_format or tool-schema change; at least patch for a prompt
    change), and an author and a rationale. Exit 2 on any error.
    """
    from rich.text import Text

    from agent_eval._plain import plain
    from agent_eval.cli._common import consoles, say
    from agent_eval.errors import AgentEvalError, UsageError

    if not paths and against is None:
        raise UsageError("give suite or config files or folders (or --against to check every config under .)")
    out, err = consoles(False)
    files = _files(paths or [Path(".")])
    failed = 0
    for file in files:
        try:
            note, errors = _check(file, err, strict_aliases)
        except AgentEvalError as exc:
            failed += 1
            say(err, "error", str(exc))
            continue
        failed += errors
        out.print(Text(plain(f"{'ok ' if not errors else 'bad'} {file}: {note}")))
    if against is not None:
        failed += _against([f for f in files if _kind(f) == "config"], None if against == "auto" else against, out, err)
    return 2 if failed else 0


def _against(configs: list[Path], ref: str | None, out: Console, err: Console) -> int:
    """Print each config's versioning review; the number of errors."""
    from agent_eval.cli._common import say
    from agent_eval.versioning.against import review_against

    commit, reviews = review_against(configs, ref)
    if commit is None:
        out.print("versioning: no origin/main or main to compare with (nothing published yet); skipped")
        return 0
    errors = 0
    changed = [r for r in reviews if r.changed]
    out.print(f"versioning against {ref or 'the merge base'} ({commit[:12]}): {len(changed)} of {len(reviews)} "
              "config(s) changed")
    for review in changed:
        was = f"new at {review.new_version}" if review.old_version is None else \
            f"{review.old_version} -> {review.new_version}"
        out.print(f"  {review.path}: {was}")
        for finding in review.findings:
            say(err, finding.level, f"{review.path}: [{finding.rule}] {finding.message}")
            errors += finding.level == "error"
    return errors
