"""The small async interface every model provider implements.

A provider turns a `CompletionRequest` into a `Completion`, and classifies the
exceptions its SDK raises into a `RetryDecision`. Only the runner retries:
providers build their SDK clients with `max_retries=0`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from agent_eval.providers.ratelimits import RateInfo
from agent_eval.records import Message, ToolCall, Usage
from agent_eval.untrusted import clean_json_text, clean_text, invalid_unicode_warning

__all__ = [
    "Completion",
    "CompletionRequest",
    "Provider",
    "RetryDecision",
    "RetryKind",
    "Wire",
]


@dataclass(frozen=True, slots=True)
class Wire:
    """A request exactly as an agent sent it to the gateway: forwarded unchanged when the provider speaks `api`."""

    api: str  # "chat" (chat completions), "responses" or "messages" (Anthropic)
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()  # forwarded headers, e.g. anthropic-beta

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One call to a model: the messages and the sampling parameters."""

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Mapping[str, Any], ...] = ()
    seed: int = 0
    case_id: str = ""
    repetition: int = 0
    timeout_s: float | None = None
    wire: Wire | None = None  # set for an agent's call through the gateway: the request as sent


@dataclass(frozen=True, slots=True)
class Completion:
    """What the model answered, with its cost drivers.

    Built from untrusted text: invalid Unicode in the text and tool calls is replaced here,
    for every provider and for cached answers alike, and `warnings` says so.
    """

    text: str
    usage: Usage
    latency_ms: float
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    warnings: tuple[str, ...] = ()
    rate: RateInfo | None = None  # the limits the server advertised with this reply
    raw: Any = None  # for a wire request: the reply body as a JSON value, or the SSE text of a stream

    def __post_init__(self) -> None:
        text, replaced = clean_text(self.text)
        model, in_model = clean_text(self.model)
        calls, in_calls = _clean_calls(self.tool_calls)
        replaced += in_model + in_calls
        if replaced:
            object.__setattr__(self, "text", text)
            object.__setattr__(self, "model", model)
            object.__setattr__(self, "tool_calls", calls)
            warning = invalid_unicode_warning(replaced, "reply")
            object.__setattr__(self, "warnings", (*self.warnings, warning))


def _clean_calls(calls: tuple[ToolCall, ...]) -> tuple[tuple[ToolCall, ...], int]:
    total = 0
    out: list[ToolCall] = []
    for call in calls:
        call_id, a = clean_text(call.id)
        name, b = clean_text(call.name)
        arguments, c = clean_json_text(call.arguments)
        total += a + b + c
        out.append(ToolCall(id=call_id, name=name, arguments=arguments) if a + b + c else call)
    return tuple(out), total


class RetryKind(StrEnum):
    """What the runner does with a failed call."""

    NONE = "none"  # error this run only (400, 422, unparseable reply)
    TRANSIENT = "transient"  # 5xx, timeout, dropped connection: back off and retry
    RATE_LIMIT = "rate_limit"  # 429: back off, honour Retry-After, slow down
    FATAL = "fatal"  # 401, 403, 404: stop the whole run


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The classification of one failed call; a pure function of type and status."""

    kind: RetryKind
    message: str
    status: int | None = None
    retry_after_s: float | None = None
    rate: RateInfo | None = None  # the limits the server advertised with this error

    @property
    def retryable(self) -> bool:
        return self.kind in (RetryKind.TRANSIENT, RetryKind.RATE_LIMIT)


class Provider(Protocol):
    """A model endpoint. One instance serves every call to that endpoint."""

    name: str

    async def complete(self, request: CompletionRequest) -> Completion:
        """Send one request; raise the SDK's own exception on failure."""
        ...

    def classify(self, exc: BaseException) -> RetryDecision:
        """Decide how the runner treats an exception raised by `complete`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
