"""Chat messages to and from the OpenAI and Anthropic wire formats (dicts), for agents and the gateway."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agent_eval.records import Message, ToolCall

__all__ = [
    "from_anthropic",
    "from_openai",
    "from_responses",
    "to_openai",
]

_ROLES = ("system", "user", "assistant", "tool")


def to_openai(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the chat-completions format."""
    out: list[dict[str, Any]] = []
    for message in messages:
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            entry["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        if message.tool_call_id is not None:
            entry["tool_call_id"] = message.tool_call_id
        out.append(entry)
    return out


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(block.get("text", block.get("content"))) if isinstance(block, Mapping) else str(block)
                       for block in content)
    return str(content)


def from_openai(messages: Sequence[Any]) -> tuple[Message, ...]:
    """Chat-completions messages as records; raises ValueError on a message that is not one."""
    out: list[Message] = []
    for i, raw in enumerate(messages):
        if not isinstance(raw, Mapping) or raw.get("role") not in (*_ROLES, "developer"):
            raise ValueError(f"message {i} is not a chat message with a role ({', '.join(_ROLES)})")
        role = "system" if raw["role"] == "developer" else raw["role"]
        calls = []
        for call in raw.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = function.get("arguments", "")
            calls.append(ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""),
                                  arguments=arguments if isinstance(arguments, str) else json.dumps(arguments)))
        out.append(Message(role=role, content=_text(raw.get("content")), tool_calls=tuple(calls),
                           tool_call_id=raw.get("tool_call_id")))
    return tuple(out)


def from_anthropic(system: Any, messages: Sequence[Any]) -> tuple[Message, ...]:
    """A messages-API request (system and content blocks) as records: tool_result blocks become tool messages."""
    out: list[Message] = [Message(role="system", content=_text(system))] if system else []
    for i, raw in enumerate(messages):
        if not isinstance(raw, Mapping) or raw.get("role") not in ("user", "assistant"):
            raise ValueError(f"message {i} is not a user or assistant message")
        content = raw.get("content")
        if not isinstance(content, list):
            out.append(Message(role=raw["role"], content=_text(content)))
            continue
        texts = [b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text"]
        calls = tuple(ToolCall(id=str(b.get("id", "")), name=str(b.get("name", "")), arguments=json.dumps(b.get("input")))
                      for b in content if isinstance(b, Mapping) and b.get("type") == "tool_use")
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                out.append(Message(role="tool", content=_text(block.get("content")),
                                   tool_call_id=str(block.get("tool_use_id", ""))))
        if texts or calls or raw["role"] == "assistant":
            out.append(Message(role=raw["role"], content="".join(texts), tool_calls=calls))
    return tuple(out)


def from_responses(instructions: Any, items: Any) -> tuple[Message, ...]:
    """A Responses-API `input` (a string or items) as records: function calls and their outputs included."""
    out: list[Message] = [Message(role="system", content=_text(instructions))] if instructions else []
    if isinstance(items, str):
        return (*out, Message(role="user", content=items))
    if not isinstance(items, list):
        raise ValueError("`input` is neither text nor a list of items")  # noqa: TRY004 (answered as a 400)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"input item {i} is not an object")  # noqa: TRY004
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in (*_ROLES, "developer"):
            role = "system" if item["role"] == "developer" else item["role"]
            out.append(Message(role=role, content=_text(item.get("content"))))
        elif kind in ("function_call", "custom_tool_call"):
            arguments = item.get("arguments", item.get("input", ""))
            call = ToolCall(id=str(item.get("call_id") or item.get("id") or ""), name=str(item.get("name") or ""),
                            arguments=arguments if isinstance(arguments, str) else json.dumps(arguments))
            if out and out[-1].role == "assistant" and not out[-1].content and out[-1].tool_calls:
                out[-1] = Message(role="assistant", content="", tool_calls=(*out[-1].tool_calls, call))
            else:
                out.append(Message(role="assistant", content="", tool_calls=(call,)))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append(Message(role="tool", content=_text(item.get("output")), tool_call_id=str(item.get("call_id"))))
        elif kind == "message":
            raise ValueError(f"input item {i} is a message without a valid role")
    return tuple(out)
