"""`transform:` on any check: the check looks at part of the output instead of all of it.

    transform: {json_path: "$.answer"}          # the selected value (JSON text unless a string)
    transform: {regex: "Answer: (.*)", group: 1}  # a regex group (0: the whole match)
    transform: {python: "my_checks:final_line"}   # fn(output, case) -> str, imported by name
    transform: {tool_args: {name: lookup_order, path: "$.order_id"}}   # a tool call's arguments
    transform: {tool_result: {name: lookup_order, path: "$.status"}}   # what a tool call returned

A list applies several in order. `tool_args` and `tool_result` read the run's tool calls, not the text so far:
the last call to `name` (any tool when no name; `call: first` or a 0-based index picks another), its arguments
(or result) whole as JSON, or the value at `path`. A check may also say `tool_args: {...}` next to itself,
short for a first transform step. The JSON path reads JSON embedded in prose when the output is
not JSON as a whole. When a transform finds nothing, the check fails (its `not_` form too),
with a reason naming the transform: there is nothing to check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_eval.checks._util import RawCheck, expect_keys, expect_str, quote, type_name
from agent_eval.checks.base import CheckInput, CheckSpecError
from agent_eval.checks.views import case_view
from agent_eval.jsonpath import InvalidJsonPath, JsonPath
from agent_eval.jsonpath import parse as parse_jsonpath
from agent_eval.untrusted import parse_json
from agent_eval.userregex import Pattern, compile_user_regex, regex_error, search

__all__ = ["TransformChain", "compile_transform", "find_json_values"]

_HINT = ('{json_path: "$.a"}, {regex: "...", group: 1}, {python: "module:function"}, '
         '{tool_args: {name, path}} or {tool_result: {name, path}}')
_KINDS = ("json_path", "regex", "python", "tool_args", "tool_result")


def find_json_values(text: str) -> list[Any]:
    """The whole text as JSON, else every JSON object or array embedded in it, in order."""
    stripped = text.strip()
    try:
        return [parse_json(stripped)]
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    found: list[Any] = []
    pos = 0
    while True:
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            return found
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        found.append(value)
        pos = end


def as_text(value: Any) -> str:
    """A selected value as the text a check sees: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _JsonPath:
    path: JsonPath

    def apply(self, text: str, run: CheckInput) -> tuple[str | None, str]:
        docs = find_json_values(text)
        if not docs:
            return None, f"json_path {self.path.text}: output holds no JSON"
        for doc in docs:
            values = self.path.values(doc)
            if values:
                return as_text(values[0] if len(values) == 1 else values), ""
        return None, f"json_path {self.path.text}: nothing selected"


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: Pattern
    group: int | str

    def apply(self, text: str, run: CheckInput) -> tuple[str | None, str]:
        match = search(self.pattern, text)  # bounded: a pathological pattern times out, never hangs
        if match is None:
            return None, f"regex /{self.pattern.pattern}/ does not match"
        part = match.group(self.group)
        return (part, "") if part is not None else (None, f"regex group {self.group} did not take part")


@dataclass(frozen=True, slots=True)
class _Python:
    ref: str
    function: Any

    def apply(self, text: str, run: CheckInput) -> tuple[str | None, str]:
        try:
            value = self.function(text, case_view(run.case))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the user's code is under test, not agent-eval's (sys.exit included)
            return None, f"{self.ref} raised {type(exc).__name__}: {str(exc)[:80]}"
        if value is None:
            return None, f"{self.ref} returned None"
        try:
            return as_text(value), ""
        except (TypeError, ValueError, RecursionError):  # bytes, an int past 4,300 digits, a cycle
            return None, f"{self.ref} returned {type(value).__name__}, not text or JSON data"


@dataclass(frozen=True, slots=True)
class _ToolCallPart:
    """A tool call's arguments or result, whole or at a JSONPath."""

    part: str  # "tool_args" or "tool_result"
    name: str | None
    call: str | int  # "last", "first" or an index among the matching calls
    path: JsonPath | None

    def describe(self) -> str:
        which = self.call if isinstance(self.call, str) else f"#{self.call}"
        return f"{self.part} of the {which} call to {self.name or 'any tool'}"

    def apply(self, text: str, run: CheckInput) -> tuple[str | None, str]:
        calls = [call for call in run.tool_calls if self.name is None or call.name == self.name]
        if not calls:
            return None, f"{self.part}: no call to {self.name or 'any tool'}"
        index = {"last": -1, "first": 0}.get(self.call, self.call) if isinstance(self.call, str) else self.call
        assert isinstance(index, int)
        if not -len(calls) <= index < len(calls):
            return None, f"{self.part}: {len(calls)} calls to {self.name or 'any tool'}, no call #{index}"
        call = calls[index]
        if self.part == "tool_result" and call.error is not None:
            return None, f"tool_result: the call to {call.name} failed: {call.error[:80]}"
        value = call.parsed_arguments() if self.part == "tool_args" else call.result
        if self.path is None:
            return as_text(value), ""
        values = self.path.values(value)
        if not values:
            return None, f"{self.part} {self.path.text}: nothing selected in the call to {call.name}"
        return as_text(values[0] if len(values) == 1 else values), ""


def compile_tool_part(kind: str, value: Any) -> _ToolCallPart:
    """`{name, path, call}` of a tool_args / tool_result step; a bare string is the tool's name."""
    hint = f'{{{kind}: {{name: lookup_order, path: "$.order_id"}}}}'
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise CheckSpecError(f"expected {kind} like {hint}, got {type_name(value)}", key=kind)
    expect_keys(value, ("name", "path", "call"), owner=kind)
    name = expect_str(value["name"], kind, hint=" (a tool name)") if "name" in value else None
    call = value.get("call", "last")
    if call not in ("last", "first") and (not isinstance(call, int) or isinstance(call, bool)):
        raise CheckSpecError(f"call is last, first or an index (0: the first), got {call!r}", key=kind)
    path = None
    if "path" in value:
        text = expect_str(value["path"], kind, hint=" (a JSONPath)")
        try:
            path = parse_jsonpath(text)
        except InvalidJsonPath as exc:
            raise CheckSpecError(f"invalid JSONPath {quote(text)}: {exc}", key=kind) from exc
    return _ToolCallPart(kind, name, call, path)


@dataclass(frozen=True, slots=True)
class TransformChain:
    """One or more transforms, applied in order."""

    steps: tuple[_JsonPath | _Regex | _Python | _ToolCallPart, ...]

    @property
    def runs_user_code(self) -> bool:
        """A `python:` step: applied off the event loop, under the check's time limit."""
        return any(isinstance(step, _Python) for step in self.steps)

    def apply(self, run_input: CheckInput) -> tuple[str | None, str]:
        text: str | None = run_input.output
        for step in self.steps:
            assert text is not None
            text, why = step.apply(text, run_input)
            if text is None:
                return None, why
        return text, ""


def compile_transform(value: Any, raw: RawCheck, tool_args: Any = None) -> TransformChain:
    """`transform:` as written: one mapping with one kind, or a list of them; a check's own `tool_args:`
    comes first."""
    items = value if isinstance(value, list) else [value]
    if not items and tool_args is None:
        raise CheckSpecError(f"expected a transform like {_HINT}, got an empty list", key="transform")
    first = (compile_tool_part("tool_args", tool_args),) if tool_args is not None else ()
    return TransformChain(first + tuple(_step(item, raw) for item in items if item is not None))


def _step(item: Any, raw: RawCheck) -> _JsonPath | _Regex | _Python | _ToolCallPart:
    if not isinstance(item, Mapping):
        raise CheckSpecError(f"expected a transform like {_HINT}, got {type_name(item)}", key="transform")
    kinds = [k for k in _KINDS if k in item]
    if len(kinds) != 1:
        raise CheckSpecError('a transform has one of json_path, regex or python (or tool_args, tool_result); '
                             'like {json_path: "$.a"}', key="transform")
    kind = kinds[0]
    expect_keys(item, (kind, "group") if kind == "regex" else (kind,), owner="transform")
    if kind in ("tool_args", "tool_result"):
        return compile_tool_part(kind, item[kind])
    text = expect_str(item[kind], "transform", hint=f" for transform {kind}")
    if kind == "json_path":
        try:
            return _JsonPath(parse_jsonpath(text))
        except InvalidJsonPath as exc:
            raise CheckSpecError(f"invalid JSONPath {quote(text)}: {exc}", key="transform") from exc
    if kind == "regex":
        try:
            pattern = compile_user_regex(text)
        except regex_error as exc:
            raise CheckSpecError(f"invalid regular expression {quote(text)}: {exc}", key="transform") from exc
        group = item.get("group", 0)
        valid = isinstance(group, str) and group in pattern.groupindex
        valid = valid or (isinstance(group, int) and not isinstance(group, bool) and 0 <= group <= pattern.groups)
        if not valid:
            raise CheckSpecError(f"group {group!r} is not a group of /{text}/ (it has {pattern.groups})",
                                 key="transform")
        return _Regex(pattern, group)
    from agent_eval.checks.python import compile_python

    user = compile_python(RawCheck(name="transform", value=text, options={}, base_dir=raw.base_dir))
    return _Python(user.ref, user.function)
