"""Live spend accounting: no new run starts when the spend in flight could cross the budget.

Each run reserves its expected spend before it starts (the mean of the runs charged so far, or
an estimate from its prompt and whole output allowance before any) and gives the reservation back
when it ends, so the first `-j` runs cannot overshoot. A run that does not fit waits for the runs in
flight; when none is left and it still does not fit, the budget is exhausted. When not even the
first run fits the allowance-based estimate, it runs alone to learn the real cost (output
allowances are usually far above what models write). A budget of 0 means nothing may be spent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["Budget", "Reservation"]


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

    def _expected(self, usd_estimate: float | None, tokens_estimate: int) -> tuple[float | None, int]:
        """The mean spend of the runs charged so far, or the estimate before any."""
        priced = self.charged_runs - self.unpriced_runs
        usd = self.spent_usd / priced if priced else usd_estimate
        tokens = round(self.spent_tokens / self.charged_runs) if self.charged_runs else tokens_estimate
        return usd, tokens

    def _fits(self, usd: float | None, tokens: int) -> bool | None:
        """True when the run fits, None when only the estimate keeps it out, False when nothing may be spent."""
        if self.usd == 0 and (usd is None or usd > 0):
            return False
        over = self.usd is not None and usd is not None and self.spent_usd + self.reserved_usd + usd > self.usd
        over = over or (self.tokens is not None and self.spent_tokens + self.reserved_tokens + tokens > self.tokens)
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
