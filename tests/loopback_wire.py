"""Wire formats for the loopback server: OpenAI chat completions and Anthropic messages.

Pure functions from a request body (and a `Reply`) to response bodies, SSE events
and error bodies, shaped like the real APIs so the real SDKs parse them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Reply",
    "Rule",
    "anthropic_error",
    "anthropic_message",
    "anthropic_models",
    "anthropic_stream",
    "estimate_tokens",
    "last_text_of",
    "last_user_text",
    "openai_completion",
    "openai_error",
    "openai_models",
    "openai_response",
    "openai_response_stream",
    "openai_stream",
    "prompt_text",
    "responses_as_chat",
    "rule_responder",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake model answers: text and/or tool calls as (name, arguments) pairs."""

    text: str = ""
    tool_calls: tuple[tuple[str, Mapping[str, Any] | str], ...] = ()  # str: OpenAI `arguments` sent verbatim
    input_tokens: int | None = None  # None: estimated from the prompt
    output_tokens: int | None = None  # None: estimated from the text


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, Mapping):
                inner = block.get("text", block.get("content", ""))
                parts.append(_content_text(inner))
        return "".join(parts)
    return ""


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message, in either format."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _role_of(message: Mapping[str, Any]) -> str:
    """`tool` for an OpenAI tool message and for an Anthropic user turn of tool_result blocks."""
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list) and any(
        isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content
    ):
        return "tool"
    return str(message.get("role"))


def last_text_of(body: Mapping[str, Any], role: str) -> str | None:
    """The text of the last message of `role` (user, assistant or tool), in either format; None if none."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and _role_of(message) == role:
            return _content_text(message.get("content"))
    return None


@dataclass(frozen=True, slots=True)
class Rule:
    """Answer `reply` when `pattern` (re.search) matches the last message of `role`."""

    role: str
    pattern: str
    reply: Reply


def rule_responder(rules: list[Rule], default: Reply = Reply("I don't know.")) -> Any:
    """A responder for LoopbackServer(responder=...) that answers by the first matching rule."""
    import re

    def respond(body: dict[str, Any]) -> Reply:
        for rule in rules:
            text = last_text_of(body, rule.role)
            if text is not None and re.search(rule.pattern, text):
                return rule.reply
        return default

    return respond


def prompt_text(body: Mapping[str, Any]) -> str:
    """All message text (and the Anthropic `system`), for token estimates."""
    text = _content_text(body.get("system", ""))
    return text + "".join(_content_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, Mapping))


def _limit(body: Mapping[str, Any], reply: Reply) -> tuple[str, bool]:
    """Truncate to max_tokens (about 4 characters a token); True when truncated."""
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(cap, int) and cap > 0 and len(reply.text) > cap * 4:
        return reply.text[: cap * 4], True
    return reply.text, False


def _usage(body: Mapping[str, Any], reply: Reply, text: str) -> tuple[int, int]:
    prompt = reply.input_tokens if reply.input_tokens is not None else estimate_tokens(prompt_text(body))
    completion = reply.output_tokens if reply.output_tokens is not None else estimate_tokens(text)
    return prompt, completion


# ---- OpenAI ---------------------------------------------------------------------------------

_OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Permission denied."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("server_error", None, "Request timed out."),
    409: ("server_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def openai_error(status: int, message: str | None = None) -> dict[str, Any]:
    kind, code, default = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
    )
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def _openai_tool_calls(reply: Reply, serial: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{serial}_{i}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(dict(args))},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def _openai_finish(reply: Reply, truncated: bool) -> str:
    return "length" if truncated else ("tool_calls" if reply.tool_calls else "stop")


def openai_completion(body: Mapping[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    text, truncated = _limit(body, reply)
    prompt, completion = _usage(body, reply, text)
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not reply.tool_calls else None}
    if reply.tool_calls:
        message["tool_calls"] = _openai_tool_calls(reply, serial)
    return {
        "id": f"chatcmpl-loopback-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "loopback-model"),
        "system_fingerprint": "fp_loopback",
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": _openai_finish(reply, truncated)}
            for i in range(body.get("n") or 1)
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def openai_stream(body: Mapping[str, Any], reply: Reply, serial: int) -> list[bytes]:
    """SSE events of a streamed chat completion, ending with `[DONE]`."""
    text, truncated = _limit(body, reply)
    prompt, completion = _usage(body, reply, text)
    base = {
        "id": f"chatcmpl-loopback-{serial}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "loopback-model"),
        "system_fingerprint": "fp_loopback",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        data = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data)}\n\n".encode()

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in _pieces(text)]
    for i, call in enumerate(_openai_tool_calls(reply, serial)):
        events.append(chunk({"tool_calls": [{"index": i, **call}]}))
    events.append(chunk({}, _openai_finish(reply, truncated)))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        events.append(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
    events.append(b"data: [DONE]\n\n")
    return events


def responses_as_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses-API body with its `input` as chat `messages`, so responders read it like the others."""
    items = body.get("input")
    messages: list[dict[str, Any]] = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    for item in items if isinstance(items, list) else []:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role"), "content": item.get("content")})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output"), "tool_call_id": item.get("call_id")})
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": ""})
    return {**body, "messages": messages}


def openai_response(body: Mapping[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    """A Responses-API `response` object."""
    text, truncated = _limit(body, reply)
    prompt, completion = _usage(body, reply, text)
    output: list[dict[str, Any]] = []
    if text or not reply.tool_calls:
        output.append({"type": "message", "id": f"msg_loopback_{serial}", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    for i, call in enumerate(_openai_tool_calls(reply, serial)):
        output.append({"type": "function_call", "id": f"fc_loopback_{serial}_{i}", "call_id": call["id"],
                       "name": call["function"]["name"], "arguments": call["function"]["arguments"],
                       "status": "completed"})
    return {
        "id": f"resp_loopback_{serial}", "object": "response", "created_at": int(time.time()),
        "status": "incomplete" if truncated else "completed", "model": body.get("model", "loopback-model"),
        "output": output, "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools", []), "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "instructions": body.get("instructions"), "metadata": body.get("metadata") or {},
        "temperature": body.get("temperature"), "top_p": body.get("top_p"),
        "usage": {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }


def openai_response_stream(body: Mapping[str, Any], reply: Reply, serial: int) -> list[bytes]:
    """SSE events of a streamed Responses-API response, from `response.created` to `response.completed`."""
    final = openai_response(body, reply, serial)
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started}]
    for index, item in enumerate(final["output"]):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        if item["type"] == "message":
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events += [{"type": "response.output_text.delta", **where, "delta": p, "logprobs": []}
                       for p in _pieces(item["content"][0]["text"])]
            events.append({"type": "response.output_text.done", **where, "text": item["content"][0]["text"],
                           "logprobs": []})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": f"response.{final['status']}", "response": final})
    return [_event(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


def openai_models(models: tuple[str, ...]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "loopback"} for m in models],
    }


# ---- Anthropic ------------------------------------------------------------------------------

_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Your account has hit a rate limit."),
    500: ("api_error", "An unexpected error has occurred internal to Anthropic's systems."),
    503: ("api_error", "Service unavailable."),
    529: ("overloaded_error", "Anthropic's API is temporarily overloaded."),
}


def anthropic_error(status: int, message: str | None = None) -> dict[str, Any]:
    kind, default = _ANTHROPIC_ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"HTTP {status}")
    )
    return {"type": "error", "error": {"type": kind, "message": message or default}}


def _anthropic_blocks(text: str, reply: Reply, serial: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not reply.tool_calls else []
    blocks += [
        {"type": "tool_use", "id": f"toolu_{serial}_{i}", "name": name, "input": {"raw": args} if isinstance(args, str) else dict(args)}
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    return blocks


def _anthropic_stop(reply: Reply, truncated: bool) -> str:
    return "max_tokens" if truncated else ("tool_use" if reply.tool_calls else "end_turn")


def anthropic_message(body: Mapping[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    text, truncated = _limit(body, reply)
    prompt, completion = _usage(body, reply, text)
    return {
        "id": f"msg_loopback_{serial}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "loopback-model"),
        "content": _anthropic_blocks(text, reply, serial),
        "stop_reason": _anthropic_stop(reply, truncated),
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_stream(body: Mapping[str, Any], reply: Reply, serial: int) -> list[bytes]:
    """SSE events of a streamed message, from `message_start` to `message_stop`."""
    text, truncated = _limit(body, reply)
    prompt, completion = _usage(body, reply, text)
    start = {
        **anthropic_message(body, reply, serial),
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": prompt, "output_tokens": 1},
    }
    events = [_event("message_start", {"type": "message_start", "message": start}), _event("ping", {"type": "ping"})]
    for index, block in enumerate(_anthropic_blocks(text, reply, serial)):
        opened: dict[str, Any]
        if block["type"] == "text":
            opened, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in _pieces(text)]
        else:
            opened = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(json.dumps(block["input"]))]
        events.append(
            _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened})
        )
        events += [
            _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        ]
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": _anthropic_stop(reply, truncated), "stop_sequence": None}
    events.append(
        _event("message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": completion}})
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events


def anthropic_models(models: tuple[str, ...]) -> dict[str, Any]:
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
    return {
        "data": data,
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


# ---- OpenAI embeddings and moderation (for `similar` and `moderation` checks) ---------------------------

_MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
    "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic",
)
_FLAG_WORDS = {"violence": {"kill", "attack"}, "harassment": {"idiot", "loser"}}


def _bag_of_words(text: str, dim: int = 64) -> list[float]:
    """A unit vector of hashed word counts: texts sharing words are similar."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dim] += 1.0
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [x / norm for x in vector]


def openai_embeddings(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /v1/embeddings; honours encoding_format base64 (the SDK's default) and float."""
    texts = body.get("input") or []
    texts = [texts] if isinstance(texts, str) else list(texts)
    data = []
    for i, text in enumerate(texts):
        vector = _bag_of_words(str(text))
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = sum(estimate_tokens(str(t)) for t in texts)
    return {"object": "list", "data": data, "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def openai_moderation(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /v1/moderations: flags violence and harassment from a tiny word list."""
    texts = body.get("input") or ""
    texts = [texts] if isinstance(texts, str) else list(texts)
    results = []
    for text in texts:
        words = set(re.findall(r"\w+", str(text).lower()))
        flags = {c: bool(words & _FLAG_WORDS.get(c, set())) for c in _MODERATION_CATEGORIES}
        results.append({
            "flagged": any(flags.values()), "categories": flags,
            "category_scores": {c: 0.97 if hit else 0.01 for c, hit in flags.items()},
            "category_applied_input_types": {c: ["text"] for c in _MODERATION_CATEGORIES},
        })
    return {"id": "modr-loopback", "model": body.get("model", ""), "results": results}
