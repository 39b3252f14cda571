"""Issue 20, first part: data files choose no code, schemas fetch nothing, templates are bounded, secrets are
masked in every file and `--redact` leaves no input or output text anywhere (through the CLI)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from clitools import run_cli, write

CONFIG = """\
name: bot
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
prompt:
  user: "{{ input }}"
"""


def setup(workdir: Path, suite: str, config: str = CONFIG) -> Path:
    write(workdir / "t" / "config.yaml", config)
    return write(workdir / "t" / "suite.yaml", suite)


def assert_input_error(r, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == 2, r.text
    assert "Traceback" not in r.text and "internal error" not in r.text, r.text
    for fragment in fragments:
        assert fragment in r.err, (fragment, r.err)


def files_containing(folder: Path, needles: tuple[str, ...]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(folder)}: {n}" for n in needles if n in text]
    return found


# --- 1. data files choose no code ---------------------------------------------------------------------------

SUITE_FROM = "suite: s\nconfig: config.yaml\ncases_from: {name}\n"


@pytest.mark.parametrize(("name", "body", "line", "field"), [
    ("cases.jsonl", '{"id": "a", "input": "hi"}\n{"id": "b", "input": "x", "checks": [{"python": "pty:spawn"}]}\n',
     2, "checks[0].python"),
    ("cases.jsonl", '{"id": "b", "input": "x", "checks": [{"contains": "x", "transform": {"python": "os:getcwd"}}]}\n',
     1, "checks[0].transform.python"),
    ("cases.jsonl", '{"id": "b", "input": "x", "checks": [{"any": [{"contains": "y"}, {"python": "os:system"}]}]}\n',
     1, "checks[0].any[1].python"),
    ("cases.csv", 'id,input,checks\na,hi,"[{""python"": ""pty:spawn""}]"\n', 2, "checks[0].python"),
    ("cases.yaml", "- id: a\n  input: hi\n- id: b\n  input: x\n  checks:\n    - python: pty:spawn\n",
     6, "[1].checks[0].python"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_cases_from_file_naming_code_is_refused(workdir: Path, capsys, name: str, body: str, line: int,
                                                  field: str, command: str) -> None:
    setup(workdir, SUITE_FROM.format(name=name))
    write(workdir / "t" / name, body)
    r = run_cli(capsys, command, workdir / "t" / "suite.yaml")
    assert_input_error(r, f"{workdir / 't' / name}:{line}: {field}:", "data file never chooses")
    assert not (workdir / "results").exists()


def test_a_python_check_in_the_suite_itself_still_runs(workdir: Path, capsys) -> None:
    write(workdir / "t" / "mychecks.py", "def ok(output, case, run):\n    return True\n")
    setup(workdir, "suite: s\nconfig: config.yaml\ncases_from: cases.jsonl\n"
          "defaults:\n  checks:\n    - python: mychecks:ok\n")
    write(workdir / "t" / "cases.jsonl", '{"id": "a", "input": "hi"}\n')
    r = run_cli(capsys, "validate", workdir / "t" / "suite.yaml")
    assert r.code == 0, r.text


# --- 2. no network from $ref --------------------------------------------------------------------------------

@pytest.mark.parametrize("check", [
    '{json: {schema: {"$ref": "http://127.0.0.1:9/x.json"}}}',
    '{json: {schema: {type: object, properties: {a: {"$ref": "https://example.com/a.json#/b"}}}}}',
    '{contains_json: {schema: {"$ref": "file:///etc/passwd"}}}',
    '{json: {schema: {"$ref": "ftp://example.com/s.json"}}}',
    '{json: {schema: {"$ref": "../../outside.json"}}}',
    '{tool_called: {name: f, args_schema: {"$ref": "http://127.0.0.1:9/y.json"}}}',
])
def test_a_remote_ref_in_a_schema_is_refused_at_load(workdir: Path, capsys, check: str) -> None:
    path = setup(workdir, f"suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    input: hi\n    checks:\n"
                          f"      - {check}\n")
    r = run_cli(capsys, "validate", path)
    assert_input_error(r, f"{path}:7", "$ref", "never fetches")


def test_a_local_ref_still_works(workdir: Path, capsys) -> None:
    path = setup(workdir, 'suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    input: hi\n    checks:\n'
                          '      - {json: {schema: {"$defs": {s: {type: string}}, "$ref": "#/$defs/s"}}}\n')
    assert run_cli(capsys, "validate", path).code == 0


# --- 3. template bounds -------------------------------------------------------------------------------------

NESTED = "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}"
HOSTILE = [
    NESTED,
    "{% set r = range(10000) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}",
    "{{ '{:>1000000000}'.format(x) }}",
    "{{ x.ljust(1000000000) }}",
    "{{ x|center(1000000000) }}",
    "{{ '%1000000000s'|format(x) }}",
    "{{ (x * 100000)|join(',') }}",
    "{{ ','.join([x] * 1000000) }}",
    "{% set ns = namespace(s=x) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_a_hostile_input_template_is_a_clean_error_within_the_time_bound(workdir: Path, capsys,
                                                                          template: str) -> None:
    path = setup(workdir, "suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    vars: {x: abcdefghij}\n"
                          f"    input: {json.dumps(template)}\n")
    r = run_cli(capsys, "validate", path)
    assert_input_error(r, f"{path}", "case 'a'", "cannot render template", "limit")


def test_a_hostile_template_in_the_config_prompt_is_refused_too(workdir: Path, capsys) -> None:
    config = CONFIG.replace('user: "{{ input }}"', f"user: {json.dumps(NESTED)}")
    path = setup(workdir, "suite: s\nconfig: config.yaml\ncases:\n  - {id: a, input: hi}\n", config)
    assert_input_error(run_cli(capsys, "validate", path), "config.yaml", "prompt.user", "limit")


def test_a_mock_answer_too_large_errors_the_run_and_the_results_are_written(workdir: Path, capsys) -> None:
    config = CONFIG.replace("  name: mock-2025-01-01\n", "  name: mock-2025-01-01\n  mock:\n"
                            "    default: \"{{ 'x'.ljust(2000000000) }}\"\n")
    path = setup(workdir, "suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    input: hi\n"
                          "    checks: [{contains: x}]\n", config)
    r = run_cli(capsys, "run", path, "--out", workdir / "out")
    assert "Traceback" not in r.text and r.code == 3, r.text  # incomplete: every run errored
    assert (workdir / "out" / "results.json").exists()
    runs = [json.loads(line) for line in (workdir / "out" / "runs.jsonl").read_text().splitlines()]
    assert runs and all(run["status"] == "errored" and "over the limit" in json.dumps(run) for run in runs), runs


# --- 4. secrets masked in every file ------------------------------------------------------------------------

class _Echo(BaseHTTPRequestHandler):
    """An agent endpoint that echoes its Authorization header, and a key it was told, back in every field."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if "zebrabroken" in self.path:
            data = f"no such page: {self.path}".encode()
            self.send_response(404)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        said = f"{self.headers.get('authorization')} and {os.environ.get('SIM_KEY')} for {body.get('question')}"
        answer = {"answer": said, "calls": [{"name": "lookup", "args": {"token": said}, "result": said}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def echo_agent() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _echo_setup(workdir: Path, url: str, monkeypatch: pytest.MonkeyPatch, name: str = "config.yaml") -> Path:
    monkeypatch.setenv("AGENT_TOKEN", "tok-hardening-secret-1")
    monkeypatch.setenv("SIM_KEY", "sk-simulator-secret-2")
    write(workdir / "t" / name, f"""\
name: echo
version: 1.0.0
agent:
  http:
    url: "{url}/chat"
    headers: {{Authorization: "Bearer ${{AGENT_TOKEN}}"}}
    body: {{question: "{{{{ input }}}}"}}
    output: "$.answer"
    tool_calls: "$.calls"
""")
    return write(workdir / "t" / "suite.yaml", f"""\
suite: s
config: {name}
similarity_model: {{provider: openai, name: text-embedding-3-small, api_key_env: SIM_KEY}}
cases:
  - id: a
    input: hello there
    checks: [{{contains: "nothing like this"}}, {{equals: "x"}}]
  - id: b
    input: second case
    checks: [{{contains: "Bearer"}}]
""")


SECRETS = ("tok-hardening-secret-1", "sk-simulator-secret-2")


def test_a_secret_echoed_by_an_endpoint_is_masked_in_every_file_and_on_the_console(
        workdir: Path, capsys, echo_agent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _echo_setup(workdir, echo_agent, monkeypatch)
    r = run_cli(capsys, "run", path, "--out", workdir / "out", "--trace-export", workdir / "traces.json",
                "-v")
    assert r.code == 0, r.text  # case a fails its checks, b passes: no baseline, PASS
    runs = [json.loads(line) for line in (workdir / "out" / "runs.jsonl").read_text().splitlines()]
    assert all("***" in run["output"] for run in runs), runs  # the echo came back, masked
    assert files_containing(workdir / "out", SECRETS) == []
    assert files_containing(workdir, SECRETS) == []
    assert not any(s in r.text for s in SECRETS), r.text


def test_secrets_are_masked_in_the_files_of_a_two_config_run(workdir: Path, capsys, echo_agent: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = _echo_setup(workdir, echo_agent, monkeypatch)
    write(workdir / "t" / "other.yaml", (workdir / "t" / "config.yaml").read_text().replace("version: 1.0.0", "version: 2.0.0").replace("/chat", "/chat2"))
    r = run_cli(capsys, "run", path, "--config", workdir / "t" / "config.yaml", "--config", workdir / "t" / "other.yaml",
                "--out", workdir / "out")
    assert r.code in (0, 1), r.text
    assert files_containing(workdir, SECRETS) == []
    assert not any(s in r.text for s in SECRETS), r.text


# --- 5. --redact leaves no input or output text in any file -------------------------------------------------

CHAT_CONFIG = """\
name: chat
version: 1.0.0
tools:
  - {name: lookup_order, parameters: {type: object, properties: {order: {type: string}}}}
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - {match: "zebrafirst", answers: [{text: "Quokkareply alpha"}]}
      - {match: "zebrasecond", answers: [{tool_calls: [{name: lookup_order, arguments: {order: "Wombatarg 77"}}]}]}
      - {match: "zebrathird", answers: [{text: "Quokkareply gamma"}]}
    default: "Quokkadefault reply"
prompt:
  user: "{{ input }}"
"""
CHAT_SUITE = """\
suite: chats
config: config.yaml
cases:
  - id: talk
    conversation:
      - user: zebrafirst words of the user
        checks: [{contains: "Quokkareply"}]
      - user: zebrasecond words of the user
      - user: zebrathird words of the user
        checks: [{contains: "never said"}]
  - id: single
    input: zebrasingle input text
    expected: Platypusexpected answer
    checks: [{equals: "Platypusexpected answer"}]
  - id: broken
    input: "zebrabroken {{ x.ljust(2000000000) }}"
    vars: {x: "y"}
"""
TEXTS = ("zebrafirst", "zebrasecond", "zebrathird", "zebrasingle", "Quokka", "Wombatarg", "Platypusexpected",
         "words of the user")


def test_redact_leaves_no_turn_tool_argument_or_error_text_in_any_file(workdir: Path, capsys) -> None:
    suite = CHAT_SUITE.replace('''  - id: broken
    input: "zebrabroken {{ x.ljust(2000000000) }}"
    vars: {x: "y"}
''', "")
    path = setup(workdir, suite, CHAT_CONFIG)
    r = run_cli(capsys, "run", path, "--out", workdir / "out", "--redact", "--trace-export", workdir / "traces.json")
    assert r.code in (0, 1), r.text
    assert files_containing(workdir / "out", TEXTS) == [], "\n".join(files_containing(workdir / "out", TEXTS))
    traces = (workdir / "traces.json").read_text()
    assert [t for t in TEXTS if t in traces] == []
    # without --redact the same texts are there: the check above can fail
    plain = run_cli(capsys, "run", path, "--out", workdir / "raw")
    assert plain.code in (0, 1) and len(files_containing(workdir / "raw", TEXTS)) > 5


def test_redact_leaves_no_input_in_http_span_names_or_error_messages(workdir: Path, capsys, echo_agent: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = _echo_setup(workdir, echo_agent, monkeypatch)
    config = workdir / "t" / "config.yaml"
    config.write_text(config.read_text().replace("/chat", "/chat/{{ input }}"))
    path.write_text(path.read_text().replace("second case", "zebrabroken case"))
    texts = ("hello", "zebrabroken", "Bearer")
    r = run_cli(capsys, "run", path, "--out", workdir / "out", "--redact", "--trace-export", workdir / "traces.json")
    assert r.code in (0, 1, 3), r.text
    runs = {run["case_id"]: run for run in map(json.loads, (workdir / "out" / "runs.jsonl").read_text().splitlines())}
    assert runs["b"]["error"]["message"], runs["b"]  # the 404 is recorded, its text is not
    found = files_containing(workdir / "out", texts)
    traces = (workdir / "traces.json").read_text()
    assert found == [] and [t for t in texts if t in traces] == [], (found, traces[:3000])
