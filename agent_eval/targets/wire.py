"""Chat messages to and from the OpenAI and Anthropic wire formats (dicts), for agents and the gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from agent_eval.providers.base import Completion
from agent_eval.records import Message, ToolCall

__all__ = [
    "anthropic_response",
    "from_anthropic",
    "from_openai",
    "openai_response",
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


def openai_response(completion: Completion, serial: int) -> dict[str, Any]:
    """A chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or None}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": c.id or f"call_{serial}_{i}", "type": "function",
             "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for i, c in enumerate(completion.tool_calls)
        ]
    elif message["content"] is None:
        message["content"] = ""
    finish = "tool_calls" if completion.tool_calls else _openai_finish(completion.finish_reason)
    usage = completion.usage
    return {
        "id": f"chatcmpl-agent-eval-{serial}", "object": "chat.completion", "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                  "total_tokens": usage.total},
    }


def _openai_finish(reason: str | None) -> str:
    return {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}.get(reason or "stop", reason or "stop")


def anthropic_response(completion: Completion, serial: int) -> dict[str, Any]:
    """A messages-API message body."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": completion.text}] if completion.text else []
    for i, call in enumerate(completion.tool_calls):
        arguments = call.parsed_arguments()
        blocks.append({"type": "tool_use", "id": call.id or f"toolu_{serial}_{i}", "name": call.name,
                       "input": arguments if isinstance(arguments, dict) else {"input": arguments}})
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    stop = "tool_use" if completion.tool_calls else {"length": "max_tokens"}.get(completion.finish_reason or "",
                                                                                   "end_turn")
    return {
        "id": f"msg_agent_eval_{serial}", "type": "message", "role": "assistant", "model": completion.model,
        "content": blocks, "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": completion.usage.input_tokens, "output_tokens": completion.usage.output_tokens},
    }
