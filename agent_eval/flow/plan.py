"""The plan of a run: every suite × config as an arm with its options and results folder, loaded and checked
before anything runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent_eval.errors import InputError, UsageError
from agent_eval.flow.request import RunRequest
from agent_eval.runner.session import RunOptions
from agent_eval.suite.loader import LoadedConfig, LoadedSuite, load_config, load_suite, recorded_config

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline

__all__ = ["Arm", "Plan", "SuitePlan", "check_credentials", "find_suites", "make_plan", "model_warnings"]


@dataclass(frozen=True, slots=True)
class Arm:
    """One config on one suite: its options and its results folder."""

    config: LoadedConfig
    options: RunOptions
    folder: Path
    label: str | None = None  # "<config stem>-<hash8>" when several configs run


@dataclass(frozen=True, slots=True)
class SuitePlan:
    """A suite, its arms (one per config, interleaved when several), its baseline and where results go."""

    suite: LoadedSuite
    arms: tuple[Arm, ...]
    root: Path  # the arm's folder, or the folder of the arms' folders and the matrix
    baseline: Baseline | None = None
    baseline_path: Path | None = None
    looked_for: Path | None = None
    reference: str | None = None  # the label of the --gate-against arm

    @property
    def several(self) -> bool:
        return len(self.arms) > 1


@dataclass(frozen=True, slots=True)
class Plan:
    """Every suite of the run; `root` holds the combined summary when there is more than one arm."""

    suites: tuple[SuitePlan, ...]
    root: Path
    resume: bool = False
    skipped: tuple[str, ...] = ()  # why suites were left out: --filter/--shard, or a missing `requires:`

    @property
    def arm_count(self) -> int:
        return sum(len(s.arms) for s in self.suites)


def find_suites(paths: Sequence[Path]) -> list[Path]:
    """Suite files: files as given, folders searched recursively by the discovery rule
    (`agent_eval.suite.discovery`) for YAML files that declare `suite:`."""
    from agent_eval.suite.discovery import declares_suite, yaml_files

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [file for file in yaml_files(path) if declares_suite(file)]
        elif path.exists():
            found.append(path)
        else:
            raise InputError(path, "file not found")
    if not found:
        raise UsageError(f"no suite files found in {', '.join(map(str, paths))}")
    return found


def model_warnings(suite: LoadedSuite, config: LoadedConfig | None) -> list[str]:
    """Warnings about the run's files: config warnings, ungated cases, and model aliases that move."""
    from agent_eval.providers.aliases import is_unpinned
    from agent_eval.suite.inventory import models_in_use

    warnings = [f"{config.path}: {w}" for w in config.warnings] if config is not None else []
    if suite.ungated:
        shown = ", ".join(suite.ungated[:5]) + (f" and {len(suite.ungated) - 5} more" if len(suite.ungated) > 5 else "")
        warnings.append(f"{suite.path}: {len(suite.ungated)} case(s) tagged needs-review have no checks or rubrics "
                        f"yet: not run and not gated ({shown})")
    seen: set[tuple[str, str]] = set()
    for use in models_in_use(suite, config):
        if (use.role, use.spec.name) in seen or not is_unpinned(use.spec.provider, use.spec.name):
            continue
        seen.add((use.role, use.spec.name))
        warnings.append(f"{use.source}: {use.role} model '{use.spec.name}' is an alias that can change under you; "
                        "pin a dated version (e.g. gpt-4o-2024-11-20)")
    if config is not None:
        warnings += _seed_warning(config)
    return warnings


def _seed_warning(config: LoadedConfig) -> list[str]:
    """A pinned `seed` makes a case's k runs near-identical: k identical runs are one run, not k."""
    params = config.spec.model.params
    if params.get("seed") is None:
        return []
    temperature = params.get("temperature")
    at = f"temperature {temperature}" if temperature is not None else "the provider's default temperature"
    return [(f"{config.path}: model.params pins seed {params['seed']} at {at}: a case's k runs are near-identical, "
             "so k identical runs count as one run and the gate's run-to-run noise is understated; "
             "remove `seed` to sample k independent runs")]


def check_credentials(suite: LoadedSuite, config: LoadedConfig) -> None:
    """Every model the run may call has its key (or a base URL): checked before the first call."""
    from agent_eval.providers.registry import check_credentials as check_model
    from agent_eval.suite.inventory import models_in_use

    for use in models_in_use(suite, config):
        check_model(use.spec)


def make_plan(request: RunRequest) -> Plan:
    """Load and check every suite and config, choose folders and find baselines; nothing runs yet."""
    if request.resume is not None:
        return _resume_plan(request)
    suites, unmet = _with_requirements([load_suite(path) for path in find_suites(request.suites)], request.suites)
    _unique_names(suites)
    configs = [load_config(p) for p in request.configs]
    reference_config = load_config(request.gate_against) if request.gate_against is not None else None
    several_configs = len(configs) > 1 or reference_config is not None
    if several_configs and request.save_baseline:
        raise UsageError("--save-baseline takes one config; run the chosen config alone to save its baseline")
    stamp = _free_stamp(datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), suites) if request.out is None else ""
    root = request.out if request.out is not None else Path(".agent-eval/runs") / stamp
    plans = []
    for suite in suites:
        suite_root = _suite_root(request, suite, many=len(suites) > 1, stamp=stamp)
        options = _with_baseline_repeat(request, suite, request.options)
        if several_configs:
            arms, reference = _config_arms(configs, reference_config, suite_root, options)
        else:
            config = configs[0] if configs else _suite_config(suite)
            arms, reference = (Arm(config=config, options=options, folder=suite_root),), None
        plans.append(SuitePlan(suite=suite, arms=arms, root=suite_root, reference=reference))
    kept = _with_selected_cases(plans, request.options)
    skipped = (*unmet, *(f"{p.suite.name}: no case matches --filter" for p in plans if p not in kept))
    plans = kept
    if len(plans) == 1 and request.out is None:
        root = plans[0].root
    found = []
    for plan in plans:
        baseline, path, looked_for = _baseline(request, plan)
        found.append(dataclasses.replace(plan, baseline=baseline, baseline_path=path, looked_for=looked_for))
    return Plan(suites=tuple(found), root=root, skipped=skipped)


def missing_requirements(suite: LoadedSuite) -> list[str]:
    """The packages in the suite's `requires:` that cannot be imported here."""
    import importlib.util

    missing = []
    for name in suite.spec.requires:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _with_requirements(suites: list[LoadedSuite], given: Sequence[Path]) -> tuple[list[LoadedSuite], list[str]]:
    """Suites found in a folder whose `requires:` are not installed are skipped (with a note); a suite file named
    on the command line is an error instead."""
    named = {p.resolve() for p in given if p.is_file()}
    kept, notes = [], []
    for suite in suites:
        missing = missing_requirements(suite)
        if not missing:
            kept.append(suite)
            continue
        what = f"{suite.path}: needs the Python package(s) {', '.join(missing)} (its `requires:`), not installed"
        if suite.path.resolve() in named:
            raise UsageError(what)
        notes.append(f"{suite.name}: needs {', '.join(missing)}, not installed")
    if not kept:
        raise UsageError(f"no suite left to run: {'; '.join(notes)}")
    return kept, notes


def _baseline(request: RunRequest, plan: SuitePlan) -> tuple[Baseline | None, Path | None, Path]:
    from agent_eval.flow.gating import resolve_baseline

    required = plan.reference is None and _requires(request, plan.suite)
    return resolve_baseline(request.baseline, plan.suite.name, plan.suite.path, required=required)


def _suite_config(suite: LoadedSuite) -> LoadedConfig:
    config_path = suite.config_path()
    if config_path is None and all(case.recorded is not None for case in suite.cases):
        return recorded_config(suite)  # nothing is called: the config only labels the results
    if config_path is None:
        raise UsageError(f"{suite.path}: no config; pass --config or set `config:` in the suite")
    return load_config(config_path)


def _free_stamp(stamp: str, suites: Sequence[LoadedSuite]) -> str:
    """The time stamp of the default results folders, with -2, -3, ... when a run in the same second took it."""
    from agent_eval.baseline.store import safe_suite_name

    base = Path(".agent-eval/runs")
    names = [safe_suite_name(s.name, s.path) for s in suites]
    candidate, n = stamp, 1
    while (base / candidate).exists() or any((base / f"{candidate}-{name}").exists() for name in names):
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def _suite_root(request: RunRequest, suite: LoadedSuite, *, many: bool, stamp: str) -> Path:
    from agent_eval.baseline.store import safe_suite_name

    name = safe_suite_name(suite.name, suite.path)  # the schema checked it; a path is never built unchecked
    if request.out is not None:
        return request.out / name if many else request.out
    base = Path(".agent-eval/runs")
    return base / stamp / name if many else base / f"{stamp}-{name}"


def _config_arms(configs: Sequence[LoadedConfig], reference: LoadedConfig | None, root: Path,
                 options: RunOptions) -> tuple[tuple[Arm, ...], str | None]:
    """One arm per config, the --gate-against config first when it is not among them."""
    ordered = list(configs)
    ref_label = None
    if reference is not None:
        match = next((c for c in ordered if c.hash == reference.hash), None)
        if match is None:
            ordered.insert(0, reference)
            match = reference
        ref_label = _label(match)
    seen: dict[str, Path] = {}
    arms = []
    for config in ordered:
        if config.hash in seen:
            raise UsageError(f"--config {config.path} is the same config as {seen[config.hash]}; give each once")
        seen[config.hash] = config.path
        arms.append(Arm(config=config, options=options, folder=root / _label(config), label=_label(config)))
    return tuple(arms), ref_label


def _label(config: LoadedConfig) -> str:
    return f"{config.path.stem}-{config.hash[:8]}"


def _unique_names(suites: Sequence[LoadedSuite]) -> None:
    """Results folders and baselines are named after the suite: two suites may not share a name."""
    seen: dict[str, Path] = {}
    for suite in suites:
        if suite.name in seen:
            raise UsageError(f"suites {seen[suite.name]} and {suite.path} are both named '{suite.name}'; "
                             "results and baselines are stored by name, so rename one (`suite:`)")
        seen[suite.name] = suite.path


def _with_selected_cases(plans: list[SuitePlan], options: RunOptions) -> list[SuitePlan]:
    """Of several suites, drop those that --filter leaves without a case (the execution notes them); nothing
    anywhere is an error. A shard that holds no case of a suite still runs it: an empty, mergeable shard."""
    if len(plans) < 2 or not options.filters:
        return plans
    kept = [plan for plan in plans if selected(plan.suite, dataclasses.replace(options, shard=None))]
    if not kept:
        raise UsageError("no case of any suite matches --filter; nothing to run")
    return kept


def selected(suite: LoadedSuite, options: RunOptions) -> int:
    """How many of the suite's cases --filter and --shard select."""
    from agent_eval.runner.plan import in_shard, select_cases

    return sum(1 for c in select_cases(suite.cases, options.filters) if in_shard(c.id, options.shard))


def _requires(request: RunRequest, suite: LoadedSuite) -> bool:
    """Whether a missing baseline is an error for this suite (never while recording one)."""
    wanted = request.gate.require_baseline or suite.spec.gate.require_baseline
    return wanted and not request.save_baseline and suite.name not in request.gate.new_suites


def _with_baseline_repeat(request: RunRequest, suite: LoadedSuite, options: RunOptions) -> RunOptions:
    """--save-baseline runs gate.baseline_repeat runs per case (default 2x k) unless --repeat says otherwise."""
    if not request.save_baseline or options.repeat is not None or request.resume is not None:
        return options
    return dataclasses.replace(options, repeat=suite.spec.gate.baseline_repeat or 2 * suite.spec.repeat)


def _resume_plan(request: RunRequest) -> Plan:
    """The suite and config a results folder was made with; refused when either changed since."""
    from pydantic import ValidationError

    from agent_eval.runner.store import Manifest

    assert request.resume is not None
    if request.configs or request.gate_against is not None:
        raise UsageError("--resume takes no --config; resume each config's results folder on its own")
    folder = request.resume
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
    options = dataclasses.replace(request.options, seed=manifest.seed, repeat=manifest.repeat,
                                  filters=manifest.filter, shard=manifest.shard,
                                  use_cache=manifest.use_cache and request.options.use_cache)
    plan = SuitePlan(suite=suite, arms=(Arm(config=config, options=options, folder=folder),), root=folder)
    baseline, path, looked_for = _baseline(request, plan)
    plan = dataclasses.replace(plan, baseline=baseline, baseline_path=path, looked_for=looked_for)
    return Plan(suites=(plan,), root=folder, resume=True)


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
