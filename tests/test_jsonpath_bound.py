"""JSONPath's `=~` regexes are bounded wherever a JSONPath runs: checks, transforms, escalation, HTTP agents.

A catastrophic-backtracking filter is a clean failure with a reason (a check that timed out, a run not
escalated with a warning, an HTTP reply that cannot be read), never a hang nor an internal error (exit 3).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from clitools import results, spawn_cli, write

SLOW = "(a|aa)+$"  # exponential backtracking on "aaa…ab", in `re` and in `regex` alike
ANSWER = {"items": [{"msg": "a" * 40 + "b"}], "note": "a" * 40 + "b"}
SLOW_PATH = f'$.items[?(@.msg =~ "{SLOW}")]'
INTERNAL = "internal error"


def _suite(folder: Path, checks: str, *, escalation: str | None = SLOW_PATH, answer: Any = ANSWER,
           case: str = "input: q0") -> Path:
    escalate = f"escalation: {{json_path: '{escalation}'}}\n" if escalation else ""
    write(folder / "config.yaml", "name: m\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: m\n  mock:\n"
          f"    default: {json.dumps(json.dumps(answer))}\nprompt: {{user: '{{{{ input }}}}'}}\n{escalate}")
    return write(folder / "suite.yaml", "suite: m\nconfig: config.yaml\ncheck_timeout_s: 0.5\ncases:\n"
                 f"  - {{id: c0, {case}, checks: {checks}}}\n")


def _run(suite: Path, cwd: Path, seconds: float = 60) -> tuple[int, str]:
    child = spawn_cli("run", suite, "--out", "out", cwd=cwd, env={"CI": "true"})
    try:
        _, err = child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"agent-eval did not finish within {seconds} s: {err[-2000:]}")
    return child.returncode, err


def _only_run(folder: Path) -> dict[str, Any]:
    (run,) = [run for case in results(folder)["cases"] for run in case["runs"]]
    return run


@pytest.mark.parametrize("checks", ["[{json_path: $.items}]", "[{contains: aaa}]"], ids=["json_path", "no_json_path"])
def test_a_catastrophic_escalation_regex_is_bounded(workdir: Path, checks: str) -> None:
    """With or without a json_path check in the suite (once the only place the bound was installed)."""
    suite = _suite(workdir / "s", checks)
    code, err = _run(suite, workdir)
    assert code in (0, 1) and INTERNAL not in err, err
    run = _only_run(workdir / "out")
    assert run["status"] == "passed" and run["escalated"] is False
    assert any("escalation:" in w and f"/{SLOW}/ ran out of time" in w for w in run["warnings"]), run["warnings"]
    assert "the escalation JSONPath could not be evaluated 1 time(s)" in err
    assert "repair(s)" not in err


def test_a_quick_escalation_regex_still_matches(workdir: Path) -> None:
    suite = _suite(workdir / "s", "[{escalated: true}]", escalation='$.items[?(@.msg =~ "^a+b$")]')
    code, err = _run(suite, workdir)
    assert code == 0, err
    run = _only_run(workdir / "out")
    assert run["escalated"] is True and run["warnings"] == []


def test_a_catastrophic_regex_in_a_conversation_escalation_is_bounded(workdir: Path) -> None:
    turns = "conversation: [{user: hi}, {user: again}]"
    suite = _suite(workdir / "s", "[{contains: aaa}]", case=turns)
    code, err = _run(suite, workdir)
    assert code in (0, 1) and INTERNAL not in err, err
    run = _only_run(workdir / "out")
    assert run["escalated"] is False
    assert [w.split(":")[0] for w in run["warnings"]] == ["turn 1", "turn 2"], run["warnings"]
    assert "could not be evaluated 2 time(s)" in err


def test_a_catastrophic_regex_in_a_json_path_check_or_transform_fails_that_check(workdir: Path) -> None:
    checks = (f"[{{json_path: '{SLOW_PATH}'}}, {{contains: x, transform: {{json_path: '{SLOW_PATH}'}}}},"
              " {json_path: '$.items[?(@.msg =~ \"b$\")]'}]")
    suite = _suite(workdir / "s", checks, escalation=None)
    code, err = _run(suite, workdir)
    assert code in (0, 1) and INTERNAL not in err, err
    slow, transformed, quick = _only_run(workdir / "out")["checks"]
    assert slow["passed"] is False and "timed out after 0.5 s" in slow["reason"]
    assert transformed["passed"] is False and "transform timed out after 0.5 s" in transformed["reason"]
    assert quick["passed"] is True


def test_a_catastrophic_regex_in_a_jsonpath_sub_is_bounded(workdir: Path) -> None:
    checks = f"[{{contains: x, transform: {{json_path: '$.note.`sub(/{SLOW}/, x)`'}}}}]"
    suite = _suite(workdir / "s", checks, escalation=None)
    code, err = _run(suite, workdir)
    assert code in (0, 1) and INTERNAL not in err, err
    (check,) = _only_run(workdir / "out")["checks"]
    assert check["passed"] is False and "transform timed out after 0.5 s" in check["reason"]


class _Agent(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        data = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def agent_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/agent"
    server.shutdown()
    server.server_close()


def test_a_catastrophic_regex_in_an_http_agents_output_path_errors_the_run_with_a_reason(
        workdir: Path, agent_url: str) -> None:
    write(workdir / "s" / "config.yaml", f"name: h\nversion: 1.0.0\nagent:\n  http:\n    url: \"{agent_url}\"\n"
          f"    output: '{SLOW_PATH}'\n")
    suite = write(workdir / "s" / "suite.yaml", "suite: h\nconfig: config.yaml\ncases:\n  - {id: c0, input: q0}\n")
    code, err = _run(suite, workdir)
    assert code in (0, 1) and INTERNAL not in err, err
    run = _only_run(workdir / "out")
    assert run["status"] == "failed" and f"/{SLOW}/ ran out of time" in run["error"]["message"]  # a target error


def test_an_invalid_filter_regex_is_an_input_error_naming_the_field(workdir: Path) -> None:
    suite = _suite(workdir / "s", "[{contains: aaa}]", escalation='$.items[?(@.msg =~ "(")]')
    code, err = _run(suite, workdir)
    assert code == 2, err
    assert 'config.yaml:9: escalation.json_path: invalid JSONPath \'$.items[?(@.msg =~ "(")]\'' in err
    assert "Traceback" not in err
