"""Execute a plan: lock the folders, check credentials, run every arm, gate, report, redact, export traces.

One path for one config and several: a flag is honoured here once, for every arm alike.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.baseline.options import gate_options
from agent_eval.errors import UsageError
from agent_eval.flow._console import say
from agent_eval.flow.outcome import RunOutcome, SuiteOutcome
from agent_eval.flow.plan import Arm, Plan, SuitePlan, check_credentials, make_plan, model_warnings
from agent_eval.flow.request import RunRequest
from agent_eval.records import Results

if TYPE_CHECKING:
    from agent_eval.baseline.verdict import Outcome
    from agent_eval.runner.engine import Progress
    from agent_eval.runner.session import RunReport
    from agent_eval.runner.store import FolderLock

__all__ = ["ProgressFactory", "execute"]

ProgressFactory = Callable[[Console], "Progress"]

_OUTPUTS = ("runs.jsonl", "results.json", "manifest.json", "report.html", "junit.xml", "summary.md")


class _Silent:
    """Progress that shows nothing: the library's default."""

    def start(self, total: int, stats: object = None) -> None:
        return None

    def advance(self, record: object) -> None:
        return None

    def close(self) -> None:
        return None


def execute(request: RunRequest, out: Console, err: Console | None = None, *,
            progress: ProgressFactory | None = None) -> RunOutcome:
    """Plan, run, gate and report every suite × config of `request`; tables go to `out`, notes to `err`."""
    err = err or out
    plan = make_plan(request)
    if request.trace_export is not None:
        from agent_eval.flow.traces import check_trace_path

        folders = [plan.root, *(f for s in plan.suites for f in (s.root, *(a.folder for a in s.arms)))]
        check_trace_path(request.trace_export, folders)
    for reason in plan.skipped:
        say(err, "note", f"{reason}; skipped")
    for suite_plan in plan.suites:
        for arm in suite_plan.arms:
            for warning in model_warnings(suite_plan.suite, arm.config):
                say(err, "warning", warning)
            if not request.dry_run:
                check_credentials(suite_plan.suite, arm.config)
        from agent_eval.flow.adaptive import check_adaptive

        check_adaptive(request, suite_plan)
        if suite_plan.reference is None:
            from agent_eval.flow.head_to_head import check_head_to_head_baseline

            check_head_to_head_baseline(suite_plan.suite, suite_plan.baseline, suite_plan.baseline_path)
    if request.dry_run:
        from agent_eval.runner.dryrun import print_dry_run

        for suite_plan in plan.suites:
            for arm in suite_plan.arms:
                print_dry_run(out, suite_plan.suite, arm.config, arm.options)
        return RunOutcome(dry_run=True)
    locks: list[FolderLock] = []
    outcomes: list[SuiteOutcome] = []
    matrices: list[Path] = []
    try:
        for suite_plan in plan.suites:
            for arm in suite_plan.arms:
                locks.append(_claim(arm.folder, request))
        for suite_plan in plan.suites:
            arms_outcomes = _run_suite(out, err, request, plan, suite_plan, progress or (lambda _c: _Silent()))
            outcomes.extend(arms_outcomes)
            if suite_plan.several:
                matrices.append(_write_matrix(out, request, suite_plan, arms_outcomes))
    finally:
        for lock in locks:
            lock.release()
    if len(outcomes) > 1:
        from agent_eval.flow.gating import write_combined

        matrix_only = len(plan.suites) == 1 and plan.suites[0].several
        write_combined(plan.root, outcomes, redact=_redacts(request, plan.suites), summary=not matrix_only)
    traces = _export_traces(err, request, plan, outcomes)
    return RunOutcome(suites=tuple(outcomes), matrices=tuple(matrices), traces=traces)


def _claim(folder: Path, request: RunRequest) -> FolderLock:
    """Lock the results folder (a second run on it is refused), then check it is empty or may be reused."""
    from agent_eval.runner.store import LOCK_NAME, FolderLock

    _ignore_own_folder()
    lock = FolderLock(folder).acquire()
    if request.resume is not None:
        return lock
    if any(p.name != LOCK_NAME for p in folder.iterdir()):
        if not request.overwrite:
            lock.release()
            raise UsageError(f"results folder {folder} is not empty; pass --overwrite or choose another --out")
        for name in _OUTPUTS:
            (folder / name).unlink(missing_ok=True)
    return lock


def _ignore_own_folder() -> None:
    """`.agent-eval/` holds runs and the cache: keep it out of git, as pytest does for its cache."""
    marker = Path(".agent-eval/.gitignore")
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("# written by agent-eval: run results and the response cache\n*\n", encoding="utf-8")


def _run_suite(out: Console, err: Console, request: RunRequest, plan: Plan, suite_plan: SuitePlan,
               progress: ProgressFactory) -> list[SuiteOutcome]:
    """Run the suite's arms interleaved, then gate and report each."""
    from agent_eval.flow._warm import WarmingProgress

    suite = suite_plan.suite
    err.print(_heading(suite_plan))
    total = sum(_planned(suite_plan, arm) for arm in suite_plan.arms)
    shared = _SharedProgress(WarmingProgress(progress(err), gate=suite_plan.baseline is not None), total,
                             len(suite_plan.arms))
    from agent_eval.flow.adaptive import adaptive_wanted, run_adaptive

    adaptive = None
    if adaptive_wanted(request, suite_plan):
        report, adaptive, flags = run_adaptive(
            err, request, suite_plan, lambda: WarmingProgress(progress(err), gate=suite_plan.baseline is not None),
            resume=plan.resume)
        reports = [report]
        request = replace(request, gate=flags)
    else:
        reports = asyncio.run(_run_arms(suite_plan, shared, resume=plan.resume))
    for arm, report in zip(suite_plan.arms, reports, strict=True):
        for warning in report.warnings:
            say(err, "warning", warning)
        if report.reruns:
            who = f"{arm.label}: " if suite_plan.several else ""
            say(err, "note", f"{who}re-ran {report.reruns} run(s) that a provider, timeout or judge error left "
                             f"without a verdict, once at the end of the run: {report.recovered} recovered, "
                             f"{report.reruns - report.recovered} still errored (--no-rerun-errors turns this off)")
    for arm, report in zip(suite_plan.arms, reports, strict=True):
        if report.fatal is not None:
            if (arm.folder / "runs.jsonl").exists():
                say(err, "note", f"the runs so far are in {arm.folder}; finish them with --resume {arm.folder}")
            raise report.fatal
    raw = {arm.label: r.results for arm, r in zip(suite_plan.arms, reports, strict=True)}  # --save-baseline's
    if request.gate.redact or suite.spec.report.redact:
        from agent_eval.runner.redact import redact_results

        # every file (reports, matrix, traces) is written from the redacted results, not only the raw two
        reports = [replace(r, results=redact_results(r.results)) for r in reports]
    by_label = {arm.label: report for arm, report in zip(suite_plan.arms, reports, strict=True)}
    outcomes = []
    for arm, report in zip(suite_plan.arms, reports, strict=True):
        outcome = _gate_arm(out, request, plan, suite_plan, arm, report, by_label)
        outcome = _head_to_head(out, request, suite_plan, arm, outcome, raw)
        if adaptive is not None:
            out.print(adaptive.line(), markup=False, highlight=False)
            outcome = replace(outcome, adaptive={"decision": adaptive.decision, "looks": adaptive.looks,
                                                 "runs": adaptive.runs, "fixed_k_runs": adaptive.fixed_runs,
                                                 "last_alpha": adaptive.alpha})
        if request.verbose:
            _print_target_details(err, report.results)
        if request.gate.redact or suite.spec.report.redact:
            from agent_eval.runner.redact import redact_folder

            redact_folder(arm.folder, report.results)  # the raw files are uploaded by the action too
        if report.stopped == "budget":
            err.print(Text.assemble(("budget reached", "magenta"), f": {report.budget}; "
                                    f"{report.results.incomplete_reason}"))
        if request.save_baseline:
            _save_baseline(out, raw[arm.label], suite_plan, outcome.verdict.outcome)
        outcomes.append(outcome)
    if suite_plan.reference is not None and suite_plan.baseline is not None:
        _provider_drift(out, request, suite_plan, raw)
    return outcomes


def _provider_drift(out: Console, request: RunRequest, suite_plan: SuitePlan, raw: dict[str | None, Results]) -> None:
    """With --gate-against and a stored baseline: each arm against the stored baseline too, and provider drift when
    the live reference arm itself differs significantly from it (both directions, at the gate's alpha)."""
    from agent_eval.baseline.gate import decide
    from agent_eval.stats.paired import paired_test

    baseline = suite_plan.baseline
    assert baseline is not None and suite_plan.reference is not None
    rates = {c.id: c.critical_min_pass_rate for c in suite_plan.suite.cases if c.critical_min_pass_rate is not None}
    out.rule("against the stored baseline")
    for label, results in raw.items():
        options = gate_options(request.gate, suite_plan.suite.spec.gate, repeat=results.suite.repeat,
                               critical_rates=rates, seed=results.seed)
        verdict = decide(results, baseline, options)
        change = "" if verdict.relative_change is None else f" (change {verdict.relative_change:+.1%})"
        role = " (live reference)" if label == suite_plan.reference else ""
        out.print(f"{label}{role}: {verdict.outcome.value}{change}", markup=False, highlight=False)
    reference = raw[suite_plan.reference]
    pairs = [(b.stats.score, c.stats.score) for c in reference.cases
             if (b := baseline.case(c.id)) is not None and b.definition_hash == c.definition_hash
             and b.stats.score is not None and c.stats.score is not None]
    if len(pairs) < 2:
        return
    test = paired_test([b for b, _ in pairs], [c for _, c in pairs])
    if test.p_value is None:
        return
    two_sided = min(1.0, 2 * min(test.p_value, 1 - test.p_value))
    if two_sided < request.gate.alpha and abs(test.mean_diff) > 1e-12:
        say(out, "warning", f"provider drift: the live reference arm {suite_plan.reference} scores "
            f"{test.cand_mean:.3f} against the stored baseline's {test.base_mean:.3f} on the same {test.n} cases "
            f"(two-sided p={two_sided:.3g}): the model or provider changed under an unchanged config; the live "
            "comparison above absorbs it, the stored-baseline gate does not")


def _heading(suite_plan: SuitePlan) -> Text:
    from agent_eval.targets.describe import target_label

    suite = suite_plan.suite
    if suite_plan.several:
        return Text.assemble((plain(suite.name), "bold"), f": {len(suite.cases)} cases · {len(suite_plan.arms)} "
                             f"configs, interleaved · results in {suite_plan.root}")
    config = suite_plan.arms[0].config
    return Text.assemble((plain(suite.name), "bold"), f": {len(suite.cases)} cases · config "
                         f"{plain(config.spec.name)} {config.spec.version} ({plain(target_label(config))})")


def _planned(suite_plan: SuitePlan, arm: Arm) -> int:
    from agent_eval.flow.plan import selected

    return selected(suite_plan.suite, arm.options) * (arm.options.repeat or suite_plan.suite.spec.repeat)


async def _run_arms(suite_plan: SuitePlan, progress: Progress, *, resume: bool) -> list[RunReport]:
    """Every arm at once on one event loop, in step by case and repetition (`runner.interleave`), so drift,
    slowdowns and rate limits hit them alike; one stop for all."""
    from agent_eval.runner.interleave import Interleaver
    from agent_eval.runner.session import run_suite

    stop = asyncio.Event()
    labels = [arm.label or str(i) for i, arm in enumerate(suite_plan.arms)]
    step = Interleaver(labels, [c.id for c in suite_plan.suite.cases]) if suite_plan.several else None

    async def one(arm: Arm, label: str) -> RunReport:
        pacer = step.pacer(label) if step is not None else None
        try:
            return await run_suite(suite_plan.suite, arm.config, arm.options, arm.folder, progress, resume=resume,
                                   stop=stop, pacer=pacer)
        finally:
            if pacer is not None:
                await pacer.finish()

    return list(await asyncio.gather(*(one(arm, label) for arm, label in zip(suite_plan.arms, labels, strict=True))))


class _SharedProgress:
    """One progress display for every arm: the first start opens it with the grand total, the last close ends it."""

    def __init__(self, inner: Progress, total: int, arms: int) -> None:
        self._inner, self._total, self._open = inner, total, arms
        self._started = False

    def start(self, total: int, stats: object = None) -> None:
        if not self._started:
            self._started = True
            self._inner.start(self._total if self._open > 1 else total, stats)  # type: ignore[arg-type]

    def advance(self, record: object) -> None:
        self._inner.advance(record)  # type: ignore[arg-type]

    def close(self) -> None:
        self._open -= 1
        if self._open == 0:
            self._inner.close()


def _gate_arm(out: Console, request: RunRequest, plan: Plan, suite_plan: SuitePlan, arm: Arm, report: RunReport,
              by_label: dict[str | None, RunReport]) -> SuiteOutcome:
    """Gate one arm: against the stored baseline, or (with --gate-against) the reference arm's live results."""
    from agent_eval.flow.gating import gate_and_report

    suite = suite_plan.suite
    baseline, baseline_path, looked_for = suite_plan.baseline, suite_plan.baseline_path, suite_plan.looked_for
    if suite_plan.reference is not None:
        from agent_eval.baseline.schema import baseline_from_results

        is_ref = arm.label == suite_plan.reference
        baseline = None if is_ref else baseline_from_results(by_label[suite_plan.reference].results)
        baseline_path = None if is_ref else suite_plan.root / suite_plan.reference / "results.json"
        looked_for = baseline_path
    if suite_plan.several:
        out.rule(f"{arm.label}" + (" (reference)" if arm.label == suite_plan.reference else ""))
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    return gate_and_report(out, report.results, baseline, baseline_path, request.gate, suite.spec.gate, arm.folder,
                           redact_default=suite.spec.report.redact, step_summary=plan.arm_count == 1,
                           critical_rates=rates, looked_for=looked_for, arm=arm.label,
                           suite_cases=[c.id for c in suite.cases])


def _head_to_head(out: Console, request: RunRequest, suite_plan: SuitePlan, arm: Arm, outcome: SuiteOutcome,
                  raw: dict[str | None, Results]) -> SuiteOutcome:
    """Judge the arm's `head_to_head` rubrics against its baseline (stored, or the --gate-against arm's runs)."""

    from agent_eval.flow.head_to_head import head_to_head_cases, run_head_to_head
    from agent_eval.report.head_to_head import print_head_to_head, render_head_to_head

    suite = suite_plan.suite
    if not head_to_head_cases(suite.cases) or (suite_plan.reference is not None and arm.label == suite_plan.reference):
        return outcome
    baseline = suite_plan.baseline
    if suite_plan.reference is not None:
        from agent_eval.baseline.schema import baseline_from_results

        baseline = baseline_from_results(raw[suite_plan.reference])
    if baseline is None:
        say(out, "note", "head_to_head rubrics need a baseline to compare with; none here, so none was judged")
        return outcome
    judged = run_head_to_head(suite, raw[arm.label], baseline, arm.options,
                              redact=request.gate.redact or suite.spec.report.redact)
    if judged is None:
        return outcome
    h2h, skipped = judged
    print_head_to_head(out, h2h)
    if skipped:
        say(out, "note", f"{skipped} head-to-head case(s) not compared: new or edited since the baseline")
    _, html = render_head_to_head(h2h, arm.folder, "head_to_head")
    out.print(f"head-to-head: {html}", markup=False, highlight=False)
    return replace(outcome, head_to_head=h2h)


def _write_matrix(out: Console, request: RunRequest, suite_plan: SuitePlan, outcomes: Sequence[SuiteOutcome]) -> Path:
    from agent_eval.flow.matrix import print_matrix, write_suite_matrix

    matrix, html = write_suite_matrix(suite_plan.root, outcomes, alpha=request.gate.alpha,
                                      reference=suite_plan.reference,
                                      redact=request.gate.redact or suite_plan.suite.spec.report.redact)
    print_matrix(out, matrix)
    out.print(f"matrix:  {html}", markup=False, highlight=False)
    return html


def _redacts(request: RunRequest, suites: Sequence[SuitePlan]) -> bool:
    return request.gate.redact or any(s.suite.spec.report.redact for s in suites)


def _export_traces(err: Console, request: RunRequest, plan: Plan, outcomes: Sequence[SuiteOutcome]) -> Path | None:
    from agent_eval.flow.traces import export_traces, secret_values

    if request.trace_export is None:
        return None
    pairs = [(s.suite, arm.config) for s in plan.suites for arm in s.arms]
    export_traces(err, request.trace_export, [o.results for o in outcomes], redact=_redacts(request, plan.suites),
                  secrets=secret_values(pairs, os.environ))
    return request.trace_export


def _print_target_details(console: Console, results: Results) -> None:
    """`-v`: the traceback or stderr each crashed agent run left (kept in runs.jsonl as error.detail)."""
    for case in results.cases:
        for run in case.runs:
            if run.error is not None and run.error.detail:
                console.print(Text.assemble((plain(case.id), "bold red"),
                                            f" run {run.index}: {plain(run.error.message)}"))
                for line in run.error.detail.rstrip().splitlines():
                    console.print(Text(plain(line)))


def _save_baseline(console: Console, results: Results, suite_plan: SuitePlan, outcome: Outcome) -> None:
    from agent_eval.baseline.store import save_baseline
    from agent_eval.baseline.verdict import Outcome
    from agent_eval.flow.gating import baseline_location

    if not results.complete or results.shard is not None or outcome is Outcome.INCOMPLETE:
        raise UsageError("--save-baseline refused: the run is INCOMPLETE (too many errored runs, interrupted, "
                         "stopped by a budget, or a single shard); nothing was saved")
    suite = suite_plan.suite
    path = baseline_location(suite.name, suite.path)
    save_baseline(results, path, k=suite.spec.repeat)
    console.print(f"baseline saved: {path} ({results.suite.repeat} runs per case; the suite's k is "
                  f"{suite.spec.repeat})", markup=False, highlight=False)
