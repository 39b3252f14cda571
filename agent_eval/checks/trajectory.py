"""Trajectory checks: how the agent got to its answer.

- `tool_sequence: {names: [a, b], strict: false}`: the calls include these names in this order
  (others may come between; `strict: true`: one right after the other), or a plain list.
- `tool_args_valid: true`: every call's arguments validate against its tool's schema in the config.
- `max_steps: n` (model calls), `max_tool_calls: n`.
- `final_answer_after_tool: {tool, path}`: the answer contains the value at JSONPath `path` of
  that tool's (last successful) result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_eval.checks._util import (
    RawCheck,
    expect_keys,
    expect_str,
    expect_str_list,
    non_negative_int,
    quote,
    render_json,
    type_name,
)
from agent_eval.checks.base import CheckInput, CheckSpecError, Reason
from agent_eval.jsonpath import InvalidJsonPath, JsonPath
from agent_eval.jsonpath import parse as parse_jsonpath

__all__ = [
    "AfterTool",
    "Sequence",
    "compile_after_tool",
    "compile_count",
    "compile_sequence",
    "compile_true",
    "eval_after_tool",
    "eval_args_valid",
    "eval_max_steps",
    "eval_max_tool_calls",
    "eval_sequence",
]


@dataclass(frozen=True, slots=True)
class Sequence:
    names: tuple[str, ...]
    strict: bool = False


@dataclass(frozen=True, slots=True)
class AfterTool:
    tool: str
    path: str
    expr: JsonPath


def compile_sequence(raw: RawCheck) -> Sequence:
    """A list of tool names, or `{names: [...], strict: bool}`."""
    value = raw.value
    if isinstance(value, list):
        value = {"names": value}
    if not isinstance(value, Mapping):
        raise CheckSpecError(f"expected {{names: [lookup_order, refund_order]}}, got {type_name(value)}",
                             key=raw.name)
    expect_keys(value, ("names", "strict"), owner=raw.name)
    if "names" not in value:
        raise CheckSpecError("missing names: the tools in the order they must be called", key=raw.name)
    names = expect_str_list(value["names"], "names")
    strict = value.get("strict", False)
    if not isinstance(strict, bool):
        raise CheckSpecError(f"strict must be true or false, got {type_name(strict)}", key="strict")
    return Sequence(names=names, strict=strict)


def _in_order(names: tuple[str, ...], calls: list[str], strict: bool) -> bool:
    if strict:
        n = len(names)
        return any(tuple(calls[i:i + n]) == names for i in range(len(calls) - n + 1))
    position = 0
    for name in calls:
        if position < len(names) and name == names[position]:
            position += 1
    return position == len(names)


def eval_sequence(spec: Sequence, run: CheckInput) -> tuple[bool, str]:
    """The run's tool calls contain the names in order."""
    calls = [call.name for call in run.tool_calls]
    want = " -> ".join(spec.names)
    got = " -> ".join(calls) or "no tool calls"
    how = "one right after the other" if spec.strict else "in this order"
    if _in_order(spec.names, calls, spec.strict):
        return True, Reason(f"called {want} {how} (calls: {got})", f"expected not {want}; calls: {got}")
    return False, Reason(f"expected {want} {how}; calls: {got}", f"calls: {got}")


def compile_true(raw: RawCheck) -> bool:
    """`tool_args_valid: true` (false turns the check off)."""
    if not isinstance(raw.value, bool):
        raise CheckSpecError(f"expected true, got {type_name(raw.value)}", key=raw.name)
    return raw.value


def eval_args_valid(enabled: bool, run: CheckInput) -> tuple[bool, str]:
    """Every call names a configured tool and its arguments validate against that tool's schema."""
    from jsonschema import Draft202012Validator

    from agent_eval.checks._schemas import offline_registry
    from agent_eval.tooldefs import tool_parts

    if not enabled:
        return True, "tool_args_valid: false (not checked)"
    schemas = {name: schema for name, _, schema in (tool_parts(tool) for tool in run.tools)}
    for call in run.tool_calls:
        if call.name not in schemas:
            return False, f"{call.name} is not a tool of the config ({', '.join(schemas) or 'none'})"
        validator = Draft202012Validator(schemas[call.name], registry=offline_registry())
        errors = sorted(validator.iter_errors(call.parsed_arguments()),
                        key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "arguments"
            return False, f"{call.name}: {where}: {errors[0].message}"
    return True, f"{len(run.tool_calls)} calls, every one valid against its tool's schema"


def compile_count(raw: RawCheck) -> int:
    """A whole number >= 0."""
    return non_negative_int(raw.value, raw.name)


def eval_max_steps(limit: int, run: CheckInput) -> tuple[bool, str]:
    """The target made at most `limit` model calls."""
    if run.steps is None:
        return False, f"steps unknown (the target reported none); cannot verify max {limit}"
    if run.steps > limit:
        return False, f"{run.steps} steps > max {limit}"
    return True, f"{run.steps} steps <= max {limit}"


def eval_max_tool_calls(limit: int, run: CheckInput) -> tuple[bool, str]:
    """The run made at most `limit` tool calls."""
    count = len(run.tool_calls)
    if count > limit:
        return False, f"{count} tool calls > max {limit}"
    return True, f"{count} tool calls <= max {limit}"


def compile_after_tool(raw: RawCheck) -> AfterTool:
    """`{tool: lookup_order, path: "$.status"}`."""
    value = raw.value
    if not isinstance(value, Mapping):
        raise CheckSpecError(f'expected {{tool: lookup_order, path: "$.status"}}, got {type_name(value)}',
                             key=raw.name)
    expect_keys(value, ("tool", "path"), owner=raw.name)
    for key in ("tool", "path"):
        if key not in value:
            raise CheckSpecError(f"missing {key}", key=raw.name)
    path = expect_str(value["path"], "path", hint=" (a JSONPath)")
    try:
        expr = parse_jsonpath(path)
    except InvalidJsonPath as exc:
        raise CheckSpecError(f"invalid JSONPath {quote(path)}: {exc}", key="path") from None
    return AfterTool(tool=expect_str(value["tool"], "tool"), path=path, expr=expr)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def eval_after_tool(spec: AfterTool, run: CheckInput) -> tuple[bool, str]:
    """The final answer repeats what the tool returned at `path`."""
    results = [call.result for call in run.tool_calls if call.name == spec.tool and call.error is None]
    if not results:
        return False, f"no successful call to {spec.tool} to take {spec.path} from"
    result = results[-1]
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            pass
    values = spec.expr.values(result)
    if not values:
        return False, f"{spec.tool}'s result has no value at {spec.path} ({render_json(result)})"
    for value in values:
        if _as_text(value) in run.output:
            return True, f"the answer contains {spec.tool}'s {spec.path} = {quote(_as_text(value))}"
    return False, f"the answer lacks {spec.tool}'s {spec.path} = {quote(_as_text(values[0]))}"
