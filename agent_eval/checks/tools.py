"""Tool-call checks: `tool_called: {name, args, match, args_schema, times}` and not_tool_called;
`tool_error: true | name | {name, contains}` and not_tool_error.

A call matches when its name is equal and every expected argument is present with a
JSON-equal value (`match: subset`, the default: recursive into nested mappings; lists compare
whole) or the arguments equal `args` exactly (`match: exact`), and they validate against
`args_schema` when given. With `times: n` exactly n calls must match; otherwise at least one.
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
    non_negative_int,
    render_json,
    type_name,
)
from agent_eval.checks.base import CheckInput, CheckSpecError, Reason
from agent_eval.records import ToolCall

__all__ = ["ToolErrorSpec", "ToolSpec", "compile_tool_called", "compile_tool_error", "eval_tool_called",
           "eval_tool_error"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """The tool a run must (or must not) call, and the arguments the call must include."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    exact: bool = False
    schema: Any = None  # a jsonschema validator of the arguments
    times: int | None = None

    def describe(self) -> str:
        """E.g. `lookup_order with {"order_id":"1234"}`."""
        text = self.name
        if self.args or self.exact:
            text += f" with {'exactly ' if self.exact else ''}{render_json(self.args)}"
        if self.schema is not None:
            text += " (arguments valid against args_schema)"
        return text


def compile_tool_called(raw: RawCheck) -> ToolSpec:
    """A tool name, or `{name: ..., args: {...}}`."""
    value = raw.value
    if isinstance(value, str):
        return ToolSpec(name=expect_str(value, raw.name))
    if not isinstance(value, Mapping):
        hint = '{name: lookup_order, args: {order_id: "1234"}}'
        raise CheckSpecError(f"expected a tool name or a mapping like {hint}, got {type_name(value)}",
                             key=raw.name)
    expect_keys(value, ("name", "args", "match", "args_schema", "times"), owner=raw.name)
    if "name" not in value:
        raise CheckSpecError("missing name: the tool that must be called", key=raw.name)
    name = expect_str(value["name"], "name")
    args = value.get("args", {})
    if not isinstance(args, Mapping):
        raise CheckSpecError(f"expected args to be a mapping, got {type_name(args)}", key="args")
    match = value.get("match", "subset")
    if match not in ("subset", "exact"):
        raise CheckSpecError(f"match must be subset or exact, got {match!r}", key="match")
    times = value.get("times")
    if times is not None:
        times = non_negative_int(times, "times")
    return ToolSpec(name=name, args=dict(args), exact=match == "exact", times=times,
                    schema=_schema(value["args_schema"]) if "args_schema" in value else None)


def _schema(schema: Any) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, Mapping):
        raise CheckSpecError(f"args_schema must be a JSON Schema mapping, got {type_name(schema)}", key="args_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise CheckSpecError(f"args_schema is not a valid JSON Schema: {exc.message}", key="args_schema") from None
    from agent_eval.checks._schemas import check_refs, offline_registry

    check_refs(schema, "args_schema")
    return Draft202012Validator(schema, registry=offline_registry())


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    return json_equal(expected, actual)


def _matches(spec: ToolSpec, call: ToolCall) -> bool:
    if call.name != spec.name:
        return False
    args = call.parsed_arguments()
    if spec.exact and not json_equal(spec.args, args):
        return False
    if not spec.exact and spec.args and not _subset(spec.args, args):
        return False
    return spec.schema is None or spec.schema.is_valid(args)


def _show(call: ToolCall) -> str:
    args = call.parsed_arguments()
    return f"{call.name}({render_json(args) if not isinstance(args, str) else args[:40]})"


def _calls(calls: tuple[ToolCall, ...]) -> str:
    if not calls:
        return "no tool calls"
    shown = ", ".join(_show(call) for call in calls[:3])
    return shown + (f", … ({len(calls) - 3} more)" if len(calls) > 3 else "")


def eval_tool_called(spec: ToolSpec, run: CheckInput) -> tuple[bool, str]:
    """Some tool call of the run (exactly `times` calls, when given) has the name and the arguments."""
    matching = [call for call in run.tool_calls if _matches(spec, call)]
    if spec.times is not None:
        said = f"{len(matching)} matching call{'s' if len(matching) != 1 else ''}"
        if len(matching) != spec.times:
            return False, Reason(f"expected {spec.times} calls to {spec.describe()}; got {said} ({_calls(run.tool_calls)})",
                                 f"{said} to {spec.describe()}, not {spec.times}")
        return True, Reason(f"{said} to {spec.describe()}",
                            f"expected other than {spec.times} calls to {spec.describe()}; got {said}")
    match = matching[0] if matching else None
    if match is None:
        return False, Reason(
            f"expected a call to {spec.describe()}; got {_calls(run.tool_calls)}",
            f"no call to {spec.describe()} ({_calls(run.tool_calls)})",
        )
    return True, Reason(
        f"called {_show(match)}",
        f"expected no call to {spec.describe()}; called {_show(match)}",
    )


@dataclass(frozen=True, slots=True)
class ToolErrorSpec:
    """A tool call that failed: of any tool or the named one, its error containing a text (any case)."""

    name: str | None = None
    contains: str | None = None

    def describe(self) -> str:
        text = f"a failed call to {self.name}" if self.name else "a failed tool call"
        return text + (f" with an error containing {self.contains!r}" if self.contains else "")


def compile_tool_error(raw: RawCheck) -> ToolErrorSpec:
    """`tool_error: true` (some call failed), a tool name, or `{name, contains}`."""
    value = raw.value
    if value is True:
        return ToolErrorSpec()
    if isinstance(value, str):
        return ToolErrorSpec(name=expect_str(value, raw.name))
    if not isinstance(value, Mapping):
        hint = '{name: lookup_order, contains: "not found"}'
        raise CheckSpecError(f"expected true, a tool name or a mapping like {hint}, got {type_name(value)}",
                             key=raw.name)
    expect_keys(value, ("name", "contains"), owner=raw.name)
    name = expect_str(value["name"], "name") if "name" in value else None
    contains = expect_str(value["contains"], "contains") if "contains" in value else None
    return ToolErrorSpec(name=name, contains=contains)


def eval_tool_error(spec: ToolErrorSpec, run: CheckInput) -> tuple[bool, str]:
    """Some tool call of the run failed (the named tool; its error containing the text)."""
    failed = [call for call in run.tool_calls if call.error is not None and (spec.name is None or call.name == spec.name)]
    hits = [call for call in failed if spec.contains is None or spec.contains.lower() in (call.error or "").lower()]
    if hits:
        shown = f"{hits[0].name} failed: {(hits[0].error or '')[:80]!r}"
        return True, Reason(shown, f"expected no {spec.describe()}; {shown}")
    others = f"; other errors: {failed[0].name}: {(failed[0].error or '')[:60]!r}" if failed else ""
    return False, Reason(f"expected {spec.describe()}; got {_calls(run.tool_calls)}{others}",
                         spec.describe().replace("a failed", "no failed", 1))
