"""What a call costs: a built-in price table, overridable per model in the config.

A model id matches its exact entry first, then the longest entry that is a
prefix of it followed by `-` or `@`, so dated ids (`gpt-4o-2024-11-20`,
`claude-sonnet-4-5-20250929`, `claude-3-5-sonnet@20240620`) price as their family.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent_eval.modelspec import PriceSpec
from agent_eval.records import Usage

__all__ = ["PRICES", "cost_usd", "is_mock_model", "price_for"]

# USD per 1M tokens (input, output), list prices for standard (non-batch, non-cached) use.
# Table as of 2025-11; check the providers' pricing pages and override in the config when they change.
PRICES: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.5-preview": (75.00, 150.00),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "chatgpt-4o-latest": (5.00, 15.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-preview": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o1-pro": (150.00, 600.00),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o3-pro": (20.00, 80.00),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-sonnet": (3.00, 15.00),
    "claude-3-haiku": (0.25, 1.25),
}

_SEPARATORS = ("-", "@")


def is_mock_model(model: str, provider: str | None = None) -> bool:
    """True for the offline provider, or a model named `mock` / `mock-...`."""
    return provider == "mock" or model == "mock" or model.startswith("mock-")


def _lookup(model: str, table: Mapping[str, PriceSpec]) -> PriceSpec | None:
    if model in table:
        return table[model]
    best: str | None = None
    for name in table:
        if model.startswith(name) and model[len(name)] in _SEPARATORS and (best is None or len(name) > len(best)):
            best = name
    return table[best] if best is not None else None


_BUILT_IN: dict[str, PriceSpec] = {name: PriceSpec(input=i, output=o) for name, (i, o) in PRICES.items()}


def price_for(model: str, overrides: Mapping[str, PriceSpec] | None = None) -> PriceSpec | None:
    """The price of `model`: the config's overrides first, then the built-in table."""
    found = _lookup(model, overrides) if overrides else None
    return found if found is not None else _lookup(model, _BUILT_IN)


def cost_usd(
    model: str,
    usage: Usage,
    overrides: Mapping[str, PriceSpec] | None = None,
    *,
    provider: str | None = None,
) -> float | None:
    """USD for one call's usage; None when the price is unknown.

    Mock models cost 0.0 unless the config prices them (useful to exercise budgets offline).
    """
    price = _lookup(model, overrides) if overrides else None
    if price is None:
        if is_mock_model(model, provider):
            return 0.0
        price = _lookup(model, _BUILT_IN)
    if price is None:
        return None
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000
