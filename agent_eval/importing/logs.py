"""Readers of production logs: OpenAI-style chat JSONL, and OTLP/JSON traces with GenAI attributes.

Chat JSONL: one object per line with `messages` (OpenAI chat format; a final assistant message is the
production output), or a logged call `{"request": {"messages": ...}, "response": {"choices": [...]}}`.
OTLP/JSON: `{"resourceSpans": [{resource, scopeSpans: [{spans: [...]}]}]}`, one document per file or one
per line; a span with `gen_ai.input.messages` (and `gen_ai.output.messages`) is one conversation, the
topmost such span of each trace when they nest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
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


def _messages(raw: Any) -> list[tuple[str, str]]:
    out = []
    for message in raw if isinstance(raw, list) else ():
        if isinstance(message, dict) and isinstance(message.get("role"), str):
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


def _chat_line(row: Any, where: str, path: Path, line: int) -> Conversation:
    if not isinstance(row, dict):
        raise InputError(path, f"expected a JSON object per line, got {type(row).__name__}", line=line)
    if "messages" in row:
        messages, output = _split(_messages(row["messages"]))
        rest = {k: v for k, v in row.items() if k != "messages"}
    elif isinstance(row.get("request"), dict):
        messages = _messages(row["request"].get("messages"))
        choices = (row.get("response") or {}).get("choices") or [{}]
        output = _text(((choices[0] or {}).get("message") or {}).get("content")) or None
        rest = {k: v for k, v in row.items() if k not in ("request", "response")}
        rest["model"] = row["request"].get("model")
    else:
        raise InputError(path, "expected `messages` (OpenAI chat format) or `request`/`response`", line=line,
                         field="messages")
    if isinstance(row.get("output"), str) and output is None:
        output = row["output"]
    return Conversation(tuple(messages), output, _flatten({k: v for k, v in rest.items() if k != "output"}), where)


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue as Python data."""
    if not isinstance(value, dict):
        return value
    for kind in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values", []))
    return None


def _attributes(items: Any) -> dict[str, Any]:
    return {a["key"]: _any_value(a.get("value")) for a in items or () if isinstance(a, dict) and "key" in a}


def _structured(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return [{"role": "user", "content": value}]
    return value


def _otlp_document(doc: Any, path: Path, line: int) -> Iterator[Conversation]:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
        raise InputError(path, "expected an OTLP/JSON document with `resourceSpans`", line=line, field="resourceSpans")
    for resource_spans in doc["resourceSpans"]:
        resource = _attributes(((resource_spans or {}).get("resource") or {}).get("attributes"))
        spans = [s for scope in (resource_spans or {}).get("scopeSpans") or () for s in (scope or {}).get("spans") or ()]
        with_input = {s.get("spanId") for s in spans if any(
            a.get("key") == "gen_ai.input.messages" for a in s.get("attributes") or ())} - {None, ""}
        for span in spans:
            attrs = _attributes(span.get("attributes"))
            if "gen_ai.input.messages" not in attrs or span.get("parentSpanId") in with_input:
                continue
            messages = _messages(_structured(attrs.pop("gen_ai.input.messages")))
            outputs = _messages(_structured(attrs.pop("gen_ai.output.messages", None)))
            output = "\n".join(text for role, text in outputs if role == "assistant") or None
            fields = {**resource, **{k: v for k, v in attrs.items() if not isinstance(v, list | dict)},
                      "span.name": span.get("name")}
            yield Conversation(tuple(messages), output, fields, f"{path}:{line}:span {span.get('spanId', '?')}")


def _read_otlp(path: Path, text: str) -> Iterator[Conversation]:
    try:
        yield from _otlp_document(json.loads(text), path, 1)
        return
    except ValueError:
        pass
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise InputError(path, f"invalid JSON: {exc}", line=n) from None
            yield from _otlp_document(doc, path, n)


def _read_chat(path: Path, text: str) -> Iterator[Conversation]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputError(path, f"invalid JSON: {exc}", line=n) from None
        yield _chat_line(row, f"{path}:{n}", path, n)


def _is_otlp(text: str) -> bool:
    return '"resourceSpans"' in text[:4096]


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
        text = file.read_text(encoding="utf-8")
        otlp = fmt == "otlp" or (fmt == "auto" and _is_otlp(text))
        yield from (_read_otlp(file, text) if otlp else _read_chat(file, text))
