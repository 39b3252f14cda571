"""Conversations through the CLI: scripted turns with turn checks, simulated users (goal, max_turns, a stop
tool, a simulator on the loopback server with its cache), the sycophancy example on a capitulating and a
firm config, escalation rates in the console and the report, a stateful HTTP agent, resume, validation."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from clitools import results, run_cli, runs_lines, spawn_cli, write
from loopback import LoopbackServer, Reply, Rule, rule_responder

AGENT = """
schema_version: 1
name: chat-agent
version: 1.0.0
{extra}
model:
  provider: mock
  name: mock-chat
  mock:
    rules:
      - {{match: "first", answers: [{{text: "Answer one: alpha"}}]}}
      - {{match: "second", answers: [{{text: "Answer two: beta"}}]}}
      - {{match: "third", answers: [{{text: "Answer three: alpha"}}]}}
      - {{match: "human", answers: [{{tool_calls: [{{name: handoff_to_human, arguments: {{reason: asked}}}}]}}]}}
      - {{match: "(?i)refund", answers: [{{text: "Your refund is pending."}}]}}
      - {{match: "(?i)still|again", answers: [{{text: "Still pending, sorry."}}]}}
prompt:
  system: Be brief.
  user: "{{{{ input }}}}"
"""

HANDOFF = """tools:
  - {name: handoff_to_human, parameters: {type: object, properties: {reason: {type: string}}}}
escalation: {tool: handoff_to_human}"""


def _suite(tmp: Path, cases: str, *, repeat: int = 1, extra: str = "") -> Path:
    write(tmp / "config.yaml", AGENT.format(extra=extra))
    return write(tmp / "suite.yaml", f"""
schema_version: 1
suite: chats
config: config.yaml
repeat: {repeat}
cases:
{cases}""")


def _runs(folder: Path) -> dict[str, dict[str, Any]]:
    return {f"{r['case_id']}#{r['index']}": r for r in runs_lines(folder)}


THREE_TURNS = """  - id: three-turns
    conversation:
      - user: "the first question"
        checks: [{contains: alpha}]
      - user: "the second question"
        checks: [{contains: alpha}]
      - user: "the third question"
        checks: [{contains: alpha}]
    checks:
      - contains: alpha
      - not_contains: beta
        scope: all_turns
      - contains: beta
        scope: any_turn
      - not_contains: question
        scope: all_turns
"""


def test_a_scripted_conversation_fails_on_the_turn_whose_check_fails(tmp_path: Path, capsys) -> None:
    r = run_cli(capsys, "run", _suite(tmp_path, THREE_TURNS), "--out", tmp_path / "out")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    run = _runs(tmp_path / "out")["three-turns#0"]
    assert run["status"] == "failed" and run["output"] == "Answer three: alpha"
    assert [(t["index"], t["passed"]) for t in run["turns"]] == [(1, True), (2, False), (3, True)]
    assert [t["output"] for t in run["turns"]] == ["Answer one: alpha", "Answer two: beta", "Answer three: alpha"]
    checks = {c["name"] + ("" if i < 3 else f"#{i}"): c for i, c in enumerate(run["checks"])}
    assert [c["name"] for c in run["checks"][:3]] == ["turn 1: contains", "turn 2: contains", "turn 3: contains"]
    assert [c["passed"] for c in run["checks"]] == [True, False, True, True, False, True, True]
    assert run["checks"][4]["reason"].startswith("turn 2: ") and "beta" in run["checks"][4]["reason"]
    assert run["checks"][6]["reason"].startswith("every reply (3 turns)")  # the user's words are not checked
    assert run["score"] == pytest.approx(5 / 7) and len(checks) == 7
    # each turn is answered with the whole history so far
    roles = [m["role"] for m in run["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    third = run["trace"][2]
    assert third["name"] == "turn 3"
    sent = third["children"][0]["attributes"]["gen_ai.input.messages"]
    assert [m.get("content") for m in sent][1:] == ["the first question", "Answer one: alpha",
                                                     "the second question", "Answer two: beta", "the third question"]
    assert run["steps"] == 3 and run["tokens"]["input_tokens"] > 0
    assert "three-turns turn 2: 1/1 runs · contains" in r.text
    html = (tmp_path / "out" / "report.html").read_text()
    assert "user · turn 2" in html and "turn failed" in html


SIMULATED = """  - id: {id}
    simulated_user:
      goal: Get the refund confirmed.
      facts: ["The refund was approved."]
      opening: "{opening}"
      max_turns: 3
      stop: {{tools: [handoff_to_human]}}
      model:
        provider: mock
        name: mock-user
        mock:
          rules:
            - {{match: "^Your refund is pending", answers: [{{text: "{reply}"}}]}}
            - {{match: "Still pending", answers: [{{text: "Again: is it approved?"}}]}}
"""


def test_simulated_users_stop_at_their_goal_at_max_turns_or_at_a_handoff(tmp_path: Path, capsys) -> None:
    cases = (SIMULATED.format(id="goal", opening="Is my refund approved?", reply="OK, thanks. [GOAL_REACHED]")
             + SIMULATED.format(id="stubborn", opening="Is my refund approved?", reply="Are you sure? Check still.")
             + SIMULATED.format(id="handoff", opening="Give me a human now.", reply="unused"))
    r = run_cli(capsys, "run", _suite(tmp_path, cases, extra=HANDOFF), "--out", tmp_path / "out")
    assert r.code == 0, r.text
    runs = _runs(tmp_path / "out")
    goal, stubborn, handoff = runs["goal#0"], runs["stubborn#0"], runs["handoff#0"]
    assert goal["status"] == "passed" and len(goal["turns"]) == 1
    assert goal["simulated_user"]["stop"] == "goal_reached" and goal["simulated_user"]["goal_reached"] is True
    assert goal["simulated_user"]["calls"] == 1 and goal["simulated_user"]["tokens"]["input_tokens"] > 0
    assert [s["kind"] for s in goal["trace"]] == ["agent", "user"]
    assert goal["tokens"]["output_tokens"] == 5  # the agent's own tokens only ("Your refund is pending.")
    assert stubborn["status"] == "failed" and stubborn["simulated_user"]["stop"] == "max_turns"
    assert [t["user"] for t in stubborn["turns"]] == ["Is my refund approved?", "Are you sure? Check still.",
                                                      "Again: is it approved?"]
    failed = [c for c in stubborn["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["simulated_user.goal_reached"] and "max_turns=3" in failed[0]["reason"]
    assert handoff["simulated_user"]["stop"] == "tool" and handoff["simulated_user"]["calls"] == 0
    assert handoff["escalated"] is True and goal["escalated"] is False
    assert "simulated users: 3 conversations, goal reached in 1" in r.text


def _priced_simulator_suite(tmp_path: Path, server: LoopbackServer, *, repeat: int) -> Path:
    """One case whose simulated user is a priced OpenAI-compatible model on the loopback server."""
    case = f"""  - id: priced
    simulated_user:
      goal: Know the refund status.
      opening: Where is my refund?
      model: {{provider: openai, name: sim-model, base_url: "{server.openai_base_url}", api_key_env: SIM_KEY}}
"""
    suite = _suite(tmp_path, case, repeat=repeat)
    write(tmp_path / "config.yaml", (tmp_path / "config.yaml").read_text()
          + "pricing: {sim-model: {input: 1000.0, output: 1000.0}}\n")
    return suite


def test_a_simulator_on_a_real_provider_is_priced_apart_and_cached_per_repetition(tmp_path: Path, capsys,
                                                                                   clean_provider_env) -> None:
    clean_provider_env.setenv("SIM_KEY", "sk-sim")
    rules = [Rule("user", "pending", Reply("Thanks, that's all. [GOAL_REACHED]"))]
    with LoopbackServer(responder=rule_responder(rules)) as server:
        suite = _priced_simulator_suite(tmp_path, server, repeat=2)
        cache = ["--cache-dir", str(tmp_path / "cache")]
        first = run_cli(capsys, "run", suite, "--out", tmp_path / "one", *cache)
        calls = server.total
        second = run_cli(capsys, "run", suite, "--out", tmp_path / "two", *cache)
        body = json.loads(server.requests[0].body)
    assert first.code == 0 and second.code == 0, first.text + second.text
    assert calls == 2 and server.total == 2  # one call per repetition; the second run came from the cache
    assert body["messages"][0]["role"] == "system" and "Know the refund status." in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "Your refund is pending."}  # roles swapped
    run = _runs(tmp_path / "one")["priced#0"]
    assert run["simulated_user"]["cost_usd"] > 0 and run["cost_usd"] == 0.0  # the agent (mock) costs nothing
    assert run["trace"][1]["kind"] == "user" and run["trace"][1]["attributes"]["gen_ai.request.model"] == "sim-model"


def test_the_sycophancy_example_fails_the_capitulating_agent_and_passes_the_firm_one(workdir: Path, capsys) -> None:
    suite = "suites/support-conversations.yaml"
    firm = run_cli(capsys, "run", suite, "--out", "firm")
    assert firm.code == 0, firm.text
    agreeable = run_cli(capsys, "run", suite, "--config", "suites/configs/support-conv-agreeable.yaml",
                        "--out", "agreeable")
    assert agreeable.code == 1, agreeable.text
    stats = {c["id"]: c["stats"] for c in results(workdir / "agreeable")["cases"]}
    assert stats["refund-approved-claim"]["passed"] == 0 and stats["return-window-60-days"]["passed"] == 0
    assert stats["pushback-order-typo"]["passed"] == 3  # where the user is right, both agents update
    assert all(c["stats"]["passed"] == 3 for c in results(workdir / "firm")["cases"])
    run = _runs(workdir / "agreeable")["refund-approved-claim#0"]
    assert [t["passed"] for t in run["turns"]] == [True, False]
    rubrics = {r["name"]: r["passed"] for r in run["rubrics"]}
    assert rubrics == {"turn 2: holds-position": False, "consistent-throughout": False}
    assert "FAIL: " in agreeable.text and "refund-approved-claim: 6/6 -> 0/3" in agreeable.text
    assert "refund-approved-claim turn 2: 3/3 runs" in agreeable.text
    summary = (workdir / "agreeable" / "summary.md").read_text()
    assert "**Conversation turns that failed:** `refund-approved-claim` turn 2 (3/3 runs)" in summary
    assert "You're right" not in summary  # the summary holds no model output
    html = (workdir / "agreeable" / "report.html").read_text()
    assert "Baseline reply" in html and "still pending, not approved" in html  # the baseline run's turn beside
    assert "turn 2: not_icontains" in (workdir / "agreeable" / "junit.xml").read_text()


def test_escalation_rates_in_the_console_and_the_report(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-conversations.yaml", "--out", "out")
    assert r.code == 0, r.text
    line = "escalation rate: 16.7% (3/18) · baseline 16.7% (6/36)"  # the baseline keeps 2 x k runs
    assert line in r.text and "precision 100% [21%, 100%], recall 100% [21%, 100%] (cases tagged should-escalate; " \
        "95% intervals with the case as the unit)" in r.text  # one labelled case: its 3 runs count as one
    assert "  should-escalate: 100.0% (3/3) · baseline 100.0% (6/6)" in r.text
    html = (workdir / "out" / "report.html").read_text()
    assert "<b>Escalation</b>" in html and line in html
    runs = runs_lines(workdir / "out")
    assert sum(r["escalated"] for r in runs) == 3 and all(r["escalated"] is not None for r in runs)


class _StatefulAgent(BaseHTTPRequestHandler):
    """Remembers each session's turns; escalates (a JSON field) when asked for a person."""

    sessions: ClassVar[dict[str, list[str]]] = {}
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.bodies.append(body)
        said = self.sessions.setdefault(body["session_id"], [])
        said.extend(m["content"] for m in body["messages"] if m["role"] == "user")
        text = body["messages"][-1]["content"]
        answer = {"output": f"turn {len(said)}: you said {text!r}", "escalate": "person" in text}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def stateful_agent() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatefulAgent)
    _StatefulAgent.sessions, _StatefulAgent.bodies = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/chat"
    server.shutdown()
    server.server_close()


def test_a_stateful_http_agent_gets_only_the_new_turn_and_its_session(tmp_path: Path, capsys,
                                                                      stateful_agent: str) -> None:
    write(tmp_path / "config.yaml", f"""
schema_version: 1
name: service
version: 1.0.0
agent: {{http: {{url: "{stateful_agent}", session: stateful, output: $.output}}}}
escalation: {{json_path: $.escalate}}
""")
    write(tmp_path / "suite.yaml", """
schema_version: 1
suite: service-chats
config: config.yaml
repeat: 2
cases:
  - id: chat
    tags: [should-escalate]
    conversation:
      - user: hello
      - user: "a {{ thing }} please"
        checks: [{contains: "turn 2"}]
      - user: let me talk to a person
        checks: [{escalated: true}]
    vars: {thing: refund}
""")
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 0, r.text
    runs = _runs(tmp_path / "out")
    assert runs["chat#0"]["status"] == "passed" and runs["chat#0"]["escalated"] is True
    assert runs["chat#0"]["turns"][1]["output"] == "turn 2: you said 'a refund please'"
    bodies = _StatefulAgent.bodies
    assert len(bodies) == 6 and len({b["session_id"] for b in bodies}) == 2  # one session per repetition
    assert all(len(b["messages"]) == 1 for b in bodies)  # only the new turn
    assert {b["input"] for b in bodies} == {"hello", "a refund please", "let me talk to a person"}
    assert "escalation rate: 100.0% (2/2)" in r.text and "recall 100%" in r.text  # per run, not per turn


def test_a_resumed_conversation_suite_finishes_each_conversation_exactly_once(tmp_path: Path, capsys,
                                                                               monkeypatch) -> None:
    cases = "".join(f"""  - id: chat-{i}
    conversation:
      - user: the first question
      - user: the second question
      - user: the third question
""" for i in range(6))
    suite = _suite(tmp_path, cases, repeat=2)
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("name: mock-chat\n", "name: mock-chat\n  mock_latency: 1\n")
                      .replace("  mock:\n", "  mock:\n    latency_ms: 60\n").replace("  mock_latency: 1\n", ""))
    child = spawn_cli("run", suite, "--out", "out", "-j", "2", cwd=tmp_path, env={"CI": "true"})
    runs = tmp_path / "out" / "runs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not runs.exists() or len(runs.read_text().splitlines()) < 3):
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 3, err
    finished = len(runs.read_text().splitlines())
    assert 3 <= finished < 12
    monkeypatch.chdir(tmp_path)  # the resume needs no process of its own; only the interrupted run does
    monkeypatch.setenv("CI", "true")
    resumed = run_cli(capsys, "run", "--resume", "out", "-j", "2")
    assert resumed.code == 0, resumed.err
    lines = runs_lines(tmp_path / "out")
    pairs = [(r["case_id"], r["index"]) for r in lines]
    assert len(pairs) == 12 and len(set(pairs)) == 12  # each conversation exactly once
    assert all(len(r["turns"]) == 3 and r["status"] == "passed" for r in lines)
    assert results(tmp_path / "out")["complete"] is True


@pytest.mark.parametrize(("case", "line", "message"), [
    ("  - id: a\n    input: hi\n    conversation: [{user: hi}]\n", 7,
     "a case has one of input, conversation or simulated_user (found input, conversation)"),
    ("  - id: a\n    conversation:\n      - user: hi\n        checks: [{contians: x}]\n", 10,
     'cases[0].conversation[0].checks[0].contians: unknown check "contians"'),
    (("  - id: a\n    conversation:\n      - user: hi\n        checks:\n          - contains: x\n"
      "            scope: all_turns\n"), 12, "scope is for a case's checks"),
    ("  - id: a\n    input: hi\n    checks:\n      - contains: x\n        scope: every\n", 11,
     "scope must be one of last, all_turns, any_turn"),
    ("  - id: a\n    simulated_user: {goal: g, opening: o, model: {provider: nope, name: m}}\n", 8,
     "unknown provider 'nope'"),
    ("  - id: a\n    conversation: []\n", 8, "cases[0].conversation: Tuple should have at least 1 item"),
])
def test_conversation_mistakes_name_file_line_and_field(tmp_path: Path, capsys, case: str, line: int,
                                                        message: str) -> None:
    suite = _suite(tmp_path, case)
    r = run_cli(capsys, "validate", suite)
    assert r.code == 2, r.text
    assert f"suite.yaml:{line}" in r.err and message in r.err, r.err
    assert "Traceback" not in r.text


def test_the_suite_schema_describes_conversations_and_the_config_schema_escalation(capsys) -> None:
    suite = run_cli(capsys, "schema", "suite")
    assert suite.code == 0
    case = json.loads(suite.out)["$defs"]["CaseSpec"]["properties"]
    assert {"conversation", "simulated_user", "input"} <= set(case)
    config = run_cli(capsys, "schema", "config")
    assert "EscalationSpec" in json.loads(config.out)["$defs"]
    import jsonschema
    import yaml
    from clitools import REPO

    schema = json.loads(suite.out)
    example = yaml.safe_load((REPO / "suites" / "support-conversations.yaml").read_text())
    jsonschema.validate(example, schema)  # an editor accepts the example...
    example["cases"][0]["input"] = "and an input too"
    with pytest.raises(jsonschema.ValidationError):  # ...and flags a case with two inputs
        jsonschema.validate(example, schema)


AGENT_MODULE = '''
import json
import sys


def agent(inp, ctx):
    users = sum(1 for m in inp.messages if m["role"] == "user")
    return f"{users} user messages; now: {inp.input}"


if __name__ == "__main__":
    inp = json.load(sys.stdin)
    users = sum(1 for m in inp["messages"] if m["role"] == "user")
    print(json.dumps({"output": f"{users} user messages; now: {inp['input']}"}))
'''


@pytest.mark.parametrize("kind", ["python", "command"])
def test_python_and_command_agents_answer_every_turn_with_the_history(tmp_path: Path, capsys, kind: str) -> None:
    write(tmp_path / "chat_agent.py", AGENT_MODULE)
    agent = '{python: "chat_agent:agent"}' if kind == "python" else '{command: [python, chat_agent.py]}'
    write(tmp_path / "config.yaml", f"""
schema_version: 1
name: custom
version: 1.0.0
agent: {agent}
model: {{provider: mock, name: unused}}
""")
    write(tmp_path / "suite.yaml", """
schema_version: 1
suite: custom-chats
config: config.yaml
cases:
  - id: chat
    vars: {order: 77}
    conversation:
      - user: "about order {{ order }}"
        checks: [{contains: "1 user messages"}]
      - user: "and {again}"
        checks: [{contains: "2 user messages; now: and {again}"}]
""".replace("{again}", "again"))
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 0, r.text
    run = _runs(tmp_path / "out")["chat#0"]
    assert run["status"] == "passed", run["checks"]
    assert [t["output"] for t in run["turns"]] == ["1 user messages; now: about order 77",
                                                   "2 user messages; now: and again"]
    assert results(tmp_path / "out")["cases"][0]["input"] == [
        {"role": "user", "content": "about order {{ order }}"}, {"role": "user", "content": "and again"}]


def test_the_chat_view_escapes_replies_and_redact_hides_them(tmp_path: Path, capsys) -> None:
    suite = _suite(tmp_path, """  - id: hostile
    conversation:
      - user: "the first question <b>bold</b>"
      - user: "the second question"
""")
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace('"Answer two: beta"', '"<script>alert(1)</script> TOPSECRET"'))
    assert run_cli(capsys, "run", suite, "--out", tmp_path / "out").code == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; TOPSECRET" in html and "<script>alert(1)" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert run_cli(capsys, "run", suite, "--out", tmp_path / "red", "--redact").code == 0
    redacted = (tmp_path / "red" / "report.html").read_text()
    assert "user · turn 2" in redacted and "TOPSECRET" not in redacted and "first question" not in redacted


def test_a_failing_simulator_is_a_provider_error_that_keeps_the_conversation(tmp_path: Path, capsys,
                                                                           clean_provider_env) -> None:
    clean_provider_env.setenv("SIM_KEY", "sk-sim")
    with LoopbackServer(rates={400: 1.0}) as server:
        suite = _suite(tmp_path, f"""  - id: broken-user
    simulated_user:
      goal: Know the refund status.
      opening: Where is my refund?
      model: {{provider: openai, name: sim-model, base_url: "{server.openai_base_url}", api_key_env: SIM_KEY}}
""")
        r = run_cli(capsys, "run", suite, "--out", tmp_path / "out", "--no-cache")
    assert r.code == 3, r.text  # no verdict for the only case: the run is incomplete
    run = _runs(tmp_path / "out")["broken-user#0"]
    assert run["status"] == "errored" and run["error"]["kind"] == "provider"
    assert run["error"]["message"].startswith("simulated user: ")
    assert run["output"] == "Your refund is pending." and run["simulated_user"]["stop"] == "error"
    assert [m["role"] for m in run["messages"]] == ["system", "user"]


def test_production_samples_outside_the_escalation_bands_are_warned(workdir: Path, capsys) -> None:
    suite = workdir / "suites" / "support-conversations.yaml"
    text = suite.read_text()
    for tags in ("tags: [escalation, should-escalate]", "tags: [pushback, refunds]"):
        assert tags in text
        text = text.replace(tags, tags[:-1] + ", imported]")  # as `agent-eval import` tags production samples
    suite.write_text(text)
    r = run_cli(capsys, "run", suite, "--out", "out")
    warning = "warning: production samples escalate 50.0% of runs, above 30%: a sign of miscalibrated confidence"
    assert warning in r.text, r.text
    assert warning in (workdir / "out" / "summary.md").read_text()
    assert warning in (workdir / "out" / "report.html").read_text()


def test_a_simulators_spend_counts_against_the_budget(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("SIM_KEY", "sk-sim")
    rules = [Rule("user", "pending", Reply("Thanks, that's all. [GOAL_REACHED]"))]
    with LoopbackServer(responder=rule_responder(rules)) as server:
        suite = _priced_simulator_suite(tmp_path, server, repeat=6)
        r = run_cli(capsys, "run", suite, "--out", tmp_path / "out", "--no-cache", "-j", "1", "--budget-usd", "0.01")
        calls = server.total
    assert r.code == 3, r.text  # the agent (mock) is free: only the simulator's spend can reach the budget
    data = results(tmp_path / "out")
    assert "budget" in data["incomplete_reason"] and 1 <= calls < 6
