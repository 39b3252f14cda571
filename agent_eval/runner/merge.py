"""Combine the results of shards (`run --shard i/n`) into one results folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent_eval.errors import UsageError
from agent_eval.records import Results

__all__ = ["merge_results"]


def _same(shards: Sequence[tuple[Path, Results]], what: str, key) -> None:  # type: ignore[no-untyped-def]
    first_path, first = shards[0]
    for path, results in shards[1:]:
        if key(results) != key(first):
            raise UsageError(f"cannot merge: {path} has a different {what} than {first_path} "
                             f"({key(results)} vs {key(first)})")


def merge_results(shards: Sequence[tuple[Path, Results]]) -> Results:
    """One Results from shards of the same suite, config and seed; refuses overlaps and gaps."""
    from agent_eval.stats.named import with_named_metrics
    from agent_eval.stats.reduce import summarize

    if not shards:
        raise UsageError("merge needs at least one results folder")
    _same(shards, "suite", lambda r: r.suite.hash)
    _same(shards, "config", lambda r: r.config.hash)
    _same(shards, "seed", lambda r: r.seed)
    _same(shards, "repeat (k)", lambda r: r.suite.repeat)
    counts = {r.shard[1] if r.shard else 0 for _, r in shards}
    if 0 in counts or len(counts) != 1:
        raise UsageError("cannot merge: every folder must be a shard of the same n (run --shard i/n)")
    n = counts.pop()
    indexes = sorted(r.shard[0] for _, r in shards if r.shard)
    if indexes != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(indexes))
        repeated = sorted({i for i in indexes if indexes.count(i) > 1})
        raise UsageError(f"cannot merge: shards of {n} needed; missing {missing or 'none'}, "
                         f"repeated {repeated or 'none'}")
    seen: dict[str, Path] = {}
    for path, results in shards:
        for case in results.cases:
            if case.id in seen:
                raise UsageError(f"cannot merge: case '{case.id}' is in both {seen[case.id]} and {path}")
            seen[case.id] = path
    cases = tuple(c for _, r in shards for c in r.cases)
    reasons = [f"shard {r.shard}: {r.incomplete_reason}" for _, r in shards if not r.complete and r.shard]
    first = shards[0][1]
    # a shard without rubric cases may have recorded no judge (older versions did); keep the one the others name
    judged = next((r.config for _, r in shards if r.config.judge_model), first.config)
    config = first.config.model_copy(update={"judge_model": judged.judge_model,
                                             "judge_prompt_hash": judged.judge_prompt_hash})
    return first.model_copy(update={
        "cases": cases, "config": config, "shard": None,
        "summary": with_named_metrics(summarize(cases, rng_seed=first.seed), cases,
                                      {n: d.formula for n, d in first.summary.derived.items()}),
        "complete": not reasons, "reruns": sum(r.reruns for _, r in shards), "incomplete_reason": "; ".join(reasons) or None,
        "started_at": min(r.started_at for _, r in shards), "finished_at": max(r.finished_at for _, r in shards),
    })
