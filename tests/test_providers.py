"""Providers through the real OpenAI and Anthropic SDKs against the loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from loopback import Fault, LoopbackServer, Reply

from agent_eval.errors import ConfigError
from agent_eval.modelspec import MockAnswer, MockRule, MockSpec, ModelSpec, PriceSpec
from agent_eval.providers.aliases import is_unpinned
from agent_eval.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    RetryDecision,
    RetryKind,
)
from agent_eval.providers.classify import ErrorContext, parse_retry_after
from agent_eval.providers.mock import MockProviderError
from agent_eval.providers.pricing import cost_usd, price_for
from agent_eval.providers.registry import (
    check_credentials,
    create_provider,
    provider_names,
    resolve_api_key,
)
from agent_eval.records import Message, ToolCall, Usage

OPENAI_KEY = "sk-test-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-fedcba9876543210"
SDK_PROVIDERS = ("openai", "anthropic")

CONVERSATION = (
    Message(role="system", content="You are terse."),
    Message(role="user", content="Weather in Paris?"),
    Message(
        role="assistant", content="", tool_calls=(ToolCall(id="t1", name="weather", arguments='{"city": "Paris"}'),)
    ),
    Message(role="tool", content="18C and sunny", tool_call_id="t1"),
    Message(role="user", content="And tomorrow?"),
)
WEATHER_TOOL = {"name": "weather", "description": "Forecast", "parameters": {"type": "object", "properties": {}}}


def _spec(provider: str, server: LoopbackServer | None = None, **fields: Any) -> ModelSpec:
    base_url = None
    if server is not None:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    fields.setdefault("name", "gpt-test" if provider == "openai" else "claude-test")
    return ModelSpec(provider=provider, base_url=base_url, **fields)


def _request(model: str, *messages: Message, **fields: Any) -> CompletionRequest:
    return CompletionRequest(model=model, messages=messages or (Message(role="user", content="hi"),), **fields)


def _with_keys(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENAI_API_KEY", OPENAI_KEY)
    env.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


def _sent_key(headers: Any) -> str:
    """The key the SDK sent: Anthropic's SDK 2.x uses a bearer token, older ones x-api-key."""
    return headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")


async def _call(provider: Provider, request: CompletionRequest) -> Completion:
    try:
        return await provider.complete(request)
    finally:
        await provider.aclose()


async def _fail(provider: Provider, request: CompletionRequest) -> tuple[BaseException, RetryDecision]:
    try:
        await provider.complete(request)
    except Exception as exc:  # the SDK's own exception is what classify receives
        return exc, provider.classify(exc)
    finally:
        await provider.aclose()
    raise AssertionError("the call was expected to fail")


# ---- happy paths ------------------------------------------------------------------------------


def test_openai_complete_maps_messages_reply_usage_and_tool_calls(loopback_server, clean_provider_env):
    _with_keys(clean_provider_env)
    loopback_server.configure(
        latency_ms=20,
        responder=lambda body: Reply(
            "checking", (("weather", {"city": "Paris", "day": 2}),), input_tokens=31, output_tokens=9
        ),
    )
    provider = create_provider(_spec("openai", loopback_server, params={"temperature": 0.2}), max_connections=4)
    request = _request("gpt-test", *CONVERSATION, tools=(WEATHER_TOOL,), params={"temperature": 0.2}, seed=7)

    completion = asyncio.run(_call(provider, request))

    assert completion.text == "checking"
    assert completion.usage == Usage(input_tokens=31, output_tokens=9)
    assert completion.tool_calls == (ToolCall(id="call_1_0", name="weather", arguments='{"city": "Paris", "day": 2}'),)
    assert completion.finish_reason == "tool_calls"
    assert completion.model == "gpt-test"
    assert completion.latency_ms >= 20
    sent = loopback_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    body = sent.json
    assert "seed" not in body and body["temperature"] == 0.2 and body["model"] == "gpt-test"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert body["messages"][2]["tool_calls"][0] == {
        "id": "t1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
    }
    assert body["messages"][3]["tool_call_id"] == "t1"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {}},
                "description": "Forecast",
            },
        }
    ]


def test_anthropic_complete_puts_system_apart_and_defaults_max_tokens(loopback_server, clean_provider_env):
    _with_keys(clean_provider_env)
    loopback_server.configure(responder=lambda body: Reply("sunny", (("weather", {"city": "Lyon"}),)))
    provider = create_provider(_spec("anthropic", loopback_server), max_connections=4)

    completion = asyncio.run(_call(provider, _request("claude-test", *CONVERSATION, tools=(WEATHER_TOOL,))))

    assert completion.text == "sunny"
    assert completion.tool_calls == (ToolCall(id="toolu_1_0", name="weather", arguments='{"city": "Lyon"}'),)
    assert completion.finish_reason == "tool_use"
    assert completion.usage.input_tokens >= 1 and completion.usage.output_tokens >= 1
    sent = loopback_server.requests[0]
    assert sent.path == "/v1/messages"
    assert _sent_key(sent.headers) == ANTHROPIC_KEY
    body = sent.json
    assert body["system"] == "You are terse." and body["max_tokens"] == 1024
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}
    ]
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t1", "content": "18C and sunny"}]
    assert body["tools"] == [
        {"name": "weather", "input_schema": {"type": "object", "properties": {}}, "description": "Forecast"}
    ]


def test_echo_reply_and_params_max_tokens_are_sent(loopback_server, clean_provider_env):
    _with_keys(clean_provider_env)
    provider = create_provider(_spec("anthropic", loopback_server), max_connections=1)
    request = _request("claude-test", Message(role="user", content="ping"), params={"max_tokens": 50})
    completion = asyncio.run(_call(provider, request))
    assert completion.text == "echo: ping"
    assert loopback_server.requests[0].json["max_tokens"] == 50


# ---- classification ---------------------------------------------------------------------------

CASES = [
    (Fault.error(429, retry_after=2), RetryKind.RATE_LIMIT, 429, 2.0),
    (Fault.error(429, retry_after_ms=250), RetryKind.RATE_LIMIT, 429, 0.25),
    (Fault.error(429), RetryKind.RATE_LIMIT, 429, None),
    (Fault.error(500), RetryKind.TRANSIENT, 500, None),
    (Fault.error(503, retry_after=3), RetryKind.TRANSIENT, 503, 3.0),
    (Fault.error(529), RetryKind.TRANSIENT, 529, None),
    (Fault.error(400), RetryKind.NONE, 400, None),
    (Fault.error(422), RetryKind.NONE, 422, None),
    (Fault.error(401), RetryKind.FATAL, 401, None),
    (Fault.error(403), RetryKind.FATAL, 403, None),
    (Fault.error(404), RetryKind.FATAL, 404, None),
]


@pytest.mark.parametrize("provider_name", SDK_PROVIDERS)
@pytest.mark.parametrize(("fault", "kind", "status", "retry_after"), CASES)
def test_http_errors_are_classified_and_sent_once(
    loopback_server, clean_provider_env, provider_name, fault, kind, status, retry_after
):
    _with_keys(clean_provider_env)
    loopback_server.add_faults(fault)
    provider = create_provider(_spec(provider_name, loopback_server), max_connections=2)

    _, decision = asyncio.run(_fail(provider, _request("gpt-test" if provider_name == "openai" else "claude-test")))

    assert (decision.kind, decision.status, decision.retry_after_s) == (kind, status, retry_after)
    assert loopback_server.total == 1  # max_retries=0: the SDK never retried on its own


@pytest.mark.parametrize(("provider_name", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_fatal_messages_name_the_key_variable_or_the_model(loopback_server, clean_provider_env, provider_name, var):
    _with_keys(clean_provider_env)
    key = OPENAI_KEY if provider_name == "openai" else ANTHROPIC_KEY
    spec = _spec(provider_name, loopback_server, name="no-such-model")
    loopback_server.add_faults(
        Fault.error(401, message=f"Incorrect API key provided: {key}"),
        404,
        Fault.error(400, message=f"bad request from {key}"),
    )
    _, unauthorized = asyncio.run(_fail(create_provider(spec, max_connections=1), _request("no-such-model")))
    _, missing = asyncio.run(_fail(create_provider(spec, max_connections=1), _request("no-such-model")))
    _, rejected = asyncio.run(_fail(create_provider(spec, max_connections=1), _request("no-such-model")))

    assert unauthorized.message == f"authentication failed: check {var}"
    assert missing.message == f"model 'no-such-model' not found at {spec.base_url}"
    assert rejected.kind is RetryKind.NONE and "bad request from ***" in rejected.message
    assert all(key not in d.message for d in (unauthorized, missing, rejected))


@pytest.mark.parametrize("provider_name", SDK_PROVIDERS)
def test_hang_times_out_and_is_transient(loopback_server, clean_provider_env, provider_name):
    _with_keys(clean_provider_env)
    loopback_server.add_faults("hang")
    # the spec's timeout is an hour: had it won over the request's 0.3 s, the test would hang (pytest-timeout)
    provider = create_provider(_spec(provider_name, loopback_server, timeout_s=3600.0), max_connections=1)

    exc, decision = asyncio.run(_fail(provider, _request("m", timeout_s=0.3)))

    assert "Timeout" in type(exc).__name__
    assert decision.kind is RetryKind.TRANSIENT
    assert loopback_server.total == 1


@pytest.mark.parametrize("provider_name", SDK_PROVIDERS)
def test_dropped_connection_is_transient(loopback_server, clean_provider_env, provider_name):
    _with_keys(clean_provider_env)
    loopback_server.add_faults("drop")
    provider = create_provider(_spec(provider_name, loopback_server), max_connections=1)

    exc, decision = asyncio.run(_fail(provider, _request("m")))

    assert type(exc).__name__ == "APIConnectionError"
    assert decision.kind is RetryKind.TRANSIENT
    assert loopback_server.total == 1


def test_asyncio_timeout_and_unknown_errors():
    provider = create_provider(ModelSpec(provider="mock", name="mock-a"), max_connections=1)
    assert provider.classify(TimeoutError()).kind is RetryKind.TRANSIENT
    assert provider.classify(ValueError("odd")).kind is RetryKind.NONE


def test_retry_after_http_date():
    now = 1_700_000_000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30.0)
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_connection_pool_is_sized_to_max_connections(loopback_server, clean_provider_env):
    _with_keys(clean_provider_env)
    loopback_server.configure(latency_ms=60)
    provider = create_provider(_spec("openai", loopback_server), max_connections=2)

    async def burst() -> None:
        try:
            await asyncio.gather(*(provider.complete(_request("gpt-test")) for _ in range(6)))
        finally:
            await provider.aclose()

    asyncio.run(burst())
    assert loopback_server.peak_in_flight == 2  # 6 calls at once, through 2 connections
    assert len({r.peer for r in loopback_server.requests}) <= 2


# ---- credentials and the registry -------------------------------------------------------------


@pytest.mark.parametrize(("provider_name", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_at_the_default_endpoint_names_the_variable(clean_provider_env, provider_name, var):
    with pytest.raises(ConfigError, match=var):
        create_provider(_spec(provider_name), max_connections=1)
    with pytest.raises(ConfigError, match="MY_TEAM_KEY"):
        check_credentials(_spec(provider_name, api_key_env="MY_TEAM_KEY"))
    clean_provider_env.setenv(var, "")
    assert resolve_api_key(_spec(provider_name)) is None


def test_custom_endpoint_needs_no_key(loopback_server, clean_provider_env):
    provider = create_provider(_spec("openai", loopback_server), max_connections=1)
    completion = asyncio.run(_call(provider, _request("llama3:8b")))
    assert completion.text == "echo: hi"
    assert loopback_server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_base_url_from_the_environment_counts_as_custom(loopback_server, clean_provider_env):
    clean_provider_env.setenv("ANTHROPIC_BASE_URL", loopback_server.anthropic_base_url)
    check_credentials(_spec("anthropic"))
    provider = create_provider(_spec("anthropic"), max_connections=1)
    assert asyncio.run(_call(provider, _request("claude-test"))).text == "echo: hi"
    assert loopback_server.total == 1


def test_api_key_env_overrides_the_default_variable(loopback_server, clean_provider_env):
    clean_provider_env.setenv("TEAM_KEY", "team-secret-1234")
    spec = _spec("openai", loopback_server, api_key_env="TEAM_KEY")
    assert resolve_api_key(spec) == "team-secret-1234"
    asyncio.run(_call(create_provider(spec, max_connections=1), _request("gpt-test")))
    assert loopback_server.requests[0].headers["authorization"] == "Bearer team-secret-1234"


def test_registry_names_and_unknown_provider():
    assert set(provider_names()) == {"openai", "anthropic", "mock"}
    check_credentials(ModelSpec(provider="mock", name="mock-a", api_key_env="UNSET_VARIABLE"))  # mocks need no key
    with pytest.raises(ConfigError, match="unknown provider 'gemini'"):
        create_provider(ModelSpec(provider="gemini", name="x"), max_connections=1)


def test_missing_sdk_asks_for_pip_install(clean_provider_env):
    _with_keys(clean_provider_env)
    for name in [m for m in sys.modules if m == "agent_eval.providers.openai"]:
        clean_provider_env.delitem(sys.modules, name)
    clean_provider_env.setitem(sys.modules, "openai", None)  # as if the package were not installed
    with pytest.raises(ConfigError, match="pip install openai"):
        create_provider(_spec("openai"), max_connections=1)


# ---- the mock provider ------------------------------------------------------------------------

WEIGHTED = MockSpec(
    rules=(
        MockRule(
            match=r"capital of (?P<country>\w+)",
            answers=(
                MockAnswer(text="The capital of {{ country }} is Paris.", weight=9),
                MockAnswer(text="I am not sure about {{ country }}.", weight=1),
            ),
        ),
        MockRule(match=r".", answers=(MockAnswer(text="You said: {{ input | upper }}"),)),
    ),
    default="nothing to say",
)


def _mock(mock: MockSpec | None = WEIGHTED, name: str = "mock-a") -> Provider:
    return create_provider(ModelSpec(provider="mock", name=name, mock=mock), max_connections=1)


def _ask(provider: Provider, text: str, model: str = "mock-a", **fields: Any) -> Completion:
    return asyncio.run(provider.complete(_request(model, Message(role="user", content=text), **fields)))


def _texts(provider: Provider, text: str, variations: list[dict[str, Any]]) -> list[str]:
    """Answers to the same question under each set of request fields, on one event loop."""

    async def ask_all() -> list[str]:
        message = Message(role="user", content=text)
        return [(await provider.complete(_request("mock-a", message, **fields))).text for fields in variations]

    return asyncio.run(ask_all())


def test_mock_is_deterministic_across_instances_and_varies_by_repetition():
    reps = [{"seed": 3, "case_id": "c1", "repetition": r} for r in range(200)]
    first = _texts(_mock(), "capital of France", reps)
    second = _texts(_mock(), "capital of France", list(reversed(reps)))[::-1]  # order does not matter
    assert first == second
    assert set(first) == {"The capital of France is Paris.", "I am not sure about France."}


_CROSS_PROCESS = """
import asyncio
from agent_eval.providers.mock import MockProvider
from agent_eval.providers.base import CompletionRequest
from agent_eval.records import Message
from agent_eval.modelspec import MockSpec, MockAnswer, MockRule, ModelSpec
rule = MockRule(match=".", answers=tuple(MockAnswer(text=str(i)) for i in range(10)))
provider = MockProvider(ModelSpec(provider="mock", name="mock-a", mock=MockSpec(rules=(rule,))))
message = (Message(role="user", content="q"),)
print([asyncio.run(provider.complete(CompletionRequest(model="mock-a", messages=message, seed=5, case_id="c9",
       repetition=r))).text for r in range(12)])
"""


def test_mock_is_deterministic_across_processes():
    root = Path(__file__).resolve().parents[1]
    runs = [
        subprocess.run(
            [sys.executable, "-c", _CROSS_PROCESS],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert len(set(json.loads(runs[0].replace("'", '"')))) > 3


def test_mock_weights_are_respected():
    provider = _mock()
    answers = Counter(_texts(provider, "capital of France", [{"case_id": f"c{i}"} for i in range(2000)]))
    share = answers["The capital of France is Paris."] / 2000
    assert 0.87 <= share <= 0.93


def test_mock_first_matching_rule_default_and_usage():
    provider = _mock()
    assert _ask(provider, "hello").text == "You said: HELLO"
    assert _ask(provider, "").text == "nothing to say"
    assert _ask(_mock(None), "anything").text == "I don't know."
    completion = _ask(provider, "x" * 40)
    assert completion.usage == Usage(input_tokens=10, output_tokens=len("You said: " + "X" * 40) // 4)
    assert completion.model == "mock-a" and completion.finish_reason == "stop"


def test_mock_error_rate_is_transient_and_retries_can_succeed():
    provider = _mock(MockSpec(default="ok", error_rate=1.0))
    with pytest.raises(MockProviderError) as caught:
        _ask(provider, "hi")
    decision = provider.classify(caught.value)
    assert (decision.kind, decision.status) == (RetryKind.TRANSIENT, 500)

    def outcomes(p: Provider) -> list[str]:
        out = []
        for _ in range(8):
            try:
                out.append(_ask(p, "hi", case_id="c1").text)
            except MockProviderError:
                out.append("error")
        return out

    flaky = MockSpec(default="ok", error_rate=0.5)
    first, second = outcomes(_mock(flaky)), outcomes(_mock(flaky))
    assert first == second and set(first) == {"ok", "error"}


def test_mock_latency_is_slept_and_reported():
    provider = _mock(MockSpec(default="ok", latency_ms=30))
    started = time.perf_counter()
    completion = _ask(provider, "hi")
    assert time.perf_counter() - started >= 0.03
    assert completion.latency_ms == 30


def test_mock_template_errors():
    with pytest.raises(ConfigError, match="template"):
        _mock(MockSpec(default="{{ unclosed"))
    provider = _mock(MockSpec(default="{{ missing }}"))
    with pytest.raises(Exception) as caught:
        _ask(provider, "hi")
    assert provider.classify(caught.value).kind is RetryKind.NONE


# ---- pricing and aliases ----------------------------------------------------------------------


def test_pricing_by_exact_id_then_longest_prefix():
    million = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost_usd("gpt-4o-2024-11-20", million) == pytest.approx(12.50)
    assert cost_usd("gpt-4o-mini-2024-07-18", million) == pytest.approx(0.75)
    assert cost_usd("gpt-4o-2024-05-13", million) == pytest.approx(20.0)
    assert cost_usd("claude-sonnet-4-5-20250929", million) == pytest.approx(18.0)
    assert cost_usd("claude-3-5-haiku-20241022", Usage(input_tokens=1000, output_tokens=500)) == pytest.approx(0.0028)
    assert price_for("gpt-4.1-nano-2025-04-14") == PriceSpec(input=0.10, output=0.40)
    assert cost_usd("llama3:8b", million) is None
    assert cost_usd("gpt-4oops", million) is None  # a prefix must end at a separator
    assert cost_usd("mock-a", million) == 0.0
    assert cost_usd("anything", million, provider="mock") == 0.0
    overrides = {"llama3": PriceSpec(input=1.0, output=2.0), "gpt-4o": PriceSpec(input=0.0, output=1.0)}
    assert cost_usd("llama3-70b", million, overrides) == pytest.approx(3.0)
    assert cost_usd("gpt-4o-2024-11-20", million, overrides) == pytest.approx(1.0)
    assert cost_usd("mock-a", million, {"mock-a": PriceSpec(input=1.0, output=1.0)}) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("provider", "name", "unpinned"),
    [
        ("openai", "gpt-4o", True),
        ("openai", "gpt-4o-2024-11-20", False),
        ("openai", "gpt-4.1-mini", True),
        ("openai", "gpt-4-0613", False),
        ("openai", "gpt-3.5-turbo-0125", False),
        ("openai", "o3-mini", True),
        ("openai", "chatgpt-4o-latest", True),
        ("anthropic", "claude-sonnet-4-5-20250929", False),
        ("anthropic", "claude-3-5-sonnet-latest", True),
        ("anthropic", "claude-opus-4-1", True),
        ("anthropic", "claude-3-5-sonnet@20240620", False),
        ("openai", "llama3:8b", False),
        ("openai", "llama3", True),
        ("openai", "llama3:latest", True),
        ("openai", "meta-llama/Llama-3.1-8B-Instruct", True),
        ("mock", "mock-latest", False),
    ],
)
def test_is_unpinned(provider, name, unpinned):
    assert is_unpinned(provider, name) is unpinned


def test_the_key_is_only_in_the_auth_header(loopback_server, clean_provider_env):
    _with_keys(clean_provider_env)
    provider = create_provider(_spec("openai", loopback_server), max_connections=1)
    asyncio.run(_call(provider, _request("gpt-test")))
    sent = loopback_server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert OPENAI_KEY not in sent.body.decode()
    assert OPENAI_KEY not in repr(ErrorContext(key_env="OPENAI_API_KEY", model="m", endpoint="e", secret=OPENAI_KEY))
