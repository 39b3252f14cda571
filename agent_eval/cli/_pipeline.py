"""After the runs: gate, print, write reports. Shared by `run`, `compare`, `merge` and `report`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from agent_eval.baseline.verdict import Outcome, Verdict
from agent_eval.records import Results

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.suite.schema import GateSpec

__all__ = ["GateFlags", "SuiteOutcome", "combined_exit", "emit_json", "gate_and_report", "resolve_baseline"]


@dataclass(frozen=True, slots=True)
class GateFlags:
    """Gate options from the command line; None means the suite's `gate:` block or the default."""

    max_drop: float | None = None
    alpha: float = 0.05
    strict: bool = False
    absolute: bool = False
    redact: bool = False


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """One suite's results, verdict and where they were written."""

    results: Results
    verdict: Verdict
    out_dir: Path
    baseline_path: Path | None


def resolve_baseline(flag: Path | None, suite_name: str) -> tuple[Baseline | None, Path | None]:
    """`--baseline FILE`, else golden/baselines/<suite>.json under the current directory if it exists."""
    from agent_eval.baseline.store import default_baseline_path, load_baseline
    from agent_eval.errors import UsageError

    if flag is not None:
        if not flag.exists():
            raise UsageError(f"--baseline {flag} does not exist")
        return load_baseline(flag), flag
    default = default_baseline_path(suite_name, Path.cwd())
    return (load_baseline(default), default) if default.exists() else (None, None)


def gate_and_report(
    console: Console, results: Results, baseline: Baseline | None, baseline_path: Path | None,
    flags: GateFlags, gate_spec: GateSpec | None, out_dir: Path, *, redact_default: bool = False,
    step_summary: bool = False,
) -> SuiteOutcome:
    """Decide, print the tables and the verdict, write report.html, junit.xml and summary.md.

    With `step_summary`, summary.md is also appended to $GITHUB_STEP_SUMMARY when that is set.
    """
    from agent_eval.baseline.gate import GateOptions, decide
    from agent_eval.report import ci_run_url, write_reports
    from agent_eval.report.console import print_named_metrics, print_results, print_verdict

    options = GateOptions(
        max_drop=flags.max_drop if flags.max_drop is not None else (gate_spec.max_drop if gate_spec and
                                                                     gate_spec.max_drop is not None else 0.03),
        alpha=flags.alpha, strict=flags.strict, absolute=flags.absolute,
        tag_limits=dict(gate_spec.tags) if gate_spec else {}, seed=results.seed,
    )
    verdict = decide(results, baseline, options)
    print_results(console, results)
    print_named_metrics(console, results, baseline)
    if baseline_path is not None:
        console.print(f"baseline: {baseline_path}")
    print_verdict(console, verdict)
    paths = write_reports(out_dir, results, verdict, baseline, redact=flags.redact or redact_default,
                          run_url=ci_run_url(os.environ))
    if step_summary:
        from agent_eval.report.markdown import append_step_summary

        append_step_summary(paths.markdown.read_text(encoding="utf-8"), os.environ)
    console.print(f"results: {out_dir / 'results.json'}")
    console.print(f"report:  {paths.html}")
    return SuiteOutcome(results=results, verdict=verdict, out_dir=out_dir, baseline_path=baseline_path)


_PRECEDENCE = {2: 4, 3: 3, 1: 2, 0: 0}


def combined_exit(codes: Sequence[int]) -> int:
    """The worst exit code in the precedence 2, then 3, then 1, then 0."""
    return max(codes, key=lambda c: _PRECEDENCE.get(c, 1), default=0)


def write_combined(out_root: Path, outcomes: Sequence[SuiteOutcome], *, redact: bool) -> None:
    """One summary.md and junit.xml for several suites; appended to $GITHUB_STEP_SUMMARY when set."""
    from agent_eval._files import write_atomic
    from agent_eval.report import ci_run_url, combine_junit, combine_markdown
    from agent_eval.report.markdown import append_step_summary

    pairs = [(o.results, o.verdict) for o in outcomes]
    write_atomic(out_root / "junit.xml", combine_junit(pairs))
    markdown = combine_markdown(pairs, redact=redact, run_url=ci_run_url(os.environ))
    write_atomic(out_root / "summary.md", markdown)
    append_step_summary(markdown, os.environ)


def verdict_json(outcome: SuiteOutcome) -> dict[str, Any]:
    v = outcome.verdict
    return {
        "suite": outcome.results.suite.name,
        "config": f"{outcome.results.config.name} {outcome.results.config.version}", "outcome": v.outcome.value, "exit_code": v.exit_code,
        "rule": v.rule, "warnings": list(v.warnings), "baseline": str(outcome.baseline_path or "") or None,
        "candidate_score": v.candidate_score, "candidate_ci": v.candidate_ci, "baseline_score": v.baseline_score,
        "baseline_ci": v.baseline_ci, "relative_change": v.relative_change,
        "relative_change_ci": v.relative_change_ci, "p_value": v.p_value,
        "min_detectable_drop": v.min_detectable_drop, "max_drop": v.max_drop,
        "critical_failures": list(v.critical_failures),
        "regressed": [d.case_id for d in v.cases if d.delta is not None and d.delta < 0],
        "results": str(outcome.out_dir / "results.json"), "report": str(outcome.out_dir / "report.html"),
        "runs": outcome.results.summary.runs, "errors": outcome.results.summary.errors,
    }


def emit_json(outcomes: Sequence[SuiteOutcome], code: int) -> None:
    """The machine-readable verdict on stdout (progress and tables went to stderr)."""
    worst = Outcome.PASS
    order = [Outcome.PASS, Outcome.WARN, Outcome.FAIL, Outcome.INCOMPLETE]
    for o in outcomes:
        worst = max(worst, o.verdict.outcome, key=order.index)
    payload = {"schema_version": 1, "outcome": worst.value, "exit_code": code,
               "suites": [verdict_json(o) for o in outcomes]}
    print(json.dumps(payload, indent=2))
