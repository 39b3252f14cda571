"""Both sides of a comparison in one shape: the candidate `Results` and the stored `Baseline`.

The writers only read `Side`, so the baseline file format is known in this module alone. Both sides are
built by `side_from_cases`, their statistics by `stats.reduce.group_stats` (what `results.json` holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_eval.baseline.schema import Baseline, BaselineCase, BaselineRun, baseline_run
from agent_eval.records import CaseResult, CaseStats, ConfigInfo, GroupStats, Results, RunRecord
from agent_eval.stats.reduce import group_stats, refused, tag_stats
from agent_eval.trace.trajectory import TrajectoryCall

__all__ = [
    "Provenance",
    "Side",
    "SideCase",
    "SideRun",
    "baseline_side",
    "candidate_side",
    "side_case",
    "side_from_cases",
]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one side's numbers came from."""

    suite_name: str | None = None
    suite_hash: str | None = None
    config_name: str | None = None
    config_version: str | None = None
    config_hash: str | None = None
    provider: str | None = None
    model: str | None = None
    judge_model: str | None = None
    judge_prompt_hash: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    date: str | None = None
    tool_version: str | None = None
    k: int | None = None


@dataclass(frozen=True, slots=True)
class SideRun:
    """One run as the reports need it, from either side."""

    index: int
    status: str
    passed: bool
    score: float | None
    output: str
    latency_ms: float | None = None
    refusal: bool = False  # as the run recorded it (older files: from its output)
    cost_usd: float | None = None
    steps: int | None = None  # baseline runs: the stored trajectory, compared with the candidate's trace
    trajectory: tuple[TrajectoryCall, ...] = ()
    failure_kind: str | None = None
    assistant_turns: tuple[str, ...] | None = None  # a conversation's replies, for the chat view
    escalated: bool | None = None  # None: not recorded (no `escalation:` in the config)


@dataclass(frozen=True, slots=True)
class SideCase:
    """One case of one side."""

    id: str
    tags: tuple[str, ...]
    critical: bool
    definition_hash: str
    stats: CaseStats
    runs: tuple[SideRun, ...]


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: provenance, statistics and cases by id."""

    provenance: Provenance
    config: ConfigInfo | None
    stats: GroupStats
    tags: Mapping[str, GroupStats]
    cases: Mapping[str, SideCase]
    costs_known: bool = True  # baselines written before they kept cost have none
    judge_disagreement: float | None = None  # a baseline stores no rubric samples

    def latencies(self) -> list[float]:
        """Latency of every run that recorded one, in milliseconds."""
        return [r.latency_ms for c in self.cases.values() for r in c.runs if r.latency_ms is not None]

    def mean_steps(self) -> float | None:
        """Mean model calls per completed run that recorded them (agents: their steps)."""
        steps = [r.steps for c in self.cases.values() for r in c.runs if r.steps is not None and r.status != "errored"]
        return sum(steps) / len(steps) if steps else None

    def case_scores(self) -> list[float]:
        """The mean score of every case that has one."""
        return [c.stats.score for c in self.cases.values() if c.stats.score is not None]


def side_from_cases(
    provenance: Provenance, config: ConfigInfo | None, cases: Sequence[CaseResult | BaselineCase], *,
    judge_disagreement: float | None = None,
) -> Side:
    """A side from its cases, candidate or baseline alike; statistics by `group_stats`, per tag by `tag_stats`."""
    by_id = {c.id: side_case(c) for c in cases}
    known = any(r.cost_usd is not None for c in by_id.values() for r in c.runs)
    return Side(provenance, config, group_stats(cases), tag_stats(cases), by_id, costs_known=known,
                judge_disagreement=judge_disagreement)


def side_case(case: CaseResult | BaselineCase) -> SideCase:
    """One case of either file as the reports read it; a results run is reduced as a baseline would keep it."""
    runs = tuple(_side_run(baseline_run(r) if isinstance(r, RunRecord) else r) for r in case.runs)
    return SideCase(case.id, tuple(case.tags), case.critical, case.definition_hash, case.stats, runs)


def _side_run(r: BaselineRun) -> SideRun:
    return SideRun(r.index, str(r.status), r.passed, r.score, r.output, r.latency_ms, refused(r), r.cost_usd,
                   r.steps, r.tool_calls, r.failure_kind, assistant_turns=r.assistant_turns,
                   escalated=_escalated(r.escalation))


def candidate_side(results: Results) -> Side:
    """The candidate run as a `Side`; its named metrics, which need the suite's formulas, come from its summary."""
    cfg = results.config
    prov = Provenance(
        suite_name=results.suite.name,
        suite_hash=results.suite.hash,
        config_name=cfg.name,
        config_version=cfg.version,
        config_hash=cfg.hash,
        provider=cfg.provider,
        model=cfg.model,
        judge_model=cfg.judge_model,
        judge_prompt_hash=cfg.judge_prompt_hash,
        git_commit=results.git_commit,
        git_dirty=results.git_dirty,
        date=results.started_at,
        tool_version=results.tool_version,
        k=results.suite.repeat,
    )
    summary = results.summary
    side = side_from_cases(prov, cfg, results.cases, judge_disagreement=summary.judge_disagreement)
    tags = {t: _named(g, summary.tags.get(t)) for t, g in side.tags.items()}
    return Side(side.provenance, side.config, _named(side.stats, summary), tags, side.cases,
                costs_known=True, judge_disagreement=side.judge_disagreement)


def _named(stats: GroupStats, recorded: GroupStats | None) -> GroupStats:
    if recorded is None or not (recorded.metrics or recorded.derived):
        return stats
    return stats.model_copy(update={"metrics": recorded.metrics, "derived": recorded.derived})


def baseline_side(baseline: Baseline) -> Side:
    """A stored baseline as a `Side`; its group statistics are computed from its cases."""
    p = baseline.provenance
    prov = Provenance(
        suite_name=p.suite_name,
        suite_hash=p.suite_hash,
        config_name=p.config_name,
        config_version=p.config_version,
        config_hash=p.config_hash,
        model=p.model,
        provider=p.config.provider if p.config else None,
        judge_model=p.judge_model,
        judge_prompt_hash=p.judge_prompt_hash,
        git_commit=p.git_commit,
        date=p.created_at,
        tool_version=p.tool_version,
        k=p.repeat,
    )
    # Baselines record their full config (prompt text, parameters), so the config diff is complete.
    return side_from_cases(prov, p.config, baseline.cases)


def _escalated(recorded: Any) -> bool | None:
    """A baseline run's escalation slot (schema 2: {"escalated": bool}), when it was recorded."""
    value = recorded.get("escalated") if isinstance(recorded, dict) else None
    return value if isinstance(value, bool) else None
