"""Custom agents as targets, through the CLI: a Python agent whose SDK clients go through agent-eval's
call layer (to the loopback server), an HTTP agent on a loopback HTTP server, and a command agent."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from clitools import run_cli, runs_lines, write
from loopback import LoopbackServer

AGENT_MODULE = '''
import asyncio
from agent_eval.targets import AgentResult, AgentToolCall

async def dispatch(inp, ctx):
    if inp.case_id == "sdks":
        first = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages)
        second = await ctx.anthropic.messages.create(
            model=ctx.model, max_tokens=50, messages=[{"role": "user", "content": "again: " + inp.input}])
        return AgentResult(
            output=first.choices[0].message.content + " | " + second.content[0].text,
            tool_calls=[AgentToolCall(name="lookup_order", args={"order_id": "1"}, result={"status": "ok"})],
            context=["doc one"])
    if inp.case_id == "crash":
        raise ValueError("agent bug in " + inp.case_id)
    if inp.case_id == "spender":
        for _ in range(50):
            await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages)
    if inp.case_id == "slow":
        await asyncio.sleep(5)
    return "done"

def framework(inp, ctx):
    import openai
    if inp.case_id == "own-loop":  # a sync agent driving the async client on its own event loop
        reply = asyncio.run(ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages))
    else:
        client = openai.OpenAI(base_url=ctx.base_url, api_key=ctx.api_key, max_retries=0)
        reply = client.chat.completions.create(model=ctx.model, messages=inp.messages)
    return {"output": reply.choices[0].message.content}
'''


def _runs(folder: Path) -> dict[str, dict[str, Any]]:
    return {r["case_id"]: r for r in runs_lines(folder)}


def _python_setup(tmp: Path, base_url: str, function: str, extra: str = "") -> None:
    write(tmp / "my_agent.py", AGENT_MODULE)
    write(tmp / "config.yaml", f"""
schema_version: 1
name: py-agent
version: 1.0.0
agent: {{python: "my_agent:{function}"{extra}}}
model: {{provider: openai, name: loopback-model, base_url: "{base_url}", api_key_env: LOOPBACK_KEY}}
pricing: {{loopback-model: {{input: 1.0, output: 2.0}}}}
""")


def _suite(tmp: Path, ids: list[str]) -> Path:
    cases = "".join(f"  - {{id: {i}, input: 'question {i}'}}\n" for i in ids)
    return write(tmp / "suite.yaml", f"schema_version: 1\nsuite: custom\nconfig: config.yaml\ncases:\n{cases}")


def test_a_python_agent_calls_models_through_the_call_layer(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-loopback-secret")
    with LoopbackServer() as server:
        _python_setup(tmp_path, server.openai_base_url, "dispatch", ", max_tokens: 300")
        _suite(tmp_path, ["sdks", "crash", "spender"])
        cache = ["--cache-dir", tmp_path / "cache"]
        r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "-v", *cache)
        calls = [req for req in server.requests if req.path.endswith("/chat/completions")]
        again = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "again", "--filter", "sdks",
                        *cache)
        calls_again = [req for req in server.requests if req.path.endswith("/chat/completions")]
    # the agent's crash is a run's error, not the CLI's; -v prints its traceback
    assert "crash run 0: my_agent:dispatch raised ValueError: agent bug in crash" in r.err
    assert r.err.count("Traceback (most recent call last)") == 1 and "internal error" not in r.err
    runs = _runs(tmp_path / "out")
    sdks = runs["sdks"]
    assert sdks["status"] == "passed"
    assert sdks["output"] == "echo: question sdks | echo: again: question sdks"  # the Anthropic call too
    assert sdks["steps"] == 2 and sdks["tokens"]["input_tokens"] > 0 and sdks["cost_usd"] > 0
    assert sdks["tool_calls"] == [{"id": "", "name": "lookup_order", "arguments": '{"order_id": "1"}',
                                   "result": {"status": "ok"}, "error": None}]
    (agent,) = sdks["trace"]
    assert agent["kind"] == "agent" and [c["kind"] for c in agent["children"]] == ["model", "model", "tool"]
    assert all(req.headers["authorization"] == "Bearer sk-loopback-secret" for req in calls)
    crash = runs["crash"]
    assert crash["status"] == "failed" and crash["score"] == 0 and crash["error"]["kind"] == "target"  # README: failed, score 0
    assert crash["error"]["message"] == "my_agent:dispatch raised ValueError: agent bug in crash"
    assert "Traceback" in crash["error"]["detail"] and "my_agent.py" in crash["error"]["detail"]
    spender = runs["spender"]
    assert spender["status"] == "failed"
    limit = spender["checks"][0]
    assert limit["name"] == "agent.max_tokens" and "limit 300" in limit["reason"]
    assert 1 < spender["steps"] < 50
    # the second run of the same case comes from the cache, call by call (keyed by ordinal)
    assert again.code == 0, again.text
    assert len(calls_again) == len(calls)
    assert _runs(tmp_path / "again")["sdks"]["cached"] is True
    text = (tmp_path / "out" / "runs.jsonl").read_text() + (tmp_path / "out" / "results.json").read_text()
    assert "sk-loopback-secret" not in text


def test_a_sync_framework_agent_uses_the_loopback_base_url(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    with LoopbackServer() as server:
        _python_setup(tmp_path, server.openai_base_url, "framework")
        _suite(tmp_path, ["one", "two", "own-loop"])
        r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "--no-cache", "-j", "2")
        assert server.total == 3
    assert r.code == 0, r.text
    runs = _runs(tmp_path / "out")
    assert runs["two"]["output"] == "echo: question two" and runs["two"]["steps"] == 1
    assert runs["own-loop"]["output"] == "echo: question own-loop" and runs["own-loop"]["tokens"]["input_tokens"] > 0
    assert runs["one"]["trace"][0]["children"][0]["attributes"]["gen_ai.request.model"] == "loopback-model"


def test_a_python_agent_past_its_run_timeout_is_stopped(tmp_path: Path, capsys, clean_provider_env) -> None:
    clean_provider_env.setenv("LOOPBACK_KEY", "sk-x")
    _python_setup(tmp_path, "http://127.0.0.1:9/v1", "dispatch")
    _suite(tmp_path, ["slow"])
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "--run-timeout", "0.2")
    assert r.code == 3, r.text
    assert _runs(tmp_path / "out")["slow"]["error"]["kind"] == "timeout"


class _AgentService(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, dict[str, str], Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if "fail" in self.path:
            answer, status = {"detail": "service down"}, 503
        elif "question" in body:
            answer, status = {"answer": {"text": f"you asked: {body['question']}"},
                              "calls": [{"name": "search", "args": {"q": "x"}, "result": [1, 2]}]}, 200
        else:
            answer, status = {"output": f"default body for {body['case_id']}", "context": ["d1"]}, 200
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def agent_service() -> Iterator[tuple[str, list[tuple[str, dict[str, str], Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgentService)
    _AgentService.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _AgentService.seen
    server.shutdown()
    server.server_close()


def test_an_http_agent_gets_the_rendered_body_and_secret_headers(tmp_path: Path, capsys, agent_service,
                                                                monkeypatch) -> None:
    url, seen = agent_service
    monkeypatch.setenv("AGENT_TOKEN", "tok-very-secret")
    write(tmp_path / "config.yaml", f"""
schema_version: 1
name: http-agent
version: 1.0.0
agent:
  http:
    url: "{url}/chat/{{{{ case_id }}}}"
    headers: {{Authorization: "Bearer ${{AGENT_TOKEN}}"}}
    body: {{question: "{{{{ input }}}}", user: {{id: "{{{{ user }}}}", plan: pro}}, n: 3}}
    output: "$.answer.text"
    tool_calls: "$.calls"
""")
    write(tmp_path / "default.yaml", f"""
schema_version: 1
name: http-default
version: 1.0.0
agent: {{http: {{url: "{url}/agent"}}}}
""")
    write(tmp_path / "suite.yaml", """schema_version: 1
suite: http
config: config.yaml
cases:
  - id: quotes
    input: 'He said "stop" \\ now'
    vars: {user: u1}
    checks: [{tool_called: search}, {contains: 'you asked: He said "stop"'}]
  - id: fail
    input: anything
    vars: {user: u2}
""")
    dry = run_cli(capsys, "run", tmp_path / "suite.yaml", "--dry-run")
    assert f"quotes: POST {url}/chat/quotes headers ['Authorization'" in dry.out, dry.out
    assert "tok-very-secret" not in dry.out and not seen
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert "error:" not in r.err, r.text
    runs = _runs(tmp_path / "out")
    assert runs["quotes"]["status"] == "passed", runs["quotes"]["checks"]
    assert runs["quotes"]["tool_calls"][0]["result"] == [1, 2]
    _, headers, body = next(s for s in seen if s[0] == "/chat/quotes")
    assert body == {"question": 'He said "stop" \\ now', "user": {"id": "u1", "plan": "pro"}, "n": 3}
    assert headers["authorization"] == "Bearer tok-very-secret"
    error = runs["fail"]["error"]
    assert (error["kind"], error["status"]) == ("provider", 503) and "service down" in error["detail"]  # retried
    for name in ("runs.jsonl", "results.json", "report.html"):
        assert "tok-very-secret" not in (tmp_path / "out" / name).read_text()
    seen.clear()
    d = run_cli(capsys, "run", tmp_path / "suite.yaml", "--config", tmp_path / "default.yaml", "--filter", "quotes",
                "--out", tmp_path / "default")
    assert d.code == 1, d.text  # no baseline, and not one run passed: FAIL
    (_, _, body), = seen
    assert body["case_id"] == "quotes" and body["messages"] == [{"role": "user", "content": 'He said "stop" \\ now'}]
    assert body["vars"] == {"user": "u1"} and body["repetition"] == 0
    assert _runs(tmp_path / "default")["quotes"]["output"] == "default body for quotes"


COMMAND_AGENT = '''
import json, sys
inp = json.load(sys.stdin)
if "crash" in inp["input"]:
    print("something went wrong", file=sys.stderr)
    sys.exit(3)
if "bare" in inp["input"]:
    print(json.dumps("just text"))
else:
    print(json.dumps({"output": "cmd: " + inp["input"], "tool_calls": [{"name": "grep", "args": {"q": "a"}}]}))
'''


def test_a_command_agent_reads_stdin_and_answers_on_stdout(tmp_path: Path, capsys) -> None:
    write(tmp_path / "agents" / "agent.py", COMMAND_AGENT)
    write(tmp_path / "agents" / "config.yaml", f"""
schema_version: 1
name: cmd-agent
version: 1.0.0
agent: {{command: ["{sys.executable}", "agent.py"], timeout_s: 20}}
""")
    write(tmp_path / "suite.yaml", """schema_version: 1
suite: cmd
config: agents/config.yaml
cases:
  - {id: full, input: hello, checks: [{tool_called: grep}, {equals: "cmd: hello"}]}
  - {id: bare, input: bare please}
  - {id: crash, input: crash now}
""")
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out", "-j", "3")
    assert "error:" not in r.err, r.text
    runs = _runs(tmp_path / "out")
    assert runs["full"]["status"] == "passed" and runs["full"]["steps"] == 1
    assert runs["bare"]["output"] == "just text"
    error = runs["crash"]["error"]
    assert error["kind"] == "target" and "exited with status 3" in error["message"]
    assert error["detail"].strip() == "something went wrong"


@pytest.mark.parametrize("kind", ["agent-input", "agent-result"])
def test_schema_prints_the_agent_formats(capsys, kind: str) -> None:
    r = run_cli(capsys, "schema", kind)
    assert r.code == 0
    document = json.loads(r.out)
    assert document["additionalProperties"] is False
    assert ("case_id" if kind == "agent-input" else "output") in document["required"]


def test_an_http_agent_that_cannot_be_reached_is_a_provider_error(tmp_path: Path, capsys) -> None:
    write(tmp_path / "config.yaml", """
schema_version: 1
name: http-agent
version: 1.0.0
agent: {http: {url: "http://127.0.0.1:9/agent", timeout_s: 2}}
""")
    _suite(tmp_path, ["down"])
    r = run_cli(capsys, "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert r.code == 3, r.text
    error = _runs(tmp_path / "out")["down"]["error"]
    assert error["kind"] == "provider" and "127.0.0.1:9/agent" in error["message"]


def test_validate_imports_agents_and_warns_about_unset_header_variables(tmp_path: Path, capsys,
                                                                         monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    write(tmp_path / "py.yaml", 'schema_version: 1\nname: a\nversion: 1.0.0\nagent: {python: "no_such_agent:run"}\n'
          "model: {provider: mock, name: m}\n")
    write(tmp_path / "http.yaml", "schema_version: 1\nname: h\nversion: 1.0.0\nagent:\n  http:\n"
          '    url: "http://127.0.0.1:9/x"\n    headers: {Authorization: "Bearer ${NOT_SET_TOKEN}"}\n')
    r = run_cli(capsys, "validate", tmp_path / "py.yaml")
    assert r.code == 2 and 'py.yaml: agent.python: cannot import "no_such_agent:run"' in r.err
    r = run_cli(capsys, "validate", tmp_path)
    assert r.code == 2, r.text
    assert "ok  " + str(tmp_path / "http.yaml") + ": config h 1.0.0 (http agent)" in r.out
    assert "agent.http.headers name ${NOT_SET_TOKEN}, which is not set here" in r.err


def test_the_support_agent_as_a_command_passes_the_example_suite(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-agent.yaml", "--config", "suites/configs/support-agent-command.yaml",
                "-k", "1", "--out", "cmd")
    assert "error:" not in r.err, r.text
    runs = _runs(workdir / "cmd")
    assert all(run["status"] == "passed" for run in runs.values()), runs
    assert runs["refund-status-1234"]["output"] == "The refund for order 1234 is pending."  # vars filled in


TIMED_AGENT = '''
import json, sys, time
json.load(sys.stdin)
time.sleep(0.3)
started = time.time()
time.sleep(0.2)
print(json.dumps({"output": "done", "tool_calls": [
    {"name": "search", "args": {"q": "x"}, "result": "found", "started_at": started, "duration_ms": 200.0},
    {"name": "notify", "args": {}, "result": "sent"}]}))
time.sleep(0.3)
'''


def test_a_custom_agents_tool_spans_are_stamped_when_they_ran(tmp_path: Path, capsys) -> None:
    write(tmp_path / "timed.py", TIMED_AGENT)
    write(tmp_path / "config.yaml", "schema_version: 1\nname: cmd\nversion: 1.0.0\n"
          f"agent: {{command: [{json.dumps(sys.executable)}, timed.py]}}\n")
    suite = write(tmp_path / "suite.yaml", "schema_version: 1\nsuite: s\nconfig: config.yaml\n"
                  "cases:\n  - {id: a, input: hi, checks: [{tool_called: search}]}\n")
    r = run_cli(capsys, "run", suite, "--out", tmp_path / "out")
    assert r.code == 0, r.text
    run = _runs(tmp_path / "out")["a"]
    (agent,) = run["trace"]
    tools = {span["name"]: span for span in agent["children"] if span["kind"] == "tool"}
    search, notify = tools["execute_tool search"], tools["execute_tool notify"]
    # the call that said when it ran sits there (after ~0.3 s of the agent's run, for 200 ms)
    assert 250 <= search["start_ms"] - agent["start_ms"] <= agent["duration_ms"] - 400, (search, agent)
    assert search["duration_ms"] == 200.0
    # one that did not is stamped at the end of the run
    assert notify["start_ms"] == pytest.approx(agent["start_ms"] + agent["duration_ms"], abs=1.0)
    assert notify["duration_ms"] is None
