"""Hostile model output never kills or freezes a run (issue 9): bad Unicode, deep JSON, slow checks, sys.exit."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, spawn_cli, write
from loopback import LoopbackServer, Reply

SECRET = "sk-test-hardening"
LONE = "\ud800"  # half of a UTF-16 surrogate pair: not a valid code point in UTF-8
DEEP = "[" * 2000


def loop_suite(folder: Path, server: LoopbackServer, *, provider: str = "openai", checks: str = "[{contains: ok}]",
               extra_suite: str = "", cases: int = 2) -> Path:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    write(folder / "config.yaml", f"""\
name: loop
version: 1.0.0
model: {{provider: {provider}, name: loop-model, base_url: "{base_url}", api_key_env: LOOP_KEY, timeout_s: 5}}
prompt: {{user: "{{{{ input }}}}"}}
""")
    body = "".join(f"  - {{id: c{i}, input: question {i}, checks: {checks}}}\n" for i in range(cases))
    return write(folder / "suite.yaml", f"suite: loop\nconfig: config.yaml\n{extra_suite}cases:\n{body}")


def mock_suite(folder: Path, answer: str, checks: str, *, extra_suite: str = "", cases: int = 1, k: int = 1) -> Path:
    write(folder / "config.yaml", "name: m\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: m\n  mock:\n"
          f"    default: {json.dumps(answer)}\nprompt: {{user: '{{{{ input }}}}'}}\n")
    body = "".join(f"  - {{id: c{i}, input: q{i}, checks: {checks}}}\n" for i in range(cases))
    return write(folder / "suite.yaml", f"suite: m\nconfig: config.yaml\nrepeat: {k}\n{extra_suite}cases:\n{body}")


def judge_line(server: LoopbackServer) -> str:
    return f"judge: {{provider: openai, name: j, base_url: '{server.openai_base_url}', api_key_env: LOOP_KEY}}\n"


def all_runs(folder: Path) -> list[dict]:
    return [run for case in results(folder)["cases"] for run in case["runs"]]


@pytest.fixture
def env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    return workdir


# ---- 1. lone surrogates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_lone_surrogate_is_replaced_recorded_cached_and_resumable(env: Path, capsys, loopback_server,
                                                                     provider: str) -> None:
    def responder(request: dict) -> Reply:
        return Reply(f"ok {LONE} half an emoji", tool_calls=(("lookup", {"q": f"x{LONE}"}),))

    loopback_server.configure(responder=responder)
    suite = loop_suite(env / "s", loopback_server, provider=provider)
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 0, r.text
    runs = all_runs(env / "out")
    assert [run["status"] for run in runs] == ["passed", "passed"]
    assert all(run["output"] == "ok \ufffd half an emoji" for run in runs)
    assert all(json.loads(run["tool_calls"][0]["arguments"]) == {"q": "x\ufffd"} for run in runs)
    assert all(any("invalid Unicode" in w for w in run["warnings"]) for run in runs)
    assert "warning: 2 run warning(s) (repairs that kept runs writable" in r.err and "invalid Unicode" in r.err
    assert len(runs_lines(env / "out")) == 2
    r = run_cli(capsys, "run", "--resume", "out")  # the cached answer does not crash a resume either
    assert r.code == 0, r.text
    r = run_cli(capsys, "run", suite, "--out", "again")  # nor a rerun from the cache
    assert r.code == 0, r.text
    assert all(run["cached"] and run["output"] == "ok \ufffd half an emoji" for run in all_runs(env / "again"))


def test_a_lone_surrogate_in_a_judge_reply_is_replaced(env: Path, capsys, loopback_server) -> None:
    def responder(request: dict) -> str:
        if "<<<CANDIDATE>>>" in request["messages"][-1]["content"]:
            return json.dumps({"reasoning": f"fine {LONE}", "score": 5}, ensure_ascii=False)
        return "ok"

    loopback_server.configure(responder=responder)
    suite = loop_suite(env / "s", loopback_server, extra_suite=judge_line(loopback_server),
                       checks="[{contains: ok}], rubrics: [{name: r, criteria: c}]")
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert r.code == 0, r.text
    rubric = all_runs(env / "out")[0]["rubrics"][0]
    assert rubric["score"] == 5 and rubric["reasoning"] == "fine \ufffd"
    assert any("invalid Unicode" in w for w in rubric["warnings"])


# ---- 2. deeply nested JSON -------------------------------------------------------------------------------------


def test_deeply_nested_json_fails_the_checks_with_a_reason(env: Path, capsys) -> None:
    checks = ("[{json: true}, {json_path: $.a}, {not_json_path: $.a}, {json: {schema: {type: object}}},"
              " {json_path: {path: $.a, matches: x}}, {contains: '['}]")
    suite = mock_suite(env / "s", DEEP, checks)
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert "Traceback" not in r.text and r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    checks_out = all_runs(env / "out")[0]["checks"]
    assert [c["passed"] for c in checks_out] == [False, False, True, False, False, True]
    assert all("nested too deeply" in c["reason"] for c in checks_out[:5])


def test_deeply_nested_tool_arguments_and_judge_reply(env: Path, capsys, loopback_server) -> None:
    def responder(request: dict) -> Reply | str:
        if "<<<CANDIDATE>>>" in request["messages"][-1]["content"]:
            return '{"score": ' + DEEP + "}"
        return Reply("ok", tool_calls=(("lookup", '{"q": ' + DEEP),))  # arguments sent as they are

    loopback_server.configure(responder=responder)
    suite = loop_suite(env / "s", loopback_server, extra_suite=judge_line(loopback_server),
                       checks="[{tool_called: {name: lookup, args: {q: 1}}}], rubrics: [{name: r, criteria: c}]")
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert "Traceback" not in r.text, r.text
    run = all_runs(env / "out")[0]
    assert run["status"] == "errored" and run["error"]["kind"] == "judge", run
    assert run["checks"][0]["passed"] is False and "lookup" in run["checks"][0]["reason"]


# ---- 3. checks that never end ----------------------------------------------------------------------------------


def _wait(child: subprocess.Popen[str], seconds: float) -> tuple[str, str]:
    try:
        return child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"agent-eval did not finish within {seconds} s: {err[-2000:]}")


def test_catastrophic_regexes_are_bounded(env: Path) -> None:
    checks = ("[{regex: '^(a+)+$'}, {not_regex: '(a|aa)+$'}, {json_path: {path: $.a, matches: '(a|aa)+$'}},"
              " {regex: '(a|aa)+$', timeout_s: 0.3}]")
    suite = mock_suite(env / "s", "a" * 40 + "!", checks, extra_suite="check_timeout_s: 0.5\n")
    child = spawn_cli("run", suite, "--out", "out", cwd=env, env={"CI": "true"})
    _, err = _wait(child, 120)
    assert child.returncode in (0, 1), err
    checks_out = all_runs(env / "out")[0]["checks"]
    assert checks_out[0]["passed"] is False and "expected a match" in checks_out[0]["reason"]
    assert checks_out[1]["passed"] is False and "timed out after 0.5 s" in checks_out[1]["reason"]
    assert checks_out[2]["passed"] is False
    assert checks_out[3]["passed"] is False and "timed out after 0.3 s" in checks_out[3]["reason"]


def test_a_catastrophic_mock_rule_errors_the_run(env: Path) -> None:
    write(env / "s" / "config.yaml", "name: m\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: m\n  mock:\n"
          "    rules: [{match: '(a|aa)+$', answers: [{text: hit}]}]\nprompt: {user: '{{ input }}'}\n")
    write(env / "s" / "suite.yaml", f"suite: m\nconfig: config.yaml\ncases:\n  - {{id: c0, input: {'a' * 40}!}}\n")
    child = spawn_cli("run", env / "s" / "suite.yaml", "--out", "out", cwd=env, env={"CI": "true"})
    _, err = _wait(child, 120)
    assert child.returncode == 3, err
    run = all_runs(env / "out")[0]
    assert run["status"] == "errored" and "timed out after 1 s" in run["error"]["message"]


SLOW_CHECKS = """\
import os
import sys
import time


def slow(output, case, run):
    time.sleep(60)
    return True


def quick(output, case, run):
    return output.startswith("a"), "starts with a"


def leaves(output, case, run):
    sys.exit(0)


def odd(output, case, run):
    return False, "half \\ud800 an emoji"


def opaque(output, case, run):
    return lambda: True


def dies(output, case, run):
    os._exit(3)
"""


def test_a_python_check_that_sleeps_is_killed_at_its_limit(env: Path) -> None:
    write(env / "s" / "slow_checks.py", SLOW_CHECKS)
    checks = ("[{python: 'slow_checks:slow'}, {python: 'slow_checks:quick'}, {python: 'slow_checks:leaves'},"
              " {python: 'slow_checks:quick'}]")
    # 2 s: a quick check on a loaded 2-core machine must never reach the limit
    suite = mock_suite(env / "s", "a", checks, extra_suite="check_timeout_s: 2\n", cases=2)
    child = spawn_cli("run", suite, "--out", "out", cwd=env, env={"CI": "true"})
    _, err = _wait(child, 120)
    assert child.returncode in (0, 1), err
    for run in all_runs(env / "out"):
        slow, quick, leaves, quick_again = run["checks"]
        assert slow["passed"] is False and "timed out after 2 s" in slow["reason"]
        assert quick["passed"] is True and quick_again["passed"] is True  # a replaced worker serves the next check
        assert leaves["passed"] is False and "SystemExit" in leaves["reason"]


def test_run_timeout_and_signals_fire_during_a_slow_check(env: Path) -> None:
    write(env / "s" / "slow_checks.py", SLOW_CHECKS)
    suite = mock_suite(env / "s", "a", "[{python: 'slow_checks:slow'}]", cases=2)
    child = spawn_cli("run", suite, "--out", "out", "--run-timeout", "1", cwd=env, env={"CI": "true"})
    _wait(child, 120)
    runs = all_runs(env / "out")
    assert len(runs) == 2 and all(r["status"] == "errored" and r["error"]["kind"] == "timeout" for r in runs)

    child = spawn_cli("run", suite, "--out", "out2", cwd=env, env={"CI": "true"})
    manifest = env / "out2" / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not manifest.exists():
        time.sleep(0.05)
    time.sleep(1.0)  # the checks are sleeping now
    child.send_signal(signal.SIGINT)
    _, err = _wait(child, 120)
    assert child.returncode == 3, err
    assert results(env / "out2")["complete"] is False


# ---- 4. sys.exit in a user check -------------------------------------------------------------------------------


def test_sys_exit_at_import_is_an_input_error_naming_the_check(env: Path, capsys) -> None:
    write(env / "s" / "exiting.py", "import sys\nsys.exit(0)\n\ndef check(output, case, run):\n    return True\n")
    suite = mock_suite(env / "s", "a", "[{python: 'exiting:check'}]")
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 2, r.text
    assert "exiting" in r.err and "SystemExit" in r.err and "suite.yaml" in r.err
    assert "Traceback" not in r.text


def test_sys_exit_at_call_time_fails_the_check(env: Path, capsys) -> None:
    write(env / "s" / "slow_checks.py", SLOW_CHECKS)
    checks = ("[{python: 'slow_checks:leaves'}, {python: 'slow_checks:odd'}, {python: 'slow_checks:opaque'},"
              " {python: 'slow_checks:dies'}, {python: 'slow_checks:quick'}]")
    suite = mock_suite(env / "s", "a", checks)
    suite.write_text(suite.read_text().replace("{id: c0,", "{id: c0, critical: true,"))
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 1, r.text  # the critical case failed: the gate says so, and every file is written
    run = all_runs(env / "out")[0]
    leaves, odd, opaque, dies, quick = run["checks"]
    assert leaves["passed"] is False and "SystemExit" in leaves["reason"]
    # text from user code is repaired where the record is written, and the run says so
    assert odd["reason"] == "half \ufffd an emoji" and any("run record" in w for w in run["warnings"])
    assert opaque["passed"] is False and "function" in opaque["reason"]
    assert dies["passed"] is False and "ended without an answer (exit code 3)" in dies["reason"]
    assert quick["passed"] is True  # a new worker took over


def test_deep_nesting_in_any_file_we_read_is_a_clear_error(env: Path, capsys) -> None:
    folder = env / "s"
    suite = mock_suite(folder, "a", "[{contains: a}]")
    deep_yaml = write(folder / "deep.yaml", "suite: d\nconfig: config.yaml\ncases: " + "[" * 3000 + "]" * 3000 + "\n")
    r = run_cli(capsys, "validate", deep_yaml)
    assert r.code == 2 and "nested too deeply" in r.err and "Traceback" not in r.text, r.text
    write(folder / "deep.jsonl", '{"id": "x", "input": ' + DEEP + "}\n")
    from_jsonl = write(folder / "from-jsonl.yaml", "suite: j\nconfig: config.yaml\ncases_from: deep.jsonl\n")
    r = run_cli(capsys, "validate", from_jsonl)
    assert r.code == 2 and "deep.jsonl:1" in r.err and "nested too deeply" in r.err, r.text
    deep_baseline = write(env / "deep-baseline.json", DEEP)
    r = run_cli(capsys, "run", suite, "--out", "out", "--baseline", deep_baseline)
    assert r.code == 2 and "nested too deeply" in r.err and "Traceback" not in r.text, r.text
    assert run_cli(capsys, "run", suite, "--out", "ok").code == 0
    with (env / "ok" / "runs.jsonl").open("a") as handle:  # a hand-made line on --resume is skipped, not fatal
        handle.write('{"case_id": ' + DEEP + "\n")
    r = run_cli(capsys, "run", "--resume", "ok")
    assert r.code == 0 and "corrupt or truncated line skipped" in r.err, r.text


def test_a_python_transform_that_hangs_or_exits_fails_its_check_only(env: Path) -> None:
    write(env / "s" / "slow_checks.py", SLOW_CHECKS + """

def slow_transform(output, case):
    time.sleep(60)
    return output


def exiting_transform(output, case):
    sys.exit(0)
""")
    checks = ("[{contains: a, transform: {python: 'slow_checks:slow_transform'}},"
              " {contains: a, transform: {python: 'slow_checks:exiting_transform'}}, {contains: a}]")
    suite = mock_suite(env / "s", "a", checks, extra_suite="check_timeout_s: 1\n", cases=2)
    child = spawn_cli("run", suite, "--out", "out", cwd=env, env={"CI": "true"})
    _, err = _wait(child, 120)
    assert child.returncode in (0, 1), err
    runs = all_runs(env / "out")
    assert len(runs) == 2
    for run in runs:
        hanging, exiting, plain = run["checks"]
        assert hanging["passed"] is False and "transform timed out after 1 s" in hanging["reason"]
        assert exiting["passed"] is False and "SystemExit" in exiting["reason"]
        assert plain["passed"] is True
