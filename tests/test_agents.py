"""The built-in tool loop through the CLI: on the mock provider, on the loopback OpenAI and Anthropic
servers (both wire formats, parallel calls), tool errors, a runaway stopped by max_steps, and every
trajectory check passing and failing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import results, run_cli, runs_lines, write
from loopback import LoopbackServer, Reply, Rule, rule_responder

TOOLS = """
tools:
  - name: lookup_order
    parameters:
      type: object
      properties: {order_id: {type: string}}
      required: [order_id]
  - name: get_weather
    implementation: "agent_tools:get_weather"
    parameters: {type: object, properties: {city: {type: string}}, required: [city]}
  - name: explode
    implementation: "agent_tools:explode"
"""

TOOL_MODULE = '''
import asyncio
import datetime

async def get_weather(args, ctx):
    await asyncio.sleep(0)
    return {"city": args["city"], "sky": "sunny", "case": ctx.case_id, "checked": datetime.date(2025, 1, 2)}

def explode(args, ctx):
    raise RuntimeError("the tool broke")
'''


def _config(tmp: Path, model: str, *, max_steps: int = 5, name: str = "config.yaml") -> Path:
    write(tmp / "agent_tools.py", TOOL_MODULE)
    return write(tmp / name, f"""
schema_version: 1
name: loop-agent
version: 1.0.0
agent: {{loop: {{max_steps: {max_steps}}}}}
{TOOLS}
model:
{model}
prompt:
  system: Use tools.
  user: "{{{{ input }}}}"
""")


def _suite(tmp: Path, cases: str, config: str = "config.yaml") -> Path:
    return write(tmp / "suite.yaml", f"""
schema_version: 1
suite: agents
config: {config}
cases:
{cases}
""")


def _runs(folder: Path) -> dict[str, dict[str, Any]]:
    return {r["case_id"]: r for r in runs_lines(folder)}


def test_the_support_agent_example_passes_its_baseline_and_the_regressed_config_fails(workdir: Path, capsys) -> None:
    good = run_cli(capsys, "run", "suites/support-agent.yaml", "--out", "good")
    assert good.code == 0, good.text
    assert "PASS" in good.out
    runs = _runs(workdir / "good")
    cancel = runs["cancel-and-refund-4321"]
    assert cancel["steps"] == 3
    assert [(c["name"], c["result"]) for c in cancel["tool_calls"]] == [
        ("lookup_order", {"order_id": "4321", "status": "delivered"}),
        ("refund_order", {"refund_id": "R4321", "amount": 42.5}),
    ]
    steps = cancel["trace"]
    assert [s["kind"] for s in steps] == ["agent", "agent", "agent"]
    assert [c["kind"] for c in steps[0]["children"]] == ["model", "tool"]
    assert steps[0]["children"][1]["attributes"]["gen_ai.tool.name"] == "lookup_order"
    assert runs["return-policy"]["tool_calls"][0]["result"]["days"] == 30  # an imported implementation
    bad = run_cli(capsys, "run", "suites/support-agent.yaml", "--config",
                  "suites/configs/support-agent-regressed.yaml", "--out", "bad")
    assert bad.code == 1, bad.text
    assert "FAIL" in bad.out and "refund-status-1234" in bad.out
    failed = {c["name"]: c for c in _runs(workdir / "bad")["refund-status-1234"]["checks"] if not c["passed"]}
    assert "expected 1 calls to lookup_order" in failed["tool_called"]["reason"]
    assert "no successful call to lookup_order" in failed["final_answer_after_tool"]["reason"]


def test_a_runaway_agent_is_stopped_by_max_steps_and_the_run_fails(tmp_path: Path, capsys) -> None:
    _config(tmp_path, """  provider: mock
  name: mock-loop
  mock:
    rules:
      - role: tool
        match: "."
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "1"}}]}]
      - match: "."
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "1"}}]}]""", max_steps=3)
    _suite(tmp_path, """  - id: runaway
    input: Where is my order?
    tool_results: {lookup_order: [{result: {status: shipped}}]}
""")
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    run = _runs(tmp_path / "out")["runaway"]
    assert run["status"] == "failed" and run["steps"] == 3 and len(run["tool_calls"]) == 3
    stop = next(c for c in run["checks"] if c["name"] == "agent.loop.max_steps")
    assert not stop["passed"] and "stopped at agent.loop.max_steps=3" in stop["reason"]
    assert run["trace"][-1]["error"] == "max_steps (3) reached"
    limited = (tmp_path / "config.yaml").read_text().replace("agent: {loop: {max_steps: 3}}",
                                                              "agent: {loop: {max_steps: 50}, max_tokens: 60}")
    write(tmp_path / "limited.yaml", limited)
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "-c", tmp_path / "limited.yaml", "--out", tmp_path / "lim")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    run = _runs(tmp_path / "lim")["runaway"]
    assert run["status"] == "failed" and 1 < run["steps"] < 50
    assert run["checks"][0]["name"] == "agent.max_tokens" and "limit 60" in run["checks"][0]["reason"]


def test_tool_errors_are_fed_back_to_the_model_and_recorded(tmp_path: Path, capsys) -> None:
    _config(tmp_path, """  provider: mock
  name: mock-loop
  mock:
    rules:
      - role: tool
        match: "^error: (?P<why>.*)"
        answers: [{text: "Sorry: {{ why }}"}]
      - match: "unknown"
        answers: [{tool_calls: [{name: teleport, arguments: {to: moon}}]}]
      - match: "broken"
        answers: [{tool_calls: [{name: explode, arguments: {}}]}]
      - match: "unmatched"
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "2"}}]}]""")
    _suite(tmp_path, """  - id: unknown-tool
    input: call an unknown tool
  - id: raising-tool
    input: call a broken tool
  - id: no-canned-match
    input: an unmatched canned lookup
    tool_results: {lookup_order: [{when: {order_id: "1"}, result: {status: shipped}}]}
""")
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 0, r.text
    runs = _runs(tmp_path / "out")
    unknown = runs["unknown-tool"]["tool_calls"][0]
    assert unknown["error"].startswith("unknown tool teleport (tools: lookup_order, get_weather, explode)")
    assert runs["unknown-tool"]["output"].startswith("Sorry: unknown tool teleport")
    raised = runs["raising-tool"]["tool_calls"][0]
    assert raised["error"].startswith("RuntimeError: the tool broke (agent_tools.py:")
    assert runs["raising-tool"]["messages"][-1] == {"role": "tool", "content": "error: " + raised["error"],
                                                    "tool_calls": [], "tool_call_id": "call_0_0"}
    tool_span = runs["raising-tool"]["trace"][0]["children"][1]
    assert tool_span["error"] == raised["error"]
    assert "no tool_results entry of lookup_order matches" in runs["no-canned-match"]["tool_calls"][0]["error"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_tool_loop_speaks_both_wire_formats_with_parallel_calls(tmp_path: Path, capsys, provider: str,
                                                                    clean_provider_env) -> None:
    rules = [
        Rule("tool", "shipped", Reply("Paris is sunny and order 7 has shipped.")),
        Rule("user", "weather", Reply("", (("get_weather", {"city": "Paris"}), ("lookup_order", {"order_id": "7"})))),
    ]
    with LoopbackServer(responder=rule_responder(rules)) as server:
        url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        _config(tmp_path, f"""  provider: {provider}
  name: loopback-model
  base_url: {url}
  api_key_env: LOOPBACK_KEY""")
        clean_provider_env.setenv("LOOPBACK_KEY", "sk-loopback")
        _suite(tmp_path, """  - id: parallel
    input: What is the weather in Paris, and where is order 7?
    tool_results: {lookup_order: [{when: {order_id: "7"}, result: "shipped"}]}
    checks:
      - tool_called: {name: get_weather, args: {city: Paris}, times: 1}
      - tool_sequence: [get_weather, lookup_order]
      - contains: sunny
""")
        r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "--no-cache")
        bodies = [json.loads(req.body) for req in server.requests if req.path.endswith(("completions", "messages"))]
    assert r.code == 0, r.text
    run = _runs(tmp_path / "out")["parallel"]
    assert run["steps"] == 2 and run["output"] == "Paris is sunny and order 7 has shipped."
    assert [c["result"] for c in run["tool_calls"]] == [  # a date, not JSON, recorded as text
        {"city": "Paris", "sky": "sunny", "case": "parallel", "checked": "2025-01-02"}, "shipped"]
    assert len(bodies) == 2
    assert {t.get("name") or t["function"]["name"] for t in bodies[0]["tools"]} == {
        "lookup_order", "get_weather", "explode"}
    second = bodies[1]["messages"]
    if provider == "openai":
        assistant, first, other = second[-3:]
        assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["get_weather", "lookup_order"]
        assert (first["role"], first["tool_call_id"]) == ("tool", assistant["tool_calls"][0]["id"])
        assert (other["content"], other["tool_call_id"]) == ("shipped", assistant["tool_calls"][1]["id"])
    else:
        assistant, results_turn = second[-2:]
        uses = [b for b in assistant["content"] if b["type"] == "tool_use"]
        assert [(b["name"], b["input"]) for b in uses] == [("get_weather", {"city": "Paris"}),
                                                           ("lookup_order", {"order_id": "7"})]
        blocks = results_turn["content"]
        assert results_turn["role"] == "user" and [b["type"] for b in blocks] == ["tool_result", "tool_result"]
        assert [b["tool_use_id"] for b in blocks] == [b["id"] for b in uses]
        assert blocks[1]["content"] == "shipped"
    model_span = run["trace"][0]["children"][0]
    assert model_span["attributes"]["gen_ai.usage.input_tokens"] > 0
    assert model_span["attributes"]["gen_ai.response.finish_reasons"] == [
        "tool_calls" if provider == "openai" else "tool_use"]


def test_scripted_tool_calls_and_tool_messages_in_a_case_are_sent_as_written(tmp_path: Path, capsys,
                                                                            clean_provider_env) -> None:
    with LoopbackServer(responder=rule_responder([Rule("tool", "pending", Reply("It is pending."))])) as server:
        write(tmp_path / "config.yaml", f"""
schema_version: 1
name: plain
version: 1.0.0
model: {{provider: anthropic, name: loopback-model, base_url: "{server.anthropic_base_url}", api_key_env: K}}
""")
        clean_provider_env.setenv("K", "sk-x")
        _suite(tmp_path, """  - id: scripted
    input:
      - {role: user, content: Where is the refund for order 5?}
      - role: assistant
        content: Let me look.
        tool_calls: [{id: toolu_1, name: lookup_order, arguments: {order_id: "5"}}]
      - {role: tool, tool_call_id: toolu_1, content: '{"refund": "pending"}'}
    checks: [{contains: pending}]
""")
        assert run_cli(capsys, "validate", tmp_path / "suite.yaml").code == 0
        r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "--no-cache")
        body = json.loads(server.requests[-1].body)
    assert r.code == 0, r.text
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order_id": "5"}}]
    assert body["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"refund": "pending"}'}]}


def test_a_tool_message_without_its_call_id_is_refused_with_its_line(tmp_path: Path, capsys) -> None:
    _config(tmp_path, "  provider: mock\n  name: m")
    _suite(tmp_path, """  - id: bad
    input:
      - {role: user, content: hi}
      - {role: tool, content: "42"}
""")
    r = run_cli(capsys, "validate", tmp_path / "suite.yaml")
    assert r.code == 2
    assert "suite.yaml:9: cases[0].input[1]" in r.err and "tool_call_id" in r.err


TRAJECTORY_CASES = """  - id: checks
    input: look up order 1 then refund it
    tool_results:
      lookup_order: [{result: {order_id: "1", status: delivered, eta: "2025-01-02"}}]
      refund_order: [{result: {refund_id: R1}}]
    checks:
      - tool_called: {name: lookup_order, args: {order_id: "1"}}
      - tool_called: {name: lookup_order, args: {order_id: "2"}}
      - tool_called: {name: lookup_order, args: {order_id: "1"}, match: exact, times: 1}
      - tool_called: {name: refund_order, args: {}, match: exact}
      - tool_called: {name: lookup_order, args_schema: {properties: {order_id: {pattern: "^[0-9]+$"}}}}
      - tool_called: {name: refund_order, args_schema: {required: [amount]}}
      - tool_called: {name: lookup_order, times: 2}
      - not_tool_called: get_weather
      - not_tool_called: refund_order
      - tool_sequence: [lookup_order, refund_order]
      - tool_sequence: {names: [refund_order, lookup_order]}
      - tool_sequence: {names: [lookup_order, get_weather], strict: false}
      - tool_sequence: {names: [lookup_order, refund_order], strict: true}
      - tool_args_valid: true
      - max_steps: 3
      - max_steps: 2
      - max_tool_calls: 2
      - max_tool_calls: 1
      - final_answer_after_tool: {tool: refund_order, path: "$.refund_id"}
      - final_answer_after_tool: {tool: lookup_order, path: "$.eta"}
      - final_answer_after_tool: {tool: lookup_order, path: "$.missing"}
      - final_answer_after_tool: {tool: get_weather, path: "$.sky"}
"""

EXPECTED = [  # (check, passed, a piece of its reason), in the order of TRAJECTORY_CASES
    ("tool_called", True, 'called lookup_order({"order_id":"1"})'),
    ("tool_called", False, 'expected a call to lookup_order with {"order_id":"2"}'),
    ("tool_called", True, "1 matching call to lookup_order with exactly"),
    ("tool_called", False, "expected a call to refund_order with exactly"),
    ("tool_called", True, "called lookup_order"),
    ("tool_called", False, "arguments valid against args_schema"),
    ("tool_called", False, "expected 2 calls to lookup_order; got 1 matching call"),
    ("not_tool_called", True, "no call to get_weather"),
    ("not_tool_called", False, "expected no call to refund_order"),
    ("tool_sequence", True, "called lookup_order -> refund_order in this order"),
    ("tool_sequence", False, "expected refund_order -> lookup_order in this order"),
    ("tool_sequence", False, "calls: lookup_order -> refund_order"),
    ("tool_sequence", True, "one right after the other"),
    ("tool_args_valid", False, "refund_order: arguments: 'reason' is a required property"),
    ("max_steps", True, "3 steps <= max 3"),
    ("max_steps", False, "3 steps > max 2"),
    ("max_tool_calls", True, "2 tool calls <= max 2"),
    ("max_tool_calls", False, "2 tool calls > max 1"),
    ("final_answer_after_tool", True, "the answer contains refund_order's $.refund_id = \"R1\""),
    ("final_answer_after_tool", False, "the answer lacks lookup_order's $.eta = \"2025-01-02\""),
    ("final_answer_after_tool", False, "lookup_order's result has no value at $.missing"),
    ("final_answer_after_tool", False, "no successful call to get_weather"),
]


def test_every_trajectory_check_passes_and_fails_with_a_reason(tmp_path: Path, capsys) -> None:
    _config(tmp_path, """  provider: mock
  name: mock-loop
  mock:
    rules:
      - role: tool
        match: '"refund_id": "(?P<id>\\w+)"'
        answers: [{text: "Refunded as {{ id }}."}]
      - role: tool
        match: delivered
        answers: [{tool_calls: [{name: refund_order, arguments: {order_id: "1"}}]}]
      - match: "order 1"
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "1"}}]}]""")
    write(tmp_path / "config.yaml", (tmp_path / "config.yaml").read_text().replace(
        "  - name: explode", """  - name: refund_order
    parameters: {type: object, properties: {order_id: {type: string}, reason: {type: string}},
                 required: [order_id, reason]}
  - name: explode"""))
    _suite(tmp_path, TRAJECTORY_CASES)
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    checks = _runs(tmp_path / "out")["checks"]["checks"]
    assert len(checks) == len(EXPECTED)
    for check, (name, passed, reason) in zip(checks, EXPECTED, strict=True):
        assert (check["name"], check["passed"]) == (name, passed), check
        assert reason in check["reason"], (check, reason)
    assert results(tmp_path / "out")["cases"][0]["stats"]["passed"] == 0


def test_dry_run_prints_what_the_tool_loop_would_receive(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-agent.yaml", "--dry-run")
    assert r.code == 0, r.text
    assert "target: loop agent" in r.out
    assert "cancel-and-refund-4321: tool loop on mock/mock-support-agent-2025-03-01" in r.out
    assert "canned: lookup_order, refund_order" in r.out
    assert not (workdir / ".agent-eval" / "runs").exists()


def test_an_agent_suite_resumes_and_shards_like_any_other(workdir: Path, capsys) -> None:
    first = run_cli(capsys, "run", "suites/support-agent.yaml", "--out", "out", "-j", "1", "--shard", "1/2")
    assert first.code == 0, first.text
    shard = {r["case_id"] for r in runs_lines(workdir / "out")}
    assert 0 < len(shard) < 6
    lines = (workdir / "out" / "runs.jsonl").read_text().splitlines()
    (workdir / "out" / "runs.jsonl").write_text("\n".join(lines[:-2]) + "\n")  # two runs lost
    resumed = run_cli(capsys, "run", "--resume", "out")
    assert resumed.code == 0, resumed.text
    runs = runs_lines(workdir / "out")
    assert len(runs) == len(lines) and {r["case_id"] for r in runs} == shard
    assert all(r["status"] == "passed" and r["trace"] for r in runs)


def test_mock_rules_match_the_last_message_of_their_role() -> None:
    import asyncio

    from agent_eval.modelspec import ModelSpec
    from agent_eval.providers.base import CompletionRequest
    from agent_eval.providers.mock import MockProvider
    from agent_eval.records import Message, ToolCall

    spec = ModelSpec.model_validate({"provider": "mock", "name": "m", "mock": {"rules": [
        {"role": "tool", "match": "a=1\nb=2", "answers": [{"text": "both results: {{ message }}"}]},
        {"role": "assistant", "match": "(?P<n>\\d+) left", "answers": [{"text": "user says {{ n }}"}]},
        {"match": "go", "answers": [{"text": "calling", "tool_calls": [
            {"name": "f", "arguments": {"x": "{{ input }}", "n": [1, "{{ input }}"]}}]}]},
    ]}})
    mock = MockProvider(spec)

    def answer(*messages: Message) -> Any:
        return asyncio.run(mock.complete(CompletionRequest(model="m", messages=messages)))

    first = answer(Message(role="user", content="go"))
    assert first.text == "calling" and first.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.parsed_arguments()) for c in first.tool_calls] == [
        ("call_0_0", "f", {"x": "go", "n": [1, "go"]})]
    calls = (ToolCall(id="c1", name="f"), ToolCall(id="c2", name="g"))
    parallel = answer(Message(role="user", content="go"), Message(role="assistant", content="", tool_calls=calls),
                      Message(role="tool", content="a=1", tool_call_id="c1"),
                      Message(role="tool", content="b=2", tool_call_id="c2"))
    assert parallel.text == "both results: a=1\nb=2" and not parallel.tool_calls
    assert answer(Message(role="assistant", content="3 left"), Message(role="user", content="?")).text == "user says 3"
    assert answer(Message(role="user", content="nothing")).text == "I don't know."


def test_the_support_agent_written_in_python_passes_the_same_suite(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-agent.yaml", "--config", "suites/configs/support-agent-python.yaml",
                "--out", "py")
    assert r.code == 0, r.text
    assert "PASS" in r.out
    cancel = _runs(workdir / "py")["cancel-and-refund-4321"]
    assert cancel["steps"] == 3 and [c["name"] for c in cancel["tool_calls"]] == ["lookup_order", "refund_order"]
    (agent,) = cancel["trace"]
    # each reported call is stamped when it ran: between the model call that asked for it and the next
    assert [c["kind"] for c in agent["children"]] == ["model", "tool", "model", "tool", "model"]


@pytest.mark.parametrize(("check", "message"), [
    ("{tool_called: {name: x, match: fuzzy}}", "match must be subset or exact, got 'fuzzy'"),
    ("{tool_called: {name: x, args_schema: {type: 12}}}", "args_schema is not a valid JSON Schema"),
    ("{tool_called: {name: x, times: -1}}", "times"),
    ("{tool_sequence: {strict: true}}", "missing names"),
    ("{max_steps: -1}", "max_steps"),
    ("{final_answer_after_tool: {tool: x}}", "missing path"),
    ("{final_answer_after_tool: {tool: x, path: '$[[['}}", "invalid JSONPath"),
    ("{tool_args_valid: yes please}", "expected true"),
])
def test_a_malformed_trajectory_check_is_refused_with_its_line(tmp_path: Path, capsys, check: str,
                                                              message: str) -> None:
    _config(tmp_path, "  provider: mock\n  name: m")
    _suite(tmp_path, f"  - id: c\n    input: hi\n    checks:\n      - {check}\n")
    r = run_cli(capsys, "validate", tmp_path / "suite.yaml")
    assert r.code == 2, r.text
    assert "suite.yaml:9" in r.err and message in r.err, r.err
