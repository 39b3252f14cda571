"""`run --dry-run`: what a run would send, and what it may cost, without calling anything."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain
from agent_eval.providers.base import CompletionRequest
from agent_eval.records import Usage
from agent_eval.runner.plan import in_shard, plan_items, select_cases
from agent_eval.runner.session import RunOptions
from agent_eval.suite.case import Case
from agent_eval.suite.loader import LoadedConfig, LoadedSuite

__all__ = ["DryRun", "estimate", "print_dry_run"]

_DEFAULT_OUTPUT_TOKENS = 512  # when max_tokens is not set
_JUDGE_OUTPUT_TOKENS = 150


@dataclass(frozen=True, slots=True)
class DryRun:
    """Counts and estimates for one suite."""

    cases: int
    runs: int
    cached: int
    judge_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when a model has no known price


def estimate(suite: LoadedSuite, config: LoadedConfig, options: RunOptions) -> DryRun:
    """Upper estimates: prompt characters / 4 in, max_tokens out; judge prompts about the size of the run's."""
    from agent_eval.calls.cache import CacheUnavailableError, ResponseCache, cache_key
    from agent_eval.providers.pricing import cost_usd

    model = config.spec.model
    repeat = options.repeat or suite.spec.repeat
    cases = [c for c in select_cases(suite.cases, options.filters) if in_shard(c.id, options.shard)]
    items = plan_items(cases, config, repeat)
    max_out = int(model.params.get("max_tokens") or model.params.get("max_completion_tokens")
                  or _DEFAULT_OUTPUT_TOKENS)
    try:
        cache = ResponseCache(options.cache_dir) if options.use_cache and model.provider != "mock" else None
    except CacheUnavailableError:
        cache = None  # unreadable (moved aside) or busy: the plan counts every call as uncached
    cached = tokens_in = judge_calls = 0
    cost: float | None = 0.0
    for item in items:
        prompt = sum(len(m.content) for m in item.messages) // 4
        request = CompletionRequest(model=model.name, messages=item.messages, params=model.params,
                                    tools=config.spec.tools, seed=options.seed, case_id=item.case.id,
                                    repetition=item.index)
        if cache is not None and cache.get(cache_key(model.provider, model.base_url, request)) is not None:
            cached += 1
            continue
        recorded = item.case.recorded is not None  # graded as it is: no target call, only its judges
        tokens_in += 0 if recorded else prompt
        run_cost = 0.0 if recorded else cost_usd(model.name, Usage(input_tokens=prompt, output_tokens=max_out),
                                                 config.spec.pricing, provider=model.provider)
        for rubric in item.case.all_rubrics:
            judge = rubric.judge or item.case.judge
            judge_calls += rubric.samples
            judge_usage = Usage(input_tokens=prompt + max_out + 300, output_tokens=_JUDGE_OUTPUT_TOKENS)
            judge_cost = cost_usd(judge.name, judge_usage, {}, provider=judge.provider) if judge else None
            run_cost = None if run_cost is None or judge_cost is None else run_cost + judge_cost * rubric.samples
        cost = None if cost is None or run_cost is None else cost + run_cost
    if cache is not None:
        cache.close()
    fresh = sum(1 for item in items if item.case.recorded is None) - cached
    return DryRun(cases=len(cases), runs=len(items), cached=cached, judge_calls=judge_calls,
                  input_tokens=tokens_in, output_tokens=fresh * max_out, cost_usd=cost)


def print_dry_run(console: Console, suite: LoadedSuite, config: LoadedConfig, options: RunOptions) -> DryRun:
    """Print the estimate for one suite and return it."""
    from agent_eval.targets.describe import target_label

    plan = estimate(suite, config, options)
    cost = "unknown (no price for this model)" if plan.cost_usd is None else f"${plan.cost_usd:.4f}"
    console.print(Text.assemble((plain(suite.name), "bold"), f" (dry run, nothing sent) · {plain(target_label(config))}"))
    console.print(f"  cases {plan.cases} · candidate calls {plan.runs - plan.cached} "
                  f"(+{plan.cached} cached) · judge calls {plan.judge_calls}")
    console.print(f"  estimated tokens: {plan.input_tokens:,} in, at most {plan.output_tokens:,} out (candidate)")
    console.print(f"  estimated cost at most: {cost}")
    talks = sum(1 for c in suite.cases if c.is_conversation)
    if talks:
        console.print(f"  {talks} conversation case(s): one target run per user turn (and a simulator call per "
                      "simulated turn); the estimates above count the first turn")
    if config.spec.agent is not None:
        _print_targets(console, suite, config, options)
    return plan


def _print_targets(console: Console, suite: LoadedSuite, config: LoadedConfig, options: RunOptions) -> None:
    """What the agent would receive for each case (first repetition; the others differ only by index)."""
    from agent_eval.targets.base import TargetRun
    from agent_eval.targets.describe import describe_run

    agent = config.spec.agent
    assert agent is not None
    if agent.loop is not None:
        console.print(f"  each run makes 1 to {agent.loop.max_steps} model calls; the estimates above count one")
    elif agent.python is None:
        console.print("  the agent calls its own models: the estimates above do not apply")
    console.print(f"  target: {agent.kind} agent; per case it would receive:")
    cases = [c for c in select_cases(suite.cases, options.filters) if in_shard(c.id, options.shard)]
    for item in plan_items(cases, config, 1):
        run = TargetRun(case=item.case, index=0, messages=item.messages)
        console.print(Text(plain(f"    {item.case.id}: {describe_run(config, run)}{_turns(item.case)}")),
                      soft_wrap=True)


def _turns(case: Case) -> str:
    """How a conversation case goes on after its first turn."""
    if case.conversation is not None:
        more = len(case.conversation) - 1
        return f"; then {more} more scripted user turn{'s' if more > 1 else ''}" if more else ""
    if case.simulated_user is not None:
        sim = case.simulated_user
        return f"; then a simulated user ({sim.model.provider}/{sim.model.name}), up to {sim.max_turns} turns"
    return ""
