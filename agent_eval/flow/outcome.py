"""What a run produced: each arm's results and verdict, and the run's exit code, from the verdicts alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_eval.baseline.verdict import CaseStatus, Outcome, Verdict, combined_exit
from agent_eval.records import Results

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.report.head_to_head import HeadToHead

__all__ = ["JSON_SCHEMA_VERSION", "RunOutcome", "SuiteOutcome", "outcome_json"]

JSON_SCHEMA_VERSION = 1
_ORDER = [Outcome.PASS, Outcome.WARN, Outcome.FAIL, Outcome.INCOMPLETE]


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """One arm (a suite run with one config): its results, the verdict and where they were written."""

    results: Results
    verdict: Verdict
    out_dir: Path
    baseline_path: Path | None
    baseline: Baseline | None = None
    arm: str | None = None  # the config's label when several configs ran
    head_to_head: HeadToHead | None = None  # the `head_to_head: true` rubrics' win rates, when any ran
    adaptive: dict[str, Any] | None = None  # --adaptive: how the sequential run stopped, runs against fixed k

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """Every arm of a run. `exit_code` is the worst verdict's code (2, then 3, then 1, then 0)."""

    suites: tuple[SuiteOutcome, ...] = ()
    matrices: tuple[Path, ...] = ()
    traces: Path | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return combined_exit([s.verdict.exit_code for s in self.suites])

    @property
    def outcome(self) -> Outcome:
        """The worst outcome of every arm (PASS when nothing ran)."""
        return max((s.verdict.outcome for s in self.suites), key=_ORDER.index, default=Outcome.PASS)


def outcome_json(outcomes: Sequence[SuiteOutcome]) -> dict[str, Any]:
    """The machine-readable verdict (`--format json`); its `exit_code` is the process exit code."""
    worst = max((o.verdict.outcome for o in outcomes), key=_ORDER.index, default=Outcome.PASS)
    return {"schema_version": JSON_SCHEMA_VERSION, "outcome": worst.value,
            "exit_code": combined_exit([o.verdict.exit_code for o in outcomes]),
            "suites": [_suite_json(o) for o in outcomes]}


def _suite_json(outcome: SuiteOutcome) -> dict[str, Any]:
    from agent_eval.report._errors import top_errors

    v = outcome.verdict
    reasons = top_errors(outcome.results).reasons
    entry: dict[str, Any] = {
        "suite": outcome.results.suite.name,
        "config": f"{outcome.results.config.name} {outcome.results.config.version}",
        "outcome": v.outcome.value, "exit_code": v.exit_code,
        "rule": v.rule, "warnings": list(v.warnings), "baseline": str(outcome.baseline_path or "") or None,
        "candidate_score": v.candidate_score, "candidate_ci": v.candidate_ci, "baseline_score": v.baseline_score,
        "baseline_ci": v.baseline_ci, "relative_change": v.relative_change,
        "relative_change_ci": v.relative_change_ci, "p_value": v.p_value,
        "min_detectable_drop": v.min_detectable_drop, "max_drop": v.max_drop,
        "critical_failures": list(v.critical_failures),
        "regressed": [d.case_id for d in v.regressed()],
        "new_failures": [d.case_id for d in v.by_status(CaseStatus.NEW_FAILURE)],
        "routes": [{"name": r.name, "kind": r.kind, "case_id": r.case_id, "tag": r.tag, "p_value": r.p_value,
                    "failed": r.failed, "text": r.text} for r in v.routes],
        "sensitivity": v.sensitivity, "notes": list(v.notes), "baseline_se": v.baseline_se,
        "versioning": v.versioning,
        "results": _existing(outcome.out_dir / "results.json"), "report": _existing(outcome.out_dir / "report.html"),
        "runs": outcome.results.summary.runs, "errors": outcome.results.summary.errors,
        "reruns": outcome.results.reruns, "relative_change_bound_alpha": v.bound_alpha,
        "top_errors": [{"kind": r.kind, "message": r.message, "count": r.count} for r in reasons],
    }
    if outcome.arm is not None:
        entry["arm"] = outcome.arm
    if outcome.adaptive is not None:
        entry["adaptive"] = outcome.adaptive
    if outcome.head_to_head is not None:
        h2h = outcome.head_to_head.model_dump(mode="json", exclude={"pairs"})
        entry["head_to_head"] = {**h2h, "file": _existing(outcome.out_dir / "head_to_head.json")}
    return entry


def _existing(path: Path) -> str | None:
    return str(path) if path.exists() else None
