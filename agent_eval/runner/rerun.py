"""Re-run, once at the end of a run, the runs that a provider, timeout or judge error left without a verdict.

An outage (a provider's 5xx burst, a slow judge) errs runs that say nothing about the agent; by the end of
the run it has usually passed. Each such run is tried once more on the same engine, under the same budget;
its new record replaces the first unless the budget refused it. Crashes of the agent (`target`) are
failures, not missing data, and requests the provider refused as such (a 400, a content filter) would be
refused again: neither is re-run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from agent_eval.errors import FatalProviderError
from agent_eval.records import RunRecord, RunStatus
from agent_eval.runner.engine import Engine, WorkItem

__all__ = ["RERUN_KINDS", "Rerun", "rerun_errors"]

RERUN_KINDS = frozenset({"provider", "timeout", "judge"})


@dataclass(frozen=True, slots=True)
class Rerun:
    """What the end-of-run re-run did: its records (to replace the first ones) and how many it recovered."""

    records: tuple[RunRecord, ...] = ()
    tried: int = 0
    recovered: int = 0
    fatal: FatalProviderError | None = None


class _Quiet:
    """The re-runs are not in the progress bar's total: they advance nothing."""

    def start(self, total: int, stats: object = None) -> None: ...

    def advance(self, record: object) -> None: ...

    def close(self) -> None: ...


def _errored(record: RunRecord) -> bool:
    """An error an outage can explain: not a request the provider refused as such (a 4xx other than 408/409/429)."""
    error = record.error
    if record.status is not RunStatus.ERRORED or error is None or error.kind not in RERUN_KINDS:
        return False
    return error.status is None or not 400 <= error.status < 500 or error.status in (408, 409, 429)


async def rerun_errors(engine: Engine, items: Sequence[WorkItem], records: Sequence[RunRecord]) -> Rerun:
    """Run once more every item whose record in `records` errored with a provider, timeout or judge error."""
    keys = {(r.case_id, r.index) for r in records if _errored(r)}
    todo = [item for item in items if (item.case.id, item.index) in keys]
    if not todo or engine._stop.is_set():
        return Rerun()
    shared_stop, progress = engine._stop, engine.progress
    engine._stop, engine.progress, engine.rerun = asyncio.Event(), _Quiet(), True  # a refused re-run stops no other arm
    try:
        outcome = await engine.execute(todo)
    finally:
        engine._stop, engine.progress, engine.rerun = shared_stop, progress, False
    kept = tuple(r for r in outcome.records if r.error is None or r.error.kind != "budget")
    recovered = sum(1 for r in kept if r.status is not RunStatus.ERRORED)
    return Rerun(records=kept, tried=len(todo), recovered=recovered, fatal=outcome.fatal)
