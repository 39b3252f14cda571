"""Rows of dataset files as case mappings: flat tables (CSV, Parquet), promptfoo's `__expected`
columns, and OpenAI chat-format JSONL (`messages`).

A flat row needs neither `id` nor `input`: the input is `input_column` (default: `input` when
present, else the first column), every ordinary column is also a var, and the id is derived from
the row's content (`row-<hash>`), so it is stable across runs and reorderings. promptfoo's
`__expected`, `__expected1`, ... columns hold checks in its `type:value` form; a `python:` or
`javascript:` one-liner becomes an `expr:` check when it is a simple expression (checks.snippets), other
code is refused: a dataset never runs code. Its model-graded types become rubrics on the shipped templates.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from agent_eval.errors import InputError

__all__ = ["chat_row", "flat_row", "mapped_row", "parquet_rows", "promptfoo_check", "stable_row_id"]

_JSON_COLUMNS = ("checks", "rubrics", "vars", "metadata", "recorded")
_CASE_COLUMNS = ("id", "input", "expected", "tags", "critical", "description")
_EXPECTED = re.compile(r"^__expected\d*$")
_TYPED = re.compile(r"^(?P<not>not-)?(?P<type>[a-z][a-z-]*)(?:\((?P<arg>[0-9.]+)\))?(?::(?P<value>.*))?$", re.DOTALL)
# promptfoo assertion type -> (agent-eval check, how the value is read)
_TYPES: dict[str, tuple[str, str]] = {
    "equals": ("equals", "text"), "contains": ("contains", "text"), "icontains": ("icontains", "text"),
    "contains-any": ("contains_any", "list"), "contains-all": ("contains_all", "list"),
    "starts-with": ("starts_with", "text"), "regex": ("regex", "text"), "is-json": ("json", "flag"),
    "contains-json": ("contains_json", "flag"), "similar": ("similar", "similar"),
    "latency": ("max_latency_ms", "number"), "cost": ("max_cost_usd", "number"),
    "is-refusal": ("refusal", "flag"), "moderation": ("moderation", "flag"), "llm-rubric": ("rubric", "text"),
    "icontains-any": ("any", "ilist"), "icontains-all": ("all", "ilist"),
}
_CODE_TYPES = ("python", "javascript", "ruby", "file")
# promptfoo types that exist but have no agent-eval spelling: refused rather than misread as equals
# promptfoo's model-graded types -> (shipped judge template, the criterion; {value} is the column's value)
_FACTUAL = "The answer is factually consistent with this reference and contradicts none of it: {value}"
_RUBRIC_TYPES: dict[str, tuple[str | None, str]] = {
    "factuality": (None, _FACTUAL),
    "model-graded-factuality": (None, _FACTUAL),
    "model-graded-closedqa": (None, "{value}"),
    "g-eval": (None, "{value}"),
    "answer-relevance": (None, "The answer addresses what the user asked, directly and without unrelated content."),
    "context-faithfulness": ("faithfulness", ""),
    "context-relevance": ("context_relevance", ""),
    "context-recall": ("context_relevance", "The retrieved context holds the information in this reference: {value}"),
}
_UNSUPPORTED = frozenset({
    "levenshtein", "rouge-n", "bleu", "gleu", "meteor", "perplexity", "perplexity-score",
    "select-best", "human", "webhook", "classifier", "is-xml", "contains-xml",
    "is-sql", "contains-sql", "is-html", "contains-html", "is-valid-openai-tools-call",
    "is-valid-openai-function-call", "is-valid-function-call", "finish-reason", "word-count", "guardrails", "pi",
    "trace-span-count", "trace-span-duration", "trace-error-spans", "conversation-relevance", "max-score",
})


def stable_row_id(row: dict[str, Any]) -> str:
    """`row-` and 10 hex digits of the row's content (keys sorted): the same row, the same id."""
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return "row-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def promptfoo_check(text: str, file: Path, line: int, column: str) -> tuple[str, Any]:
    """One `__expected` value as ("check", check item) or ("rubric", rubric mapping)."""
    text = text.strip()
    match = _TYPED.match(text)
    kind = match["type"] if match else ""
    if kind in _CODE_TYPES and match is not None and match["value"] is not None:
        from agent_eval.checks.snippets import snippet_to_expression

        expression = snippet_to_expression(kind, match["value"])
        if expression is None:
            raise InputError(file, f"column '{column}' holds {kind} code that is not a simple expression; a dataset "
                             "never runs code: write an `expr:` or `python:` check in the suite instead",
                             line=line, field=column)
        return "check", {"not_expr" if match["not"] else "expr": expression}
    if kind in _RUBRIC_TYPES and match is not None:
        return "rubric", _promptfoo_rubric(kind, match["value"] or "", match["arg"], column)
    if kind in _UNSUPPORTED:
        known = ", ".join(sorted(_TYPES))
        raise InputError(file, f"column '{column}': promptfoo assertion '{kind}' has no agent-eval form; "
                         f"supported here: {known} (a value without a type is read as equals)",
                         line=line, field=column)
    if match is None or kind not in _TYPES or (match["value"] is None and _TYPES[kind][1] != "flag"):
        return "check", {"equals": text}  # as promptfoo: a value without a known type is an exact match
    name, how = _TYPES[kind]
    value = match["value"] or ""
    negate = "not_" if match["not"] else ""
    if name == "rubric":
        return "rubric", {"name": column.lstrip("_"), "criteria": value}
    if how == "flag":
        return "check", {negate + name: True} if name != "refusal" else {name: not negate}
    if how in ("list", "ilist"):
        items = [v.strip() for v in value.split(",") if v.strip()]
        if how == "ilist":  # icontains-any / icontains-all: a group of icontains checks
            return "check", {name: [{"icontains": v} for v in items]}
        return "check", {negate + name: items}
    if how == "number":
        try:
            return "check", {name: float(value)}
        except ValueError:
            raise InputError(file, f"column '{column}': {kind} needs a number, got '{value}'", line=line,
                             field=column) from None
    if how == "similar":
        spec: dict[str, Any] = {"value": value}
        if match["arg"]:
            spec["threshold"] = float(match["arg"])
        return "check", {negate + name: spec}
    return "check", {negate + name: value}


def _promptfoo_rubric(kind: str, value: str, threshold: str | None, column: str) -> dict[str, Any]:
    """A model-graded promptfoo type as a rubric; its threshold in [0, 1] is placed on the 1-5 scale."""
    template, criteria = _RUBRIC_TYPES[kind]
    rubric: dict[str, Any] = {"name": kind.replace("-", "_"), "criteria": criteria.format(value=value.strip())}
    if template is not None:
        rubric["template"] = template
    if threshold is not None and 0 <= float(threshold) <= 1:
        rubric["threshold"] = 1 + 4 * float(threshold)
    return rubric
_CASE_KEYS = frozenset({"id", "description", "tags", "input", "conversation", "simulated_user", "vars", "expected",
                        "critical", "checks", "rubrics", "judge", "metadata", "tool_results", "recorded", "messages"})


def mapped_row(row: dict[str, Any], fields: dict[str, str], file: Path, line: int, *, flat: bool) -> dict[str, Any]:
    """A row with `fields` applied: each mapped key renamed to its case field (`output` becomes a recorded
    output). A JSON row's other keys that are not case fields become vars (Inspect's `choices`, ...), and a row
    without an id gets one from its content."""
    if not fields:
        return row
    out = dict(row)
    for case_key, column in fields.items():
        if column not in out:
            raise InputError(file, f"fields.{case_key} names '{column}', which this row does not have; it has: "
                             f"{', '.join(map(str, row))}", line=line, field=f"fields.{case_key}")
        value = out.pop(column)
        if case_key == "output":
            recorded = {"output": value if isinstance(value, str) else json.dumps(value)}
            out["recorded"] = json.dumps(recorded) if flat else recorded
        elif case_key == "expected" and isinstance(value, list):  # Inspect: several acceptable targets
            if not value or not all(isinstance(v, str) for v in value):
                raise InputError(file, f"'{column}' must be text or a non-empty list of texts", line=line,
                                 field=column)
            out["expected"] = value[0]
            if not flat:
                out.setdefault("vars", {})[column] = value
        else:
            out[case_key] = value
    if not flat:
        extra = {k: out.pop(k) for k in list(out) if k not in _CASE_KEYS}
        if extra:
            out["vars"] = {**extra, **out.get("vars", {})}
        out.setdefault("id", stable_row_id(row))  # as a table row: a dataset's rows seldom carry ids
    return out


def flat_row(row: dict[str, Any], file: Path, line: int, input_column: str | None) -> dict[str, Any]:
    """A CSV or Parquet row as a case mapping (see the module docstring)."""
    case: dict[str, Any] = {}
    extra_vars: dict[str, Any] = {}
    checks: list[Any] = []
    rubrics: list[Any] = []
    metric = row.get("__metric") or None
    for key, value in row.items():
        if key is None or value is None or value == "":
            continue
        if _EXPECTED.match(key):
            kind, item = promptfoo_check(str(value), file, line, key)
            (rubrics if kind == "rubric" else checks).append(item)
        elif key in ("__description", "__metric"):
            if key == "__description":
                case["description"] = str(value)
        elif key.startswith("__"):
            raise InputError(file, f"column '{key}' is a promptfoo option agent-eval does not read; "
                             "remove it or rename it (columns starting with __ are reserved)", line=line, field=key)
        elif key in _JSON_COLUMNS:
            try:
                case[key] = json.loads(value) if isinstance(value, str) else value
            except RecursionError:
                raise InputError(file, f"column '{key}' must hold JSON: nested too deeply", line=line,
                                 field=key) from None
            except ValueError as exc:
                raise InputError(file, f"column '{key}' must hold JSON: {exc}", line=line, field=key) from None
        elif key == "tags":
            case["tags"] = [t.strip() for t in str(value).replace(";", ",").split(",") if t.strip()]
        elif key == "critical":
            case["critical"] = str(value).strip().lower() in ("1", "true", "yes")
        elif key in _CASE_COLUMNS and key != input_column:
            case[key] = value if key != "id" else str(value)
        else:
            extra_vars[key] = value
    if metric:
        checks = [{**c, "metric": str(metric)} for c in checks]
    ordinary = [k for k in row if k is not None and not k.startswith("__") and k not in _JSON_COLUMNS
                and k not in _CASE_COLUMNS[2:]]
    column = input_column or ("input" if "input" in row else next((k for k in ordinary if k != "id"), None))
    if column is not None and "input" not in case:
        if column not in row:
            raise InputError(file, f"input column '{column}' not found; columns: {', '.join(map(str, row))}",
                             line=line, field="input_column")
        case["input"] = "" if row[column] is None else str(row[column])
    if extra_vars:
        case["vars"] = {**extra_vars, **case.get("vars", {})}
    if checks:
        case["checks"] = [*case.get("checks", []), *checks]
    if rubrics:
        case["rubrics"] = [*case.get("rubrics", []), *rubrics]
    case.setdefault("id", stable_row_id(row))
    return case


def _content(value: Any) -> str:
    """OpenAI message content: a string, or a list of parts whose text parts are joined."""
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict) and p.get("type") == "text")
    return "" if value is None else str(value)


def chat_row(row: dict[str, Any], file: Path, line: int) -> dict[str, Any]:
    """A JSONL row in OpenAI chat format: `messages` become the input; a final assistant message, the expected
(with `"recorded": true`, the answer graded with no target called)."""
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        raise InputError(file, "messages must be a non-empty list of {role, content}", line=line, field="messages")
    out = []
    called: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            raise InputError(file, f"messages[{i}] needs a role of system, user, assistant or tool", line=line,
                             field=f"messages[{i}]")
        raw = m.get("content")
        kept = m["role"] == "user" and isinstance(raw, list) and any(
            isinstance(part, dict) and part.get("type") != "text" for part in raw)  # images, files, audio: kept
        entry: dict[str, Any] = {"role": m["role"], "content": raw if kept else _content(raw)}
        if m["role"] == "assistant" and m.get("tool_calls"):
            entry["tool_calls"] = _tool_calls(m["tool_calls"], file, line, i)
            called.update(call["id"] for call in entry["tool_calls"])
        if m["role"] == "tool":
            # an API answers a tool message with 400 unless an earlier assistant message made that call
            answered = m.get("tool_call_id")
            if not isinstance(answered, str) or answered not in called:
                raise InputError(file, f"messages[{i}] is a tool result for call {answered!r}, which no earlier "
                                 "assistant message's tool_calls made", line=line, field=f"messages[{i}].tool_call_id")
            entry["tool_call_id"] = answered
        out.append(entry)
    case = {k: v for k, v in row.items() if k != "messages"}
    if row.get("recorded") is True:  # a logged conversation: its last assistant message is graded as it is
        case["recorded"] = {"messages": out}
        case.setdefault("id", stable_row_id(row))
        return case
    if out[-1]["role"] == "assistant" and len(out) > 1:
        last = out.pop()
        case.setdefault("expected", last["content"])
    case["input"] = out
    case.setdefault("id", stable_row_id(row))
    return case


def _tool_calls(value: Any, file: Path, line: int, i: int) -> list[dict[str, Any]]:
    """An assistant message's OpenAI `tool_calls` as the suite's {id, name, arguments}."""
    field = f"messages[{i}].tool_calls"
    if not isinstance(value, list):
        raise InputError(file, f"{field} must be a list of tool calls", line=line, field=field)
    calls = []
    for j, call in enumerate(value):
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call["id"] \
                or not isinstance(name, str) or not name:
            raise InputError(file, f"{field}[{j}] needs an id and a function with a name, as OpenAI writes "
                             '{"id": "call_1", "type": "function", "function": {"name": ..., "arguments": ...}}',
                             line=line, field=f"{field}[{j}]")
        arguments = function.get("arguments", "") if isinstance(function, dict) else ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append({"id": call["id"], "name": name, "arguments": arguments})
    return calls


def parquet_rows(file: Path) -> list[dict[str, Any]]:
    """The rows of a Parquet file (needs pyarrow: pip install 'agent-eval-gate[parquet]')."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(file, "reading Parquet needs pyarrow: pip install 'agent-eval-gate[parquet]'") from None
    try:
        return list(pq.read_table(file).to_pylist())
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(file, f"cannot read Parquet: {exc}") from None
