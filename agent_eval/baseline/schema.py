"""The baseline file: one good run of a suite, kept in git and compared against.

It stores the provenance of the run and, per case, the reduced statistics and each run's
score, verdict, status, output and trajectory (steps and tool calls), with the failure kind of a
failed run: enough to gate and to show what changed, without the full traces.
Version 2 added the trajectory, the failure kind and the optional slots for later features;
`store.migrate_v1_to_v2` reads version 1 files. Version 3 says whether the outputs are kept whole for a
head-to-head judge (`outputs_for_head_to_head`); older files read as not.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent_eval.records import CaseStats, ConfigInfo, FailureKind, Record, Results, RunRecord, RunStatus
from agent_eval.trace.trajectory import TrajectoryCall, run_steps, run_trajectory

__all__ = [
    "BASELINE_SCHEMA_VERSION",
    "Baseline",
    "BaselineCase",
    "BaselineRun",
    "Provenance",
    "TrajectoryCall",
    "baseline_from_results",
    "baseline_run",
]

BASELINE_SCHEMA_VERSION = 3


class Provenance(Record):
    """What produced the baseline: suite, config, models, judge and code."""

    suite_name: str
    suite_hash: str = Field(description="Hash of the suite file and its case files.")
    config_name: str
    config_version: str
    config_hash: str
    model: str = Field(description="The candidate model id the config names.")
    judge_model: str | None = Field(None, description="Pinned judge model id, if any rubric ran.")
    judge_prompt_hash: str | None = Field(None, description="Hash of the judge prompt template.")
    git_commit: str | None = None
    created_at: str = Field(description="When the run finished (ISO 8601).")
    tool_version: str = Field(description="The agent-eval version that ran it.")
    repeat: int = Field(ge=1, description="k: runs per case.")
    seed: int
    config: ConfigInfo | None = Field(None, description="The execution context (prompt, params), for the config diff.")


class BaselineRun(Record):
    """One run of a case, reduced to what the gate and the diff need."""

    index: int
    score: float | None
    passed: bool
    status: RunStatus
    output: str = ""
    latency_ms: float | None = None
    cost_usd: float | None = None
    error_kind: str | None = Field(None, description="Why an errored run errored (`target`: the agent crashed).")
    steps: int | None = Field(None, description="Model calls the target made (1 for a plain prompt call).")
    tool_calls: tuple[TrajectoryCall, ...] = Field((), description="The trajectory: tool calls with arguments and results.")
    failure_kind: FailureKind | None = Field(None, description="Where a failed run went wrong, from its trace.")
    escalation: dict[str, Any] | None = Field(
        None, description='The run\'s escalation, {"escalated": bool}, when the config declares `escalation:`.')
    metrics: dict[str, float] = Field(default_factory=dict,
                                      description="Named metrics of the run (`metric:` on checks and rubrics).")
    assistant_turns: tuple[str, ...] | None = Field(
        None, description="A conversation's assistant replies, turn by turn.")
    refused: bool | None = Field(
        None, description="The reply reads as a refusal, as the run recorded it (None: not recorded, read from "
        "the output).")


class BaselineCase(Record):
    """One case of the baseline."""

    id: str
    tags: tuple[str, ...] = ()
    critical: bool = False
    definition_hash: str = Field(description="A different hash under the same id means the case changed.")
    stats: CaseStats
    runs: tuple[BaselineRun, ...]


class Baseline(Record):
    """The `golden/baselines/<suite>.json` file."""

    schema_version: int = BASELINE_SCHEMA_VERSION
    provenance: Provenance
    cases: tuple[BaselineCase, ...]
    outputs_for_head_to_head: bool = Field(
        False, description="Every run's output is kept whole (not redacted), so `head_to_head: true` rubrics can "
        "compare a candidate with it; false for a redacted baseline and one older than version 3.")

    def case(self, case_id: str) -> BaselineCase | None:
        """The case with this id, or None."""
        return next((c for c in self.cases if c.id == case_id), None)


def baseline_from_results(results: Results, *, k: int | None = None) -> Baseline:
    """Reduce a run's results to a baseline, cases sorted by id and runs by index (stable diffs).

    `k` is the suite's own k when the baseline ran more runs per case (`gate.baseline_repeat`): its
    pass^k is then pass^k of the suite, estimated from every run.
    """
    from agent_eval.stats.reduce import case_stats

    cfg = results.config
    provenance = Provenance(
        suite_name=results.suite.name,
        suite_hash=results.suite.hash,
        config_name=cfg.name,
        config_version=cfg.version,
        config_hash=cfg.hash,
        model=cfg.model,
        judge_model=cfg.judge_model,
        judge_prompt_hash=cfg.judge_prompt_hash,
        git_commit=results.git_commit,
        created_at=results.finished_at,
        tool_version=results.tool_version,
        repeat=results.suite.repeat,
        seed=results.seed,
        config=cfg,
    )
    cases = tuple(
        BaselineCase(
            id=c.id,
            tags=tuple(c.tags),
            critical=c.critical,
            definition_hash=c.definition_hash,
            stats=c.stats if k is None else case_stats(c.runs, k),
            runs=tuple(baseline_run(r) for r in sorted(c.runs, key=lambda r: r.index)),
        )
        for c in sorted(results.cases, key=lambda c: c.id)
    )
    from agent_eval.masking import REDACTED

    kept = not any(r.output == REDACTED for c in cases for r in c.runs)
    return Baseline(provenance=provenance, cases=cases, outputs_for_head_to_head=kept)


def baseline_run(run: RunRecord) -> BaselineRun:
    """One run reduced to what the gate and the diff need, its trajectory and named metrics included."""
    from agent_eval.stats.named import run_metrics

    return BaselineRun(
        index=run.index, score=run.score, passed=run.passed, status=run.status, output=run.output,
        latency_ms=run.latency_ms, cost_usd=run.cost_usd, error_kind=run.error.kind if run.error is not None else None,
        steps=run_steps(run), tool_calls=run_trajectory(run), failure_kind=run.failure_kind,
        escalation={"escalated": run.escalated} if run.escalated is not None else None,
        assistant_turns=tuple(turn.output for turn in run.turns) if run.turns else None,
        metrics=run_metrics(run), refused=run.refused,
    )
