"""Readers of production logs: OpenAI-style chat JSONL, and OTLP/JSON traces with GenAI attributes.

Chat JSONL: one object per line with `messages` (OpenAI chat format; a final assistant message is the
production output), or a logged call `{"request": {"messages": ...}, "response": {"choices": [...]}}`.
OTLP/JSON: `{"resourceSpans": [{resource, scopeSpans: [{spans: [...]}]}]}`, one document per file or one
per line; a span with `gen_ai.input.messages` (and `gen_ai.output.messages`) is one conversation, the
topmost such span of each trace when they nest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from agent_eval.errors import InputError

__all__ = ["Conversation", "read_logs"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One production conversation: the input messages, the reply it got, and fields to stratify by."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    output: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _text(content: Any) -> str:
    """Message content as text: a string, OpenAI content parts, or GenAI semantic-convention parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text":
                pieces.append(str(part.get("text", part.get("content", ""))))
            elif isinstance(part, dict) and part.get("type") == "tool_call_response":
                pieces.append(json.dumps(part.get("response"), ensure_ascii=False, default=str))
        return "\n".join(p for p in pieces if p)
    return json.dumps(content, ensure_ascii=False, default=str)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


class _Shape(Exception):
    """A log line of the wrong shape: what was expected where (turned into an InputError with file and line)."""

    def __init__(self, field: str, expected: str, got: Any) -> None:
        super().__init__(f"expected {expected}, got {_kind(got)}")
        self.field = field


def _obj(value: Any, field: str, *, optional: bool = False) -> dict[str, Any]:
    if optional and value is None:
        return {}
    if not isinstance(value, dict):
        raise _Shape(field, "an object", value)
    return value


def _seq(value: Any, field: str, *, optional: bool = False) -> list[Any]:
    if optional and value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(field, "a list", value)
    return value


def _messages(raw: Any, field: str = "messages") -> list[tuple[str, str]]:
    out = []
    for i, message in enumerate(_seq(raw, field, optional=True)):
        message = _obj(message, f"{field}[{i}]")
        if not isinstance(message.get("role"), str):
            raise _Shape(f"{field}[{i}].role", "a role string", message.get("role"))
        body = message["parts"] if "parts" in message else message.get("content")
        out.append((message["role"], _text(body)))
    return out


def _split(messages: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    if messages and messages[-1][0] == "assistant":
        return messages[:-1], messages[-1][1]
    return messages, None


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        elif not isinstance(value, list):
            out[name] = value
    return out


def _chat_line(row: Any, where: str) -> Conversation:
    row = _obj(row, "")
    if "messages" in row:
        messages, output = _split(_messages(row["messages"]))
        rest = {k: v for k, v in row.items() if k != "messages"}
    elif isinstance(row.get("request"), dict):
        messages = _messages(row["request"].get("messages"), "request.messages")
        response = _obj(row.get("response"), "response", optional=True)
        choices = _seq(response.get("choices"), "response.choices", optional=True) or [{}]
        choice = _obj(choices[0], "response.choices[0]", optional=True)
        message = _obj(choice.get("message"), "response.choices[0].message", optional=True)
        output = _text(message.get("content")) or None
        rest = {k: v for k, v in row.items() if k not in ("request", "response")}
        rest["model"] = row["request"].get("model")
    else:
        raise _Shape("messages", "`messages` (OpenAI chat format) or `request`/`response`", row.get("messages"))
    if isinstance(row.get("output"), str) and output is None:
        output = row["output"]
    return Conversation(tuple(messages), output, _flatten({k: v for k, v in rest.items() if k != "output"}), where)


def _chat_lines(row: Any, where: str) -> list[Conversation]:
    return [_chat_line(row, where)]


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue as Python data."""
    if not isinstance(value, dict):
        return value
    for kind in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            raise _Shape("intValue", "an integer", value["intValue"]) from None
    if "arrayValue" in value:
        return [_any_value(v) for v in _seq(_obj(value["arrayValue"], "arrayValue", optional=True).get("values"),
                                            "arrayValue.values", optional=True)]
    if "kvlistValue" in value:
        return _attributes(_obj(value["kvlistValue"], "kvlistValue", optional=True).get("values"))
    return None


def _attributes(items: Any, field: str = "attributes") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(_seq(items, field, optional=True)):
        item = _obj(item, f"{field}[{i}]")
        if not isinstance(item.get("key"), str):
            raise _Shape(f"{field}[{i}].key", "a key string", item.get("key"))
        out[item["key"]] = _any_value(item.get("value"))
    return out


def _structured(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return [{"role": "user", "content": value}]
    return value


def _otlp_document(doc: Any, path: Path, line: int) -> Iterator[Conversation]:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
        raise _Shape("resourceSpans", "an OTLP/JSON document with a `resourceSpans` list", doc)
    for r, resource_spans in enumerate(doc["resourceSpans"]):
        where = f"resourceSpans[{r}]"
        resource_spans = _obj(resource_spans, where)
        resource = _attributes(_obj(resource_spans.get("resource"), f"{where}.resource", optional=True)
                               .get("attributes"), f"{where}.resource.attributes")
        spans: list[tuple[str, dict[str, Any]]] = []
        for s, scope in enumerate(_seq(resource_spans.get("scopeSpans"), f"{where}.scopeSpans", optional=True)):
            scope_where = f"{where}.scopeSpans[{s}]"
            for k, span in enumerate(_seq(_obj(scope, scope_where).get("spans"), f"{scope_where}.spans",
                                          optional=True)):
                spans.append((f"{scope_where}.spans[{k}]", _obj(span, f"{scope_where}.spans[{k}]")))
        parsed = [(span_where, span, _attributes(span.get("attributes"), f"{span_where}.attributes"))
                  for span_where, span in spans]
        with_input = {span.get("spanId") for _, span, attrs in parsed if "gen_ai.input.messages" in attrs}
        with_input -= {None, ""}
        for span_where, span, attrs in parsed:
            if "gen_ai.input.messages" not in attrs or span.get("parentSpanId") in with_input:
                continue
            messages = _messages(_structured(attrs.pop("gen_ai.input.messages")),
                                 f"{span_where}.gen_ai.input.messages")
            outputs = _messages(_structured(attrs.pop("gen_ai.output.messages", None)),
                                f"{span_where}.gen_ai.output.messages")
            output = "\n".join(text for role, text in outputs if role == "assistant") or None
            fields = {**resource, **{k: v for k, v in attrs.items() if not isinstance(v, list | dict)},
                      "span.name": span.get("name")}
            yield Conversation(tuple(messages), output, fields, f"{path}:{line}:span {span.get('spanId', '?')}")


def _parse(text: str, path: Path, line: int) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(path, "invalid JSON: nested too deeply", line=line) from None
    except ValueError as exc:
        raise InputError(path, f"invalid JSON: {exc}", line=line) from None


def _checked(read: Callable[[], Iterable[Conversation]], path: Path, line: int) -> list[Conversation]:
    """The conversations of one document or line; a malformed one is an InputError naming file, line and field."""
    from agent_eval.suite.yamlfile import find_invalid_text

    try:
        found = list(read())
    except _Shape as exc:
        raise InputError(path, str(exc), line=line, field=exc.field) from None
    except RecursionError:
        raise InputError(path, "nested too deeply", line=line) from None
    for conversation in found:
        bad = find_invalid_text([conversation.messages, conversation.output, conversation.fields])
        if bad is not None:
            raise InputError(path, bad[1], line=line)
    return found


def _read_otlp(path: Path, text: str) -> Iterator[Conversation]:
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        whole = None
    if whole is not None:
        yield from _checked(lambda: _otlp_document(whole, path, 1), path, 1)
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            doc = _parse(line, path, n)
            yield from _checked(partial(_otlp_document, doc, path, n), path, n)


def _read_chat(path: Path, text: str) -> Iterator[Conversation]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = _parse(line, path, n)
        yield from _checked(partial(_chat_lines, row, f"{path}:{n}"), path, n)


def _is_otlp(text: str) -> bool:
    return '"resourceSpans"' in text[:4096]


def _read_text(file: Path) -> str:
    from agent_eval._files import ReadRefused, read_limited

    try:
        data = read_limited(file)
    except ReadRefused as exc:
        raise InputError(file, str(exc)) from None
    except OSError as exc:
        raise InputError(file, f"cannot read file: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(file, f"not valid UTF-8 (byte {data[exc.start]:#04x}); expected UTF-8 JSON",
                         line=line) from None


def read_logs(paths: list[Path], fmt: str = "auto") -> Iterator[Conversation]:
    """Every conversation in the files (folders: their *.jsonl and *.json files, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".json") and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "file not found")
    for file in files:
        text = _read_text(file)
        otlp = fmt == "otlp" or (fmt == "auto" and _is_otlp(text))
        yield from (_read_otlp(file, text) if otlp else _read_chat(file, text))
