"""Checks on what a run cost: max_latency_ms, max_tokens (output tokens) and max_cost_usd.

An unknown value cannot be verified, so it fails the check with a reason that says so:
latency is unknown when the run did not record it, cost when no price is known for the
model, tokens and cost when the provider reported no usage (the counts are then estimates). A limit that nobody can check should not read as a pass in a CI gate; drop the check
(or add a price for the model) when the value cannot be known.
"""

from __future__ import annotations

from agent_eval.checks._util import RawCheck, positive_number, type_name
from agent_eval.checks.base import CheckInput, CheckSpecError

__all__ = [
    "compile_limit",
    "compile_token_limit",
    "eval_max_cost_usd",
    "eval_max_latency_ms",
    "eval_max_tokens",
]


def compile_limit(raw: RawCheck) -> float:
    """A positive number: milliseconds or US dollars."""
    return positive_number(raw.value, raw.name)


def compile_token_limit(raw: RawCheck) -> int:
    """A positive whole number of tokens."""
    value = raw.value
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and isinstance(value, int) and value > 0:
        return value
    shown = repr(value) if number else type_name(value)
    raise CheckSpecError(f"expected a positive whole number of tokens, got {shown}", key=raw.name)


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def eval_max_latency_ms(limit: float, run: CheckInput) -> tuple[bool, str]:
    """The run's latency is known and at most the limit."""
    if run.latency_ms is None:
        return False, f"latency unknown (not recorded for this run); cannot verify max {_ms(limit)}"
    if run.latency_ms > limit:
        return False, f"latency {_ms(run.latency_ms)} > max {_ms(limit)}"
    return True, f"latency {_ms(run.latency_ms)} <= max {_ms(limit)}"


def eval_max_tokens(limit: int, run: CheckInput) -> tuple[bool, str]:
    """The run's output tokens are known and at most the limit."""
    if run.tokens.estimated:
        return False, f"output tokens unknown (the provider reported no usage); cannot verify max {limit}"
    used = run.tokens.output_tokens
    if used > limit:
        return False, f"output tokens {used} > max {limit}"
    return True, f"output tokens {used} <= max {limit}"


def _usd(value: float) -> str:
    return f"${value:.6g}"


def eval_max_cost_usd(limit: float, run: CheckInput) -> tuple[bool, str]:
    """The run's cost is known and at most the limit."""
    if run.cost_usd is None:
        why = "the provider reported no usage" if run.tokens.estimated else "no price for this model"
        return False, f"cost unknown ({why}); cannot verify max {_usd(limit)}"
    if run.cost_usd > limit:
        return False, f"cost {_usd(run.cost_usd)} > max {_usd(limit)}"
    return True, f"cost {_usd(run.cost_usd)} <= max {_usd(limit)}"
