"""Agents' requests forwarded unchanged, and replies in the three wire formats the gateway serves.

`forward` sends a `Wire` request through an SDK client as it came (every field, streaming
included) and returns the reply as JSON (or the SSE text of a stream); `completion_of` reads
what the call layer records from that reply (first choice, usage, tool calls). `render` and
`to_sse` build replies from completions, for the mock provider and for a request translated
to another provider's format.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent_eval.providers.base import Completion, CompletionRequest, Wire
from agent_eval.providers.ratelimits import RateInfo
from agent_eval.providers.replies import InvalidReply, estimated_usage, is_json, not_an_api
from agent_eval.records import ToolCall, Usage

__all__ = ["PATHS", "aggregate_stream", "completion_of", "forward", "render", "to_sse"]

# the path of each API below the SDK client's base URL
PATHS = {"chat": "/chat/completions", "responses": "/responses", "messages": "/v1/messages"}
_FORWARDED_HEADERS = ("anthropic-beta", "openai-beta")


async def forward(client: Any, wire: Wire, request: CompletionRequest, api_name: str,
                  parse_rate: Callable[[Any, float], RateInfo | None]) -> Completion:
    """POST the agent's body unchanged through an official SDK client (its key, retries off, errors raised)."""
    import httpx2

    headers = {k: v for k, v in wire.headers if k in _FORWARDED_HEADERS}
    if wire.stream:
        headers["X-Stainless-Raw-Response"] = "stream"  # the SDK leaves the body unread for us
    options: dict[str, Any] = {"headers": headers}
    if request.timeout_s is not None:
        options["timeout"] = request.timeout_s
    start, sent = time.perf_counter(), time.time()
    response = await client.post(PATHS[wire.api], cast_to=httpx2.Response, body=dict(wire.body), options=options)
    try:
        content = await response.aread()
    finally:
        await response.aclose()
    latency_ms = (time.perf_counter() - start) * 1000.0
    content_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw: Any
    if is_json(response.headers):
        try:
            raw = json.loads(content)
        except ValueError as exc:
            raise InvalidReply(f"the reply is not valid JSON ({exc})") from None
    elif wire.stream and content_type == "text/event-stream":
        raw = content.decode("utf-8", "replace")
    else:
        raise not_an_api(api_name, response.headers, content)
    return completion_of(wire.api, raw, request, latency_ms, parse_rate(response.headers, sent))


def completion_of(api: str, raw: Any, request: CompletionRequest, latency_ms: float,
                  rate: RateInfo | None = None) -> Completion:
    """What the call layer records of a reply: the first choice's text and tool calls, usage, finish reason."""
    body = aggregate_stream(api, raw) if isinstance(raw, str) else raw
    if not isinstance(body, Mapping):
        raise InvalidReply("the reply is not a JSON object")
    if body.get("error") or body.get("type") == "error":
        error = body.get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        raise InvalidReply(f"HTTP 200 with an error instead of a reply: {message or 'error'}")
    text, calls, finish, usage = _read(api, body)
    if usage is None:  # unknown is not zero: estimate, and say so
        output = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
        usage = estimated_usage(sum(len(m.content) for m in request.messages), output)
    return Completion(text=text, usage=usage, latency_ms=latency_ms, model=str(body.get("model") or request.model),
                      tool_calls=tuple(calls), finish_reason=finish, rate=rate, raw=raw)


def _read(api: str, body: Mapping[str, Any]) -> tuple[str, list[ToolCall], str | None, Usage | None]:
    found = body.get("usage")
    usage: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    calls: list[ToolCall] = []
    if api == "chat":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise InvalidReply("HTTP 200 with no choices: the server returned no completion")
        message = choices[0].get("message") or {}
        for call in message.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            calls.append(ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""),
                                  arguments=_text_arguments(function.get("arguments", function.get("input")))))
        text = message.get("content") if isinstance(message.get("content"), str) else (message.get("refusal") or "")
        return str(text), calls, choices[0].get("finish_reason"), _usage(usage, "prompt_tokens", "completion_tokens")
    if api == "responses":
        texts: list[str] = []
        output = body.get("output")
        if not isinstance(output, list):
            raise InvalidReply("HTTP 200 with no output: the server returned no response")
        for item in output:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "message":
                texts += [str(p.get("text") or p.get("refusal") or "") for p in item.get("content") or ()
                          if isinstance(p, Mapping)]
            elif item.get("type") in ("function_call", "custom_tool_call"):
                calls.append(ToolCall(id=str(item.get("call_id") or item.get("id") or ""),
                                      name=str(item.get("name") or ""),
                                      arguments=_text_arguments(item.get("arguments", item.get("input")))))
        finish = "tool_calls" if calls else ("stop" if body.get("status") == "completed" else body.get("status"))
        return "".join(texts), calls, finish, _usage(usage, "input_tokens", "output_tokens")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise InvalidReply("HTTP 200 with empty content: the server returned no message")
    texts = [str(b.get("text") or "") for b in content if isinstance(b, Mapping) and b.get("type") == "text"]
    calls = [ToolCall(id=str(b.get("id") or ""), name=str(b.get("name") or ""), arguments=json.dumps(b.get("input")))
             for b in content if isinstance(b, Mapping) and b.get("type") == "tool_use"]
    return "".join(texts), calls, body.get("stop_reason"), _usage(usage, "input_tokens", "output_tokens")


def _usage(usage: Mapping[str, Any], inp: str, out: str) -> Usage | None:
    i, o = usage.get(inp), usage.get(out)
    if not isinstance(i, int) or not isinstance(o, int):
        return None
    if inp == "input_tokens" and "cache_read_input_tokens" in usage:  # Anthropic counts cached input apart
        i += int(usage.get("cache_read_input_tokens") or 0) + int(usage.get("cache_creation_input_tokens") or 0)
    return Usage(input_tokens=i, output_tokens=o)


def _text_arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value if value is not None else {})


# ---- streams ---------------------------------------------------------------------------------


def _events(text: str) -> list[tuple[str, Any]]:
    """(event name, parsed data) of each SSE event; `[DONE]` and unparseable data are skipped."""
    out: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        payload = "\n".join(data)
        if not payload or payload == "[DONE]":
            continue
        try:
            out.append((name, json.loads(payload)))
        except ValueError:
            continue
    return out


def aggregate_stream(api: str, text: str) -> dict[str, Any]:
    """The JSON reply a stream amounts to (what the same request without `stream` would have returned)."""
    events = _events(text)
    if api == "chat":
        return _aggregate_chat(events)
    if api == "responses":
        for _, data in reversed(events):
            if isinstance(data, Mapping) and data.get("type") in ("response.completed", "response.incomplete",
                                                                  "response.failed"):
                return dict(data.get("response") or {})
        raise InvalidReply("the stream ended before `response.completed`")
    return _aggregate_messages(events)


def _aggregate_chat(events: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    choices: dict[int, dict[str, Any]] = {}
    for _, chunk in events:
        if not isinstance(chunk, Mapping):
            continue
        if chunk.get("error"):
            return {"error": chunk["error"]}
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None:
                body.setdefault(key, chunk[key])
        if chunk.get("usage"):
            body["usage"] = chunk["usage"]
        for delta_choice in chunk.get("choices") or ():
            index = int(delta_choice.get("index") or 0)
            choice = choices.setdefault(index, {"index": index, "message": {"role": "assistant", "content": None},
                                                "logprobs": None, "finish_reason": None})
            delta = delta_choice.get("delta") or {}
            message = choice["message"]
            if delta.get("content") is not None:
                message["content"] = (message["content"] or "") + delta["content"]
            if delta.get("refusal") is not None:
                message["refusal"] = (message.get("refusal") or "") + delta["refusal"]
            for call in delta.get("tool_calls") or ():
                calls = message.setdefault("tool_calls", [])
                position = int(call.get("index") or 0)
                while len(calls) <= position:
                    calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
                target = calls[position]
                target["id"] = call.get("id") or target["id"]
                function = call.get("function") or {}
                target["function"]["name"] += function.get("name") or ""
                target["function"]["arguments"] += function.get("arguments") or ""
            if delta_choice.get("logprobs"):
                logprobs = choice["logprobs"] or {"content": []}
                logprobs["content"] = (logprobs.get("content") or []) + (delta_choice["logprobs"].get("content") or [])
                choice["logprobs"] = logprobs
            if delta_choice.get("finish_reason"):
                choice["finish_reason"] = delta_choice["finish_reason"]
    body.update(object="chat.completion", choices=[choices[i] for i in sorted(choices)])
    return body


def _aggregate_messages(events: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        kind = data.get("type", name) if isinstance(data, Mapping) else name
        if kind == "error":
            return {"type": "error", "error": data.get("error")}
        if kind == "message_start":
            body = dict(data.get("message") or {})
            body["content"] = list(body.get("content") or [])
        elif kind == "content_block_start":
            body.setdefault("content", []).append(dict(data.get("content_block") or {}))
        elif kind == "content_block_delta":
            index, delta = int(data.get("index") or 0), data.get("delta") or {}
            block = body["content"][index]
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                partial[index] = partial.get(index, "") + delta.get("partial_json", "")
            elif delta.get("type") == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "content_block_stop":
            index = int(data.get("index") or 0)
            if index in partial:
                try:
                    body["content"][index]["input"] = json.loads(partial.pop(index) or "{}")
                except ValueError:
                    body["content"][index]["input"] = {}
        elif kind == "message_delta":
            body.update({k: v for k, v in (data.get("delta") or {}).items()})
            body["usage"] = {**(body.get("usage") or {}), **(data.get("usage") or {})}
    return body


# ---- replies built from completions ------------------------------------------------------------


def render(api: str, choices: Sequence[Completion], serial: str) -> dict[str, Any]:
    """A reply body in `api`'s format holding `choices` (only chat completions can hold more than one)."""
    first = choices[0]
    usage = first.usage
    if api == "chat":
        out = []
        for index, choice in enumerate(choices):
            message: dict[str, Any] = {"role": "assistant", "content": choice.text or (None if choice.tool_calls
                                                                                         else "")}
            if choice.tool_calls:
                message["tool_calls"] = [
                    {"id": c.id or f"call_{serial}_{index}_{i}", "type": "function",
                     "function": {"name": c.name, "arguments": c.arguments or "{}"}}
                    for i, c in enumerate(choice.tool_calls)]
            finish = "tool_calls" if choice.tool_calls else _openai_finish(choice.finish_reason)
            out.append({"index": index, "message": message, "logprobs": None, "finish_reason": finish})
        output_tokens = sum(c.usage.output_tokens for c in choices)
        return {"id": f"chatcmpl-{serial}", "object": "chat.completion", "created": int(time.time()),
                "model": first.model, "choices": out,
                "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": output_tokens,
                          "total_tokens": usage.input_tokens + output_tokens}}
    if api == "responses":
        items: list[dict[str, Any]] = []
        if first.text or not first.tool_calls:
            items.append({"type": "message", "id": f"msg_{serial}", "status": "completed", "role": "assistant",
                          "content": [{"type": "output_text", "text": first.text, "annotations": []}]})
        items += [{"type": "function_call", "id": f"fc_{serial}_{i}", "call_id": c.id or f"call_{serial}_{i}",
                   "name": c.name, "arguments": c.arguments or "{}", "status": "completed"}
                  for i, c in enumerate(first.tool_calls)]
        return {"id": f"resp_{serial}", "object": "response", "created_at": int(time.time()), "status": "completed",
                "model": first.model, "output": items, "parallel_tool_calls": True, "tool_choice": "auto",
                "tools": [], "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
                "temperature": None, "top_p": None,
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                          "total_tokens": usage.total, "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}
    blocks: list[dict[str, Any]] = [{"type": "text", "text": first.text}] if first.text else []
    for i, call in enumerate(first.tool_calls):
        arguments = call.parsed_arguments()
        blocks.append({"type": "tool_use", "id": call.id or f"toolu_{serial}_{i}", "name": call.name,
                       "input": arguments if isinstance(arguments, dict) else {"input": arguments}})
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    stop = "tool_use" if first.tool_calls else {"length": "max_tokens"}.get(first.finish_reason or "", "end_turn")
    return {"id": f"msg_{serial}", "type": "message", "role": "assistant", "model": first.model, "content": blocks,
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}}


def _openai_finish(reason: str | None) -> str:
    return {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}.get(reason or "stop", reason or "stop")


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def to_sse(api: str, body: Mapping[str, Any], request_body: Mapping[str, Any]) -> str:
    """The SSE stream of a JSON reply, event by event as the real API sends it."""
    if api == "chat":
        return _chat_sse(body, request_body)
    if api == "responses":
        return _responses_sse(body)
    return _messages_sse(body)


def _chat_sse(body: Mapping[str, Any], request_body: Mapping[str, Any]) -> str:
    base = {k: body.get(k) for k in ("id", "created", "model", "system_fingerprint") if body.get(k) is not None}
    base["object"] = "chat.completion.chunk"
    out: list[str] = []
    for choice in body.get("choices") or ():
        message, index = choice.get("message") or {}, choice.get("index", 0)
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        out.append(_sse({**base, "choices": [{"index": index, "delta": delta, "logprobs": choice.get("logprobs"),
                                              "finish_reason": None}]}))
        out.append(_sse({**base, "choices": [{"index": index, "delta": {}, "logprobs": None,
                                              "finish_reason": choice.get("finish_reason")}]}))
    if (request_body.get("stream_options") or {}).get("include_usage") and body.get("usage"):
        out.append(_sse({**base, "choices": [], "usage": body["usage"]}))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def _responses_sse(body: Mapping[str, Any]) -> str:
    events: list[dict[str, Any]] = []
    started = {**body, "status": "in_progress", "output": [], "usage": None}
    events += [{"type": "response.created", "response": started},
               {"type": "response.in_progress", "response": started}]
    for index, item in enumerate(body.get("output") or ()):
        if item.get("type") == "message":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "content": []}})
            for part_index, part in enumerate(item.get("content") or ()):
                where = {"item_id": item.get("id"), "output_index": index, "content_index": part_index}
                events.append({"type": "response.content_part.added", **where,
                               "part": {**part, "text": ""} if part.get("type") == "output_text" else part})
                if part.get("type") == "output_text":
                    events.append({"type": "response.output_text.delta", **where, "delta": part.get("text", ""),
                                   "logprobs": []})
                    events.append({"type": "response.output_text.done", **where, "text": part.get("text", ""),
                                   "logprobs": []})
                events.append({"type": "response.content_part.done", **where, "part": part})
        elif item.get("type") == "function_call":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "arguments": "", "status": "in_progress"}})
            where = {"item_id": item.get("id"), "output_index": index}
            events.append({"type": "response.function_call_arguments.delta", **where,
                           "delta": item.get("arguments", "")})
            events.append({"type": "response.function_call_arguments.done", **where,
                           "arguments": item.get("arguments", ""), "name": item.get("name")})
        else:
            events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    final = "response.completed" if body.get("status", "completed") == "completed" else "response.incomplete"
    events.append({"type": final, "response": dict(body)})
    return "".join(_sse({**event, "sequence_number": n}, event["type"]) for n, event in enumerate(events))


def _messages_sse(body: Mapping[str, Any]) -> str:
    usage = dict(body.get("usage") or {})
    start = {**body, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": min(1, int(usage.get("output_tokens") or 0))}}
    out = [_sse({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(body.get("content") or ()):
        kind = block.get("type")
        if kind == "text":
            opened: dict[str, Any] = {**block, "text": ""}
            delta: dict[str, Any] | None = {"type": "text_delta", "text": block.get("text", "")}
        elif kind == "tool_use":
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        else:
            opened, delta = dict(block), None
        out.append(_sse({"type": "content_block_start", "index": index, "content_block": opened},
                        "content_block_start"))
        if delta is not None:
            out.append(_sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"))
        out.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    out.append(_sse({"type": "message_delta", "delta": {"stop_reason": body.get("stop_reason"),
                                                         "stop_sequence": body.get("stop_sequence")},
                     "usage": {"output_tokens": usage.get("output_tokens", 0)}}, "message_delta"))
    out.append(_sse({"type": "message_stop"}, "message_stop"))
    return "".join(out)
