"""Live spend accounting: no new run starts when the spend in flight could cross the budget.

Each run reserves its expected spend before it starts (the mean of the runs charged so far, or
an estimate from its prompt and whole output allowance before any) and gives the reservation back
when it ends, so the first `-j` runs cannot overshoot. A run that does not fit waits for the runs in
flight; when none is left and it still does not fit, the budget is exhausted. When not even the
first run fits the allowance-based estimate, it runs alone to learn the real cost (output
allowances are usually far above what models write). A budget of 0 means nothing may be spent.

Every model call of a run is held to the budget too, as it is made (`reserve_call`, then `settle_call`):
it reserves its expected cost (the mean of the calls settled so far, or its prompt and output allowance
before any) and is refused when that would cross the budget, so an agent making many calls a run
overshoots by at most the calls already in flight. Calls are charged as they settle; a run's end
charges only what its calls did not (`charge_run`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_eval.modelspec import PriceSpec
    from agent_eval.providers.base import CompletionRequest

__all__ = ["Budget", "Reservation", "call_estimate"]


def call_estimate(request: CompletionRequest, pricing: Mapping[str, PriceSpec],
                  provider: str) -> tuple[float | None, int]:
    """A call's cost and tokens before it is made: its prompt and its whole output allowance."""
    from agent_eval.calls.endpoint import estimate_tokens
    from agent_eval.providers.pricing import cost_usd
    from agent_eval.records import Usage

    tokens = estimate_tokens(request)
    prompt = min(tokens, sum(len(m.content) for m in request.messages) // 4)
    usage = Usage(input_tokens=prompt, output_tokens=tokens - prompt)
    return cost_usd(request.model, usage, pricing, provider=provider), tokens


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one run in flight holds of the budget."""

    usd: float = 0.0
    tokens: int = 0


@dataclass(slots=True)
class Budget:
    """Spend so far (candidate and judge) against optional USD and token ceilings."""

    usd: float | None = None
    tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    charged_runs: int = 0
    unpriced_runs: int = 0
    estimated_runs: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    holders: int = 0
    exhausted: bool = False
    calls_settled: int = 0
    calls_priced: int = 0
    calls_usd: float = 0.0
    calls_tokens: int = 0
    call_reserved_usd: float = 0.0
    call_reserved_tokens: int = 0
    calls_in_flight: int = 0
    stopped_runs: set[tuple[str, int]] = field(default_factory=set)  # runs a refused call stopped
    _by_run: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict, repr=False)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    @property
    def limited(self) -> bool:
        return self.usd is not None or self.tokens is not None

    def charge(self, cost_usd: float | None, tokens: int, *, estimated: bool = False) -> None:
        """Count one finished run's spend; an unknown price counts tokens only."""
        self.charged_runs += 1
        self.spent_tokens += tokens
        self.estimated_runs += estimated
        if cost_usd is None:
            self.unpriced_runs += 1
        else:
            self.spent_usd += cost_usd

    def charge_run(self, run: tuple[str, int], cost_usd: float | None, tokens: int, *, estimated: bool = False) -> None:
        """Count one finished run; only the spend its calls did not already charge is added."""
        usd, used = self._by_run.pop(run, (0.0, 0))
        self.charge(None if cost_usd is None else max(0.0, cost_usd - usd), max(0, tokens - used),
                    estimated=estimated)

    def forget(self, run: tuple[str, int]) -> None:
        """Drop what a run's calls charged without counting the run (it has no verdict; the spend stays)."""
        self._by_run.pop(run, None)

    def spend(self, cost_usd: float | None, tokens: int) -> None:
        """Count spend that belongs to a run already counted (judge calls)."""
        self.spent_tokens += tokens
        if cost_usd is not None:
            self.spent_usd += cost_usd

    async def reserve(self, usd_estimate: float | None, tokens_estimate: int) -> Reservation | None:
        """Hold one more run's expected spend, waiting for runs in flight; None once the budget is exhausted.

        `usd_estimate` is None when no price is known: a USD budget then cannot be checked, and
        a budget of 0 refuses the run rather than spend an unknown amount.
        """
        if not self.limited:
            return Reservation()
        if self.usd == 0 and self.tokens is None and not self.exhausted:
            # Nothing may be spent, but a cached answer costs nothing: the run starts, and each call that would
            # reach the provider is refused (`reserve_call`), so a fully cached rerun still runs.
            return Reservation()
        async with self._changed:
            while not self.exhausted:
                usd, tokens = self._expected(usd_estimate, tokens_estimate)
                fits = self._fits(usd, tokens)
                if fits or (self.holders == 0 and self.charged_runs == 0 and fits is None):
                    held = Reservation(usd or 0.0, tokens)
                    self.reserved_usd += held.usd
                    self.reserved_tokens += held.tokens
                    self.holders += 1
                    return held
                if self.holders == 0:
                    self.exhausted = True
                    self._changed.notify_all()
                    break
                await self._changed.wait()
        return None

    async def release(self, held: Reservation) -> None:
        """Give a finished run's reservation back (its real spend was charged)."""
        if not self.limited:
            return
        async with self._changed:
            self.reserved_usd -= held.usd
            self.reserved_tokens -= held.tokens
            self.holders -= 1
            self._changed.notify_all()

    async def reserve_call(self, usd_estimate: float | None, tokens_estimate: int) -> Reservation | None:
        """Hold one model call's expected spend, waiting for calls in flight; None when it would cross the budget.

        The first call runs alone when only its allowance-based estimate keeps it out, as the first run does.
        A refusal exhausts the budget: no new run starts.
        """
        if not self.limited:
            return Reservation()
        async with self._changed:
            while not self.exhausted:
                usd, tokens = self._call_expected(usd_estimate, tokens_estimate)
                fits = self._fits(usd, tokens, reserved_usd=self.call_reserved_usd,
                                  reserved_tokens=self.call_reserved_tokens)
                if fits or (fits is None and self.calls_in_flight == 0 and self.calls_settled == 0):
                    held = Reservation(usd or 0.0, tokens)
                    self.call_reserved_usd += held.usd
                    self.call_reserved_tokens += held.tokens
                    self.calls_in_flight += 1
                    return held
                if self.calls_in_flight == 0:
                    self.exhausted = True
                    self._changed.notify_all()
                    break
                await self._changed.wait()
        return None

    async def settle_call(self, held: Reservation, run: tuple[str, int] | None = None, *, made: bool = False,
                          cost_usd: float | None = None, tokens: int = 0) -> None:
        """Give a call's reservation back and charge what it cost (when it was made and answered)."""
        if not self.limited:
            if made and run is None:  # a run's own calls are charged with the run when nothing is limited
                self.spend(cost_usd, tokens)
            return
        async with self._changed:
            self.call_reserved_usd -= held.usd
            self.call_reserved_tokens -= held.tokens
            self.calls_in_flight -= 1
            if made:
                self.calls_settled += 1
                self.calls_tokens += tokens
                self.spend(cost_usd, tokens)
                if cost_usd is not None:
                    self.calls_priced += 1
                    self.calls_usd += cost_usd
                if run is not None:
                    usd, used = self._by_run.get(run, (0.0, 0))
                    self._by_run[run] = (usd + (cost_usd or 0.0), used + tokens)
            self._changed.notify_all()

    def _call_expected(self, usd_estimate: float | None, tokens_estimate: int) -> tuple[float | None, int]:
        """The mean cost of the calls settled so far, or the estimate before any."""
        usd = self.calls_usd / self.calls_priced if self.calls_priced else usd_estimate
        tokens = round(self.calls_tokens / self.calls_settled) if self.calls_settled else tokens_estimate
        return usd, tokens

    def _expected(self, usd_estimate: float | None, tokens_estimate: int) -> tuple[float | None, int]:
        """The mean spend of the runs charged so far, or the estimate before any."""
        priced = self.charged_runs - self.unpriced_runs
        usd = self.spent_usd / priced if priced else usd_estimate
        tokens = round(self.spent_tokens / self.charged_runs) if self.charged_runs else tokens_estimate
        return usd, tokens

    def _fits(self, usd: float | None, tokens: int, *, reserved_usd: float | None = None,
              reserved_tokens: int | None = None) -> bool | None:
        """True when it fits, None when only the estimate keeps it out, False when nothing may be spent."""
        if self.usd == 0 and (usd is None or usd > 0):
            return False
        held_usd = self.reserved_usd if reserved_usd is None else reserved_usd
        held_tokens = self.reserved_tokens if reserved_tokens is None else reserved_tokens
        over = self.usd is not None and usd is not None and self.spent_usd + held_usd + usd > self.usd
        over = over or (self.tokens is not None and self.spent_tokens + held_tokens + tokens > self.tokens)
        if not over:
            return True
        return None

    def describe(self) -> str:
        parts = [f"${self.spent_usd:.4f}"]
        if self.usd is not None:
            parts[0] += f" of ${self.usd:g}"
        parts.append(f"{self.spent_tokens:,} tokens" + (f" of {self.tokens:,}" if self.tokens else ""))
        if self.unpriced_runs:
            parts.append(f"{self.unpriced_runs} runs with no known price (counted by tokens)")
        if self.estimated_runs:
            parts.append(f"{self.estimated_runs} runs without reported usage (estimated from text)")
        return ", ".join(parts)
