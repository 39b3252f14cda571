"""The flow behind `agent-eval run`: load everything first, then run, gate and report each suite."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.baseline.verdict import Outcome
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
from agent_eval.runner.store import LOCK_NAME, FolderLock
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
    trace_export: Path | None = None


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
    specs += [("judge", r.judge, suite.path) for c in suite.cases for r in c.all_rubrics if r.judge is not None]
    specs += [("judge", m, suite.path) for _, spec, _ in specs[1:] for m in getattr(spec, "ensemble", ())]
    seen: set[tuple[str, str]] = set()
    warnings = [f"{config.path}: {w}" for w in config.warnings]
    if suite.ungated:
        shown = ", ".join(suite.ungated[:5]) + (f" and {len(suite.ungated) - 5} more" if len(suite.ungated) > 5 else "")
        warnings.append(f"{suite.path}: {len(suite.ungated)} case(s) tagged needs-review have no checks or rubrics "
                        f"yet: not run and not gated ({shown})")
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
    from agent_eval.baseline.store import safe_suite_name

    name = safe_suite_name(suite.name, suite.path)  # the schema checked it; a path is never built unchecked
    if request.out is not None:
        return request.out / name if many else request.out
    base = Path(".agent-eval/runs")
    return base / stamp / name if many else base / f"{stamp}-{name}"


def _claim(folder: Path, request: RunRequest) -> FolderLock:
    """Lock the results folder (a second run on it is refused), then check it is empty or may be reused."""
    _ignore_own_folder()
    lock = FolderLock(folder).acquire()
    if request.resume is not None:
        return lock
    if any(p.name != LOCK_NAME for p in folder.iterdir()):
        if not request.overwrite:
            lock.release()
            raise UsageError(f"results folder {folder} is not empty; pass --overwrite or choose another --out")
        for name in _OUTPUTS:
            (folder / name).unlink(missing_ok=True)
    return lock


def _unique_names(pairs: list[tuple[LoadedSuite, LoadedConfig]]) -> None:
    """Results folders and baselines are named after the suite: two suites may not share a name."""
    seen: dict[str, Path] = {}
    for suite, _ in pairs:
        if suite.name in seen:
            raise UsageError(f"suites {seen[suite.name]} and {suite.path} are both named '{suite.name}'; "
                             "results and baselines are stored by name, so rename one (`suite:`)")
        seen[suite.name] = suite.path


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
        for rubric in case.all_rubrics:
            spec = rubric.judge or case.judge
            if spec is not None:
                check_credentials(spec)
        if case.simulated_user is not None:
            check_credentials(case.simulated_user.model)


def _resume_pair(folder: Path, options: RunOptions) -> tuple[LoadedSuite, LoadedConfig, RunOptions]:
    """The suite and config a results folder was made with; refused when either changed since."""
    from pydantic import ValidationError

    from agent_eval.runner.store import Manifest

    manifest_path = folder / "manifest.json"
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--resume {folder}: no manifest.json; is this an agent-eval results folder?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(manifest_path, f"cannot read: {exc}") from None
    _manifest_version_gate(manifest_path, text)
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(manifest_path, f"unreadable manifest: {first['msg']}",
                         field=".".join(map(str, first["loc"])) or None) from None
    suite, config = load_suite(Path(manifest.suite_path)), load_config(Path(manifest.config_path))
    for what, old, new in (("suite", manifest.suite_hash, suite.hash), ("config", manifest.config_hash, config.hash)):
        if old != new:
            raise UsageError(f"--resume {folder}: the {what} changed since the run started "
                             f"(hash {old} -> {new}); start a new run instead")
    resumed = dataclasses.replace(options, seed=manifest.seed, repeat=manifest.repeat,
                                  filters=manifest.filter, shard=manifest.shard)
    return suite, config, resumed


def _manifest_version_gate(path: Path, text: str) -> None:
    """A manifest written by a newer agent-eval is refused before anything in it is trusted."""
    import json

    from agent_eval.runner.store import MANIFEST_SCHEMA_VERSION

    try:
        version = json.loads(text).get("schema_version", MANIFEST_SCHEMA_VERSION)
    except (ValueError, AttributeError, RecursionError):
        return  # not a JSON object: validation says so with its own message
    if isinstance(version, int) and not isinstance(version, bool) and version > MANIFEST_SCHEMA_VERSION:
        raise InputError(path, f"schema_version {version} is newer than this agent-eval supports "
                         f"({MANIFEST_SCHEMA_VERSION}); upgrade agent-eval to resume this run", field="schema_version")


def execute(request: RunRequest, options: RunOptions) -> int:
    """Load and check every suite, then run, gate and report each; returns the combined exit code."""
    from agent_eval.cli._pipeline import resolve_baseline, write_combined

    out, err = consoles(request.json_output)
    if request.resume is not None:
        suite, config, options = _resume_pair(request.resume, options)
        plans = [(suite, config, options, request.resume)]
    else:
        pairs = [_load_pair(path, request.config) for path in find_suites(request.suites)]
        _unique_names(pairs)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        plans = [(s, c, options, _out_dir(request, s, len(pairs) > 1, stamp)) for s, c in pairs]
        plans = _with_selected_cases(err, plans, options)
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
    locks: list[FolderLock] = []
    outcomes: list[SuiteOutcome] = []
    try:
        for _, _, _, folder in plans:
            locks.append(_claim(folder, request))
        for suite, config, opts, folder in plans:
            baseline, baseline_path, looked_for = baselines[suite.name]
            outcomes.append(_run_one(out, err, request, suite, config, opts, folder,
                                     (baseline, baseline_path, looked_for), step_summary=len(plans) == 1))
    finally:
        for lock in locks:
            lock.release()
    if len(outcomes) > 1 and request.out is not None:
        write_combined(request.out, outcomes, redact=request.gate.redact)
    elif len(outcomes) > 1:
        write_combined(outcomes[0].out_dir.parent, outcomes, redact=request.gate.redact)
    _export_traces(err, request, plans, outcomes)
    code = combined_exit([o.exit_code for o in outcomes])
    if request.json_output:
        emit_json(outcomes, code)
    return code


def _with_selected_cases(err: Console, plans: list[tuple[LoadedSuite, LoadedConfig, RunOptions, Path]],
                         options: RunOptions) -> list[tuple[LoadedSuite, LoadedConfig, RunOptions, Path]]:
    """Of several suites, skip (with a note) those that --filter or --shard leaves without a case: a folder
    sharded in CI has small suites with no case in some shards. Nothing selected anywhere stays an error."""
    from agent_eval.runner.plan import in_shard, select_cases

    if len(plans) < 2 or (not options.filters and options.shard is None):
        return plans
    kept = [plan for plan in plans
            if any(in_shard(c.id, options.shard) for c in select_cases(plan[0].cases, options.filters))]
    if not kept:
        raise UsageError("no case of any suite matches --filter/--shard; nothing to run")
    for suite, _, _, _ in plans:
        if all(suite is not plan[0] for plan in kept):
            say(err, "note", f"{plain(suite.name)}: no case matches --filter/--shard; skipped")
    return kept


def _export_traces(err: Console, request: RunRequest, plans: list[tuple[LoadedSuite, LoadedConfig, RunOptions, Path]],
                   outcomes: list[SuiteOutcome]) -> None:
    import os

    from agent_eval.cli._traces import export_traces, secret_values

    if request.trace_export is None:
        return
    redact = request.gate.redact or any(s.spec.report.redact for s, _, _, _ in plans)
    secrets = secret_values([(s, c) for s, c, _, _ in plans], os.environ)
    export_traces(err, request.trace_export, [o.results for o in outcomes], redact=redact, secrets=secrets)


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
    from agent_eval.cli._warm import WarmingProgress
    from agent_eval.cli.progress import make_progress
    from agent_eval.runner.session import run_suite

    cfg = config.spec
    from agent_eval.targets.describe import target_label

    err.print(Text.assemble((plain(suite.name), "bold"), f": {len(suite.cases)} cases · config "
                            f"{plain(cfg.name)} {cfg.version} ({plain(target_label(config))})"))
    baseline, baseline_path, looked_for = found
    progress = WarmingProgress(make_progress(err), gate=baseline is not None)
    report = asyncio.run(run_suite(suite, config, options, folder, progress, resume=request.resume is not None,
                                   baseline=baseline))
    for warning in report.warnings:
        say(err, "warning", warning)
    if report.fatal is not None:
        if (folder / "runs.jsonl").exists():
            say(err, "note", f"the runs so far are in {folder}; finish them with --resume {folder}")
        raise report.fatal
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    outcome = gate_and_report(out, report.results, baseline, baseline_path, request.gate, suite.spec.gate, folder,
                              redact_default=suite.spec.report.redact, step_summary=step_summary,
                              critical_rates=rates, looked_for=looked_for)
    if request.verbose:
        _print_target_details(err, report.results)
    if request.gate.redact or suite.spec.report.redact:
        from agent_eval.runner.redact import redact_folder

        redact_folder(folder, report.results)  # the raw files are uploaded by the action too
    if report.stopped == "budget":
        err.print(Text.assemble(("budget reached", "magenta"), f": {report.budget}; "
                                f"{report.results.incomplete_reason}"))
    if request.save_baseline:
        _save_baseline(out, report.results, suite, outcome.verdict.outcome)
    return outcome


def _print_target_details(console: Console, results: Results) -> None:
    """`-v`: the traceback or stderr each crashed agent run left (kept in runs.jsonl as error.detail)."""
    for case in results.cases:
        for run in case.runs:
            if run.error is not None and run.error.detail:
                console.print(Text.assemble((plain(case.id), "bold red"),
                                            f" run {run.index}: {plain(run.error.message)}"))
                for line in run.error.detail.rstrip().splitlines():
                    console.print(Text(plain(line)))


def _save_baseline(console: Console, results: Results, suite: LoadedSuite, outcome: Outcome) -> None:
    from agent_eval.baseline.store import save_baseline
    from agent_eval.cli._pipeline import baseline_location

    if not results.complete or results.shard is not None or outcome is Outcome.INCOMPLETE:
        raise UsageError("--save-baseline refused: the run is INCOMPLETE (too many errored runs, interrupted, "
                         "stopped by a budget, or a single shard); nothing was saved")
    path = baseline_location(suite.name, suite.path)
    save_baseline(results, path, k=suite.spec.repeat)
    console.print(f"baseline saved: {path} ({results.suite.repeat} runs per case; the suite's k is "
                  f"{suite.spec.repeat})", markup=False, highlight=False)
