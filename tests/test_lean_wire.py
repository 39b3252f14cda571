"""The lean call path sends byte for byte what the SDKs' typed `create` sends (issue 25).

Each request goes once through the provider (plain JSON through the SDK's raw `post`) and once
through the SDK's own `with_raw_response.create` with the arguments the providers used to pass;
the loopback server's request log must hold the same path, headers (in order) and body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import pytest
from anthropic.resources.messages import AsyncMessages
from loopback import LoopbackServer, Reply
from openai.resources.chat.completions import AsyncCompletions

from agent_eval.modelspec import ModelSpec
from agent_eval.providers.anthropic import DEFAULT_MAX_TOKENS, to_anthropic_messages
from agent_eval.providers.base import CompletionRequest
from agent_eval.providers.openai import to_openai_messages
from agent_eval.providers.params import split_params
from agent_eval.providers.registry import create_provider
from agent_eval.records import Message, ToolCall
from agent_eval.tooldefs import to_anthropic_tool, to_openai_tool

KEY = "sk-wire-0123456789"
TOOL = {"name": "weather", "description": "Forecast é", "parameters": {"type": "object", "properties": {
    "city": {"type": "string"}}, "required": ["city"]}}
CONVERSATION = (
    Message(role="system", content="You are terse. ✓ é"),
    Message(role="user", content="Weather in Paris?"),
    Message(role="assistant", content="", tool_calls=(ToolCall(id="t1", name="weather", arguments='{"city": "P"}'),)),
    Message(role="tool", content="18C", tool_call_id="t1"),
    Message(role="tool", content="19C", tool_call_id="t2"),
    Message(role="user", content="And tomorrow?"),
)
PARAMS: dict[str, Any] = {  # named SDK arguments, extras only some servers know, a null, nested objects
    "temperature": 0.2, "max_tokens": 64, "seed": 7, "top_p": 0.9, "stop": ["x"], "top_k": 5,
    "response_format": {"type": "json_object"}, "tool_choice": "auto", "metadata": {"a": "b"},
    "repetition_penalty": None, "stop_sequences": ["END"], "n": 1, "extra_body": {"opaque": [1, 2]},
}
REQUESTS = (
    CompletionRequest(model="m-1", messages=CONVERSATION[:2], params={"max_tokens": 64}),
    CompletionRequest(model="m-1", messages=CONVERSATION, params=PARAMS, tools=(TOOL,), timeout_s=12.5),
    CompletionRequest(model="m-1", messages=CONVERSATION[1:2], params={}),
)


async def _typed_create(provider: str, base_url: str, request: CompletionRequest) -> None:
    """The call as the providers made it before the lean path: the SDK's typed `create`."""
    params = {k: v for k, v in request.params.items() if k not in ("model", "messages", "system", "tools")}
    client: Any
    if provider == "openai":
        client = openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0, timeout=30.0)
        kwargs = split_params(AsyncCompletions.create, params)
        if request.tools:
            kwargs["tools"] = [to_openai_tool(tool) for tool in request.tools]
        if request.timeout_s is not None:
            kwargs["timeout"] = request.timeout_s
        await client.chat.completions.with_raw_response.create(
            model=request.model, messages=to_openai_messages(request.messages), **kwargs)
    else:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=base_url, max_retries=0, timeout=30.0,
                                          open_telemetry=False)
        params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        kwargs = split_params(AsyncMessages.create, params)
        system, messages = to_anthropic_messages(request.messages)
        if system:
            kwargs["system"] = system
        if request.tools:
            kwargs["tools"] = [to_anthropic_tool(tool) for tool in request.tools]
        if request.timeout_s is not None:
            kwargs["timeout"] = request.timeout_s
        await client.messages.with_raw_response.create(model=request.model, messages=messages, **kwargs)
    await client.close()


async def _both(provider_name: str, server: LoopbackServer) -> None:
    base_url = server.openai_base_url if provider_name == "openai" else server.anthropic_base_url
    provider = create_provider(ModelSpec(provider=provider_name, name="m-1", base_url=base_url,
                                         api_key_env="WIRE_KEY", timeout_s=30.0), max_connections=2)
    try:
        for request in REQUESTS:
            await _typed_create(provider_name, base_url, request)
            completion = await provider.complete(request)
            assert completion.tool_calls[0].name == "weather" and completion.usage.input_tokens == 11
    finally:
        await provider.aclose()


@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
def test_the_lean_path_sends_the_bytes_of_the_sdks_typed_create(provider_name, monkeypatch):
    monkeypatch.setenv("WIRE_KEY", KEY)
    with LoopbackServer(responder=lambda body: Reply("ok", (("weather", {"city": "Paris"}),), input_tokens=11,
                                                     output_tokens=3)) as server:
        asyncio.run(_both(provider_name, server))
        sent = list(server.requests)
    assert len(sent) == 2 * len(REQUESTS)
    for typed, lean in zip(sent[0::2], sent[1::2], strict=True):
        assert lean.path == typed.path
        assert lean.body == typed.body  # byte for byte: key order, separators, UTF-8 as is
        assert [(k, v) for k, v in lean.headers.items() if k != "host"] == \
            [(k, v) for k, v in typed.headers.items() if k != "host"]
    bodies = [request.json for request in sent[1::2]]
    assert bodies[1]["top_k"] == 5 and bodies[1]["opaque"] == [1, 2] and "repetition_penalty" in bodies[1]
    assert "é" in sent[1].body.decode()  # not \u-escaped
