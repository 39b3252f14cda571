"""`run SUITE --config A --config B ...`: every config on the same cases and seed, interleaved, one matrix.

Each config's results go to OUT/<config stem>-<hash8>/, a normal results folder. Each arm is
gated as a single run would be (against the stored baseline), or, with `--gate-against A.yaml`,
against A's live results; the exit code is the worst by the usual precedence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.cli._common import consoles, say
from agent_eval.cli._pipeline import SuiteOutcome, combined_exit, emit_json, gate_and_report, resolve_baseline
from agent_eval.cli._run_flow import RunRequest, find_suites, model_warnings
from agent_eval.errors import UsageError
from agent_eval.runner.session import RunOptions, RunReport
from agent_eval.suite.loader import LoadedConfig, LoadedSuite, load_config, load_suite

if TYPE_CHECKING:
    from agent_eval.baseline.schema import Baseline
    from agent_eval.report.matrix import Matrix
    from agent_eval.runner.engine import Progress

__all__ = ["execute_many"]


@dataclass(frozen=True, slots=True)
class _Arm:
    label: str
    config: LoadedConfig
    folder: Path


def _arms(paths: Sequence[Path], gate_against: Path | None, root: Path) -> tuple[list[_Arm], str | None]:
    configs = [load_config(p) for p in paths]
    reference = None
    if gate_against is not None:
        ref = load_config(gate_against)
        match = next((c for c in configs if c.hash == ref.hash), None)
        if match is None:
            configs.insert(0, ref)
            match = ref
        reference = f"{match.path.stem}-{match.hash[:8]}"
    seen: dict[str, Path] = {}
    arms = []
    for config in configs:
        if config.hash in seen:
            raise UsageError(f"--config {config.path} is the same config as {seen[config.hash]}; give each once")
        seen[config.hash] = config.path
        label = f"{config.path.stem}-{config.hash[:8]}"
        arms.append(_Arm(label=label, config=config, folder=root / label))
    return arms, reference


def _root(request: RunRequest, suite: LoadedSuite) -> Path:
    if request.out is not None:
        return request.out
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(".agent-eval/runs") / f"{stamp}-{suite.name}"


def _prepare(folder: Path, overwrite: bool) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise UsageError(f"results folder {folder} is not empty; pass --overwrite or choose another --out")
        for name in ("runs.jsonl", "results.json", "manifest.json", "report.html", "junit.xml", "summary.md"):
            (folder / name).unlink(missing_ok=True)


class _SharedProgress:
    """One progress display for every arm: the first start opens it with the grand total."""

    def __init__(self, inner: Progress, total: int, arms: int) -> None:
        self._inner, self._total, self._open = inner, total, arms
        self._started = False

    def start(self, total: int, stats: object = None) -> None:
        if not self._started:
            self._started = True
            self._inner.start(self._total)

    def advance(self, record: object) -> None:
        self._inner.advance(record)  # type: ignore[arg-type]

    def close(self) -> None:
        self._open -= 1
        if self._open == 0:
            self._inner.close()


async def _run_all(suite: LoadedSuite, arms: Sequence[_Arm], options: RunOptions, progress: Progress) -> list[RunReport]:
    from agent_eval.runner.session import run_suite

    stop = asyncio.Event()
    return list(await asyncio.gather(*(run_suite(suite, arm.config, options, arm.folder, progress, stop=stop)
                                       for arm in arms)))


def _planned(suite: LoadedSuite, options: RunOptions) -> int:
    from agent_eval.runner.plan import in_shard, select_cases

    cases = [c for c in select_cases(suite.cases, options.filters) if in_shard(c.id, options.shard)]
    return len(cases) * (options.repeat or suite.spec.repeat)


def execute_many(request: RunRequest, options: RunOptions, configs: Sequence[Path], gate_against: Path | None) -> int:
    """Run every config on the suite, gate each arm, write the matrix; returns the combined exit code."""
    from agent_eval.cli._run_flow import _check_credentials, _requires
    from agent_eval.cli.progress import make_progress

    if request.save_baseline:
        raise UsageError("--save-baseline takes one config; run the chosen config alone to save its baseline")
    if request.resume is not None:
        raise UsageError("--resume takes no --config; resume each config's results folder on its own")
    paths = find_suites(request.suites)
    if len(paths) != 1:
        raise UsageError(f"several --config need exactly one suite file, got {len(paths)}")
    out, err = consoles(request.json_output)
    suite = load_suite(paths[0])
    root = _root(request, suite)
    arms, reference = _arms(configs, gate_against, root)
    for arm in arms:
        for warning in model_warnings(suite, arm.config):
            say(err, "warning", warning)
    if request.dry_run:
        from agent_eval.runner.dryrun import print_dry_run

        for arm in arms:
            print_dry_run(out, suite, arm.config, options)
        return 0
    stored, stored_path, looked_for = resolve_baseline(request.baseline, suite.name, suite.path,
                                                       required=reference is None and _requires(request, suite))
    for arm in arms:
        _check_credentials(suite, arm.config)
        _prepare(arm.folder, request.overwrite)
    err.print(Text.assemble((plain(suite.name), "bold"),
                            f": {len(suite.cases)} cases · {len(arms)} configs, interleaved · results in {root}"))
    total = _planned(suite, options) * len(arms)
    progress = _SharedProgress(make_progress(err), total, len(arms))
    reports = asyncio.run(_run_all(suite, arms, options, progress))  # type: ignore[arg-type]
    for report in reports:
        for warning in report.warnings:
            say(err, "warning", warning)
        if report.fatal is not None:
            raise report.fatal
    found = (stored, stored_path, looked_for)
    outcomes = _gate_arms(out, request, suite, arms, reports, reference, root, found)
    matrix = _matrix(arms, outcomes, request, reference)
    from agent_eval.report.matrix_render import write_matrix

    html = write_matrix(root, matrix, redact=request.gate.redact or suite.spec.report.redact)
    _print_matrix(out, matrix)
    out.print(f"matrix:  {html}")
    code = combined_exit([o.verdict.exit_code for o in outcomes])
    if request.json_output:
        emit_json(outcomes, code)
    return code


def _gate_arms(out: Console, request: RunRequest, suite: LoadedSuite, arms: Sequence[_Arm],
               reports: Sequence[RunReport], reference: str | None, root: Path,
               found: tuple[Baseline | None, Path | None, Path]) -> list[SuiteOutcome]:
    """Each arm gated as a single run: against the stored baseline, or the reference arm's live results."""
    from agent_eval.baseline.schema import baseline_from_results

    stored, stored_path, looked_for = found
    rates = {c.id: c.critical_min_pass_rate for c in suite.cases if c.critical_min_pass_rate is not None}
    by_label = {arm.label: report for arm, report in zip(arms, reports, strict=True)}
    outcomes: list[SuiteOutcome] = []
    for arm, report in zip(arms, reports, strict=True):
        baseline, baseline_path = stored, stored_path
        if reference is not None:
            is_ref = arm.label == reference
            baseline = None if is_ref else baseline_from_results(by_label[reference].results)
            baseline_path = None if is_ref else root / reference / "results.json"
        out.rule(f"{arm.label}" + (" (reference)" if arm.label == reference else ""))
        outcomes.append(gate_and_report(out, report.results, baseline, baseline_path, request.gate, suite.spec.gate,
                                        arm.folder, redact_default=suite.spec.report.redact, critical_rates=rates,
                                        looked_for=baseline_path or looked_for))
    return outcomes


def _matrix(arms: Sequence[_Arm], outcomes: Sequence[SuiteOutcome], request: RunRequest,
            reference: str | None) -> Matrix:
    from agent_eval.report.matrix import ArmInput, build_matrix

    inputs = [ArmInput(label=a.label, results=o.results, folder=str(a.folder), outcome=o.verdict.outcome.value,
                       exit_code=o.verdict.exit_code) for a, o in zip(arms, outcomes, strict=True)]
    return build_matrix(inputs, alpha=request.gate.alpha, reference=reference)


def _print_matrix(console: Console, matrix: Matrix) -> None:
    from agent_eval.report.matrix import fmt_diff, fmt_p

    table = Table(title=f"{matrix.suite} · {len(matrix.arms)} configs · k={matrix.repeat}", title_justify="left")
    for header in ("config", "model", "verdict", "score", "95% CI", "pass rate", "errors", "cost", "p50 ms"):
        table.add_column(header, justify="left" if header in ("config", "model", "verdict") else "right")
    for a in matrix.arms:
        ci = f"[{a.score_ci[0]:.3f}, {a.score_ci[1]:.3f}]" if a.score_ci else "-"
        table.add_row(a.label, a.model, a.outcome, "-" if a.score is None else f"{a.score:.3f}", ci,
                      "-" if a.pass_rate is None else f"{a.pass_rate:.1%}", str(a.errors), f"${a.cost_usd:.4f}",
                      "-" if a.latency_p50_ms is None else f"{a.latency_p50_ms:.0f}")
    console.print(table)
    pairs = Table(title="pairwise, paired over cases (B - A)", title_justify="left")
    for header in ("A", "B", "cases", "B - A [95% CI]", "p", "p (BH)", "better"):
        pairs.add_column(header, justify="right" if header in ("cases", "p", "p (BH)") else "left")
    for p in matrix.pairs:
        pairs.add_row(p.a, p.b, str(p.cases), fmt_diff(p), fmt_p(p.p_value), fmt_p(p.p_adjusted),
                      p.better or "no significant difference")
    console.print(pairs)
