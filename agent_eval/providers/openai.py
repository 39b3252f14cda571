"""The OpenAI chat-completions provider (also any OpenAI-compatible server: vLLM, Ollama).

Imported only when a spec says `provider: openai`. The SDK never retries
(`max_retries=0`): the runner owns the retry loop.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
from openai.resources.chat.completions import AsyncCompletions

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
    text_arguments,
)
from agent_eval.records import ContentPart, Message, ToolCall, Usage
from agent_eval.tooldefs import to_openai_tool

__all__ = ["OpenAIProvider", "create", "to_openai_messages"]

_RESERVED = ("model", "messages", "tools", "stream", "timeout")  # set by us, never from params
# the body's key order in the SDK's `chat.completions.create`; the wire test checks it against the SDK itself
_BODY_ORDER = (
    "model", "stream", "service_tier", "messages", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "moderation", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed", "stop", "store",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options",
)
_RAW_HEADERS = {"X-Stainless-Raw-Response": "true"}  # as `with_raw_response` sends it


class OpenAIProvider:
    """Chat completions through one pooled AsyncOpenAI client: the typed `create`'s bytes, sent with its raw `post`."""

    name = "openai"

    def __init__(self, spec: ModelSpec, *, api_key: str | None, base_url: str | None, max_connections: int) -> None:
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        http_client = openai.DefaultAsyncHttpxClient(limits=limits, timeout=spec.timeout_s)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY_PLACEHOLDER,
            base_url=base_url,
            max_retries=0,
            timeout=spec.timeout_s,
            http_client=http_client,
        )
        self._named = sdk_named(AsyncCompletions.create)
        self._tools = ToolsCache()
        self._context = ErrorContext(
            key_env=key_env(spec) or "OPENAI_API_KEY",
            model=spec.name,
            endpoint=endpoint_label(spec),
            secret=api_key,
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        """One chat completion; raises the SDK's exception on failure."""
        if request.wire is not None and request.wire.api in ("chat", "responses"):
            from agent_eval.providers.passthrough import forward

            return await forward(self._client, request.wire, request, "OpenAI-compatible",
                                 lambda headers, _sent: parse_rate_headers(headers))
        content, options = self._body(request), request_options(_RAW_HEADERS, request.timeout_s, request.params)
        start = time.perf_counter()
        raw: Any = await self._client.post("/chat/completions", cast_to=httpx2.Response, content=content,
                                           options=options)
        latency_ms = (time.perf_counter() - start) * 1000.0
        http: httpx2.Response = raw.http_response  # the header makes it the SDK's thin raw wrapper: nothing parsed
        if not is_json(http.headers):
            raise not_an_api("OpenAI-compatible", http.headers, http.content)
        body = json_reply(http.content)
        return _completion(body, latency_ms, request, parse_rate_headers(http.headers))

    def _body(self, request: CompletionRequest) -> bytes:
        """The JSON the SDK's typed `create` would send, built as plain data (no per-call typed transform)."""
        params = {k: v for k, v in request.params.items() if k not in _RESERVED}
        fields: dict[str, Any] = {"model": request.model, "messages": to_openai_messages(request.messages)}
        if request.tools:
            fields["tools"] = self._tools.get(request.tools, to_openai_tool)
        return sdk_body(_BODY_ORDER, fields, params, self._named)

    async def embed(self, texts: list[str], model: str) -> list[list[float]]:
        """`embeddings.create`: one vector per text, in input order."""
        response = await self._client.embeddings.create(model=model, input=texts)
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]

    async def moderate(self, text: str, model: str) -> dict[str, float]:
        """`moderations.create`: the flagged categories and their scores."""
        response = await self._client.moderations.create(model=model, input=text)
        result = response.results[0]
        flags = result.categories.model_dump(by_alias=True)
        scores = result.category_scores.model_dump(by_alias=True)
        return {name: float(scores.get(name) or 1.0) for name, hit in flags.items() if hit}

    def classify(self, exc: BaseException) -> RetryDecision:
        """Map an exception to a retry decision by its type and HTTP status."""
        if isinstance(exc, openai.APIStatusError):
            return classify_status(exc.status_code, exc.response.headers, self._context, detail=exc.message)
        if isinstance(exc, openai.APITimeoutError):
            return RetryDecision(RetryKind.TRANSIENT, "request timed out")
        if isinstance(exc, openai.APIConnectionError):
            return RetryDecision(RetryKind.TRANSIENT, "connection error")
        return classify_other(exc, self._context)

    async def aclose(self) -> None:
        await self._client.close()


def create(spec: ModelSpec, *, max_connections: int, api_key: str | None, base_url: str | None) -> OpenAIProvider:
    """Registry factory."""
    return OpenAIProvider(spec, api_key=api_key, base_url=base_url, max_connections=max_connections)


def to_openai_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Our messages in the chat-completions format."""
    out: list[dict[str, Any]] = []
    for message in messages:
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and message.tool_calls:
            entry["content"] = message.content or None
            entry["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in message.tool_calls
            ]
        if message.role == "tool":
            entry["tool_call_id"] = message.tool_call_id or ""
        if message.parts:
            entry["content"] = [{"type": "text", "text": message.content}] * bool(message.content) + [
                _openai_part(part) for part in message.parts]
        out.append(entry)
    return out


def _openai_part(part: ContentPart) -> dict[str, Any]:
    """An image, PDF or audio part as chat-completions content (image_url, file, input_audio)."""
    if part.type == "image":
        return {"type": "image_url", "image_url": {"url": part.data_url()}}
    if part.type == "pdf":
        return {"type": "file", "file": {"filename": part.name or "document.pdf", "file_data": part.data_url()}}
    audio_format = "mp3" if part.media_type == "audio/mpeg" else "wav"
    return {"type": "input_audio", "input_audio": {"data": part.data or "", "format": audio_format}}


def _completion(body: dict[str, Any], latency_ms: float, request: CompletionRequest,
                rate: RateInfo | None) -> Completion:
    error = body_error(body)
    if error is not None:
        raise InvalidReply(f"HTTP 200 with an error instead of a completion: {error}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidReply("HTTP 200 with no choices: the server returned no completion")
    choice = as_object(choices[0])
    message = as_object(choice.get("message"))
    content = message.get("content")
    text = content if isinstance(content, str) else str(message.get("refusal") or "")
    calls: list[ToolCall] = []
    for call in message.get("tool_calls") or ():
        call = as_object(call)
        function = call.get("function")
        if isinstance(function, dict):
            calls.append(ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""),
                                  arguments=text_arguments(function.get("arguments"))))
        elif isinstance(custom := call.get("custom"), dict):
            calls.append(ToolCall(id=str(call.get("id") or ""), name=str(custom.get("name") or ""),
                                  arguments=text_arguments(custom.get("input"))))
    usage = as_object(body.get("usage"))
    prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
        tokens = Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
    else:  # unknown is not zero: estimate, and say so
        output = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
        tokens = estimated_usage(sum(len(m.content) for m in request.messages), output)
    finish = choice.get("finish_reason")
    return Completion(
        text=text,
        usage=tokens,
        latency_ms=latency_ms,
        model=str(body.get("model") or request.model),
        tool_calls=tuple(calls),
        finish_reason=finish if isinstance(finish, str) else None,
        rate=rate,
    )
