"""After the runs: gate, print, write reports. Shared by `run`, `compare`, `merge` and `report`."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.baseline.verdict import CaseStatus, Outcome, Verdict
from agent_eval.records import Results

if TYPE_CHECKING:
    from agent_eval.baseline.options import GateOptions
    from agent_eval.baseline.schema import Baseline
    from agent_eval.suite.schema import GateSpec

__all__ = [
    "GateFlags",
    "SuiteOutcome",
    "baseline_location",
    "combined_exit",
    "emit_json",
    "gate_and_report",
    "gate_options",
    "resolve_baseline",
]


@dataclass(frozen=True, slots=True)
class GateFlags:
    """Gate options from the command line; None means the suite's `gate:` block or the default."""

    max_drop: float | None = None
    alpha: float = 0.05
    strict: bool = False
    absolute: bool = False
    redact: bool = False
    errors_as_failures: bool = False
    require_baseline: bool = False
    new_suites: tuple[str, ...] = ()  # suites exempt from --require-baseline (new in this change)
    strict_versioning: bool = False  # a patch/minor bump that moved the score significantly exits 2


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """One suite's results, verdict and where they were written."""

    results: Results
    verdict: Verdict
    out_dir: Path
    baseline_path: Path | None
    baseline: Baseline | None = None
    versioning: str | None = None  # the versioning warning, when the bump understates the change
    strict_versioning: bool = False

    @property
    def exit_code(self) -> int:
        """The verdict's code, or 2 when --strict-versioning and the version bump understates the change."""
        if self.versioning and self.strict_versioning:
            return combined_exit([self.verdict.exit_code, 2])
        return self.verdict.exit_code


def baseline_location(suite_name: str, suite_path: Path | str) -> Path:
    """golden/baselines/<suite>.json under the suite's baseline root (see `baseline_root`)."""
    from agent_eval.baseline.store import baseline_root, default_baseline_path

    return default_baseline_path(suite_name, baseline_root(Path(suite_path)))


def resolve_baseline(
    flag: Path | None, suite_name: str, suite_path: Path | str, *, required: bool = False
) -> tuple[Baseline | None, Path | None, Path]:
    """(baseline, its path, the path looked for): `--baseline FILE`, else the suite's default location.

    `required`: no baseline there is an error (exit 2) instead of a run without comparison.
    """
    from agent_eval.baseline.store import load_baseline
    from agent_eval.errors import UsageError

    if flag is not None:
        if not flag.exists():
            raise UsageError(f"--baseline {flag} does not exist")
        return load_baseline(flag), flag, flag
    default = baseline_location(suite_name, suite_path)
    if default.exists():
        return load_baseline(default), default, default
    if required:
        raise UsageError(f"suite '{suite_name}' has no baseline: looked for {default} (a baseline is required by "
                         "--require-baseline or gate.require_baseline); record one with `agent-eval run SUITE "
                         "--save-baseline`, or pass --new-suite NAME for a suite that is new in this change")
    return None, None, default


def gate_options(flags: GateFlags, gate_spec: GateSpec | None, *, repeat: int,
                 critical_rates: Mapping[str, float] | None = None, seed: int = 0) -> GateOptions:
    """The gate's options from the command line, the suite's `gate:` block and its critical cases."""
    from agent_eval.baseline.options import Floors, GateOptions, TagRule

    spec = gate_spec
    tags: dict[str, float | TagRule] = {}
    for tag, limit in (spec.tags.items() if spec else ()):
        if isinstance(limit, float | int):
            tags[tag] = float(limit)
        else:
            tags[tag] = TagRule(limit.max_drop, Floors(limit.min_score, limit.min_pass_rate, limit.min_pass_hat_k))
    max_drop = flags.max_drop if flags.max_drop is not None else (
        spec.max_drop if spec and spec.max_drop is not None else 0.03)
    return GateOptions(
        max_drop=max_drop, alpha=flags.alpha, strict=flags.strict, absolute=flags.absolute, tag_limits=tags,
        floors=Floors(spec.min_score, spec.min_pass_rate, spec.min_pass_hat_k) if spec else Floors(),
        critical_min_pass_rate=dict(critical_rates or {}),
        case_collapse=spec.case_collapse if spec else "fail", errors_as_failures=flags.errors_as_failures,
        baseline_repeat=(spec.baseline_repeat if spec and spec.baseline_repeat else 2 * repeat), seed=seed,
    )


def gate_and_report(
    console: Console, results: Results, baseline: Baseline | None, baseline_path: Path | None,
    flags: GateFlags, gate_spec: GateSpec | None, out_dir: Path, *, redact_default: bool = False,
    step_summary: bool = False, critical_rates: Mapping[str, float] | None = None,
    looked_for: Path | None = None,
) -> SuiteOutcome:
    """Decide, print the tables and the verdict, write report.html, junit.xml and summary.md.

    With `step_summary`, summary.md is also appended to $GITHUB_STEP_SUMMARY when that is set.
    """
    from agent_eval.baseline.gate import decide
    from agent_eval.report import ci_run_url, write_reports
    from agent_eval.report.console import print_failure_kinds, print_named_metrics, print_results, print_verdict
    from agent_eval.report.conversations import print_conversations

    options = gate_options(flags, gate_spec, repeat=results.suite.repeat, critical_rates=critical_rates,
                           seed=results.seed)
    verdict = decide(results, baseline, options)
    versioning = _versioning(results, baseline, verdict)
    if versioning:
        verdict = dataclasses.replace(verdict, warnings=(*verdict.warnings, versioning))
    print_results(console, results)
    print_named_metrics(console, results, baseline)
    if baseline_path is not None:
        console.print(f"baseline: {baseline_path}", markup=False, highlight=False)
    elif looked_for is not None:
        console.print(f"baseline: none (looked for {looked_for})", markup=False, highlight=False)
    print_verdict(console, verdict)
    print_failure_kinds(console, results, baseline)
    print_conversations(console, results, baseline)
    paths = write_reports(out_dir, results, verdict, baseline, redact=flags.redact or redact_default,
                          run_url=ci_run_url(os.environ))
    if step_summary:
        from agent_eval.report.markdown import append_step_summary

        append_step_summary(paths.markdown.read_text(encoding="utf-8"), os.environ)
    for label, path in (("results:", out_dir / "results.json"), ("report: ", paths.html)):
        if Path(path).exists():  # only what is there: `report --out` writes no results.json
            console.print(f"{label} {path}")
    if versioning and flags.strict_versioning:
        console.print(Text.assemble(("error", "red"), f": --strict-versioning: {plain(versioning)}"))
    return SuiteOutcome(results=results, verdict=verdict, out_dir=out_dir, baseline_path=baseline_path,
                        baseline=baseline, versioning=versioning, strict_versioning=flags.strict_versioning)


def _versioning(results: Results, baseline: Baseline | None, verdict: Verdict) -> str | None:
    from agent_eval.baseline.verdict import CaseStatus
    from agent_eval.baseline.versioning import moved_p, version_change_warning

    if baseline is None:
        return None
    skip = (CaseStatus.NEW, CaseStatus.MISSING, CaseStatus.CHANGED)
    pairs = [(c.baseline_score, c.candidate_score) for c in verdict.cases if c.status not in skip
             and c.baseline_score is not None and c.candidate_score is not None]
    return version_change_warning(baseline.provenance.config_version, results.config.version,
                                  p_moved=moved_p(pairs), change=verdict.relative_change, alpha=verdict.alpha)


_PRECEDENCE = {2: 4, 3: 3, 1: 2, 0: 0}


def combined_exit(codes: Sequence[int]) -> int:
    """The worst exit code in the precedence 2, then 3, then 1, then 0."""
    return max(codes, key=lambda c: _PRECEDENCE.get(c, 1), default=0)


def write_combined(out_root: Path, outcomes: Sequence[SuiteOutcome], *, redact: bool) -> None:
    """One summary.md and junit.xml for several suites; appended to $GITHUB_STEP_SUMMARY when set."""
    from agent_eval._files import write_atomic
    from agent_eval.report import ci_run_url, combine_junit, combine_markdown
    from agent_eval.report.markdown import append_step_summary

    entries = [(o.results, o.verdict, o.baseline) for o in outcomes]
    write_atomic(out_root / "junit.xml", combine_junit(entries))
    markdown = combine_markdown(entries, redact=redact, run_url=ci_run_url(os.environ))
    write_atomic(out_root / "summary.md", markdown)
    append_step_summary(markdown, os.environ)


def verdict_json(outcome: SuiteOutcome) -> dict[str, Any]:
    from agent_eval.report._errors import top_errors

    v = outcome.verdict
    reasons = top_errors(outcome.results).reasons
    return {
        "suite": outcome.results.suite.name,
        "config": f"{outcome.results.config.name} {outcome.results.config.version}", "outcome": v.outcome.value, "exit_code": v.exit_code,
        "rule": v.rule, "warnings": list(v.warnings), "baseline": str(outcome.baseline_path or "") or None,
        "candidate_score": v.candidate_score, "candidate_ci": v.candidate_ci, "baseline_score": v.baseline_score,
        "baseline_ci": v.baseline_ci, "relative_change": v.relative_change,
        "relative_change_ci": v.relative_change_ci, "p_value": v.p_value,
        "min_detectable_drop": v.min_detectable_drop, "max_drop": v.max_drop,
        "critical_failures": list(v.critical_failures),
        "regressed": [d.case_id for d in v.regressed()],
        "new_failures": [d.case_id for d in v.by_status(CaseStatus.NEW_FAILURE)],
        "routes": [{"name": r.name, "p_value": r.p_value, "failed": r.failed, "text": r.text} for r in v.routes],
        "sensitivity": v.sensitivity, "notes": list(v.notes), "baseline_se": v.baseline_se,
        "results": _existing(outcome.out_dir / "results.json"), "report": _existing(outcome.out_dir / "report.html"),
        "runs": outcome.results.summary.runs, "errors": outcome.results.summary.errors,
        "top_errors": [{"kind": r.kind, "message": r.message, "count": r.count} for r in reasons],
    }


def _existing(path: Path) -> str | None:
    return str(path) if path.exists() else None


def emit_json(outcomes: Sequence[SuiteOutcome], code: int) -> None:
    """The machine-readable verdict on stdout (progress and tables went to stderr)."""
    worst = Outcome.PASS
    order = [Outcome.PASS, Outcome.WARN, Outcome.FAIL, Outcome.INCOMPLETE]
    for o in outcomes:
        worst = max(worst, o.verdict.outcome, key=order.index)
    payload = {"schema_version": 1, "outcome": worst.value, "exit_code": code,
               "suites": [verdict_json(o) for o in outcomes]}
    print(json.dumps(payload, indent=2))
