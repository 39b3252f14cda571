"""Model endpoints as a config or suite writes them (`model:`, `judge:`, a simulated user's model), and the
provider names they may use; shared by suite, providers, calls and judge.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "PROVIDER_NAMES",
    "LimitsSpec",
    "MockAnswer",
    "MockRule",
    "MockSpec",
    "MockToolCall",
    "ModelSpec",
    "PriceSpec",
]

# The providers a model spec may name; `providers.registry` has one module per name
PROVIDER_NAMES: tuple[str, ...] = ("openai", "anthropic", "mock")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MockToolCall(_Spec):
    """A tool call the mock provider makes; string values of `arguments` are Jinja2 templates."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class LimitsSpec(_Spec):
    """Per-endpoint limits; command-line flags override them."""

    max_concurrency: int | None = Field(None, ge=1, description="Calls in flight at once.")
    rpm: float | None = Field(None, gt=0, description="Requests per minute.")
    tpm: float | None = Field(None, gt=0, description="Tokens per minute (prompt estimate + max_tokens).")


class MockAnswer(_Spec):
    """One candidate answer of the mock provider."""

    text: str = Field("", description="Jinja2 template; sees `input` and the rule's named regex groups.")
    tool_calls: tuple[MockToolCall, ...] = Field(
        (), description="Tool calls to make instead of (or with) text; argument strings are templates too.")
    weight: float = Field(1.0, gt=0)


class MockRule(_Spec):
    """Answers for inputs that match a regex (re.search on the last message of `role`, by default the user's)."""

    match: str = Field(description="Python regular expression (run with a 1 s time limit per call).")
    role: Literal["user", "assistant", "tool", "system"] = Field(
        "user", description="Whose last message the regex is matched on (`tool`: the last tool results).")
    answers: tuple[MockAnswer, ...] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class MockSpec(_Spec):
    """The offline `mock` provider: rules sampled with a seeded RNG."""

    rules: tuple[MockRule, ...] = ()
    default: str = Field("I don't know.", description="Answer when no rule matches.")
    latency_ms: float = Field(0.0, ge=0, description="Simulated latency per call.")
    error_rate: float = Field(0.0, ge=0, le=1, description="Fraction of calls that fail (HTTP 500).")


class ModelSpec(_Spec):
    """A model endpoint: provider, pinned model id, sampling parameters."""

    provider: str = Field(description=" | ".join(PROVIDER_NAMES))
    name: str = Field(min_length=1, description="Model id; prefer a pinned, dated version.")
    base_url: str | None = Field(None, description="Endpoint; any OpenAI-compatible server for openai.")
    api_key_env: str | None = Field(None, description="Environment variable holding the key.")
    params: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, ...")
    limits: LimitsSpec = LimitsSpec()
    timeout_s: float = Field(60.0, gt=0, description="Per-call timeout in seconds.")
    mock: MockSpec | None = Field(None, description="Rules for the mock provider.")


class PriceSpec(_Spec):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
