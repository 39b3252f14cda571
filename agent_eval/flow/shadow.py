"""`agent-eval shadow`: replay production conversations through a candidate and judge each reply against the
production reply recorded in the log (no stored baseline: production is the baseline).

The conversations are the ones `agent-eval import` would keep with the same options (the same hash sampling),
so two candidates replayed on the same log are compared on the same traffic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from agent_eval.errors import UsageError
from agent_eval.flow._console import say
from agent_eval.runner.session import RunOptions

if TYPE_CHECKING:
    from agent_eval.importing.convert import Sampled
    from agent_eval.records import Message
    from agent_eval.report.head_to_head import HeadToHead
    from agent_eval.runner.session import RunReport
    from agent_eval.suite.loader import LoadedConfig, LoadedSuite
    from agent_eval.suite.schema import JudgeSpec, RubricSpec

__all__ = ["ShadowOutcome", "ShadowRequest", "shadow"]

DEFAULT_CRITERIA = "The reply that better serves the user's request: correct, complete and helpful."


@dataclass(frozen=True, slots=True)
class ShadowRequest:
    """One `agent-eval shadow`: the logs, the candidate, the suite that brings checks and the judge, and how to
    sample (`sample` at most 1: a share of conversations; above 1: that many, lowest hash first)."""

    logs: tuple[Path, ...]
    config: Path
    suite: Path | None = None
    stratify: str | None = None
    sample: float = 1.0
    log_format: str = "auto"
    options: RunOptions = field(default_factory=RunOptions)
    out: Path | None = None
    overwrite: bool = False
    redact: bool = False


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """The comparison and the process exit code (0, 1 when the candidate loses significantly, 3 incomplete)."""

    comparison: HeadToHead
    out_dir: Path
    exit_code: int


def shadow(request: ShadowRequest, out: Console, err: Console) -> ShadowOutcome:
    """Sample, replay, judge, report."""
    from agent_eval.flow.plan import check_credentials
    from agent_eval.suite.loader import load_config

    config = load_config(request.config)
    chosen, read = _sample(request)
    if not chosen:
        raise UsageError(f"no conversation with a production reply to compare with in {len(read)} log file(s); "
                         "shadow needs logs whose last message is the assistant's reply")
    suite, rubrics, judge = _suite(request, config, chosen)
    check_credentials(suite, config)
    from agent_eval.providers.registry import check_credentials as check_judge

    check_judge(judge)
    folder = _folder(request, suite.name)
    strata = {f"prod-{c.key[:12]}": c.stratum for c in chosen}
    production = {f"prod-{c.key[:12]}": c.output or "" for c in chosen}
    err.print(f"shadow: {len(chosen)} production conversation(s) replayed through {config.spec.name} "
              f"{config.spec.version} · results in {folder}", markup=False, highlight=False)
    report = asyncio.run(_replay(suite, config, request.options, folder))
    for warning in report.warnings:
        say(err, "warning", warning)
    if report.fatal is not None:
        raise report.fatal
    results = report.results
    comparison = _judge(request, suite, results, rubrics, judge, strata, production)
    if request.redact:
        from agent_eval.runner.redact import redact_folder, redact_results

        redact_folder(folder, redact_results(results))
    from agent_eval.report.head_to_head import print_head_to_head, render_head_to_head

    print_head_to_head(out, comparison)
    _, html = render_head_to_head(comparison, folder, "shadow")
    cost = "unknown" if comparison.cost_usd is None else f"${comparison.cost_usd:.4f}"
    out.print(f"cost: {cost} ({results.summary.runs} candidate runs, {comparison.calls} judge calls)",
              markup=False, highlight=False)
    out.print(f"report:  {html}", markup=False, highlight=False)
    code = 3 if not results.complete else 1 if comparison.overall.direction == "worse" else 0
    if not results.complete:
        say(err, "note", f"the replay is incomplete: {results.incomplete_reason}")
    return ShadowOutcome(comparison=comparison, out_dir=folder, exit_code=code)


def _sample(request: ShadowRequest) -> tuple[list[Sampled], tuple[Path, ...]]:
    """The conversations `import` keeps with these options, those with a production reply; `--sample N` above 1
    keeps the N with the lowest hash (the same ones every time)."""
    from agent_eval.importing.convert import ImportOptions, sample_conversations
    from agent_eval.importing.logs import read_logs

    if request.log_format not in ("auto", "chat", "otlp"):
        raise UsageError(f"--format must be auto, chat or otlp, got {request.log_format!r}")
    rate = request.sample if request.sample <= 1 else 1.0
    options = ImportOptions(rate=rate, stratify=request.stratify, min_per_stratum=1 if request.stratify else 0)
    chosen, _, _, _ = sample_conversations(read_logs(list(request.logs), request.log_format), options)
    chosen = [c for c in chosen if c.output]
    if request.sample > 1:
        if request.sample != int(request.sample):
            raise UsageError(f"--sample {request.sample:g}: expected a share in (0, 1] or a whole number of "
                             "conversations")
        keep = {c.key for c in sorted(chosen, key=lambda c: c.key)[:int(request.sample)]}
        chosen = [c for c in chosen if c.key in keep]
    return chosen, request.logs


def _suite(request: ShadowRequest, config: LoadedConfig,
           chosen: list[Sampled]) -> tuple[LoadedSuite, list[RubricSpec], JudgeSpec]:
    """The suite the conversations run in (its defaults, checks and judge; its own cases left out), the
    head-to-head rubrics (the suite's, or one default) and their judge (the suite's, or the candidate's model)."""
    from agent_eval._hashing import canonical_hash
    from agent_eval.suite.loader import LoadedSuite, compile_cases, load_suite
    from agent_eval.suite.schema import CaseSpec, JudgeSpec, RubricSpec, SuiteFile

    if request.suite is not None:
        base = load_suite(request.suite)
        spec, path = base.spec, base.path
    else:
        spec = SuiteFile.model_validate({"suite": "shadow", "cases": [{"id": "unused", "input": "unused"}]})
        path = config.path
    specs = [CaseSpec.model_validate({
        "id": f"prod-{c.key[:12]}", "input": [{"role": role, "content": text} for role, text in c.messages],
        "metadata": {"source": c.source, "stratum": c.stratum}}) for c in chosen]
    cases = compile_cases(spec, path, specs, request.logs[0])
    suite = LoadedSuite(spec=spec, path=path, cases=cases,
                        hash=canonical_hash([spec.suite, *(c.definition_hash for c in cases)]))
    rubrics = [r for r in spec.defaults.rubrics if r.head_to_head] or [
        RubricSpec(name="preferred", criteria=DEFAULT_CRITERIA, head_to_head=True)]
    judge = spec.judge or JudgeSpec.model_validate(config.spec.model.model_dump(exclude_unset=True))
    return suite, rubrics, judge


def _folder(request: ShadowRequest, name: str) -> Path:
    if request.out is not None:
        folder = request.out
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(".agent-eval/runs") / f"{stamp}-shadow-{name}"
    if folder.exists() and any(folder.iterdir()) and not request.overwrite:
        raise UsageError(f"results folder {folder} is not empty; pass --overwrite or choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _replay(suite: LoadedSuite, config: LoadedConfig, options: RunOptions, folder: Path) -> RunReport:
    from agent_eval.flow.execution import _Silent
    from agent_eval.runner.session import run_suite

    return await run_suite(suite, config, options, folder, _Silent())


def _messages(value: str | tuple[Message, ...]) -> tuple[Message, ...]:
    from agent_eval.records import Message

    return (Message(role="user", content=value),) if isinstance(value, str) else value


def _judge(request: ShadowRequest, suite: LoadedSuite, results: object, rubrics: list[RubricSpec], judge: JudgeSpec,
           strata: dict[str, str], production: dict[str, str]) -> HeadToHead:
    """Each completed candidate run against the production reply, per rubric, in both orders."""
    from agent_eval.calls.budget import Budget
    from agent_eval.flow.head_to_head import PairTask, judge_pairs, summarize_pairs
    from agent_eval.judge.head_to_head import build_head_to_head_judge
    from agent_eval.records import Results, RunStatus

    assert isinstance(results, Results)
    by_id = {c.id: c for c in suite.cases}
    tasks = [PairTask(case_id=case.id, group=(strata.get(case.id, "(none)"),), rubric=rubric, judge=judge,
                      conversation=_messages(by_id[case.id].input), expected=None, reference=production.get(case.id, ""), candidate=run.output, index=run.index)
             for case in results.cases for run in case.runs if run.status is not RunStatus.ERRORED
             for rubric in rubrics]
    options = request.options
    spent = results.summary.cost_usd + results.summary.judge_cost_usd
    left = None if options.budget_usd is None else max(0.0, options.budget_usd - spent)
    budget = Budget(usd=left, tokens=options.budget_tokens)
    concurrency = options.max_concurrency or 8
    h2h_judge = build_head_to_head_judge(budget, concurrency=concurrency, seed=options.seed,
                                         max_retries=options.max_retries, timeout_s=options.timeout_s,
                                         max_wait_s=options.max_wait_s, max_retry_wait_s=options.max_retry_wait_s)
    judged = asyncio.run(judge_pairs(tasks, h2h_judge, concurrency))
    return summarize_pairs(judged, kind="shadow", suite=suite.name,
                           candidate=f"{results.config.name} {results.config.version}",
                           reference="production replies in " + ", ".join(str(p) for p in request.logs),
                           grouped_by=request.stratify or "stratum", redact=request.redact,
                           cost_usd=spent, calls=0)
