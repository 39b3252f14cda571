"""The Anthropic messages provider.

Imported only when a spec says `provider: anthropic`. System messages go in
`system=`; `max_tokens` is required by the API and defaults to 1024 here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx2
from anthropic.resources.messages import AsyncMessages

from agent_eval.modelspec import ModelSpec
from agent_eval.providers.base import (
    Completion,
    CompletionRequest,
    RetryDecision,
    RetryKind,
)
from agent_eval.providers.classify import ErrorContext, classify_other, classify_status
from agent_eval.providers.params import ToolsCache, request_options, sdk_body, sdk_named
from agent_eval.providers.ratelimits import RateInfo, parse_rate_headers
from agent_eval.providers.registry import NO_KEY_PLACEHOLDER, endpoint_label, key_env
from agent_eval.providers.replies import (
    InvalidReply,
    as_object,
    body_error,
    estimated_usage,
    is_json,
    json_reply,
    not_an_api,
)
from agent_eval.records import ContentPart, Message, ToolCall, Usage
from agent_eval.tooldefs import to_anthropic_tool

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicProvider", "create", "to_anthropic_messages"]

DEFAULT_MAX_TOKENS = 1024
_RESERVED = ("model", "messages", "system", "tools", "stream", "timeout")
# the body's key order in the SDK's `messages.create`; the wire test checks it against the SDK itself
_BODY_ORDER = (
    "max_tokens", "messages", "model", "cache_control", "container", "diagnostics", "inference_geo", "metadata",
    "output_config", "service_tier", "speed", "stop_sequences", "stream", "system", "thinking", "tool_choice", "tools",
)
_HEADER_PARAMS = (("user_profile_id", "anthropic-user-profile-id"), ("workspace_id", "anthropic-workspace-id"))
_HEADER_NAMES = frozenset(name for name, _ in _HEADER_PARAMS)
_RAW_HEADERS = {"X-Stainless-Raw-Response": "raw"}  # as `with_raw_response` sends it


class AnthropicProvider:
    """Messages through one pooled AsyncAnthropic client: the typed `create`'s bytes, sent with its raw `post`."""

    name = "anthropic"

    def __init__(self, spec: ModelSpec, *, api_key: str | None, base_url: str | None, max_connections: int) -> None:
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        http_client = anthropic.DefaultAsyncHttpxClient(limits=limits, timeout=spec.timeout_s)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or NO_KEY_PLACEHOLDER,
            base_url=base_url,
            max_retries=0,
            timeout=spec.timeout_s,
            http_client=http_client,
            open_telemetry=False,
        )
        self._named = sdk_named(AsyncMessages.create)
        self._tools = ToolsCache()
        self._context = ErrorContext(
            key_env=key_env(spec) or "ANTHROPIC_API_KEY",
            model=spec.name,
            endpoint=endpoint_label(spec),
            secret=api_key,
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        """One message; raises the SDK's exception on failure."""
        if request.wire is not None and request.wire.api == "messages":
            from agent_eval.providers.passthrough import forward

            return await forward(self._client, request.wire, request, "Anthropic",
                                 lambda headers, sent: parse_rate_headers(headers, now=sent))
        params = {k: v for k, v in request.params.items() if k not in _RESERVED}
        headers = {**_RAW_HEADERS, **{header: str(params[name]) for name, header in _HEADER_PARAMS if name in params}}
        content, options = self._body(request, params), request_options(headers, request.timeout_s, params)
        start, sent = time.perf_counter(), time.time()
        http = await self._client.post("/v1/messages", cast_to=httpx2.Response, content=content, options=options)
        latency_ms = (time.perf_counter() - start) * 1000.0
        if not is_json(http.headers):
            raise not_an_api("Anthropic", http.headers, http.content)
        body = json_reply(http.content)
        # resets are times of day: counted from the send, like OpenAI's durations
        return _completion(body, latency_ms, request, parse_rate_headers(http.headers, now=sent))

    def _body(self, request: CompletionRequest, params: dict[str, Any]) -> bytes:
        """The JSON the SDK's typed `messages.create` would send, built as plain data."""
        params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        system, messages = to_anthropic_messages(request.messages)
        fields: dict[str, Any] = {"model": request.model, "messages": messages}
        if system:
            fields["system"] = system
        if request.tools:
            fields["tools"] = self._tools.get(request.tools, to_anthropic_tool)
        return sdk_body(_BODY_ORDER, fields, params, self._named, not_body=_HEADER_NAMES)

    def classify(self, exc: BaseException) -> RetryDecision:
        """Map an exception to a retry decision by its type and HTTP status."""
        if isinstance(exc, anthropic.APIStatusError):
            return classify_status(exc.status_code, exc.response.headers, self._context, detail=exc.message)
        if isinstance(exc, anthropic.APITimeoutError):
            return RetryDecision(RetryKind.TRANSIENT, "request timed out")
        if isinstance(exc, anthropic.APIConnectionError):
            return RetryDecision(RetryKind.TRANSIENT, "connection error")
        return classify_other(exc, self._context)

    async def aclose(self) -> None:
        await self._client.close()


def create(spec: ModelSpec, *, max_connections: int, api_key: str | None, base_url: str | None) -> AnthropicProvider:
    """Registry factory."""
    return AnthropicProvider(spec, api_key=api_key, base_url=base_url, max_connections=max_connections)


def to_anthropic_messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt, and the other messages in the messages-API format.

    Tool results become `tool_result` blocks of a user turn; consecutive ones share it.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id or "", "content": message.content}
            if out and out[-1]["role"] == "user" and _is_tool_results(out[-1]["content"]):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": _as_object(call.parsed_arguments())}
                for call in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
        elif message.parts:
            text = [{"type": "text", "text": message.content}] if message.content else []
            out.append({"role": message.role, "content": text + [_anthropic_part(p) for p in message.parts]})
        else:
            out.append({"role": message.role, "content": message.content})
    return system, out


def _anthropic_part(part: ContentPart) -> dict[str, Any]:
    """An image or PDF part as a Messages-API block (audio is refused before any call: see `PART_TYPES`)."""
    source: dict[str, Any] = ({"type": "url", "url": part.url} if part.url is not None else
                              {"type": "base64", "media_type": part.media_type, "data": part.data or ""})
    return {"type": "image" if part.type == "image" else "document", "source": source}


def _is_tool_results(content: Any) -> bool:
    return isinstance(content, list) and all(block.get("type") == "tool_result" for block in content)


def _as_object(arguments: Any) -> dict[str, Any]:
    return arguments if isinstance(arguments, dict) else {"input": arguments}


def _completion(body: dict[str, Any], latency_ms: float, request: CompletionRequest,
                rate: RateInfo | None) -> Completion:
    error = body_error(body)
    if error is not None:
        raise InvalidReply(f"HTTP 200 with an error instead of a message: {error}")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise InvalidReply("HTTP 200 with empty content: the server returned no message")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in map(as_object, content):
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(ToolCall(id=str(block.get("id") or ""), name=str(block.get("name") or ""),
                                  arguments=json.dumps(block.get("input"))))
    text = "".join(texts)
    usage = as_object(body.get("usage"))
    input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    if isinstance(input_tokens, int) and isinstance(output_tokens, int):
        tokens = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    else:  # unknown is not zero: estimate, and say so
        output = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
        tokens = estimated_usage(sum(len(m.content) for m in request.messages), output)
    stop = body.get("stop_reason")
    return Completion(
        text=text,
        usage=tokens,
        latency_ms=latency_ms,
        model=str(body.get("model") or request.model),
        tool_calls=tuple(calls),
        finish_reason=stop if isinstance(stop, str) else None,
        rate=rate,
    )
