"""Hardening, second round (issue 20), wrong behaviour: chat datasets keep their tool calls, budgets hold per
call, and moderation categories, stop phrases and the goal marker mean what they say. Through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, write
from loopback import LoopbackServer

SECRET = "sk-test-round2c-0123456789"

# ---- chat-format JSONL datasets keep assistant tool_calls ------------------------------------------

CHAT_ROW = {
    "messages": [
        {"role": "system", "content": "You look orders up."},
        {"role": "user", "content": "Where is order 7?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "lookup_order", "arguments": '{"id": "7"}'}}]},
        {"role": "tool", "tool_call_id": "call_7", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "Order 7 has shipped."},
    ],
}


def _chat_suite(folder: Path, server: LoopbackServer, provider: str, rows: list[dict]) -> Path:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    write(folder / "config.yaml", f"""\
name: chat
version: 1.0.0
model:
  provider: {provider}
  name: loopback-model
  base_url: {base_url}
  api_key_env: LOOP_KEY
  params: {{max_tokens: 64}}
tools:
  - {{name: lookup_order, parameters: {{type: object, properties: {{id: {{type: string}}}}}}}}
""")
    write(folder / "chat.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    return write(folder / "suite.yaml", "suite: chat\nconfig: config.yaml\ncases_from: chat.jsonl\n")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_chat_dataset_tool_calls_reach_the_request(workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch,
                                                    provider: str) -> None:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    with LoopbackServer() as server:
        suite = _chat_suite(workdir / "s", server, provider, [CHAT_ROW])
        r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
        (sent,) = [req.json for req in server.requests]
    assert r.code in (0, 1), r.text
    assert runs_lines(workdir / "out")[0]["status"] != "errored"
    if provider == "openai":
        assistant, tool = sent["messages"][2], sent["messages"][3]
        assert assistant["role"] == "assistant" and assistant["tool_calls"] == [
            {"id": "call_7", "type": "function", "function": {"name": "lookup_order", "arguments": '{"id": "7"}'}}]
        assert tool == {"role": "tool", "tool_call_id": "call_7", "content": '{"status": "shipped"}'}
    else:
        assistant, result = sent["messages"][1], sent["messages"][2]
        assert assistant["role"] == "assistant"
        assert assistant["content"] == [{"type": "tool_use", "id": "call_7", "name": "lookup_order",
                                         "input": {"id": "7"}}]
        assert result["role"] == "user" and result["content"][0]["type"] == "tool_result"
        assert result["content"][0]["tool_use_id"] == "call_7"


def test_a_chat_dataset_tool_result_without_its_call_is_refused_at_load(workdir: Path, capsys,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    orphan = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "checking"},
                           {"role": "tool", "tool_call_id": "call_9", "content": "{}"}]}
    with LoopbackServer() as server:
        suite = _chat_suite(workdir / "s", server, "openai", [CHAT_ROW, orphan])
        r = run_cli(capsys, "validate", suite)
    assert r.code == 2, r.text
    assert "chat.jsonl:2" in r.err and "messages[2].tool_call_id" in r.err and "call_9" in r.err
    assert "Traceback" not in r.text


# ---- moderation categories, stop phrases, the goal marker --------------------------------------------

MOCK_CONFIG = """\
name: mocked
version: 1.0.0
model:
  provider: mock
  name: mock-model
  mock:
    rules:
      - {match: ".*", answers: [{text: "All done here. [GOAL_REACHED]"}]}
"""


def test_a_misspelt_moderation_category_is_refused_with_a_suggestion(workdir: Path, capsys) -> None:
    write(workdir / "config.yaml", MOCK_CONFIG)
    suite = write(workdir / "suite.yaml", """\
suite: mod
config: config.yaml
cases:
  - id: a
    input: hello
    checks:
      - moderation: {categories: [violance]}
""")
    r = run_cli(capsys, "validate", suite)
    assert r.code == 2, r.text
    assert 'unknown moderation category "violance"' in r.err and 'did you mean "violence"' in r.err
    assert "suite.yaml" in r.err and "Traceback" not in r.text
    ok = suite.read_text().replace("violance", "violence")
    assert run_cli(capsys, "validate", write(workdir / "ok.yaml", ok)).code == 0


SIMULATED = """\
suite: sim
config: config.yaml
cases:
  - id: talk
    simulated_user:
      goal: Get an answer.
      opening: Hello there.
      max_turns: 2
      stop: {{phrases: {phrases}}}
      model: {{provider: openai, name: sim-model, base_url: "{url}", api_key_env: SIM_KEY}}
"""


@pytest.mark.parametrize("phrases", ['[""]', '["bye", "   "]'])
def test_an_empty_stop_phrase_is_refused_at_load(workdir: Path, capsys, phrases: str) -> None:
    write(workdir / "config.yaml", MOCK_CONFIG)
    suite = write(workdir / "suite.yaml", SIMULATED.format(phrases=phrases, url="http://127.0.0.1:9/v1"))
    r = run_cli(capsys, "validate", suite)
    assert r.code == 2, r.text
    assert "phrases" in r.err and "empty" in r.err and "suite.yaml" in r.err


def test_an_agent_reply_carrying_the_goal_marker_does_not_end_the_conversation(workdir: Path, capsys,
                                                                               monkeypatch) -> None:
    monkeypatch.setenv("SIM_KEY", "sk-sim")
    write(workdir / "config.yaml", MOCK_CONFIG)
    with LoopbackServer() as server:  # the simulated user echoes what it is shown
        suite = write(workdir / "suite.yaml", SIMULATED.format(phrases="[]", url=server.openai_base_url))
        r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
        shown = [m["content"] for req in server.requests for m in req.json["messages"] if m["role"] == "user"]
    (run,) = runs_lines(workdir / "out")
    assert run["simulated_user"]["stop"] == "max_turns", r.text
    assert run["simulated_user"]["goal_reached"] is False and len(run["turns"]) == 2
    assert not any("[GOAL_REACHED]" in text for text in shown)


# ---- budgets hold per call, the gateway's included -----------------------------------------------------

MANY_CALLS = '''
async def agent(inp, ctx):
    words = []
    for i in range(40):
        reply = await ctx.openai.chat.completions.create(
            model=ctx.model, max_tokens=16, messages=[{"role": "user", "content": f"{inp.input} step {i}"}])
        words.append(reply.choices[0].message.content)
    return " ".join(words)
'''
CALL_USD = 20 * 5 / 1e6  # 10 + 10 tokens a call at $5 per million


def test_a_budget_holds_for_agents_making_many_calls_a_run(workdir: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from loopback import Reply

    monkeypatch.setenv("LOOP_KEY", SECRET)
    write(workdir / "many_calls.py", MANY_CALLS)
    with LoopbackServer(responder=lambda body: Reply("ok", input_tokens=10, output_tokens=10)) as server:
        write(workdir / "config.yaml", f"""\
name: many
version: 1.0.0
agent: {{python: "many_calls:agent"}}
model: {{provider: openai, name: loopback-model, base_url: "{server.openai_base_url}", api_key_env: LOOP_KEY,
        params: {{max_tokens: 16}}}}
pricing: {{loopback-model: {{input: 5.0, output: 5.0}}}}
""")
        cases = "".join(f"  - {{id: c{i}, input: question {i}}}\n" for i in range(8))
        suite = write(workdir / "suite.yaml", f"suite: many\nconfig: config.yaml\ncases:\n{cases}")
        r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "-j", "4", "--budget-usd", "0.002")
        calls = server.total
    spent = calls * CALL_USD
    assert r.code == 3, r.text
    assert 0 < spent <= 0.002 + 4 * CALL_USD + 1e-12, (calls, r.text)  # at most the 4 calls in flight over
    data = results(workdir / "out")
    assert data["complete"] is False and "budget" in data["incomplete_reason"]
    stopped = [run for run in runs_lines(workdir / "out") if run["status"] == "errored"]
    assert stopped and all(run["error"]["kind"] == "budget" for run in stopped)
    assert stopped[0]["error"]["message"].startswith("stopped by a budget")
    assert "budget reached" in r.err and "Traceback" not in r.text


def test_a_budget_holds_for_simulated_users_calls_as_they_are_made(workdir: Path, capsys,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from loopback import Reply

    monkeypatch.setenv("SIM_KEY", "sk-sim")
    write(workdir / "config.yaml", MOCK_CONFIG.replace("[GOAL_REACHED]", "") +
          "pricing: {sim-model: {input: 5.0, output: 5.0}}\n")
    with LoopbackServer(responder=lambda body: Reply("and then?", input_tokens=10, output_tokens=10)) as server:
        case = SIMULATED.split("cases:\n", 1)[1].format(phrases="[]", url=server.openai_base_url)
        cases = "".join(case.replace("id: talk", f"id: talk{i}").replace("max_turns: 2", "max_turns: 10")
                        for i in range(6))
        suite = write(workdir / "suite.yaml", f"suite: sim\nconfig: config.yaml\ncases:\n{cases}")
        r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "-j", "4", "--budget-usd", "0.001")
        calls = server.total
    assert r.code == 3, r.text
    assert 0 < calls * CALL_USD <= 0.001 + 4 * CALL_USD + 1e-12, (calls, r.text)
    stopped = [run for run in runs_lines(workdir / "out") if run["status"] == "errored"]
    assert stopped and all(run["error"]["kind"] == "budget" for run in stopped)
    assert "stopped by a budget" in stopped[0]["error"]["message"]
