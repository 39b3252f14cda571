"""The `agent:` section of a config (which target runs a case) and the suite's tool-related fields.

Exactly one of `loop`, `python`, `http` or `command` names the target; without `agent:` a
config makes the plain prompt call.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AgentSpec",
    "HttpAgentSpec",
    "LoopSpec",
    "ToolCallSpec",
    "ToolResultSpec",
]

_REF = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_ref(value: str) -> str:
    """A "pkg.module:function" reference (imported by name, never evaluated)."""
    if not _REF.match(value):
        raise ValueError(f'expected "pkg.module:function", got {value!r}')
    return value


class LoopSpec(_Spec):
    """The built-in tool loop: call the model, run its tool calls, feed the results back."""

    max_steps: int = Field(10, ge=1, le=1000, description="Model calls before the run fails as a runaway.")


class HttpAgentSpec(_Spec):
    """An agent deployed as a web service."""

    url: str = Field(description="Endpoint; rendered with the case (Jinja2).")
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict, description="Values may name environment variables: `Bearer ${AGENT_TOKEN}`.")
    body: dict[str, Any] | None = Field(
        None, description="A mapping whose strings are rendered with the case, then JSON-encoded; "
        "default: the AgentInput JSON.")
    output: str = Field("$.output", description="JSONPath of the answer in the reply.")
    tool_calls: str | None = Field(None, description="JSONPath of the tool calls ([{name, args, result}]).")
    timeout_s: float = Field(60.0, gt=0)
    session: Literal["stateless", "stateful"] = Field(
        "stateless", description="Conversations: `stateful` sends only the new user turn and a session_id.")


class AgentSpec(_Spec):
    """The target under test: one of loop, python, http or command (the plain prompt call without `agent:`)."""

    loop: LoopSpec | None = None
    python: str | None = Field(None, description='"pkg.module:function" taking (AgentInput, AgentContext).')
    http: HttpAgentSpec | None = None
    command: tuple[str, ...] | None = Field(None, description='argv, e.g. ["node", "agent.js"].')
    timeout_s: float = Field(60.0, gt=0, description="Command and Python agents: seconds before the run is a "
                             "timeout and its process is killed.")
    max_tokens: int | None = Field(None, gt=0, description="Per-run token limit over the target's model calls.")
    max_cost_usd: float | None = Field(None, gt=0, description="Per-run cost limit over the target's model calls.")
    version: str | None = Field(None, description="The deployed version of an HTTP or command agent: the config hash "
                                "covers it (without it such an agent is opaque, its behaviour not hashed).")

    @field_validator("python")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)

    @field_validator("command")
    @classmethod
    def _argv(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("command needs at least the program, e.g. [node, agent.js]")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> AgentSpec:
        kinds = [k for k in ("loop", "python", "http", "command") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"agent needs exactly one of loop, python, http or command (found {found})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("loop", "python", "http", "command") if getattr(self, k) is not None)


class ToolCallSpec(_Spec):
    """A tool call of a scripted assistant message in a case."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ToolResultSpec(_Spec):
    """A canned tool result: used when `when` is a subset of the call's arguments (no `when`: always)."""

    when: dict[str, Any] | None = None
    result: Any = None
    error: str | None = Field(None, description="Make the call fail with this message instead.")
