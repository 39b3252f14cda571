"""Tool-call checks: `tool_called: {name: lookup_order, args: {order_id: "1234"}}` and not_tool_called.

A call matches when its name is equal and every expected argument is present with a
JSON-equal value (subset match, recursive into nested mappings; lists compare whole).
Only the run's own tool calls count, not those in a conversation given as input.
`tool_called: lookup_order` is short for `{name: lookup_order}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_eval.checks._util import (
    RawCheck,
    expect_keys,
    expect_str,
    json_equal,
    render_json,
    type_name,
)
from agent_eval.checks.base import CheckInput, CheckSpecError, Reason
from agent_eval.records import ToolCall

__all__ = ["ToolSpec", "compile_tool_called", "eval_tool_called"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """The tool a run must (or must not) call, and the arguments the call must include."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """E.g. `lookup_order with {"order_id":"1234"}`."""
        return self.name + (f" with {render_json(self.args)}" if self.args else "")


def compile_tool_called(raw: RawCheck) -> ToolSpec:
    """A tool name, or `{name: ..., args: {...}}`."""
    value = raw.value
    if isinstance(value, str):
        return ToolSpec(name=expect_str(value, raw.name))
    if not isinstance(value, Mapping):
        hint = '{name: lookup_order, args: {order_id: "1234"}}'
        raise CheckSpecError(f"expected a tool name or a mapping like {hint}, got {type_name(value)}",
                             key=raw.name)
    expect_keys(value, ("name", "args"), owner=raw.name)
    if "name" not in value:
        raise CheckSpecError("missing name: the tool that must be called", key=raw.name)
    name = expect_str(value["name"], "name")
    args = value.get("args", {})
    if not isinstance(args, Mapping):
        raise CheckSpecError(f"expected args to be a mapping, got {type_name(args)}", key="args")
    return ToolSpec(name=name, args=dict(args))


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    return json_equal(expected, actual)


def _matches(spec: ToolSpec, call: ToolCall) -> bool:
    return call.name == spec.name and (not spec.args or _subset(spec.args, call.parsed_arguments()))


def _show(call: ToolCall) -> str:
    args = call.parsed_arguments()
    return f"{call.name}({render_json(args) if not isinstance(args, str) else args[:40]})"


def _calls(calls: tuple[ToolCall, ...]) -> str:
    if not calls:
        return "no tool calls"
    shown = ", ".join(_show(call) for call in calls[:3])
    return shown + (f", … ({len(calls) - 3} more)" if len(calls) > 3 else "")


def eval_tool_called(spec: ToolSpec, run: CheckInput) -> tuple[bool, str]:
    """Some tool call of the run has the name and includes the arguments."""
    match = next((call for call in run.tool_calls if _matches(spec, call)), None)
    if match is None:
        return False, Reason(
            f"expected a call to {spec.describe()}; got {_calls(run.tool_calls)}",
            f"no call to {spec.describe()} ({_calls(run.tool_calls)})",
        )
    return True, Reason(
        f"called {_show(match)}",
        f"expected no call to {spec.describe()}; called {_show(match)}",
    )
