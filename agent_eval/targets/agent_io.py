"""What a custom agent receives and returns: `AgentInput`, `AgentResult` (JSON for HTTP and command
agents; `agent-eval schema agent-input|agent-result`) and, for Python agents, `AgentContext`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent_eval.records import Message, ToolCall, Usage

if TYPE_CHECKING:
    from agent_eval.targets.base import TargetRun

__all__ = [
    "JSON_DEPTH_LIMIT",
    "OUTPUT_LIMIT_CHARS",
    "PRINTED_LIMIT_CHARS",
    "STREAM_LIMIT_BYTES",
    "AgentContext",
    "AgentInput",
    "AgentResult",
    "AgentToolCall",
    "AgentUsage",
    "agent_input",
    "cut_text",
    "json_depth",
    "messages_of",
    "tool_calls_of",
    "usage_of",
]


# Limits on what a custom agent sends back (README "Agents as targets"): beyond them text is cut and marked.
OUTPUT_LIMIT_CHARS = 200_000  # an agent's final answer
PRINTED_LIMIT_CHARS = 8_000  # what a Python agent prints, a command agent's stderr
STREAM_LIMIT_BYTES = 16 * 1024 * 1024  # a command agent's stdout, an HTTP agent's reply
JSON_DEPTH_LIMIT = 200  # nesting of an HTTP or command agent's reply


def cut_text(text: str, limit: int, what: str) -> tuple[str, str | None]:
    """(text, None) within `limit`; else its first `limit` characters, marked, and a warning."""
    if len(text) <= limit:
        return text, None
    note = f"{what} cut at {limit:,} of {len(text):,} characters"
    return text[:limit] + f"\n[agent-eval: {note}]", note


def json_depth(value: Any, limit: int = JSON_DEPTH_LIMIT) -> bool:
    """True when `value` nests no deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentInput(_Model):
    """One case for the agent: the input as written, and the rendered messages (OpenAI chat format)."""

    case_id: str
    repetition: int = Field(description="0-based repetition index (k runs per case).")
    input: str | list[dict[str, Any]] = Field(
        description="The case input: text with the case's vars filled in, or chat messages.")
    messages: list[dict[str, Any]] = Field(description="System prompt and user turn(s), OpenAI chat format.")
    vars: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    session_id: str | None = Field(
        None, description="A conversation's id, the same for each of its turns (stateful HTTP agents get only "
        "the new turn in `messages`).")


class AgentToolCall(_Model):
    """A tool call the agent made, with what the tool returned."""

    name: str
    args: Any = Field(default_factory=dict, description="The arguments (a JSON object, usually).")
    result: Any = None
    error: str | None = None
    id: str = ""
    started_at: datetime | None = Field(
        None, description="When the tool started (Unix seconds or ISO 8601): its span's start. "
        "Without it a call not seen through agent-eval is stamped at the end of the run.")
    duration_ms: float | None = Field(None, ge=0, description="How long the tool ran.")


class AgentUsage(_Model):
    """Tokens the agent's own model calls used (when they did not go through AgentContext)."""

    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)


class AgentResult(_Model):
    """What the agent answered; everything but `output` is optional."""

    output: str
    messages: list[dict[str, Any]] = Field(
        default_factory=list, description="The whole transcript, OpenAI chat format (default: input + output).")
    tool_calls: list[AgentToolCall] = Field(default_factory=list)
    context: list[Any] = Field(default_factory=list, description="Documents the agent retrieved.")
    usage: AgentUsage | None = None


def agent_input(run: TargetRun) -> AgentInput:
    """The AgentInput of one run."""
    from agent_eval.suite.render import render_input
    from agent_eval.targets.wire import to_openai

    case = run.case
    raw = render_input(case) if isinstance(case.input, str) else to_openai(case.input)
    return AgentInput(case_id=case.id, repetition=run.index, input=raw, messages=to_openai(run.messages),
                      vars=dict(case.vars), metadata=dict(case.metadata), session_id=run.session_id)


def tool_calls_of(calls: Sequence[AgentToolCall]) -> tuple[ToolCall, ...]:
    """An agent's reported tool calls as records (arguments as JSON text)."""
    import json

    from agent_eval.targets.toolbox import jsonable

    return tuple(
        ToolCall(id=c.id, name=c.name,
                 arguments=c.args if isinstance(c.args, str) else json.dumps(jsonable(c.args)),
                 result=jsonable(c.result), error=c.error)
        for c in calls
    )


def usage_of(result: AgentResult) -> Usage:
    return Usage(input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens) \
        if result.usage else Usage()


class AgentContext:
    """A Python agent's handle on agent-eval's call layer for one run.

    `openai` and `anthropic` are the official async SDK clients; `base_url` (OpenAI style, ends in
    /v1) and `anthropic_base_url` reach the same layer over loopback HTTP for frameworks that build
    their own clients. Either way calls go to the config's `model:` endpoint: paced, retried,
    cached, budgeted, priced and traced; after the run's deadline they are refused.
    """

    def __init__(self, *, case_id: str, repetition: int, model: str, params: dict[str, Any],
                 base_url: str, anthropic_base_url: str, deadline: float | None,
                 client_factory: Any) -> None:
        self.case_id = case_id
        self.repetition = repetition
        self.model = model
        self.params = params
        self.base_url = base_url
        self.anthropic_base_url = anthropic_base_url
        self.deadline = deadline
        self.api_key = "agent-eval"  # the layer holds the real key; SDKs want some value
        self._factory = client_factory
        self._openai: Any = None
        self._anthropic: Any = None

    @property
    def openai(self) -> Any:
        """An `openai.AsyncOpenAI` whose calls go through agent-eval."""
        if self._openai is None:
            self._openai = self._factory("openai")
        return self._openai

    @property
    def anthropic(self) -> Any:
        """An `anthropic.AsyncAnthropic` whose calls go through agent-eval."""
        if self._anthropic is None:
            self._anthropic = self._factory("anthropic")
        return self._anthropic

    def remaining_s(self) -> float | None:
        """Seconds left before the run's deadline (None: no --run-timeout)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def messages_of(result: AgentResult, run: TargetRun) -> tuple[Message, ...]:
    """The agent's transcript without its final answer; the input messages when it reported none."""
    from agent_eval.targets.wire import from_openai

    if not result.messages:
        return run.messages
    messages = from_openai(result.messages)
    if messages and messages[-1].role == "assistant" and not messages[-1].tool_calls:
        messages = messages[:-1]
    return messages
