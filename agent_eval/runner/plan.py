"""Which (case, repetition) pairs a run executes: filter, shard, and what a resume still needs."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Collection, Sequence

from agent_eval.records import Message
from agent_eval.runner.engine import WorkItem
from agent_eval.suite.case import Case
from agent_eval.suite.loader import LoadedConfig
from agent_eval.suite.render import recorded_history, render_messages, render_user_turn

__all__ = ["in_shard", "plan_items", "select_cases"]


def select_cases(cases: Sequence[Case], filters: Sequence[str]) -> list[Case]:
    """Cases whose id matches a filter (glob) or that carry a filter as a tag; all when no filter."""
    if not filters:
        return list(cases)
    return [c for c in cases if any(f in c.tags or fnmatch.fnmatchcase(c.id, f) for f in filters)]


def in_shard(case_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether a case belongs to shard i of n (1-based), by a stable hash of its id."""
    if shard is None:
        return True
    index, count = shard
    digest = int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big")
    return digest % count == index - 1


def _check_parts(case: Case, messages: Sequence[Message], config: LoadedConfig) -> None:
    """A case sending images, PDFs or audio to a provider (or agent) that takes none of that kind fails before any
    call, naming the case and what the provider accepts."""
    from agent_eval.errors import InputError
    from agent_eval.suite.parts import PART_TYPES

    kinds = {part.type for m in messages for part in m.parts}
    if not kinds:
        return
    agent = config.spec.agent
    if agent is not None and agent.loop is None:
        accepted: frozenset[str] = frozenset()
        who = f"a {agent.kind} agent (it receives text)"
    else:
        provider = config.spec.model.provider
        accepted = PART_TYPES.get(provider, frozenset())
        who = f"provider {provider}"
    refused = sorted(kinds - accepted)
    if refused:
        takes = ", ".join(sorted(accepted)) or "text only"
        raise InputError(case.source.rsplit(":", 1)[0], f"case '{case.id}' sends {', '.join(refused)}, which "
                         f"{who} does not accept (it takes: {takes})", field="input")


def plan_items(
    cases: Sequence[Case], config: LoadedConfig, repeat: int, done: Collection[tuple[str, int]] = (),
) -> list[WorkItem]:
    """Render every case once (template errors surface here, before any call) and expand k times.

    Repetitions are interleaved (all cases' first run, then all second runs) so an
    interrupted run still covers every case.
    """
    rendered = [(case, render_messages(case, config) if case.recorded is None else recorded_history(case))
                for case in cases]
    for case, messages in rendered:
        if case.recorded is None:
            _check_parts(case, messages, config)
    for case in cases:  # a conversation's later turns too, so their template errors come before any call
        for turn in (case.conversation or ())[1:]:
            render_user_turn(case, config, turn.user)
    return [
        WorkItem(case=case, index=index, messages=messages)
        for index in range(repeat)
        for case, messages in rendered
        if (case.id, index) not in done
    ]
