"""After the runs: gate one arm, print its tables and verdict, write its reports.

Shared by `run`, `compare`, `merge` and `report`; the gate itself (options, versioning rule, exit code)
is `agent_eval.baseline`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.baseline.options import GateFlags, gate_options
from agent_eval.flow.outcome import SuiteOutcome
from agent_eval.records import Results

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.suite.schema import GateSpec

__all__ = ["baseline_location", "gate_and_report", "resolve_baseline", "suite_gate_spec", "write_combined"]


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


def suite_gate_spec(results_suite_path: str) -> tuple[GateSpec | None, bool, dict[str, float]]:
    """The `gate:` block, report redaction and critical pass rates of the suite a run used, when it is still there."""
    from agent_eval.suite.loader import load_suite

    path = Path(results_suite_path)
    if not path.exists():
        return None, False, {}
    suite = load_suite(path)
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    return suite.spec.gate, suite.spec.report.redact, rates


def gate_and_report(
    console: Console, results: Results, baseline: Baseline | None, baseline_path: Path | None,
    flags: GateFlags, gate_spec: GateSpec | None, out_dir: Path, *, redact_default: bool = False,
    step_summary: bool = False, critical_rates: Mapping[str, float] | None = None,
    looked_for: Path | None = None, arm: str | None = None, suite_cases: Sequence[str] | None = None,
) -> SuiteOutcome:
    """Decide, print the tables and the verdict, write report.html, junit.xml and summary.md.

    With `step_summary`, summary.md is also appended to $GITHUB_STEP_SUMMARY when that is set.
    """
    from agent_eval.baseline.gate import decide
    from agent_eval.report import ci_run_url, write_reports
    from agent_eval.report.console import print_failure_kinds, print_named_metrics, print_results, print_verdict
    from agent_eval.report.conversations import print_conversations

    options = gate_options(flags, gate_spec, repeat=results.suite.repeat, critical_rates=critical_rates,
                           seed=results.seed, suite_cases=suite_cases)
    verdict = decide(results, baseline, options)
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
            console.print(f"{label} {path}", markup=False, highlight=False)
    if verdict.versioning is not None and verdict.versioning_blocks:
        console.print(Text.assemble(("error", "red"), f": --strict-versioning: {plain(verdict.versioning)}"))
    return SuiteOutcome(results=results, verdict=verdict, out_dir=out_dir, baseline_path=baseline_path,
                        baseline=baseline, arm=arm)


def write_combined(out_root: Path, outcomes: Sequence[SuiteOutcome], *, redact: bool, summary: bool = True) -> None:
    """One junit.xml and summary.md for several arms; the summary is appended to $GITHUB_STEP_SUMMARY when set.

    `summary` False: junit.xml only (a matrix folder has its own summary.md)."""
    from agent_eval._files import write_atomic
    from agent_eval.report import ci_run_url, combine_junit, combine_markdown
    from agent_eval.report.markdown import append_step_summary

    entries: list[Any] = [(o.results, o.verdict, o.baseline) for o in outcomes]
    out_root.mkdir(parents=True, exist_ok=True)
    write_atomic(out_root / "junit.xml", combine_junit(entries))
    if not summary:
        return
    markdown = combine_markdown(entries, redact=redact, run_url=ci_run_url(os.environ))
    write_atomic(out_root / "summary.md", markdown)
    append_step_summary(markdown, os.environ)
