"""Running for real: the real OpenAI/Anthropic SDKs against the loopback server, with faults injected."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, spawn_cli, write
from loopback import LoopbackServer

SECRET = "sk-test-SECRET-d41d8cd98f00b204"


def make_suite(folder: Path, server: LoopbackServer, *, cases: int = 6, k: int = 2, provider: str = "openai",
               extra_model: str = "", extra_suite: str = "") -> Path:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    write(folder / "config.yaml", f"""\
name: loop
version: 1.0.0
model:
  provider: {provider}
  name: loopback-model-2025-01-01
  base_url: {base_url}
  api_key_env: LOOP_KEY
  params: {{temperature: 0, max_tokens: 64}}
  timeout_s: 2
{extra_model}prompt:
  system: You are terse.
  user: "{{{{ input }}}}"
""")
    body = "".join(f"  - id: c{i}\n    tags: [t{i % 2}]\n    input: question {i}\n    checks: [{{contains: echo}}]\n"
                   for i in range(cases))
    return write(folder / "suite.yaml", f"suite: loop\nconfig: config.yaml\nrepeat: {k}\n{extra_suite}cases:\n{body}")


@pytest.fixture
def env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    return workdir


def pairs(folder: Path) -> Counter[tuple[str, int]]:
    return Counter((r["case_id"], r["index"]) for c in results(folder)["cases"] for r in c["runs"])


def test_transient_faults_are_retried_and_never_counted_as_failures(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=6, k=2)
    loopback_server.add_faults("429:ms=50", "500", "drop", "hang", "503", "429:0")
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "4", "--timeout", "0.5", "--no-cache")
    assert r.code == 0, r.text
    data = results(env / "out")
    assert set(pairs(env / "out").values()) == {1} and len(pairs(env / "out")) == 12
    assert data["summary"]["errors"] == 0 and data["summary"]["pass_rate"] == 1.0
    attempts = sum(run["attempts"] for c in data["cases"] for run in c["runs"])
    assert attempts == 12 + 6  # every fault cost exactly one retry
    assert loopback_server.total == 12 + 6  # the SDK's own retries are off: one request per attempt


def test_bad_request_errors_that_run_only(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=4, k=5)
    loopback_server.add_faults("400")
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache")
    data = results(env / "out")
    errored = [run for c in data["cases"] for run in c["runs"] if run["status"] == "errored"]
    assert len(errored) == 1 and errored[0]["error"]["status"] == 400 and errored[0]["attempts"] == 1
    assert data["summary"]["runs"] == 20 and data["summary"]["pass_rate"] == 1.0
    assert r.code == 0  # 1 of 20 runs errored: 5%, not more than 5%


@pytest.mark.parametrize("status,needle", [(401, "LOOP_KEY"), (404, "loopback-model-2025-01-01")])
def test_auth_and_unknown_model_stop_the_whole_run(env: Path, capsys, loopback_server, status: int,
                                                    needle: str) -> None:
    suite = make_suite(env / "s", loopback_server, cases=10, k=3)
    loopback_server.add_faults(*[str(status)] * 30)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache")
    assert r.code == 2, r.text
    assert needle in r.err and "Traceback" not in r.text
    assert loopback_server.total == 1  # no retry, no further call
    assert results(env / "out")["complete"] is False


def test_cache_makes_a_rerun_free_and_identical_and_seed_draws_fresh_samples(env: Path, capsys,
                                                                             loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=3, k=2)
    assert run_cli(capsys, "run", suite, "--out", "a").code == 0
    assert loopback_server.total == 6
    r = run_cli(capsys, "run", suite, "--out", "b")
    assert r.code == 0 and loopback_server.total == 6
    assert "6 of 6 runs came from the cache" in r.out
    a, b = results(env / "a"), results(env / "b")
    assert all(run["cached"] for c in b["cases"] for run in c["runs"])
    assert [[x["output"] for x in c["runs"]] for c in a["cases"]] == [[x["output"] for x in c["runs"]]
                                                                      for c in b["cases"]]
    assert run_cli(capsys, "run", suite, "--out", "c", "--seed", "1").code == 0
    assert loopback_server.total == 12
    assert run_cli(capsys, "run", suite, "--out", "d", "--no-cache").code == 0
    assert loopback_server.total == 18


def test_budget_stops_new_runs_and_keeps_finished_ones(env: Path, capsys, loopback_server) -> None:
    pricing = "pricing:\n  loopback-model-2025-01-01: {input: 10000, output: 10000}\n"
    suite = make_suite(env / "s", loopback_server, cases=10, k=3)
    config = env / "s" / "config.yaml"
    config.write_text(config.read_text() + pricing)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--budget-usd", "0.5", "--no-cache")
    assert r.code == 3, r.text
    data = results(env / "out")
    assert data["complete"] is False and "budget" in data["incomplete_reason"]
    done = data["summary"]["runs"]
    assert 0 < done < 30 and loopback_server.total == done
    assert data["summary"]["cost_usd"] <= 0.5
    assert len(runs_lines(env / "out")) == done


def test_dry_run_sends_nothing(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=4, k=3)
    r = run_cli(capsys, "run", suite, "--dry-run")
    assert r.code == 0 and "candidate calls 12" in r.out and "estimated cost" in r.out
    assert loopback_server.total == 0


def test_rpm_paces_requests_so_no_429_is_met(env: Path, capsys, loopback_server) -> None:
    loopback_server.configure(rpm=10, rpm_window_s=1.0)  # at most 10 requests in any second
    suite = make_suite(env / "s", loopback_server, cases=10, k=2)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "8", "--rpm", "540", "--no-cache")
    assert r.code == 0, r.text
    assert 429 not in loopback_server.status_counts()  # 20 requests at 9 a second: never 11 in one
    assert loopback_server.total == 20


def test_429_without_retry_after_slows_down_and_completes(env: Path, capsys, loopback_server) -> None:
    loopback_server.configure(rpm=10, rpm_window_s=1.0, rpm_retry_after=False)
    suite = make_suite(env / "s", loopback_server, cases=10, k=2)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "8", "--no-cache")
    assert r.code == 0, r.text
    data = results(env / "out")
    assert data["summary"]["errors"] == 0 and len(pairs(env / "out")) == 20
    assert loopback_server.total == sum(run["attempts"] for c in data["cases"] for run in c["runs"])


def test_anthropic_provider_end_to_end(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=2, provider="anthropic")
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert r.code == 0, r.text
    request = loopback_server.requests[0]
    assert request.path == "/v1/messages"
    assert SECRET in (request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer "))
    assert request.json["system"] == "You are terse."
    assert request.json["temperature"] == 0 and request.json["max_tokens"] == 64  # in the body, whatever the SDK names


def test_interrupt_then_resume_finishes_exactly_the_missing_pairs(env: Path, loopback_server) -> None:
    loopback_server.configure(latency_ms=150)
    suite = make_suite(env / "s", loopback_server, cases=10, k=3)
    child = spawn_cli("run", suite, "--out", "out", "-j", "2", "--no-cache", cwd=env, env={"CI": "true"})
    runs = env / "out" / "runs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not runs.exists() or len(runs.read_text().splitlines()) < 6):
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 3, err
    first = results(env / "out")
    assert first["complete"] is False and "interrupted" in first["incomplete_reason"]
    finished = first["summary"]["runs"]
    assert 6 <= finished < 30
    before = loopback_server.total
    resumed = spawn_cli("run", "--resume", "out", "-j", "4", "--no-cache", cwd=env, env={"CI": "true"})
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    final = results(env / "out")
    assert final["complete"] is True and len(pairs(env / "out")) == 30 and set(pairs(env / "out").values()) == {1}
    assert loopback_server.total - before == 30 - finished


def test_resume_refuses_a_changed_config(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=1)
    assert run_cli(capsys, "run", suite, "--out", "out").code == 0
    config = env / "s" / "config.yaml"
    config.write_text(config.read_text().replace("You are terse.", "You are verbose."))
    r = run_cli(capsys, "run", "--resume", "out")
    assert r.code == 2 and "config changed" in r.err


def test_shards_merge_into_one_result_and_gaps_are_refused(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=12, k=2)
    for i in (1, 2, 3):
        assert run_cli(capsys, "run", suite, "--shard", f"{i}/3", "--out", f"shard{i}").code == 0
    sizes = [len(results(env / f"shard{i}")["cases"]) for i in (1, 2, 3)]
    assert sum(sizes) == 12 and all(sizes)
    r = run_cli(capsys, "merge", "shard1", "shard2", "shard3", "--out", "merged")
    assert r.code == 0, r.text
    merged = results(env / "merged")
    assert len(merged["cases"]) == 12 and merged["complete"] and merged["shard"] is None
    assert len(runs_lines(env / "merged")) == 24
    assert run_cli(capsys, "merge", "shard1", "shard2", "--out", "m2").code == 2
    assert run_cli(capsys, "merge", "shard1", "shard1", "shard2", "--out", "m3").code == 2


def test_the_api_key_never_reaches_a_written_file(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=3, k=2)
    loopback_server.add_faults("500", "429:0")
    assert run_cli(capsys, "run", suite, "--out", "out").code == 0
    assert loopback_server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    written = [p for p in env.rglob("*") if p.is_file() and "suites" not in p.parts]
    assert any(p.name == "responses.sqlite" for p in written) and any(p.name == "report.html" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path


def test_judge_through_the_loopback_and_an_unparseable_reply_is_a_judge_error(env: Path, capsys,
                                                                             loopback_server) -> None:
    def responder(request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        if "<<<CANDIDATE>>>" not in prompt:
            return "echo: fine answer"
        return "not json at all" if "question 1" in prompt else '```json\n{"reasoning": "ok", "score": 4}\n```'

    loopback_server.configure(responder=responder)
    judge = (f"judge:\n  provider: openai\n  name: judge-2025-01-01\n  base_url: {loopback_server.openai_base_url}\n"
             "  api_key_env: LOOP_KEY\n")
    suite = make_suite(env / "s", loopback_server, cases=3, k=1, extra_suite=judge)
    text = suite.read_text().replace("checks: [{contains: echo}]",
                                     "checks: [{contains: echo}]\n    rubrics: [{name: helpful, criteria: Helps., threshold: 4}]")
    suite.write_text(text)
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    data = results(env / "out")
    runs = {c["id"]: c["runs"][0] for c in data["cases"]}
    assert runs["c0"]["status"] == "passed" and runs["c0"]["rubrics"][0]["score"] == 4
    assert runs["c0"]["rubrics"][0]["judge_model"] == "judge-2025-01-01"
    assert runs["c1"]["status"] == "errored" and runs["c1"]["error"]["kind"] == "judge"
    assert runs["c1"]["output"] == "echo: fine answer"  # the candidate's output is kept
    assert data["config"]["judge_model"] == "judge-2025-01-01" and data["config"]["judge_prompt_hash"]
    assert r.code == 3  # 1 of 3 runs errored


def test_sigterm_in_the_background_keeps_finished_runs(env: Path, loopback_server) -> None:
    loopback_server.configure(latency_ms=200)
    suite = make_suite(env / "s", loopback_server, cases=10, k=2)
    child = spawn_cli("run", suite, "--out", "out", "-j", "2", "--no-cache", cwd=env, env={"CI": "true"})
    runs = env / "out" / "runs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not runs.exists() or len(runs.read_text().splitlines()) < 2):
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 3, err
    data = results(env / "out")
    assert data["complete"] is False and data["summary"]["runs"] == len(runs_lines(env / "out")) >= 2


def test_resume_skips_a_corrupt_line_and_reruns_its_pair(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=3, k=2)
    assert run_cli(capsys, "run", suite, "--out", "out", "--no-cache").code == 0
    lines = (env / "out" / "runs.jsonl").read_text().splitlines()
    (env / "out" / "runs.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25] + "\n")
    before = loopback_server.total
    r = run_cli(capsys, "run", "--resume", "out", "--no-cache")
    assert r.code == 0, r.text
    assert "corrupt or truncated line skipped" in r.err
    assert loopback_server.total - before == 1
    assert len(pairs(env / "out")) == 6 and set(pairs(env / "out").values()) == {1}


def test_a_hung_call_becomes_an_error_after_its_timeout(env: Path, capsys, loopback_server) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=1)
    loopback_server.configure(rates={"hang": 1.0})
    r = run_cli(capsys, "run", suite, "--out", "out", "--timeout", "0.3", "--max-retries", "2", "--no-cache")
    assert r.code == 3, r.text
    runs = [run for c in results(env / "out")["cases"] for run in c["runs"]]
    assert all(run["status"] == "errored" and run["attempts"] == 2 for run in runs)
    assert all("timed out" in run["error"]["message"] or "no answer" in run["error"]["message"] for run in runs)


def test_two_processes_share_one_cache(env: Path, capsys, monkeypatch, loopback_server) -> None:
    loopback_server.configure(latency_ms=20)
    suite = make_suite(env / "s", loopback_server, cases=8, k=2)
    children = [spawn_cli("run", suite, "--out", f"p{i}", "--seed", str(i % 2), cwd=env, env={"CI": "true"})
                for i in range(2)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    monkeypatch.setenv("CI", "true")  # the third reader needs no process of its own (a child costs ~1.5 s CPU)
    third = run_cli(capsys, "run", suite, "--out", "p2", "--seed", "1")
    assert third.code == 0, third.err
    assert all(run["cached"] for c in results(env / "p2")["cases"] for run in c["runs"])
    assert loopback_server.total == 32


def test_judge_samples_report_disagreement(env: Path, capsys, loopback_server) -> None:
    scores = iter([5, 3] * 50)
    loopback_server.configure(responder=lambda request: (
        f'{{"reasoning": "r", "score": {next(scores)}}}' if "<<<CANDIDATE>>>" in request["messages"][-1]["content"]
        else "echo: x"))
    judge = (f"judge:\n  provider: openai\n  name: judge-2025-01-01\n  base_url: {loopback_server.openai_base_url}\n"
             "  api_key_env: LOOP_KEY\n")
    suite = make_suite(env / "s", loopback_server, cases=2, k=1, extra_suite=judge)
    suite.write_text(suite.read_text().replace(
        "checks: [{contains: echo}]", "rubrics: [{name: r, criteria: c, samples: 2, threshold: 4}]"))
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "-j", "1")
    data = results(env / "out")
    rubric = data["cases"][0]["runs"][0]["rubrics"][0]
    assert rubric["samples"] == [5, 3] and rubric["score"] == 4 and rubric["passed"] is True
    assert data["summary"]["judge_disagreement"] == pytest.approx(0.25)
    assert "judge disagreement" in r.out and r.code == 0
