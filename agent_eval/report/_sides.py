"""Both sides of a comparison in one shape: the candidate `Results` and the stored `Baseline`.

The writers only read `Side`, so the baseline file format is known in this module alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from agent_eval.baseline.schema import Baseline, BaselineCase
from agent_eval.records import CaseStats, ConfigInfo, GroupStats, Results
from agent_eval.stats.describe import mean, mean_ci, percentile
from agent_eval.trace.trajectory import TrajectoryCall

__all__ = [
    "Provenance",
    "Side",
    "SideCase",
    "SideRun",
    "baseline_side",
    "candidate_side",
    "group_stats",
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
    refusal: bool = False  # computed once per run: the group statistics of every tag reuse it
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


def candidate_side(results: Results) -> Side:
    """The candidate run as a `Side`."""
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
    cases = {
        c.id: SideCase(
            id=c.id,
            tags=tuple(c.tags),
            critical=c.critical,
            definition_hash=c.definition_hash,
            stats=c.stats,
            runs=tuple(
                SideRun(r.index, str(r.status), r.passed, r.score, r.output, r.latency_ms, steps=r.steps,
                        assistant_turns=tuple(t.output for t in r.turns) if r.turns else None,
                        escalated=r.escalated)
                for r in c.runs
            ),
        )
        for c in results.cases
    }
    summary = results.summary
    return Side(prov, cfg, summary, dict(summary.tags), cases, judge_disagreement=summary.judge_disagreement)


def baseline_side(baseline: Baseline) -> Side:
    """A stored baseline as a `Side`; its group statistics are recomputed from its cases."""
    from agent_eval.refusal_phrases import is_refusal

    refusal = cache(is_refusal)  # the runs of a case often repeat an output
    cases = {c.id: _baseline_case(c, refusal) for c in baseline.cases}
    tags = {t: group_stats(c for c in cases.values() if t in c.tags) for t in _all_tags(cases.values())}
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
    known = any(r.cost_usd is not None for c in cases.values() for r in c.runs)
    return Side(prov, p.config, group_stats(cases.values()), tags, cases, costs_known=known)


def _baseline_case(case: BaselineCase, is_refusal: Callable[[str], bool]) -> SideCase:
    runs = tuple(
        SideRun(r.index, str(r.status), r.passed, r.score, r.output, r.latency_ms, is_refusal(r.output), r.cost_usd,
                r.steps, r.tool_calls, r.failure_kind,
                assistant_turns=getattr(r, "assistant_turns", None),
                escalated=_escalated(getattr(r, "escalation", None)))
        for r in case.runs
    )
    return SideCase(case.id, tuple(case.tags), case.critical, case.definition_hash, case.stats, runs)


def _all_tags(cases: Iterable[SideCase]) -> list[str]:
    return sorted({t for c in cases for t in c.tags})


def _mean(values: Iterable[float | None]) -> float | None:
    return mean([v for v in values if v is not None])


def group_stats(cases: Iterable[SideCase]) -> GroupStats:
    """A baseline's statistics over cases, by the same definitions as `stats.reduce.summarize`.

    Latency and cost come from the baseline's runs (older baselines have neither); tokens are not kept.
    """
    items = list(cases)
    scored = [c.stats for c in items if c.stats.n > 0]
    done = [r for c in items for r in c.runs if r.status != "errored"]
    runs = sum(len(c.runs) for c in items)
    errors = sum(c.stats.errors for c in items)
    lat = [r.latency_ms for r in done if r.latency_ms is not None]
    lengths = [float(len(r.output)) for r in done]
    scores = [s.score for s in scored if s.score is not None]
    costs = [r.cost_usd for c in items for r in c.runs if r.cost_usd is not None]
    return GroupStats(
        cases=len(items),
        runs=runs,
        errors=errors,
        error_rate=errors / runs if runs else 0.0,
        pass_rate=_mean(s.pass_rate for s in scored),
        pass_hat_k=_mean(s.pass_hat_k for s in scored),
        pass_at_k=_mean(s.pass_at_k for s in scored),
        score=mean(scores),
        score_ci=mean_ci(scores, lower=0.0, upper=1.0),
        flaky=sum(1 for c in items if c.stats.flaky),
        critical_failed=sum(1 for c in items if c.critical and (c.stats.n == 0 or c.stats.passed < c.stats.n)),
        latency_p50_ms=percentile(lat, 50),
        latency_p95_ms=percentile(lat, 95),
        latency_p99_ms=percentile(lat, 99),
        refusal_rate=mean([float(r.refusal) for r in done]),
        output_chars_p50=percentile(lengths, 50),
        output_chars_p95=percentile(lengths, 95),
        cost_usd=math.fsum(costs),
        mean_cost_usd=mean([r.cost_usd for r in done if r.cost_usd is not None]),
    )


def _escalated(recorded: Any) -> bool | None:
    """A baseline run's escalation slot (schema 2: {"escalated": bool}), when it was recorded."""
    value = recorded.get("escalated") if isinstance(recorded, dict) else None
    return value if isinstance(value, bool) else None
