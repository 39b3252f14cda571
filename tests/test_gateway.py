"""The gateway behind `ctx.openai`, `ctx.anthropic` and `ctx.base_url`, driven by the official SDKs from
Python agents in suites: what reached the loopback server (its request log), what came back to the
agent, the cache key, the model rule, and trajectories taken from the wire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import run_cli, runs_lines, spawn_cli, write
from loopback import LoopbackServer, Reply, Rule, rule_responder

TOOL_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"],
               "additionalProperties": False}
CHAT_TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order.",
                                                "strict": True, "parameters": TOOL_SCHEMA}}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
# every field of a chat-completions request that the old gateway dropped or changed
CHAT_FIELDS = {
    "n": 2, "seed": 7, "stop": ["END"], "logprobs": True, "top_logprobs": 2, "metadata": {"team": "qa"},
    "parallel_tool_calls": False, "response_format": {"type": "json_object"}, "temperature": 0.25,
    "tool_choice": {"type": "function", "function": {"name": "lookup_order"}}, "tools": CHAT_TOOLS,
}

AGENTS = f'''
import asyncio, json
import openai

CHAT_FIELDS = json.loads({json.dumps(json.dumps(CHAT_FIELDS))})
CHAT_TOOLS = CHAT_FIELDS["tools"]
RESPONSES_TOOLS = [{{"type": "function", "name": "lookup_order", "description": "Look up an order.",
                    "strict": True, "parameters": CHAT_TOOLS[0]["function"]["parameters"]}}]
IMAGE = {{"type": "image_url", "image_url": {{"url": "data:image/png;base64,{PNG}"}}}}
ORDERS = {{"1": {{"status": "shipped"}}}}

async def chat_fields(inp, ctx):
    reply = await ctx.openai.chat.completions.create(
        model=ctx.model, messages=[{{"role": "user", "content": [{{"type": "text", "text": inp.input}}, IMAGE]}}],
        **CHAT_FIELDS)
    return json.dumps({{"choices": len(reply.choices), "finish": [c.finish_reason for c in reply.choices],
                       "tools": [c.message.tool_calls[0].function.name for c in reply.choices],
                       "tokens": reply.usage.total_tokens}})

async def chat_plain(inp, ctx):
    reply = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages, tools=CHAT_TOOLS)
    return reply.choices[0].message.content or reply.choices[0].message.tool_calls[0].function.name

async def chat_forced(inp, ctx):
    reply = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages, tools=CHAT_TOOLS,
                                                     tool_choice="required")
    return reply.choices[0].message.content or reply.choices[0].message.tool_calls[0].function.name

async def chat_stream(inp, ctx):
    stream = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages, stream=True,
                                                      stream_options={{"include_usage": True}})
    text, tokens = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            tokens = chunk.usage.total_tokens
    return f"{{text}} ({{tokens}} tokens)"

async def responses(inp, ctx):
    first = await ctx.openai.responses.create(model=ctx.model, input=inp.input, tools=RESPONSES_TOOLS,
                                              tool_choice={{"type": "function", "name": "lookup_order"}},
                                              metadata={{"team": "qa"}})
    call = next(item for item in first.output if item.type == "function_call")
    result = ORDERS[json.loads(call.arguments).get("order_id", "1")]
    items = [{{"role": "user", "content": inp.input}},
             {{"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}},
             {{"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(result)}}]
    stream = await ctx.openai.responses.create(model=ctx.model, input=items, tools=RESPONSES_TOOLS, stream=True)
    async for event in stream:
        if event.type == "response.completed":
            return event.response.output_text
    return "no response.completed"

async def messages(inp, ctx):
    tools = [{{"name": "lookup_order", "description": "Look up an order.",
              "input_schema": CHAT_TOOLS[0]["function"]["parameters"]}}]
    history = [{{"role": "user", "content": [
        {{"type": "text", "text": inp.input}},
        {{"type": "image", "source": {{"type": "base64", "media_type": "image/png", "data": "{PNG}"}}}}]}}]
    first = await ctx.anthropic.messages.create(model=ctx.model, max_tokens=100, tools=tools, messages=history,
                                                tool_choice={{"type": "tool", "name": "lookup_order"}},
                                                metadata={{"user_id": "u1"}})
    use = next(block for block in first.content if block.type == "tool_use")
    history += [{{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}},
                {{"role": "user", "content": [{{"type": "tool_result", "tool_use_id": use.id,
                                              "content": json.dumps(ORDERS[use.input.get("order_id", "1")])}}]}}]
    async with ctx.anthropic.messages.stream(model=ctx.model, max_tokens=100, tools=tools,
                                             messages=history) as stream:
        final = await stream.get_final_message()
    return final.content[0].text

def _loop(client, ctx, inp):
    history = list(inp.messages)
    for _ in range(5):
        reply = client.chat.completions.create(model=ctx.model, messages=history, tools=CHAT_TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        history.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            result = ORDERS[json.loads(call.function.arguments)["order_id"]]
            history.append({{"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}})
    return "gave up"

def framework(inp, ctx):
    """A framework-style agent: its own client on ctx.base_url, its own tool loop, only the final text."""
    return _loop(openai.OpenAI(base_url=ctx.base_url, api_key=ctx.api_key, max_retries=0), ctx, inp)

async def framework_async(inp, ctx):
    """The same with a keep-alive async client it never closes."""
    client = openai.AsyncOpenAI(base_url=ctx.base_url, api_key=ctx.api_key, max_retries=0)
    history = list(inp.messages)
    for _ in range(5):
        reply = await client.chat.completions.create(model=ctx.model, messages=history, tools=CHAT_TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        history.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            history.append({{"role": "tool", "tool_call_id": call.id,
                            "content": json.dumps(ORDERS[json.loads(call.function.arguments)["order_id"]])}})
    return "gave up"

async def other_model(inp, ctx):
    reply = await ctx.openai.chat.completions.create(model="loopback-big", messages=inp.messages)
    return reply.choices[0].message.content

async def default_model(inp, ctx):
    reply = await ctx.openai.chat.completions.create(model="default", messages=inp.messages)
    return reply.choices[0].message.content

async def chat_stream_tools(inp, ctx):
    history = list(inp.messages)
    for _ in range(4):
        stream = await ctx.openai.chat.completions.create(model=ctx.model, messages=history, tools=CHAT_TOOLS,
                                                          stream=True)
        text, calls = "", {{}}
        async for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for delta in choice.delta.tool_calls or ():
                    call = calls.setdefault(delta.index, {{"id": "", "name": "", "arguments": ""}})
                    call["id"] = delta.id or call["id"]
                    if delta.function:
                        call["name"] += delta.function.name or ""
                        call["arguments"] += delta.function.arguments or ""
        if not calls:
            return text
        history.append({{"role": "assistant", "content": None, "tool_calls": [
            {{"id": c["id"], "type": "function", "function": {{"name": c["name"], "arguments": c["arguments"]}}}}
            for c in calls.values()]}})
        for c in calls.values():
            result = ORDERS[json.loads(c["arguments"]).get("order_id", "1")]
            history.append({{"role": "tool", "tool_call_id": c["id"], "content": json.dumps(result)}})
    return "gave up"

async def messages_stream_tools(inp, ctx):
    tools = [{{"name": "lookup_order", "description": "Look up an order.",
              "input_schema": CHAT_TOOLS[0]["function"]["parameters"]}}]
    history = [{{"role": "user", "content": inp.input}}]
    for _ in range(4):
        async with ctx.anthropic.messages.stream(model=ctx.model, max_tokens=100, tools=tools,
                                                 messages=history) as stream:
            final = await stream.get_final_message()
        uses = [block for block in final.content if block.type == "tool_use"]
        if not uses:
            return "".join(block.text for block in final.content if block.type == "text")
        history += [{{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]}},
                    {{"role": "user", "content": [
                        {{"type": "tool_result", "tool_use_id": u.id,
                         "content": json.dumps(ORDERS[u.input.get("order_id", "1")])}} for u in uses]}}]
    return "gave up"

async def misreported(inp, ctx):
    from agent_eval.targets import AgentResult, AgentToolCall
    text = await framework_async(inp, ctx)
    return AgentResult(output=text, tool_calls=[AgentToolCall(name="refund_order", args={{"order_id": "1"}})])

def no_calls(inp, ctx):
    return "an answer from a model agent-eval never saw"

async def exported(inp, ctx):
    ok = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages, temperature=0)
    try:
        await ctx.openai.chat.completions.create(model=ctx.model, messages=[{{"role": "user", "content": "flag me"}}])
    except openai.BadRequestError:
        pass
    return ok.choices[0].message.content

async def concurrent(inp, ctx):
    async def branch(name):
        first = await ctx.openai.chat.completions.create(
            model=ctx.model, messages=[{{"role": "user", "content": f"{{name}} one"}}])
        second = await ctx.openai.chat.completions.create(
            model=ctx.model, messages=[{{"role": "user", "content": f"{{name}} two"}}])
        return first.choices[0].message.content + " / " + second.choices[0].message.content
    return " | ".join(await asyncio.gather(branch("a"), branch("b"), branch("c")))
'''

TOOL_RULES = rule_responder([
    Rule("tool", "shipped", Reply("Your order 1 has shipped.")),
    Rule("user", r"order", Reply(tool_calls=(("lookup_order", {"order_id": "1"}),))),
], default=Reply("I can only help with orders."))


def _setup(tmp: Path, function: str, *, provider: str = "openai", base_url: str = "", checks: str = "",
           name: str = "config", model: str = "loopback-model", mock: str = "") -> Path:
    write(tmp / "gw_agents.py", AGENTS)
    endpoint = f', base_url: "{base_url}", api_key_env: LOOPBACK_KEY' if base_url else ""
    write(tmp / f"{name}.yaml", f"""
schema_version: 1
name: {name}
version: 1.0.0
agent: {{python: "gw_agents:{function}"}}
model: {{provider: {provider}, name: {model}{endpoint}{mock}}}
pricing: {{loopback-model: {{input: 1.0, output: 2.0}}, loopback-big: {{input: 100.0, output: 200.0}}}}
""")
    return write(tmp / f"{name}-suite.yaml", f"""schema_version: 1
suite: gateway
config: {name}.yaml
cases:
  - id: order
    input: "Where is my order 1?"
{checks}""")


def _run(capsys: Any, suite: Path, out: Path, *args: str | Path) -> tuple[Any, dict[str, Any]]:
    r = run_cli(capsys, "run", suite, "--out", out, *args)
    return r, {line["case_id"]: line for line in runs_lines(out)}


def _bodies(server: LoopbackServer, suffix: str) -> list[dict[str, Any]]:
    return [req.json for req in server.requests if req.path.endswith(suffix)]


def test_every_chat_field_reaches_the_server_and_every_choice_comes_back(tmp_path: Path, capsys,
                                                                         clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        suite = _setup(tmp_path, "chat_fields", base_url=server.openai_base_url)
        r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
        (sent,) = _bodies(server, "/chat/completions")
    assert r.code == 0, r.text
    assert {k: sent[k] for k in CHAT_FIELDS} == CHAT_FIELDS  # tool_choice, strict, n, ... unchanged
    image = sent["messages"][0]["content"][1]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    answer = json.loads(runs["order"]["output"])
    assert answer["choices"] == 2 and answer["finish"] == ["tool_calls", "tool_calls"]
    assert answer["tools"] == ["lookup_order", "lookup_order"] and answer["tokens"] > 0
    assert runs["order"]["steps"] == 1 and runs["order"]["tokens"]["input_tokens"] > 0


def test_chat_streams_pass_through_and_are_one_call(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer() as server:
        suite = _setup(tmp_path, "chat_stream", base_url=server.openai_base_url)
        r, runs = _run(capsys, suite, tmp_path / "out", "--cache-dir", tmp_path / "cache")
        again, rerun = _run(capsys, suite, tmp_path / "again", "--cache-dir", tmp_path / "cache")
        (sent,) = _bodies(server, "/chat/completions")
    assert r.code == 0 and again.code == 0, r.text + again.text
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    run = runs["order"]
    assert run["output"].startswith("echo: Where is my order 1? (") and "None" not in run["output"]
    assert run["steps"] == 1 and run["tokens"]["output_tokens"] > 0 and run["cost_usd"] > 0
    assert rerun["order"]["output"] == run["output"] and rerun["order"]["cached"] is True  # a stream is cached too


def test_responses_api_with_tool_choice_and_streaming(tmp_path: Path, capsys, clean_provider_env) -> None:
    checks = "    checks: [{tool_called: {name: lookup_order, args: {order_id: '1'}}}, {tool_sequence: [lookup_order]},\n" \
             "             {contains: shipped}]\n"
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        suite = _setup(tmp_path, "responses", base_url=server.openai_base_url, checks=checks)
        r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
        first, second = _bodies(server, "/responses")
    assert r.code == 0, r.text
    assert first["tool_choice"] == {"type": "function", "name": "lookup_order"}
    assert first["tools"][0]["strict"] is True and first["metadata"] == {"team": "qa"}
    assert second["stream"] is True and second["input"][2]["type"] == "function_call_output"
    run = runs["order"]
    assert run["status"] == "passed" and run["output"] == "Your order 1 has shipped."
    (call,) = run["tool_calls"]  # the agent reported none: the trajectory comes from the wire
    assert call["name"] == "lookup_order" and json.loads(call["arguments"]) == {"order_id": "1"}
    assert json.loads(call["result"]) == {"status": "shipped"}


def test_anthropic_messages_with_images_tool_choice_and_a_stream(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        suite = _setup(tmp_path, "messages", provider="anthropic", base_url=server.anthropic_base_url,
                       checks="    checks: [{tool_called: lookup_order}]\n")
        r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
        first, second = _bodies(server, "/messages")
    assert r.code == 0, r.text
    assert first["tool_choice"] == {"type": "tool", "name": "lookup_order"} and first["metadata"] == {"user_id": "u1"}
    assert first["messages"][0]["content"][1]["source"]["data"] == PNG
    assert second["stream"] is True and second["messages"][2]["content"][0]["type"] == "tool_result"
    run = runs["order"]
    assert run["status"] == "passed" and run["output"] == "Your order 1 has shipped." and run["steps"] == 2
    assert [c["name"] for c in run["tool_calls"]] == ["lookup_order"]


def test_the_cache_key_covers_the_whole_request(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    cache = ("--cache-dir", tmp_path / "cache")
    with LoopbackServer(responder=TOOL_RULES) as server:
        plain = _setup(tmp_path, "chat_plain", base_url=server.openai_base_url, name="plain")
        forced = _setup(tmp_path, "chat_forced", base_url=server.openai_base_url, name="forced")
        _run(capsys, plain, tmp_path / "plain", *cache)
        r, _ = _run(capsys, forced, tmp_path / "forced", *cache)
        again, rerun = _run(capsys, forced, tmp_path / "again", *cache)
        first, second = _bodies(server, "/chat/completions")
    assert r.code == 0 and again.code == 0, r.text
    assert "tool_choice" not in first and second["tool_choice"] == "required"  # not answered from the cache
    assert rerun["order"]["cached"] is True  # and the same request again is


def test_framework_agents_get_their_trajectory_from_the_wire(tmp_path: Path, capsys, clean_provider_env) -> None:
    checks = ("    checks: [{tool_called: {name: lookup_order, args: {order_id: '1'}}}, {tool_sequence: [lookup_order]},\n"
              "             {max_tool_calls: 1}, {final_answer_after_tool: {tool: lookup_order, path: '$.status'}}]\n")
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        for function in ("framework", "framework_async"):
            suite = _setup(tmp_path, function, base_url=server.openai_base_url, checks=checks, name=function)
            r, runs = _run(capsys, suite, tmp_path / function, "--no-cache")
            assert r.code == 0, r.text
            assert "CancelledError" not in r.err and "Traceback" not in r.err  # a keep-alive client left open
            run = runs["order"]
            assert run["status"] == "passed" and run["score"] == 1.0, run["checks"]
            (call,) = run["tool_calls"]
            assert call["name"] == "lookup_order" and json.loads(call["result"]) == {"status": "shipped"}
            (agent,) = run["trace"]
            kinds = [(c["kind"], c["duration_ms"] is not None) for c in agent["children"]]
            assert kinds == [("model", True), ("tool", True), ("model", True)]  # stamped when it ran


def test_the_model_rule(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer() as server:
        other = _setup(tmp_path, "other_model", base_url=server.openai_base_url, name="other")
        default = _setup(tmp_path, "default_model", base_url=server.openai_base_url, name="default")
        r, runs = _run(capsys, other, tmp_path / "other", "--no-cache")
        r2, runs2 = _run(capsys, default, tmp_path / "default", "--no-cache")
        first, second = _bodies(server, "/chat/completions")
    assert r.code == 0 and r2.code == 0, r.text + r2.text
    assert first["model"] == "loopback-big" and second["model"] == "loopback-model"
    run = runs["order"]
    assert run["model"] == "loopback-big"
    tokens = run["tokens"]
    assert abs(run["cost_usd"] - (tokens["input_tokens"] * 100 + tokens["output_tokens"] * 200) / 1e6) < 1e-9
    assert any("called model 'loopback-big', not the config's 'loopback-model'" in w for w in run["warnings"])
    assert not runs2["order"].get("warnings") and runs2["order"]["model"] == "loopback-model"


def test_concurrent_calls_keep_their_cache_keys(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    cache = ("--cache-dir", tmp_path / "cache")
    with LoopbackServer(jitter_ms=30, seed=3) as server:
        suite = _setup(tmp_path, "concurrent", base_url=server.openai_base_url)
        r, runs = _run(capsys, suite, tmp_path / "out", *cache)
        server.configure(seed=11)  # other completion orders
        again, rerun = _run(capsys, suite, tmp_path / "again", *cache)
        assert server.total == 6  # the rerun was free
    assert r.code == 0 and again.code == 0
    assert rerun["order"]["output"] == runs["order"]["output"] and rerun["order"]["cached"] is True


MOCK = """, mock: {rules: [{match: "shipped", role: tool, answers: [{text: "Shipped."}]},
                       {match: "order", answers: [{text: "Let me check."}]}]}"""


def test_the_mock_answers_tool_choice_and_n_in_every_format(tmp_path: Path, capsys, clean_provider_env) -> None:
    for function in ("chat_fields", "responses", "messages"):
        suite = _setup(tmp_path, function, provider="mock", mock=MOCK, name=function)
        r, runs = _run(capsys, suite, tmp_path / function, "--no-cache")
        assert r.code == 0, r.text
        run = runs["order"]
        assert run["status"] == "passed", run
        if function == "chat_fields":
            answer = json.loads(run["output"])
            assert answer["choices"] == 2 and answer["tools"] == ["lookup_order", "lookup_order"]
        else:
            assert run["output"] == "Shipped." and [c["name"] for c in run["tool_calls"]] == ["lookup_order"]


def test_keep_alive_clients_left_open_end_without_tracebacks(tmp_path: Path, clean_provider_env) -> None:
    with LoopbackServer(responder=TOOL_RULES) as server:
        suite = _setup(tmp_path, "framework_async", base_url=server.openai_base_url)
        cases = "".join(f"  - {{id: c{i}, input: 'Where is my order 1?'}}\n" for i in range(8))
        suite.write_text(f"schema_version: 1\nsuite: gateway\nconfig: config.yaml\ncases:\n{cases}")
        process = spawn_cli("run", suite, "--out", tmp_path / "out", "--no-cache", cwd=tmp_path,
                            env={"LOOPBACK_KEY": "sk-x"})
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "CancelledError" not in err and "Traceback" not in err


def test_exported_spans_type_temperature_and_errors(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(reject_containing="flag me") as server:
        suite = _setup(tmp_path, "exported", base_url=server.openai_base_url)
        r, _ = _run(capsys, suite, tmp_path / "out", "--no-cache", "--trace-export", tmp_path / "traces.json")
    assert r.code == 0, r.text
    document = json.loads((tmp_path / "traces.json").read_text())
    spans = [span for resource in document["resourceSpans"] for scope in resource["scopeSpans"]
             for span in scope["spans"]]
    attributes = [{a["key"]: a["value"] for a in span["attributes"]} for span in spans]
    (temperature,) = [a["gen_ai.request.temperature"] for a in attributes if "gen_ai.request.temperature" in a]
    assert temperature == {"doubleValue": 0.0}
    (failed,) = [(span, a) for span, a in zip(spans, attributes, strict=True) if span["status"]["code"] == 2]
    assert failed[1]["error.type"] == {"stringValue": "400"}, failed


def test_an_agent_without_calls_or_reported_usage_has_unknown_tokens(tmp_path: Path, capsys, clean_provider_env) -> None:
    suite = _setup(tmp_path, "no_calls", provider="mock", checks="    checks: [{max_tokens: 100}]\n")
    r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
    run = runs["order"]
    assert r.code == 1 and run["status"] == "failed" and run["cost_usd"] is None
    assert run["tokens"]["estimated"] is True and "output tokens unknown" in run["checks"][0]["reason"]


MOCK_TOOLS = """, mock: {rules: [{match: "shipped", role: tool, answers: [{text: "Shipped."}]},
                             {match: "order (?P<order>\\\\d+)",
                              answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "{{ order }}"}}]}]}]}"""


@pytest.mark.parametrize(("function", "provider", "translated"), [
    ("chat_stream_tools", "openai", False), ("messages_stream_tools", "anthropic", False),
    ("messages_stream_tools", "openai", True), ("chat_stream_tools", "mock", False),
    ("messages_stream_tools", "mock", False), ("responses", "anthropic", True)])
def test_streamed_tool_loops_in_every_format_and_provider(tmp_path: Path, capsys, clean_provider_env, function: str,
                                                          provider: str, translated: bool) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        url = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url}.get(provider, "")
        suite = _setup(tmp_path, function, provider=provider, base_url=url, name="s",
                       mock=MOCK_TOOLS if provider == "mock" else "",
                       checks="    checks: [{tool_called: {name: lookup_order, args: {order_id: '1'}}}]\n")
        r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
        run = runs["order"]
        assert r.code == 0 and run["status"] == "passed", (function, provider, run.get("error"), run["output"])
        assert "hipped" in run["output"] and run["steps"] == 2, (function, provider, run["output"])
        (call,) = run["tool_calls"]
        assert json.loads(call["result"]) == {"status": "shipped"}
        assert any("translated" in w for w in run.get("warnings") or ()) == translated, run.get("warnings")
        if provider == "openai" and function == "chat_stream_tools":
            assert all(body["stream"] is True for body in _bodies(server, "/chat/completions"))


def test_a_report_that_differs_from_the_wire_is_a_warning(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer(responder=TOOL_RULES) as server:
        suite = _setup(tmp_path, "misreported", base_url=server.openai_base_url)
        r, runs = _run(capsys, suite, tmp_path / "out", "--no-cache")
    run = runs["order"]
    assert r.code == 0 and [c["name"] for c in run["tool_calls"]] == ["refund_order"]  # the report is kept
    assert any("reported tool calls (refund_order)" in w and "(lookup_order)" in w for w in run["warnings"])


FRAMEWORKS = Path(__file__).resolve().parent.parent / "suites" / "examples" / "frameworks"


@pytest.mark.parametrize(("config", "modules"), [("agents-sdk", ("agents",)),
                                                 ("langgraph", ("langgraph", "langchain_openai")),
                                                 ("pydantic-ai", ("pydantic_ai",))])
def test_framework_examples_pass_their_trajectory_checks(tmp_path: Path, capsys, config: str,
                                                         modules: tuple[str, ...]) -> None:
    for module in modules:
        pytest.importorskip(module, reason=f"the frameworks extra is not installed ({module})")
    r, runs = _run(capsys, FRAMEWORKS / "orders.yaml", tmp_path / "out", "--config", FRAMEWORKS / f"{config}.yaml",
                   "--no-cache")
    assert r.code == 0, r.text
    for run in runs.values():
        assert run["status"] == "passed" and run["score"] == 1.0, (run["case_id"], run.get("error"), run["checks"])
        assert [c["name"] for c in run["tool_calls"]] == ["lookup_order"]
