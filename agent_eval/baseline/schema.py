"""The baseline file: one good run of a suite, kept in git and compared against.

It stores the provenance of the run and, per case, the reduced statistics and each run's
score, verdict, status and output: enough to gate and to show what changed, without traces.
"""

from __future__ import annotations

from pydantic import Field

from agent_eval.records import CaseStats, ConfigInfo, Record, Results, RunStatus

__all__ = [
    "BASELINE_SCHEMA_VERSION",
    "Baseline",
    "BaselineCase",
    "BaselineRun",
    "Provenance",
    "baseline_from_results",
]

BASELINE_SCHEMA_VERSION = 1


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
    metrics: dict[str, float] = Field(
        {}, exclude_if=lambda value: not value,  # absent unless the suite names metrics: older files stay byte-equal
        description="Named metrics of this run (`metric:` on checks and rubrics).")


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
    from agent_eval.stats.named import run_metrics

    cases = tuple(
        BaselineCase(
            id=c.id,
            tags=tuple(c.tags),
            critical=c.critical,
            definition_hash=c.definition_hash,
            stats=c.stats if k is None else case_stats(c.runs, k),
            runs=tuple(
                BaselineRun(index=r.index, score=r.score, passed=r.passed, status=r.status, output=r.output,
                            latency_ms=r.latency_ms, cost_usd=r.cost_usd,
                            error_kind=r.error.kind if r.error is not None else None, metrics=run_metrics(r))
                for r in sorted(c.runs, key=lambda r: r.index)
            ),
        )
        for c in sorted(results.cases, key=lambda c: c.id)
    )
    return Baseline(provenance=provenance, cases=cases)
