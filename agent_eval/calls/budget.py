"""Live spend accounting: no new run starts when the next ones would cross the budget."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget"]


@dataclass(slots=True)
class Budget:
    """Spend so far (candidate and judge) against optional USD and token ceilings."""

    usd: float | None = None
    tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    charged_runs: int = 0
    unpriced_runs: int = 0
    exhausted: bool = False

    def charge(self, cost_usd: float | None, tokens: int) -> None:
        """Count one finished run's spend; an unknown price counts tokens only."""
        self.charged_runs += 1
        self.spent_tokens += tokens
        if cost_usd is None:
            self.unpriced_runs += 1
        else:
            self.spent_usd += cost_usd

    def spend(self, cost_usd: float | None, tokens: int) -> None:
        """Count spend that belongs to a run already counted (judge calls)."""
        self.spent_tokens += tokens
        if cost_usd is not None:
            self.spent_usd += cost_usd

    def allows(self, in_flight: int) -> bool:
        """Whether one more run may start while `in_flight` runs have not been charged yet."""
        if self.exhausted:
            return False
        if self.charged_runs == 0:
            return True
        pending = in_flight + 1
        if self.usd is not None:
            mean = self.spent_usd / self.charged_runs
            if self.spent_usd + pending * mean > self.usd:
                self.exhausted = True
        if self.tokens is not None:
            mean_tokens = self.spent_tokens / self.charged_runs
            if self.spent_tokens + pending * mean_tokens > self.tokens:
                self.exhausted = True
        return not self.exhausted

    def describe(self) -> str:
        parts = [f"${self.spent_usd:.4f}"]
        if self.usd is not None:
            parts[0] += f" of ${self.usd:g}"
        parts.append(f"{self.spent_tokens:,} tokens" + (f" of {self.tokens:,}" if self.tokens else ""))
        if self.unpriced_runs:
            parts.append(f"{self.unpriced_runs} runs with no known price (counted by tokens)")
        return ", ".join(parts)
