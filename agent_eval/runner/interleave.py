"""Several arms in step: an arm starts (case, repetition) number r only once every other arm still running has
started number r - 1, so drift, slowdowns and rate limits hit the arms alike (issue 24, live A/B in one job).

Ranks follow the run order (every case's first repetition, then every second); an arm that finished or stopped
no longer holds the others back. With a window of at least one, two arms can never wait on each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

__all__ = ["ArmPacer", "Interleaver"]


class Interleaver:
    """The shared frontier of every arm: the highest rank each has started."""

    def __init__(self, arms: Sequence[str], case_ids: Sequence[str], window: int = 1) -> None:
        self._frontier = dict.fromkeys(arms, -1)
        self._active = set(arms)
        self._position = {case_id: i for i, case_id in enumerate(case_ids)}
        self._window = max(1, window)
        self._cond: asyncio.Condition | None = None
        self.order: list[tuple[str, str, int]] = []  # (arm, case, repetition) in the order started

    def pacer(self, arm: str) -> ArmPacer:
        return ArmPacer(self, arm)

    def _rank(self, case_id: str, index: int) -> int:
        return index * len(self._position) + self._position.get(case_id, 0)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    def _clear(self, arm: str, rank: int) -> bool:
        return all(f >= rank - self._window for other, f in self._frontier.items()
                   if other != arm and other in self._active)

    async def _start(self, arm: str, case_id: str, index: int) -> None:
        rank = self._rank(case_id, index)
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self._clear(arm, rank))
            self._frontier[arm] = max(self._frontier[arm], rank)
            self.order.append((arm, case_id, index))
            cond.notify_all()

    async def _finish(self, arm: str) -> None:
        cond = self._condition()
        async with cond:
            self._active.discard(arm)
            cond.notify_all()


class ArmPacer:
    """One arm's handle: `wait` before starting a run, `finish` when the arm runs nothing more."""

    def __init__(self, shared: Interleaver, arm: str) -> None:
        self._shared, self._arm = shared, arm

    async def wait(self, case_id: str, index: int) -> None:
        await self._shared._start(self._arm, case_id, index)

    async def finish(self) -> None:
        await self._shared._finish(self._arm)
