"""Reading and writing baselines and results files.

Versions are checked on the raw JSON before validation: a newer file is refused with an
upgrade hint, an older one goes through explicit migration functions, then pydantic validates.
Writes are atomic (a temporary file in the same folder, then `os.replace`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent_eval._files import write_atomic
from agent_eval.baseline.schema import (
    BASELINE_SCHEMA_VERSION,
    Baseline,
    baseline_from_results,
)
from agent_eval.errors import InputError, UsageError
from agent_eval.records import RESULTS_SCHEMA_VERSION, Results

__all__ = [
    "MIGRATIONS",
    "RESULTS_MIGRATIONS",
    "Migration",
    "baseline_root",
    "default_baseline_path",
    "dump_json",
    "load_baseline",
    "load_results",
    "migrate_v1_to_v2",
    "migrate_v2_to_v3",
    "safe_suite_name",
    "save_baseline",
    "update_cases",
    "upgrade",
]

Migration = Callable[[dict[str, Any]], dict[str, Any]]
M = TypeVar("M", bound=BaseModel)



def migrate_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 baseline as version 2: runs gain an unknown trajectory (no steps, no tool calls recorded).

    Version 1 kept no trace, so `steps` stays None (unknown) rather than a guess; a passed or failed
    version-1 run with an output had one model call, and that much is known.
    """
    cases = []
    for case in data.get("cases", []):
        if not isinstance(case, dict):
            cases.append(case)
            continue
        runs = [_run_v1_to_v2(r) if isinstance(r, dict) else r for r in case.get("runs", [])]
        cases.append({**case, "runs": runs})
    return {**data, "cases": cases, "schema_version": 2}


def _run_v1_to_v2(run: dict[str, Any]) -> dict[str, Any]:
    completed = run.get("status") in ("passed", "failed")
    return {**run, "steps": 1 if completed else None, "tool_calls": [], "failure_kind": None}


def migrate_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """A version 2 baseline as version 3: whether its outputs are whole is not known, so a head-to-head judge
    refuses it (re-record the baseline)."""
    return {**data, "outputs_for_head_to_head": False, "schema_version": 3}


# MIGRATIONS[n] turns a version-n document into a version-(n + 1) one.
MIGRATIONS: dict[int, Migration] = {1: migrate_v1_to_v2, 2: migrate_v2_to_v3}
RESULTS_MIGRATIONS: dict[int, Migration] = {}


def safe_suite_name(name: str, source: Path | str | None = None) -> str:
    """`name` when it is safe as a file name (see SUITE_NAME); an InputError otherwise (never a path escape)."""
    from agent_eval.suite.schema import SUITE_NAME

    if not SUITE_NAME.match(name):
        raise InputError(source, f"suite name {name!r} is not a plain name (letters, digits, '.', '_', '-'); "
                         "it cannot be used as a file name", field="suite.name")
    return name


def default_baseline_path(suite_name: str, cwd: Path) -> Path:
    """Where a suite's baseline lives by default: golden/baselines/<suite>.json."""
    return Path(cwd) / "golden" / "baselines" / f"{safe_suite_name(suite_name)}.json"


def dump_json(model: BaseModel) -> str:
    """Diff-friendly JSON: sorted keys, two-space indent, newline at the end."""
    data = model.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def baseline_root(suite_path: Path) -> Path:
    """The folder whose golden/baselines/ holds a suite's baseline.

    The nearest ancestor of the suite file's folder that has golden/baselines/, else the git
    top level above it, else the suite's own folder: so a run from any folder, a monorepo and
    `init DIR` all find (and `--save-baseline` writes) the same file.
    """
    folder = Path(suite_path).resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "golden" / "baselines").is_dir():
            return candidate
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def save_baseline(results: Results, path: Path, *, k: int | None = None) -> Baseline:
    """Write `results` as the baseline at `path`, atomically; refuses an incomplete run.

    `k`: the suite's k when the run used more runs per case (see `baseline_from_results`).
    """
    if not results.complete:
        why = f" ({results.incomplete_reason})" if results.incomplete_reason else ""
        raise UsageError(f"refusing to save an incomplete run as the baseline{why}; run the whole suite")
    baseline = baseline_from_results(results, k=k)
    write_atomic(Path(path), dump_json(baseline))
    return baseline


def update_cases(baseline: Baseline, results: Results, case_ids: Sequence[str]) -> tuple[Baseline, list[str], list[str]]:
    """`baseline` with just `case_ids` re-recorded from `results`: a case the results ran replaces (or adds) the
    baseline's, a case they did not run is removed (renamed or deleted). Returns it, the re-recorded and the
    removed ids; an id in neither file is a usage error."""
    ran = {c.id: c for c in results.cases}
    known = {c.id for c in baseline.cases}
    unknown = sorted(i for i in set(case_ids) if i not in ran and i not in known)
    if unknown:
        raise UsageError(f"--cases: {', '.join(unknown)} is in neither the baseline nor the results; nothing was saved")
    k = baseline.cases[0].stats.k if baseline.cases else results.suite.repeat
    wanted = set(case_ids)
    fresh = baseline_from_results(results.model_copy(update={"cases": tuple(c for c in results.cases if c.id in wanted)}),
                                  k=k).cases
    for case in fresh:
        if not any(r.status.value != "errored" or r.error_kind == "target" for r in case.runs):
            raise UsageError(f"--cases: case '{case.id}' has no completed run in the results; nothing was saved")
    kept = [c for c in baseline.cases if c.id not in wanted]
    cases = tuple(sorted((*kept, *fresh), key=lambda c: c.id))
    removed = sorted(wanted - set(ran))
    return baseline.model_copy(update={"cases": cases}), sorted(c.id for c in fresh), removed


def load_baseline(path: Path) -> Baseline:
    """Read, version-check, migrate and validate a baseline file."""
    raw = _read_json(Path(path))
    data = upgrade(raw, current=BASELINE_SCHEMA_VERSION, migrations=MIGRATIONS, path=path, what="baseline")
    _check_numbers(data, path)
    baseline = _validate(Baseline, data, path)
    safe_suite_name(baseline.provenance.suite_name, path)
    return baseline


def load_results(path: Path) -> Results:
    """Read a `results.json` file, or the one inside a results folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    raw = _read_json(path)
    data = upgrade(
        raw, current=RESULTS_SCHEMA_VERSION, migrations=RESULTS_MIGRATIONS, path=path, what="results"
    )
    _check_numbers(data, path)
    results = _validate(Results, data, path)
    safe_suite_name(results.suite.name, path)
    return results


# Fields that are fractions (rates, normalized scores) and fields that can never be negative. A rubric's own
# `score` is on its scale (e.g. 1-5), so only `normalized` is checked there.
_UNIT = frozenset({"score", "pass_rate", "pass_hat_k", "pass_at_k", "error_rate", "normalized", "refusal_rate",
                   "score_ci", "judge_disagreement"})
_NON_NEGATIVE = frozenset({"n", "k", "passed", "errors", "runs", "cases", "flaky", "critical_failed", "tokens",
                           "cost_usd", "mean_cost_usd", "judge_cost_usd", "latency_ms", "latency_p50_ms",
                           "latency_p95_ms", "latency_p99_ms", "input", "output", "cached_runs", "repeat", "index",
                           "output_chars_p50", "output_chars_p95", "duration_ms", "start_ms"})


def _check_numbers(data: Any, path: Path | str) -> None:
    """Refuse NaN, infinities, negative counts and out-of-range rates before anything is computed from them."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, (*loc, key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*loc, i)) for i, item in enumerate(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            problem = _number_problem(value, loc)
            if problem:
                field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))
                raise InputError(path, f"{problem}, got {value!r}", field=field)


def _number_problem(value: float, loc: tuple[str | int, ...]) -> str | None:
    name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if not math.isfinite(value):
        return "expected a finite number"
    if name in _UNIT and not (name == "score" and "rubrics" in loc) and not 0 <= value <= 1:
        return "expected a number between 0 and 1"
    if name in _NON_NEGATIVE and value < 0:
        return "expected a number of at least 0"
    return None


def upgrade(
    raw: dict[str, Any], *, current: int, migrations: Mapping[int, Migration], path: Path | str, what: str
) -> dict[str, Any]:
    """Bring a raw document to version `current`, refusing newer ones."""
    version = raw.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(path, f"schema_version must be an integer, got {version!r}", field="schema_version")
    if version > current:
        raise InputError(
            path,
            f"{what} schema_version {version} is newer than this agent-eval supports ({current}); "
            "upgrade agent-eval",
            field="schema_version",
        )
    data = dict(raw)
    while version < current:
        step = migrations.get(version)
        if step is None:
            raise InputError(path, f"{what} schema_version {version} is too old to read", field="schema_version")
        data = step(data)
        version += 1
        data["schema_version"] = version
    return data


def _read_json(path: Path) -> dict[str, Any]:
    from agent_eval._files import ReadRefused, read_limited

    try:
        text = read_limited(path).decode("utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except ReadRefused as exc:
        raise InputError(path, str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    except RecursionError:
        raise InputError(path, "invalid JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise InputError(path, f"expected a JSON object, got {type(raw).__name__}")
    return raw


def _validate(model: type[M], data: dict[str, Any], path: Path | str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = ".".join(str(part) for part in first["loc"]) or None
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise InputError(path, f"{first['msg']}{more}", field=loc) from None


