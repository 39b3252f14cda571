"""The flow behind `agent-eval run`: load everything first, then run, gate and report each suite."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from agent_eval.cli._common import consoles, say
from agent_eval.cli._pipeline import (
    GateFlags,
    SuiteOutcome,
    combined_exit,
    emit_json,
    gate_and_report,
)
from agent_eval.errors import InputError, UsageError
from agent_eval.runner.session import RunOptions
from agent_eval.suite.loader import LoadedConfig, LoadedSuite, load_config, load_suite

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.records import Results

__all__ = ["RunRequest", "execute", "find_suites", "model_warnings"]

_OUTPUTS = ("runs.jsonl", "results.json", "manifest.json", "report.html", "junit.xml", "summary.md")


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What `run` was asked to do, beyond the run options."""

    suites: tuple[Path, ...]
    config: Path | None
    out: Path | None
    overwrite: bool
    baseline: Path | None
    save_baseline: bool
    dry_run: bool
    resume: Path | None
    json_output: bool
    gate: GateFlags
    verbose: bool = False


def find_suites(paths: tuple[Path, ...]) -> list[Path]:
    """Suite files, expanding folders to their *.yaml/*.yml files that declare `suite:`."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
                if _declares_suite(file):
                    found.append(file)
        elif path.exists():
            found.append(path)
        else:
            raise InputError(path, "file not found")
    if not found:
        raise UsageError(f"no suite files found in {', '.join(map(str, paths))}")
    return found


def _declares_suite(file: Path) -> bool:
    try:
        head = file.read_text(encoding="utf-8")
    except OSError:
        return False
    return any(line.startswith("suite:") for line in head.splitlines())


def model_warnings(suite: LoadedSuite, config: LoadedConfig) -> list[str]:
    """Warnings for model names that are aliases which move, rather than pinned versions."""
    from agent_eval.providers.aliases import is_unpinned

    specs = [("candidate", config.spec.model, config.path)]
    specs += [("judge", c.judge, suite.path) for c in suite.cases if c.judge is not None]
    specs += [("judge", r.judge, suite.path) for c in suite.cases for r in c.rubrics if r.judge is not None]
    seen: set[tuple[str, str]] = set()
    warnings = []
    for role, spec, path in specs:
        if (role, spec.name) in seen or not is_unpinned(spec.provider, spec.name):
            continue
        seen.add((role, spec.name))
        warnings.append(f"{path}: {role} model '{spec.name}' is an alias that can change under you; "
                        "pin a dated version (e.g. gpt-4o-2024-11-20)")
    return warnings


def _load_pair(suite_path: Path, config_flag: Path | None) -> tuple[LoadedSuite, LoadedConfig]:
    suite = load_suite(suite_path)
    config_path = config_flag or suite.config_path()
    if config_path is None:
        raise UsageError(f"{suite_path}: no config; pass --config or set `config:` in the suite")
    return suite, load_config(config_path)


def _out_dir(request: RunRequest, suite: LoadedSuite, many: bool, stamp: str) -> Path:
    if request.out is not None:
        folder = request.out / suite.name if many else request.out
    else:
        base = Path(".agent-eval/runs")
        folder = base / stamp / suite.name if many else base / f"{stamp}-{suite.name}"
    _ignore_own_folder()
    if folder.exists() and any(folder.iterdir()):
        if not request.overwrite:
            raise UsageError(f"results folder {folder} is not empty; pass --overwrite or choose another --out")
        for name in _OUTPUTS:
            (folder / name).unlink(missing_ok=True)
    return folder


def _ignore_own_folder() -> None:
    """`.agent-eval/` holds runs and the cache: keep it out of git, as pytest does for its cache."""
    marker = Path(".agent-eval/.gitignore")
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("# written by agent-eval: run results and the response cache\n*\n", encoding="utf-8")


def _check_credentials(suite: LoadedSuite, config: LoadedConfig) -> None:
    from agent_eval.providers.registry import check_credentials

    check_credentials(config.spec.model)
    for extra in (suite.spec.similarity_model, suite.spec.moderation_model):
        if extra is not None:
            check_credentials(extra)
    for case in suite.cases:
        for rubric in case.rubrics:
            spec = rubric.judge or case.judge
            if spec is not None:
                check_credentials(spec)


def _resume_pair(folder: Path, options: RunOptions) -> tuple[LoadedSuite, LoadedConfig, RunOptions]:
    """The suite and config a results folder was made with; refused when either changed since."""
    from pydantic import ValidationError

    from agent_eval.runner.store import Manifest

    manifest_path = folder / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--resume {folder}: no manifest.json; is this an agent-eval results folder?") from None
    except ValidationError as exc:
        raise InputError(manifest_path, f"unreadable manifest: {exc.errors()[0]['msg']}") from None
    suite, config = load_suite(Path(manifest.suite_path)), load_config(Path(manifest.config_path))
    for what, old, new in (("suite", manifest.suite_hash, suite.hash), ("config", manifest.config_hash, config.hash)):
        if old != new:
            raise UsageError(f"--resume {folder}: the {what} changed since the run started "
                             f"(hash {old} -> {new}); start a new run instead")
    resumed = dataclasses.replace(options, seed=manifest.seed, repeat=manifest.repeat,
                                  filters=manifest.filter, shard=manifest.shard)
    return suite, config, resumed


def execute(request: RunRequest, options: RunOptions) -> int:
    """Load and check every suite, then run, gate and report each; returns the combined exit code."""
    from agent_eval.cli._pipeline import resolve_baseline, write_combined

    out, err = consoles(request.json_output)
    if request.resume is not None:
        suite, config, options = _resume_pair(request.resume, options)
        plans = [(suite, config, options, request.resume)]
    else:
        pairs = [_load_pair(path, request.config) for path in find_suites(request.suites)]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        plans = [(s, c, options, _out_dir(request, s, len(pairs) > 1, stamp)) for s, c in pairs]
    plans = [(s, c, _with_baseline_repeat(request, s, o), f) for s, c, o, f in plans]
    baselines = {s.name: resolve_baseline(request.baseline, s.name, s.path, required=_requires(request, s))
                 for s, _, _, _ in plans}
    for suite, config, _, _ in plans:
        for warning in model_warnings(suite, config):
            say(err, "warning", warning)
        if not request.dry_run:
            _check_credentials(suite, config)
    if request.dry_run:
        from agent_eval.runner.dryrun import print_dry_run

        for suite, config, opts, _ in plans:
            print_dry_run(out, suite, config, opts)
        return 0
    outcomes: list[SuiteOutcome] = []
    for suite, config, opts, folder in plans:
        baseline, baseline_path, looked_for = baselines[suite.name]
        outcomes.append(_run_one(out, err, request, suite, config, opts, folder, (baseline, baseline_path, looked_for),
                                 step_summary=len(plans) == 1))
    if len(outcomes) > 1 and request.out is not None:
        write_combined(request.out, outcomes, redact=request.gate.redact)
    elif len(outcomes) > 1:
        write_combined(outcomes[0].out_dir.parent, outcomes, redact=request.gate.redact)
    code = combined_exit([o.verdict.exit_code for o in outcomes])
    if request.json_output:
        emit_json(outcomes, code)
    return code


def _requires(request: RunRequest, suite: LoadedSuite) -> bool:
    """Whether a missing baseline is an error for this suite (never while recording one)."""
    wanted = request.gate.require_baseline or suite.spec.gate.require_baseline
    return wanted and not request.save_baseline and suite.name not in request.gate.new_suites


def _with_baseline_repeat(request: RunRequest, suite: LoadedSuite, options: RunOptions) -> RunOptions:
    """--save-baseline runs gate.baseline_repeat runs per case (default 2x k) unless --repeat says otherwise."""
    if not request.save_baseline or options.repeat is not None or request.resume is not None:
        return options
    return dataclasses.replace(options, repeat=suite.spec.gate.baseline_repeat or 2 * suite.spec.repeat)


def _run_one(
    out: Console, err: Console, request: RunRequest, suite: LoadedSuite, config: LoadedConfig,
    options: RunOptions, folder: Path, found: tuple[Baseline | None, Path | None, Path],
    *, step_summary: bool,
) -> SuiteOutcome:
    from agent_eval.cli.progress import make_progress
    from agent_eval.runner.session import run_suite

    cfg = config.spec
    from agent_eval.targets.describe import target_label

    err.print(f"[bold]{suite.name}[/]: {len(suite.cases)} cases · config {cfg.name} {cfg.version} "
              f"({target_label(config)}) · results in {folder}")
    progress = make_progress(err)
    report = asyncio.run(run_suite(suite, config, options, folder, progress, resume=request.resume is not None))
    for warning in report.warnings:
        say(err, "warning", warning)
    if report.fatal is not None:
        raise report.fatal
    baseline, baseline_path, looked_for = found
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    outcome = gate_and_report(out, report.results, baseline, baseline_path, request.gate, suite.spec.gate, folder,
                              redact_default=suite.spec.report.redact, step_summary=step_summary,
                              critical_rates=rates, looked_for=looked_for)
    if request.verbose:
        _print_target_details(err, report.results)
    if report.stopped == "budget":
        err.print(f"[magenta]budget reached[/]: {report.budget}; {report.results.incomplete_reason}")
    if request.save_baseline:
        _save_baseline(out, report.results, suite)
    return outcome


def _print_target_details(console: Console, results: Results) -> None:
    """`-v`: the traceback or stderr each crashed agent run left (kept in runs.jsonl as error.detail)."""
    from rich.markup import escape

    for case in results.cases:
        for run in case.runs:
            if run.error is not None and run.error.detail:
                console.print(f"[bold red]{escape(case.id)}[/] run {run.index}: {escape(run.error.message)}")
                console.print(escape(run.error.detail.rstrip()), highlight=False)


def _save_baseline(console: Console, results: Results, suite: LoadedSuite) -> None:
    from agent_eval.baseline.store import save_baseline
    from agent_eval.cli._pipeline import baseline_location

    if not results.complete or results.shard is not None:
        raise UsageError("--save-baseline refused: the run is incomplete (or a single shard); nothing was saved")
    path = baseline_location(suite.name, suite.path)
    save_baseline(results, path, k=suite.spec.repeat)
    console.print(f"baseline saved: {path} ({results.suite.repeat} runs per case; the suite's k is "
                  f"{suite.spec.repeat})", markup=False, highlight=False)
