"""One run of a suite against a config, from plan to `results.json`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_eval._files import write_atomic
from agent_eval.calls import endpoint_for
from agent_eval.calls.budget import Budget
from agent_eval.calls.cache import CacheUnavailableError, ResponseCache
from agent_eval.checks.runtime import CheckRunner
from agent_eval.errors import UsageError
from agent_eval.records import Results, RunRecord, RunStatus, Usage
from agent_eval.runner.engine import Engine, Progress, WorkItem
from agent_eval.runner.plan import in_shard, plan_items, select_cases
from agent_eval.runner.rerun import Rerun, rerun_errors
from agent_eval.runner.results import Provenance, build_results
from agent_eval.runner.secrets import secret_values
from agent_eval.runner.store import Manifest, RunsWriter, read_runs
from agent_eval.scoring.escalation import ESCALATION_WARNING
from agent_eval.suite.case import Case
from agent_eval.suite.loader import LoadedConfig, LoadedSuite
from agent_eval.trace.failure import RELEVANCE_TEMPLATE, FailurePolicy
from agent_eval.untrusted import dump_json

if TYPE_CHECKING:
    from agent_eval.conversation import Conversations
    from agent_eval.judge.protocol import Judge
    from agent_eval.runner.interleave import ArmPacer

__all__ = ["RunOptions", "RunReport", "run_suite"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything a run can be told from the command line (None: the files decide)."""

    repeat: int | None = None
    seed: int = 0
    max_concurrency: int | None = None
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 8
    max_wait_s: float = 600.0
    max_retry_wait_s: float = 120.0
    timeout_s: float | None = None
    run_timeout_s: float | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None
    use_cache: bool = True
    cache_dir: Path = Path(".agent-eval/cache")
    filters: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    grace_s: float = 5.0
    rerun_errors: bool = True  # re-run provider, timeout and judge errors once at the end of the run
    targets: tuple[tuple[str, int], ...] = ()  # --adaptive: runs per case below `repeat` (unlisted cases: repeat)
    workers: int = 1  # processes making the candidate's model calls: 1 is this one; more start workers


@dataclass(frozen=True, slots=True)
class RunReport:
    """The results and what the caller should tell the user about the run itself."""

    results: Results
    out_dir: Path
    warnings: tuple[str, ...] = ()
    stopped: str | None = None
    budget: str = ""
    retries: int = 0
    rate_limited: int = 0
    new_runs: int = 0
    fatal: Exception | None = field(default=None)
    reruns: int = 0  # runs re-run at the end after a provider, timeout or judge error
    recovered: int = 0  # of those, the ones that completed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def run_suite(
    suite: LoadedSuite, config: LoadedConfig, options: RunOptions, out_dir: Path, progress: Progress,
    *, resume: bool = False, stop: asyncio.Event | None = None, pacer: ArmPacer | None = None,
) -> RunReport:
    """Execute the suite k times per case and write `runs.jsonl` and `results.json` into `out_dir`.

    The failure kinds written depend on no baseline; what does (`trace.failure.failure_kind`) is derived when
    comparing against one.
    """
    from agent_eval.judge import judge_provenance

    repeat = options.repeat or suite.spec.repeat
    selected = select_cases(suite.cases, options.filters)
    if not selected:
        raise UsageError("no case matches --filter; nothing to run")
    cases = [c for c in selected if in_shard(c.id, options.shard)]
    if not cases:  # a CI matrix with more shards than a small suite has cases: an empty, mergeable shard
        return _empty_shard(suite, config, options, out_dir, repeat, resume=resume)
    runs_path = out_dir / "runs.jsonl"
    previous, warnings = read_runs(runs_path) if resume else ({}, [])
    previous = _in_plan(previous, cases, repeat, runs_path, warnings)
    done = {key for key, record in previous.items() if record.status is not RunStatus.ERRORED}
    wanted = dict(options.targets)
    later = {(c.id, i) for c in cases for i in range(min(repeat, wanted.get(c.id, repeat)), repeat)}
    items = plan_items(cases, config, repeat, done | later)  # renders every template: errors before any call
    started = _now()
    if not resume:
        _write_manifest(out_dir, suite, config, options, repeat, started)
    budget = Budget(usd=options.budget_usd if options.budget_usd is not None else suite.spec.budget.usd,
                    tokens=options.budget_tokens if options.budget_tokens is not None else suite.spec.budget.tokens)
    secrets = secret_values([(suite, config)], os.environ)
    cache, cache_warning = _open_cache(config, options, secrets)
    if cache_warning:
        warnings.append(cache_warning)
    writer = RunsWriter(runs_path, secrets=secrets)
    try:
        engine = _build_engine(suite, config, cases, options, writer, progress, budget, cache)
    except BaseException:  # e.g. the agent does not import: leave nothing that blocks the next run
        writer.close()
        if cache is not None:
            cache.close()
        if not resume:
            for name in ("manifest.json", "runs.jsonl"):
                (out_dir / name).unlink(missing_ok=True)
        raise
    engine.failure_policy = FailurePolicy.from_config(
        config.spec.tools, config.spec.retrieval,
        relevance_rubrics={r.name for c in cases for r in c.rubrics if r.template == RELEVANCE_TEMPLATE},
        reports_context=config.spec.agent is not None and config.spec.agent.loop is None,
    )
    if stop is not None:  # several configs in one run: one Ctrl-C stops them all
        engine._stop = stop
    engine.pacer = pacer
    progress.start(len(items), engine.endpoint.stats)
    rerun = Rerun()
    try:
        outcome = await engine.execute(items)
        if options.rerun_errors and outcome.stopped is None:
            rerun = await rerun_errors(engine, items, outcome.records)
            outcome.fatal = outcome.fatal or rerun.fatal
    finally:
        if pacer is not None:  # this arm holds the others back no longer
            await pacer.finish()
        progress.close()
        await engine.aclose()
    runs: dict[tuple[str, int], RunRecord] = {**previous, **{(r.case_id, r.index): r for r in outcome.records},
                                              **{(r.case_id, r.index): r for r in rerun.records}}
    notes = [w for r in outcome.records for w in (*r.warnings, *(x for g in r.rubrics for x in g.warnings))]
    unsure = [w for w in notes if ESCALATION_WARNING in w]
    repaired = [w for w in notes if ESCALATION_WARNING not in w]
    if unsure:
        warnings.append(f"the escalation JSONPath could not be evaluated {len(unsure)} time(s), e.g. {unsure[0]}; "
                        f"each run says so under `warnings` in {runs_path}")
    if repaired:
        warnings.append(f"{len(repaired)} run warning(s) (repairs that kept runs writable, agents' calls), e.g. "
                        f"{repaired[0]}; each run lists its own under `warnings` in {runs_path}")
    missing = sum(1 for c in cases for i in range(repeat) if (c.id, i) not in runs and (c.id, i) not in later)
    halted = sum(1 for r in outcome.records if r.error is not None and r.error.kind == "budget")
    reason = _incomplete_reason(outcome.stopped, missing, halted)
    # the suite's judge, not the slice's: a shard or filter without rubric cases still names it
    judge_model, judge_hash = judge_provenance(suite, suite.cases)
    provenance = Provenance(
        seed=options.seed, repeat=repeat, started_at=started, finished_at=_now(),
        complete=reason is None, incomplete_reason=reason, shard=options.shard,
        judge_model=judge_model, judge_prompt_hash=judge_hash, reruns=rerun.tried,
    )
    results, text = dump_json(build_results(suite, config, cases, runs, provenance), indent=2)
    write_atomic(out_dir / "results.json", text + "\n")
    stats = engine.endpoint.stats
    return RunReport(
        results=results, out_dir=out_dir, warnings=tuple(warnings), stopped=outcome.stopped,
        budget=budget.describe(), retries=stats.retries, rate_limited=stats.rate_limited,
        new_runs=len(outcome.records), fatal=outcome.fatal, reruns=rerun.tried, recovered=rerun.recovered,
    )


def _empty_shard(suite: LoadedSuite, config: LoadedConfig, options: RunOptions, out_dir: Path, repeat: int,
                 *, resume: bool) -> RunReport:
    """A shard that holds no case of the suite: empty runs.jsonl and results.json, complete, for `merge`."""
    from agent_eval.judge import judge_provenance

    started = _now()
    if not resume:
        _write_manifest(out_dir, suite, config, options, repeat, started)
    (out_dir / "runs.jsonl").touch()
    judge_model, judge_hash = judge_provenance(suite, suite.cases)
    provenance = Provenance(seed=options.seed, repeat=repeat, started_at=started, finished_at=_now(), complete=True,
                            incomplete_reason=None, shard=options.shard, judge_model=judge_model,
                            judge_prompt_hash=judge_hash)
    results, text = dump_json(build_results(suite, config, [], {}, provenance), indent=2)
    write_atomic(out_dir / "results.json", text + "\n")
    assert options.shard is not None
    i, n = options.shard
    note = f"shard {i}/{n} holds no case of suite '{suite.name}': wrote an empty results file for `merge`"
    return RunReport(results=results, out_dir=out_dir, warnings=(note,))


def _write_manifest(out_dir: Path, suite: LoadedSuite, config: LoadedConfig, options: RunOptions,
                    repeat: int, started: str) -> None:
    """What `--resume` needs to find and check the suite and config, written before any call."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        suite_path=str(suite.path.resolve()), suite_hash=suite.hash, config_path=str(config.path.resolve()),
        config_hash=config.hash, seed=options.seed, repeat=repeat, filter=options.filters,
        shard=options.shard, use_cache=options.use_cache, started_at=started,
    )
    write_atomic(out_dir / "manifest.json", manifest.model_dump_json(indent=2) + "\n")


def _in_plan(previous: dict[tuple[str, int], RunRecord], cases: list[Case], repeat: int, path: Path,
             warnings: list[str]) -> dict[tuple[str, int], RunRecord]:
    """The records of a resumed folder that belong to this plan; the others (an unknown case, an index
    outside 0..k-1, hand-added lines) are ignored with one warning."""
    ids = {c.id for c in cases}
    kept = {key: r for key, r in previous.items() if key[0] in ids and 0 <= key[1] < repeat}
    dropped = sorted(set(previous) - set(kept))
    if dropped:
        shown = ", ".join(f"{case_id}#{index}" for case_id, index in dropped[:5])
        more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        warnings.append(f"{path}: {len(dropped)} record(s) outside this run's plan ignored (unknown case or "
                        f"index outside 0..{repeat - 1}): {shown}{more}")
    return kept


def _build_engine(suite: LoadedSuite, config: LoadedConfig, cases: list[Case], options: RunOptions,
                  writer: RunsWriter, progress: Progress, budget: Budget, cache: ResponseCache | None) -> Engine:
    """The candidate endpoint (flags over the config's limits), the judge, the cache, and the engine."""
    from agent_eval.targets import ModelCaller, build_target

    model = config.spec.model
    concurrency = options.max_concurrency or model.limits.max_concurrency or 8
    endpoint = endpoint_for(
        model, concurrency=concurrency, rpm=options.rpm or model.limits.rpm, tpm=options.tpm or model.limits.tpm,
        max_retries=options.max_retries, timeout_s=options.timeout_s or model.timeout_s,
        max_wait_s=options.max_wait_s, max_retry_wait_s=options.max_retry_wait_s, workers=options.workers,
    )
    caller = ModelCaller(endpoint=endpoint, provider_name=model.provider, base_url=model.base_url,
                         model=model.name, params=model.params, tools=config.spec.tools, seed=options.seed,
                         pricing=config.spec.pricing, cache=cache, budget=budget)
    return Engine(
        target=build_target(config, caller, concurrency=concurrency), endpoint=endpoint, tools=config.spec.tools,
        writer=writer, progress=progress, budget=budget, concurrency=concurrency, cache=cache,
        judge=_build_judge(suite, cases, options, budget) if any(_judged(c) for c in cases) else None,
        run_timeout_s=options.run_timeout_s, grace_s=options.grace_s,
        conversations=_conversations(config, cases, options, budget, writer.secrets),
        checks=CheckRunner(timeout_s=suite.spec.check_timeout_s), spend_estimate=_spend_estimate(config),
        services=_check_services(suite, config, cases, options, writer.secrets),
    )


def _judged(case: Case) -> bool:
    return bool(case.rubrics) or any(turn.rubrics for turn in case.graded_turns)


def _conversations(config: LoadedConfig, cases: list[Case], options: RunOptions, budget: Budget,
                   secrets: tuple[str, ...] = ()) -> Conversations:
    """What conversation cases need: the config, its `escalation:`, simulated users' endpoints (credentials
    checked here, before any run) and a cache for their replies."""
    from agent_eval.conversation import Conversations, SimulatorPool

    specs = [c.simulated_user.model for c in cases if c.simulated_user is not None]
    pool = None
    if specs:
        cached = options.use_cache and any(spec.provider != "mock" for spec in specs)
        pool = SimulatorPool(budget=budget, seed=options.seed, max_retries=options.max_retries,
                             timeout_s=options.timeout_s, cache=ResponseCache(options.cache_dir, secrets) if cached else None,
                             pricing=config.spec.pricing)
        for spec in specs:
            pool.endpoint(spec)
    return Conversations(config=config, tools=config.spec.tools, escalation=config.spec.escalation, simulators=pool)
def _check_services(suite: LoadedSuite, config: LoadedConfig, cases: list[Case], options: RunOptions,
                    secrets: tuple[str, ...] = ()) -> Any:
    """Embeddings/moderation endpoints, only when a case has a check that calls a model."""
    from agent_eval.checks.groups import walk_checks
    from agent_eval.scoring.check_services import ModelServices

    names = {check.name.removeprefix("not_") for case in cases
             for check in walk_checks(case.checks + tuple(c for t in case.graded_turns for c in t.checks))}
    if not names & {"similar", "moderation"}:
        return None
    services = ModelServices.build(config.spec.model, suite.spec.similarity_model, suite.spec.moderation_model, None)
    for name, spec, field_name in (("similar", services.embed_spec, "similarity_model"),
                                   ("moderation", services.moderate_spec, "moderation_model")):
        if name in names and spec.provider not in ("openai", "mock"):
            raise UsageError(f"{suite.path}: `{name}` checks need an OpenAI-compatible endpoint and the candidate's "
                             f"provider is {spec.provider}; set `{field_name}:` in the suite")
    remote = {services.embed_spec.provider, services.moderate_spec.provider} != {"mock"}
    if options.use_cache and remote:  # the mock is not cached, as for completions
        services.cache = ResponseCache(options.cache_dir, secrets)
    return services


def _spend_estimate(config: LoadedConfig) -> Callable[[WorkItem], tuple[float | None, int]]:
    """A run's cost and tokens before any is known: one call with the prompt and the whole output allowance."""
    from agent_eval.calls.endpoint import estimate_tokens
    from agent_eval.providers.base import CompletionRequest
    from agent_eval.providers.pricing import cost_usd

    model, pricing = config.spec.model, config.spec.pricing

    def estimate(item: WorkItem) -> tuple[float | None, int]:
        if item.case.recorded is not None:  # nothing is called for it
            return 0.0, 0
        tokens = estimate_tokens(CompletionRequest(model=model.name, messages=item.messages, params=model.params))
        prompt = sum(len(m.content) for m in item.messages) // 4
        usage = Usage(input_tokens=prompt, output_tokens=tokens - prompt)
        return cost_usd(model.name, usage, pricing, provider=model.provider), tokens

    return estimate


def _incomplete_reason(stopped: str | None, missing: int, halted: int = 0) -> str | None:
    if stopped == "budget":
        return f"budget reached: {missing} runs not started" + (f", {halted} stopped by a budget" if halted else "")
    if stopped == "interrupted":
        return f"interrupted: {missing} runs not finished"
    if stopped == "fatal":
        return "stopped by a provider error"
    if missing:
        return f"{missing} runs missing"
    return None  # a shard that ran all its pairs is complete; `merge` combines the shards


def _open_cache(config: LoadedConfig, options: RunOptions,
                secrets: tuple[str, ...] = ()) -> tuple[ResponseCache | None, str | None]:
    """The response cache, and a warning when it was unreadable (moved aside; the run goes on without it).
    The mock provider is not cached (it is the model's own rules)."""
    if not options.use_cache or config.spec.model.provider == "mock":
        return None, None
    try:
        return ResponseCache(options.cache_dir, secrets), None
    except CacheUnavailableError as exc:
        return None, str(exc)


def _build_judge(suite: LoadedSuite, cases: list[Case], options: RunOptions, budget: Budget) -> Judge:
    from agent_eval.judge import build_judge

    return build_judge(suite, cases, budget, concurrency=options.max_concurrency or 8, seed=options.seed,
                       max_retries=options.max_retries, timeout_s=options.timeout_s,
                       max_wait_s=options.max_wait_s, max_retry_wait_s=options.max_retry_wait_s)
