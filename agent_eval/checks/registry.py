"""The check registry (a dict literal) and `compile_check`, which validates a suite's check item.

A check item is a mapping with exactly one check key, an optional `weight` (a number >= 0,
default 1; 0 makes the check informational), an optional `metric` (a named metric the check
feeds), an optional `transform` (see checks/transforms.py), an optional `tool_args` (the check
sees a tool call's arguments: a first transform step), in a conversation an optional `scope`
and, for some checks, sibling option keys (`flags` next to `regex`, `timeout_s`, the check's own
time limit, next to the checks that run user patterns or code, `config` and `threshold` next to
`python`, `normalize` next to the text checks). A check whose family is negatable is also
available as `not_<name>`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval.checks import (
    escalation,
    expression,
    groups,
    metrics,
    python,
    refusal,
    semantic,
    structured,
    text,
    tools,
    trajectory,
)
from agent_eval.checks._util import RawCheck, closest, expect_keys, positive_number, type_name
from agent_eval.checks.base import AsyncEvaluate, Check, CheckSpecError, Evaluate

__all__ = ["CHECKS", "NEGATION_PREFIX", "SCOPES", "Family", "check_item_schema", "check_names", "compile_check"]

NEGATION_PREFIX = "not_"
COMMON_OPTIONS = ("weight", "metric", "transform", "tool_args")
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCOPES = ("last", "all_turns", "any_turn")  # `scope:` of a conversation case's check
_SCOPE = "scope"
_TIMEOUT = "timeout_s"
_NORMALIZE = ("normalize",)  # text checks: compare after normalising case, punctuation, articles, whitespace


@dataclass(frozen=True, slots=True)
class Family:
    """How one check name is compiled at load time and evaluated on a run."""

    compile: Callable[[RawCheck], Any]
    evaluate: Evaluate
    negatable: bool = False
    options: tuple[str, ...] = ()  # keys allowed next to the check key, besides COMMON_OPTIONS
    summary: str = ""
    aevaluate: AsyncEvaluate | None = None  # for checks that call a model
    uses_model: Callable[[Any], bool] | None = None  # when aevaluate applies only to some arguments
    isolated: bool = False  # runs user code: in a worker process (checks.runtime)
    value_schema: Mapping[str, Any] | None = None  # the JSON Schema of the check's value, when it is a simple one


CHECKS: dict[str, Family] = {
    "equals": Family(text.compile_str, text.eval_equals, True, _NORMALIZE, summary="output == text (stripped)"),
    "contains": Family(text.compile_str, text.eval_contains, True, _NORMALIZE, summary="text in output"),
    "icontains": Family(text.compile_str, text.eval_icontains, True, _NORMALIZE, summary="text in output, any case"),
    "contains_any": Family(text.compile_str_list, text.eval_contains_any, True, _NORMALIZE,
                           summary="one of the texts"),
    "contains_all": Family(text.compile_str_list, text.eval_contains_all, True, _NORMALIZE,
                           summary="all of the texts"),
    "starts_with": Family(text.compile_str, text.eval_starts_with, True, _NORMALIZE,
                          summary="output starts with text"),
    "ends_with": Family(text.compile_str, text.eval_ends_with, True, _NORMALIZE,
                        summary="output ends with text (Inspect's match())"),
    "regex": Family(text.compile_regex, text.eval_regex, True, ("flags", _TIMEOUT), summary="pattern found"),
    "length": Family(text.compile_length, text.eval_length, summary="min/max chars and words"),
    "json": Family(structured.compile_json, structured.eval_json, options=(_TIMEOUT,),
                   summary="valid JSON, optional schema"),
    "contains_json": Family(structured.compile_contains_json, structured.eval_json, True, (_TIMEOUT,),
                            summary="JSON embedded in the output"),
    "json_path": Family(structured.compile_json_path, structured.eval_json_path, True, (_TIMEOUT,),
                        summary="JSONPath value equals/matches"),
    "expr": Family(expression.compile_expr, expression.eval_expr, True, options=("threshold",),
                   summary='an expression, e.g. "output.json.score >= 0.8"',
                   value_schema={"type": "string", "maxLength": expression.MAX_LENGTH}),
    "max_latency_ms": Family(metrics.compile_limit, metrics.eval_max_latency_ms, summary="latency <= limit"),
    "max_tokens": Family(metrics.compile_token_limit, metrics.eval_max_tokens, summary="output tokens <= n"),
    "max_cost_usd": Family(metrics.compile_limit, metrics.eval_max_cost_usd, summary="cost <= limit"),
    "refusal": Family(refusal.compile_refusal, refusal.eval_refusal, summary="refuses (true) or not (false)"),
    "python": Family(python.compile_python, python.eval_python, options=(_TIMEOUT, "config", "threshold"),
                     isolated=True, summary='user function "module:function", graded'),
    "tool_called": Family(tools.compile_tool_called, tools.eval_tool_called, True, summary="tool call made"),
    "tool_error": Family(tools.compile_tool_error, tools.eval_tool_error, True,
                         summary="a tool call failed (with the name, an error containing a text)"),
    "tool_sequence": Family(trajectory.compile_sequence, trajectory.eval_sequence, summary="tools called in order"),
    "tool_args_valid": Family(trajectory.compile_true, trajectory.eval_args_valid,
                              summary="arguments valid against the tools' schemas"),
    "max_steps": Family(trajectory.compile_count, trajectory.eval_max_steps, summary="model calls <= n"),
    "max_tool_calls": Family(trajectory.compile_count, trajectory.eval_max_tool_calls, summary="tool calls <= n"),
    "final_answer_after_tool": Family(trajectory.compile_after_tool, trajectory.eval_after_tool,
                                      summary="answer contains a tool result's value"),
    "escalated": Family(escalation.compile_escalated, escalation.eval_escalated,
                        summary="the run escalated to a human (true) or not (false)"),
    "not_escalated": Family(escalation.compile_true, escalation.eval_not_escalated,
                            summary="the run did not escalate to a human"),
    "similar": Family(semantic.compile_similar, semantic.eval_unavailable, True, ("threshold", "model"),
                      "cosine similarity of embeddings >= threshold", semantic.eval_similar),
    "moderation": Family(semantic.compile_moderation, semantic.eval_unavailable, True,
                         summary="moderation endpoint flags none of the categories", aevaluate=semantic.eval_moderation),
    "any": Family(groups.compile_group, groups.eval_group, summary="any of the checks passes",
                  aevaluate=groups.eval_group_async, uses_model=groups.group_uses_model),
    "all": Family(groups.compile_group, groups.eval_group, summary="every check passes",
                  aevaluate=groups.eval_group_async, uses_model=groups.group_uses_model),
    "at_least": Family(groups.compile_group, groups.eval_group, summary="at least n of the checks pass",
                       aevaluate=groups.eval_group_async, uses_model=groups.group_uses_model),
}


def check_names() -> tuple[str, ...]:
    """Every valid check key, `not_` forms included."""
    negated = [NEGATION_PREFIX + name for name, family in CHECKS.items() if family.negatable]
    return (*CHECKS, *negated)


_OPTION_DOCS = {
    "weight": "A number >= 0 (default 1; 0: informational).",
    "metric": "The named metric this check feeds.",
    "transform": "What part of the output the check sees: {json_path}, {regex, group}, {python}, {tool_args} "
                 "or {tool_result}.",
    "tool_args": "The check sees a tool call's arguments: {name, path, call} (short for a first transform step).",
    "scope": "Conversations: last, all_turns, any_turn, {at_least: n} or {at_least_share: 0.8} of the replies.",
    "timeout_s": "This check's own time limit in seconds.",
    "threshold": "The score a graded check must reach.",
    "normalize": "Text checks: true, or a list of case, punctuation, articles, whitespace (both sides).",
}


def check_item_schema() -> dict[str, Any]:
    """The JSON Schema of one check item: one check key (listed with its summary) and its options."""
    properties: dict[str, Any] = {}
    for name, family in CHECKS.items():
        entry = {**(family.value_schema or {}), "description": family.summary}
        properties[name] = entry
        if family.negatable:
            properties[NEGATION_PREFIX + name] = {**entry, "description": f"not: {family.summary}"}
    options = {option for family in CHECKS.values() for option in family.options}
    for option in sorted(options | {*COMMON_OPTIONS, _SCOPE}):
        properties.setdefault(option, {"description": _OPTION_DOCS.get(option, f"An option of some checks ({option}).")})
    return {"type": "object", "description": "One check: exactly one check key, with its options.",
            "properties": properties, "minProperties": 1}


def _is_check_key(key: str) -> bool:
    return key in CHECKS or (key.startswith(NEGATION_PREFIX) and key[len(NEGATION_PREFIX) :] in CHECKS)


def _check_key(raw: Mapping[Any, Any]) -> str:
    """The item's single check key; errors name the offending key."""
    keys: list[str] = []
    for key in raw:
        if not isinstance(key, str):
            raise CheckSpecError(f"check keys are names, got {type_name(key)} {key!r}", key=str(key))
        if key not in COMMON_OPTIONS and key != _SCOPE:
            keys.append(key)
    found = [key for key in keys if _is_check_key(key)]
    if len(found) > 1:
        raise CheckSpecError(
            f"one check per item, found {', '.join(found)}; write each as its own list item", key=found[1]
        )
    if found:
        return found[0]
    if not keys:
        raise CheckSpecError(f"no check in this item; expected one of: {', '.join(CHECKS)}", key=None)
    near = closest(keys[0], check_names())
    quoted = [f'"{name}"' for name in near]
    options = " or ".join(quoted) if len(quoted) < 3 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    hint = f"did you mean {options}?" if near else f"valid checks: {', '.join(check_names())}"
    raise CheckSpecError(f'unknown check "{keys[0]}"; {hint}', key=keys[0])


def _family(name: str) -> tuple[Family, bool]:
    if name in CHECKS:
        return CHECKS[name], False
    base = name[len(NEGATION_PREFIX) :]
    family = CHECKS[base]
    if not family.negatable:
        negatable = ", ".join(n for n, f in CHECKS.items() if f.negatable)
        raise CheckSpecError(f'{base} has no "not_" form; checks that have one: {negatable}', key=name)
    return family, True


def _weight(raw: Mapping[str, Any]) -> float:
    value = raw.get("weight", 1)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        shown = repr(value) if number else type_name(value)
        raise CheckSpecError(f"weight must be a number >= 0 (0: informational), got {shown}", key="weight")
    return float(value)


def _metric(raw: Mapping[str, Any], nested: bool) -> str | None:
    value = raw.get("metric")
    if value is None:
        return None
    if nested:
        raise CheckSpecError("metric goes on the group, not on a check inside it", key="metric")
    if not isinstance(value, str) or not _METRIC_NAME.match(value):
        raise CheckSpecError(f"metric must be a name like tp or answer_quality (letters, digits, _), got {value!r}",
                             key="metric")
    return value


def compile_check(raw: Mapping[str, Any], *, base_dir: Path, nested: bool = False) -> Check:
    """Validate and compile one check item of a suite; relative paths resolve against base_dir."""
    from agent_eval.checks.transforms import compile_transform

    if not isinstance(raw, Mapping):
        raise CheckSpecError(
            f'a check is a mapping like {{contains: "text"}}, got {type_name(raw)}', key=None
        )
    name = _check_key(raw)
    family, negate = _family(name)
    extra = {key: value for key, value in raw.items() if key not in (name, _SCOPE) and key not in COMMON_OPTIONS}
    expect_keys(extra, (*family.options, *COMMON_OPTIONS), owner=name)
    options = {key: value for key, value in extra.items() if key != _TIMEOUT}
    weight = _weight(raw)
    timeout = positive_number(raw[_TIMEOUT], _TIMEOUT, what="a time limit in seconds > 0") if _TIMEOUT in raw else None
    scope, min_turns, min_share = _scope(raw.get(_SCOPE, "last"))
    check_raw = RawCheck(name=name, value=raw[name], options=options, base_dir=base_dir)
    arg = family.compile(check_raw)
    transform = None
    if "transform" in raw or "tool_args" in raw:
        transform = compile_transform(raw.get("transform"), check_raw, raw.get("tool_args"))
    aevaluate = family.aevaluate
    if aevaluate is not None and family.uses_model is not None and not family.uses_model(arg):
        aevaluate = None
    return Check(name=name, arg=arg, evaluate=family.evaluate, negate=negate, weight=weight,
                 isolated=family.isolated, timeout_s=timeout, metric=_metric(raw, nested), transform=transform,
                 aevaluate=aevaluate, scope=scope, min_turns=min_turns, min_share=min_share)


def _scope(value: Any) -> tuple[str, int | None, float | None]:
    """`last`, `all_turns`, `any_turn`, `{at_least: n}` (replies) or `{at_least_share: 0.8}` (of the replies)."""
    hint = f"one of {', '.join(SCOPES)}, {{at_least: 3}} or {{at_least_share: 0.8}}"
    if isinstance(value, str) and value in SCOPES:
        return value, None, None
    if not isinstance(value, Mapping) or len(value) != 1:
        raise CheckSpecError(f"scope must be {hint}, got {value!r}", key=_SCOPE)
    [(key, number)] = value.items()
    plain = isinstance(number, int | float) and not isinstance(number, bool)
    if key == "at_least" and plain and isinstance(number, int) and number >= 1:
        return "at_least", number, None
    if key == "at_least_share" and plain and 0 < number <= 1:
        return "at_least", None, float(number)
    raise CheckSpecError(f"scope must be {hint} (at_least: a whole number >= 1; at_least_share: in (0, 1]), "
                         f"got {value!r}", key=_SCOPE)
