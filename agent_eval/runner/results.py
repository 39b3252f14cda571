"""Assemble `results.json` from run records: one record per (case, repetition)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval._version import __version__
from agent_eval.records import CaseResult, ConfigInfo, Results, RunRecord, SuiteInfo
from agent_eval.suite.case import Case
from agent_eval.suite.loader import LoadedConfig, LoadedSuite

__all__ = ["Provenance", "build_results", "config_info", "git_state"]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where and when a run happened, and whether it covered everything it was asked to."""

    seed: int
    repeat: int
    started_at: str
    finished_at: str
    complete: bool
    incomplete_reason: str | None = None
    shard: tuple[int, int] | None = None
    judge_model: str | None = None
    judge_prompt_hash: str | None = None
    reruns: int = 0  # runs re-run at the end after a provider, timeout or judge error


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """The commit and dirty flag of the repository holding `folder`, if there is one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def config_info(config: LoadedConfig, provenance: Provenance) -> ConfigInfo:
    spec = config.spec
    return ConfigInfo(
        name=spec.name, version=spec.version, hash=config.hash, path=str(config.path),
        provider=spec.model.provider, model=spec.model.name, params=dict(spec.model.params),
        system_prompt=spec.prompt.system, user_template=config.prompt_file.source if config.prompt_file is not None else spec.prompt.user, author=spec.author,
        rationale=spec.rationale, judge_model=provenance.judge_model,
        judge_prompt_hash=provenance.judge_prompt_hash, opaque=config.opaque, sources=dict(config.sources),
    )


def case_result(case: Case, runs: Sequence[RunRecord], repeat: int) -> CaseResult:
    from agent_eval.stats.reduce import case_stats

    ordered = tuple(sorted(runs, key=lambda r: r.index))
    case_input: Any = case.input if isinstance(case.input, str) else [m.model_dump() for m in case.input]
    if case.conversation is not None:  # the scripted user turns (templates, as written)
        case_input = [{"role": "user", "content": turn.user} for turn in case.conversation]
    elif case.simulated_user is not None:
        case_input = f"(simulated user) {case.simulated_user.opening}"
    return CaseResult(
        id=case.id, tags=case.tags, critical=case.critical, definition_hash=case.definition_hash,
        input=case_input, expected=case.expected, runs=ordered, stats=case_stats(ordered, repeat),
    )


def build_results(
    suite: LoadedSuite, config: LoadedConfig, cases: Sequence[Case],
    runs: Mapping[tuple[str, int], RunRecord], provenance: Provenance,
) -> Results:
    """Results for `cases`, each with the runs recorded for it."""
    from agent_eval.stats.named import with_named_metrics
    from agent_eval.stats.reduce import summarize

    by_case: dict[str, list[RunRecord]] = {c.id: [] for c in cases}
    for (case_id, _), record in runs.items():
        if case_id in by_case:
            by_case[case_id].append(record)
    case_results = tuple(case_result(c, by_case[c.id], provenance.repeat) for c in cases)
    commit, dirty = git_state(suite.base_dir)
    return Results(
        tool_version=__version__,
        suite=SuiteInfo(name=suite.name, path=str(suite.path), hash=suite.hash, repeat=provenance.repeat),
        config=config_info(config, provenance), seed=provenance.seed, git_commit=commit, git_dirty=dirty,
        started_at=provenance.started_at, finished_at=provenance.finished_at, complete=provenance.complete,
        incomplete_reason=provenance.incomplete_reason, shard=provenance.shard, cases=case_results,
        ungated=suite.ungated, reruns=provenance.reruns,
        summary=with_named_metrics(summarize(case_results, rng_seed=provenance.seed), case_results,
                                   suite.spec.derived_metrics),
    )
