"""Readers of production logs: OpenAI-style chat JSONL, and OTLP/JSON traces with GenAI attributes.

Chat JSONL: one object per line with `messages` (OpenAI chat format; a final assistant message is the
production output), or a logged call `{"request": {"messages": ...}, "response": {"choices": [...]}}`.
OTLP/JSON: `{"resourceSpans": [{resource, scopeSpans: [{spans: [...]}]}]}`, one document per file or one
per line. A conversation is a span with `gen_ai.input.messages` (and `gen_ai.output.messages`), an
OpenInference LLM span (`llm.input_messages.N.message.*`, `llm.output_messages.N.message.*`, as Phoenix
writes them) or an OpenInference AGENT/CHAIN span whose `input.value` holds a question; the topmost such
span of each trace when they nest. Top-level conversation spans of one trace that start with the same
user message (an agent's LLM calls exported without a parent span) are one conversation: the last call.
Parts that cannot be kept as text (images, audio, files) are counted per conversation, never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections import Counter
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
    not_kept: dict[str, int] = field(default_factory=dict)  # kind -> parts of user/assistant messages not kept


# Parts that are not text, by the kind counted when a conversation is imported as text.
_MEDIA = {"image_url": "image", "input_image": "image", "image": "image", "input_audio": "audio", "audio": "audio",
          "file": "file", "input_file": "file", "video": "video", "document": "file"}
_KEPT_ROLES = ("user", "assistant")


def _media_kind(part: dict[str, Any]) -> str | None:
    """The kind of a non-text part (OpenAI, Anthropic or GenAI convention), None for text and tool parts."""
    kind = part.get("type", "text")
    if kind in ("blob", "uri"):  # GenAI semantic conventions
        return str(part.get("modality") or "file")
    return _MEDIA.get(str(kind))


def _text(content: Any, not_kept: Counter[str] | None = None) -> str:
    """Message content as text: a string, OpenAI content parts, or GenAI semantic-convention parts; parts
    that are not text are counted in `not_kept`."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in ("text", "input_text", "output_text"):
                pieces.append(str(part.get("text", part.get("content", ""))))
            elif isinstance(part, dict) and part.get("type") == "tool_call_response":
                pieces.append(json.dumps(part.get("response"), ensure_ascii=False, default=str))
            elif isinstance(part, dict) and (kind := _media_kind(part)) is not None and not_kept is not None:
                not_kept[kind] += 1
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


_LANGCHAIN_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _messages(raw: Any, not_kept: Counter[str] | None = None, field: str = "messages") -> list[tuple[str, str]]:
    out = []
    for i, message in enumerate(_seq(raw, field, optional=True)):
        if isinstance(message, dict) and not isinstance(message.get("role"), str) and "type" in message:
            message = {**message, "role": _LANGCHAIN_ROLES.get(str(message["type"]), str(message["type"]))}
        if isinstance(message, list | tuple) and len(message) == 2 and isinstance(message[0], str):
            message = {"role": _LANGCHAIN_ROLES.get(message[0], message[0]), "content": message[1]}
        message = _obj(message, f"{field}[{i}]")
        if not isinstance(message.get("role"), str):
            raise _Shape(f"{field}[{i}].role", "a role string", message.get("role"))
        body = message["parts"] if "parts" in message else message.get("content")
        counter = not_kept if message["role"] in _KEPT_ROLES else None
        out.append((message["role"], _text(body, counter)))
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
    not_kept: Counter[str] = Counter()
    if "messages" in row:
        messages, output = _split(_messages(row["messages"], not_kept))
        rest = {k: v for k, v in row.items() if k != "messages"}
    elif isinstance(row.get("request"), dict):
        messages = _messages(row["request"].get("messages"), not_kept, "request.messages")
        response = _obj(row.get("response"), "response", optional=True)
        choices = _seq(response.get("choices"), "response.choices", optional=True) or [{}]
        choice = _obj(choices[0], "response.choices[0]", optional=True)
        message = _obj(choice.get("message"), "response.choices[0].message", optional=True)
        output = _text(message.get("content"), not_kept) or None
        rest = {k: v for k, v in row.items() if k not in ("request", "response")}
        rest["model"] = row["request"].get("model")
    else:
        raise _Shape("messages", "`messages` (OpenAI chat format) or `request`/`response`", row.get("messages"))
    if isinstance(row.get("output"), str) and output is None:
        output = row["output"]
    return Conversation(tuple(messages), output, _flatten({k: v for k, v in rest.items() if k != "output"}), where,
                        dict(not_kept))


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


_OI_MESSAGE = re.compile(r"^llm\.(input|output)_messages\.(\d+)\.message\.(.+)$")
_OI_CONTENT = re.compile(r"^contents\.(\d+)\.message_content\.(.+)$")
_CONVERSATION_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "input.value", "output.value",
                      "input.mime_type", "output.mime_type")


def _openinference_messages(attrs: dict[str, Any], side: str, not_kept: Counter[str]) -> list[tuple[str, str]]:
    """`llm.<side>_messages.N.message.*` (flat OpenInference attributes) as (role, text), in order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _OI_MESSAGE.match(key)
        if match and match.group(1) == side:
            found.setdefault(int(match.group(2)), {})[match.group(3)] = value
    out = []
    for _, fields in sorted(found.items()):
        role = str(fields.get("role") or "")
        parts: dict[int, dict[str, Any]] = {}
        for key, value in fields.items():
            match = _OI_CONTENT.match(key)
            if match:
                parts.setdefault(int(match.group(1)), {})[match.group(2)] = value
        pieces = [str(fields["content"])] if isinstance(fields.get("content"), str) else []
        for _, part in sorted(parts.items()):
            kind = str(part.get("type") or ("image" if any(k.startswith("image") for k in part) else "text"))
            if kind == "text":
                pieces.append(str(part.get("text") or ""))
            elif role in _KEPT_ROLES:
                not_kept[_MEDIA.get(kind, kind)] += 1
        out.append((role, "\n".join(p for p in pieces if p)))
    return out


def _value_messages(value: Any, not_kept: Counter[str]) -> list[tuple[str, str]]:
    """OpenInference `input.value`: a question as text, or JSON holding messages (or an `input`/`question`)."""
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        data = json.loads(value)
    except ValueError:
        return [("user", value)]
    if isinstance(data, str):
        return [("user", data)]
    if isinstance(data, dict):
        if isinstance(data.get("messages"), list):
            return _loose_messages(data["messages"], not_kept)
        for key in ("input", "question", "query", "prompt"):
            if isinstance(data.get(key), str):
                return [("user", data[key])]
        return []
    return _loose_messages(data, not_kept)


def _loose_messages(raw: Any, not_kept: Counter[str]) -> list[tuple[str, str]]:
    """Messages from free-form JSON (`input.value`, `output.value`): what is not a message list is no message."""
    try:
        return _messages(raw, not_kept)
    except _Shape:
        return []


def _value_output(value: Any, not_kept: Counter[str]) -> str | None:
    """OpenInference `output.value`: the answer as text, or JSON holding it (messages, choices, `output`)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if isinstance(data, str):
        return data
    if isinstance(data, dict) and isinstance(data.get("choices"), list) and data["choices"]:
        message = (data["choices"][0] or {}).get("message") or {}
        return _text(message.get("content"), not_kept) or None
    raw = data.get("messages") if isinstance(data, dict) else data
    if isinstance(raw, list):
        answers = [text for role, text in _loose_messages(raw, not_kept) if role == "assistant" and text]
        return answers[-1] if answers else None
    if isinstance(data, dict):
        for key in ("output", "answer", "content", "text"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return value


def _span_conversation(attrs: dict[str, Any]) -> tuple[list[tuple[str, str]], str | None, Counter[str]] | None:
    """(messages, output, parts not kept) when the span holds a conversation, else None."""
    not_kept: Counter[str] = Counter()
    if "gen_ai.input.messages" in attrs:
        messages = _messages(_structured(attrs["gen_ai.input.messages"]), not_kept)
        outputs = _messages(_structured(attrs.get("gen_ai.output.messages")), not_kept)
        output = "\n".join(text for role, text in outputs if role == "assistant") or None
        return messages, output, not_kept
    if any(key.startswith("llm.input_messages.") for key in attrs):
        messages = _openinference_messages(attrs, "input", not_kept)
        outputs = _openinference_messages(attrs, "output", not_kept)
        output = "\n".join(text for role, text in outputs if role == "assistant" and text) or None
        return messages, output or _value_output(attrs.get("output.value"), not_kept), not_kept
    if str(attrs.get("openinference.span.kind", "")).upper() in ("AGENT", "CHAIN") and "input.value" in attrs:
        messages = _value_messages(attrs["input.value"], not_kept)
        if any(role == "user" and text.strip() for role, text in messages):
            return messages, _value_output(attrs.get("output.value"), not_kept), not_kept
    return None


def _start(span: dict[str, Any]) -> int:
    try:
        return int(span.get("startTimeUnixNano") or 0)
    except (TypeError, ValueError):
        return 0


def _is_conversation_field(key: str) -> bool:
    return key in _CONVERSATION_KEYS or key.startswith(("llm.input_messages.", "llm.output_messages."))


def _otlp_document(doc: Any, path: Path, line: int) -> Iterator[Conversation]:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
        raise _Shape("resourceSpans", "an OTLP/JSON document with a `resourceSpans` list", doc)
    found: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], Any]] = []  # span, attrs, resource, conv
    for r, resource_spans in enumerate(doc["resourceSpans"]):
        where = f"resourceSpans[{r}]"
        resource_spans = _obj(resource_spans, where)
        resource = _attributes(_obj(resource_spans.get("resource"), f"{where}.resource", optional=True)
                               .get("attributes"), f"{where}.resource.attributes")
        for s, scope in enumerate(_seq(resource_spans.get("scopeSpans"), f"{where}.scopeSpans", optional=True)):
            scope_where = f"{where}.scopeSpans[{s}]"
            for k, span in enumerate(_seq(_obj(scope, scope_where).get("spans"), f"{scope_where}.spans",
                                          optional=True)):
                span_where = f"{scope_where}.spans[{k}]"
                span = _obj(span, span_where)
                attrs = _attributes(span.get("attributes"), f"{span_where}.attributes")
                found.append((span, attrs, resource, _span_conversation(attrs)))
    parents = {s.get("spanId"): s.get("parentSpanId") or None for s, _, _, _ in found if s.get("spanId")}
    holding = {s.get("spanId") for s, _, _, conv in found if conv is not None and s.get("spanId")}

    def nested(span: dict[str, Any]) -> bool:
        """Whether an ancestor of the span holds a conversation (then it is part of that one)."""
        seen: set[Any] = set()
        parent = span.get("parentSpanId") or None
        while parent is not None and parent not in seen:
            if parent in holding:
                return True
            seen.add(parent)
            parent = parents.get(parent)
        return False

    # top-level conversations of a trace that open with the same user message are one: its last call
    last: dict[tuple[Any, str], int] = {}
    tops = [item for item in found if item[3] is not None and not nested(item[0])]
    for n, (span, _, _, conv) in enumerate(tops):
        first_user = next((text for role, text in conv[0] if role == "user" and text.strip()), "")
        key = (span.get("traceId") or f"#{n}", first_user)
        if key not in last or _start(span) >= _start(tops[last[key]][0]):
            last[key] = n
    for n in sorted(last.values()):
        span, attrs, resource, (messages, output, not_kept) = tops[n]
        fields = {**resource, **{k: v for k, v in attrs.items()
                                 if not isinstance(v, list | dict) and not _is_conversation_field(k)},
                  "span.name": span.get("name")}
        yield Conversation(tuple(messages), output, fields, f"{path}:{line}:span {span.get('spanId', '?')}",
                           dict(not_kept))


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
