"""`--adaptive` through the CLI on the loopback server: an unchanged agent stops at k_min runs per case, a broken
one FAILs early, cases that differ from the baseline get all k runs, and sharded runs are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import results, run_cli, write
from loopback import LoopbackServer
from loopback_wire import last_user_text

CASES, K = 12, 5


@pytest.fixture
def suite(workdir: Path, monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer) -> Path:
    monkeypatch.setenv("LOOP_KEY", "sk-test-adaptive")
    loopback_server.configure(responder=lambda body: "good answer")
    write(workdir / "a/config.yaml", f"""\
name: a
version: 1.0.0
model:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {loopback_server.openai_base_url}
  api_key_env: LOOP_KEY
prompt: {{user: "{{{{ input }}}}"}}
""")
    cases = "".join(f"  - id: c{i:02d}\n    input: question {i}\n" for i in range(CASES))
    path = write(workdir / "a/suite.yaml", f"suite: adaptive\nconfig: config.yaml\nrepeat: {K}\n"
                 f"gate: {{baseline_repeat: 6}}\ndefaults:\n  checks: [{{contains: good}}]\ncases:\n{cases}")
    return path


def _save(capsys: Any, path: Path) -> None:
    assert run_cli(capsys, "run", path, "--save-baseline", "--no-cache", "--out", "base").code == 0


def test_an_unchanged_agent_stops_at_k_min_runs(suite: Path, capsys, loopback_server: LoopbackServer) -> None:
    _save(capsys, suite)
    before = len(loopback_server.requests)
    r = run_cli(capsys, "run", suite, "--adaptive", "--no-cache", "--out", "ad")
    assert r.code == 0, r.text
    assert len(loopback_server.requests) - before == CASES * 2  # k_min = 2 runs per case, not k = 5
    assert "adaptive: PASS decided early" in r.out and "24 candidate runs of the fixed-k design's 60 (60% fewer)" \
        in r.out
    assert sum(len(c["runs"]) for c in results(Path("ad"))["cases"]) == CASES * 2
    before = len(loopback_server.requests)
    again = run_cli(capsys, "run", suite, "--adaptive", "--out", "cached", "--format", "json")
    again_too = run_cli(capsys, "run", suite, "--adaptive", "--out", "cached2", "--format", "json")
    assert again.code == again_too.code == 0
    assert len(loopback_server.requests) - before == CASES * 2  # the second cached run made no call at all
    verdict = json.loads(again_too.out)["suites"][0]["adaptive"]
    assert verdict == {"decision": "pass", "looks": 1, "runs": CASES * 2, "fixed_k_runs": CASES * K,
                       "last_alpha": 0.05}


def test_a_broken_agent_fails_early_and_cases_that_differ_get_every_run(
        suite: Path, capsys, loopback_server: LoopbackServer) -> None:
    _save(capsys, suite)

    def broken(body: dict[str, Any]) -> str:
        return "bad answer" if int(last_user_text(body).split()[-1]) < 6 else "good answer"

    loopback_server.configure(responder=broken)
    r = run_cli(capsys, "run", suite, "--adaptive", "--no-cache", "--out", "bad")
    assert r.code == 1, r.text
    assert "adaptive: FAIL decided early after 1 look(s)" in r.out

    seen: list[str] = []

    def one_flaky(body: dict[str, Any]) -> str:  # c03 fails its first run: a case that differs owes all k runs
        seen.append(last_user_text(body))
        return "bad answer" if seen.count("question 3") == 1 and seen[-1] == "question 3" else "good answer"

    loopback_server.configure(responder=one_flaky)
    r = run_cli(capsys, "run", suite, "--adaptive", "--k-min", "3", "--no-cache", "--out", "flaky")
    runs = {c["id"]: len(c["runs"]) for c in results(Path("flaky"))["cases"]}
    assert r.code == 0 and runs["c03"] == K and runs["c00"] < K, r.text  # topped up before the early PASS
    assert "PASS decided early" in r.out


def test_adaptive_refuses_a_shard(suite: Path, capsys) -> None:
    _save(capsys, suite)
    r = run_cli(capsys, "run", suite, "--adaptive", "--shard", "1/2")
    assert r.code == 2 and "--adaptive cannot run a --shard" in r.err and len(r.err.strip().splitlines()) == 1


def test_resume_of_an_adaptive_run_reuses_its_stages(suite: Path, capsys, loopback_server: LoopbackServer) -> None:
    _save(capsys, suite)
    first = run_cli(capsys, "run", suite, "--adaptive", "--no-cache", "--out", "ad", "--format", "json")
    assert first.code == 0, first.text
    before = len(loopback_server.requests)
    again = run_cli(capsys, "run", "--resume", "ad", "--adaptive", "--no-cache", "--format", "json")
    assert again.code == 0, again.text
    assert len(loopback_server.requests) == before  # every stage's runs are in runs.jsonl: nothing is re-asked
    assert json.loads(again.out)["suites"][0]["adaptive"] == json.loads(first.out)["suites"][0]["adaptive"]


def test_a_budget_holds_across_the_stages(suite: Path, capsys, loopback_server: LoopbackServer) -> None:
    _save(capsys, suite)
    before = len(loopback_server.requests)
    r = run_cli(capsys, "run", suite, "--adaptive", "--no-cache", "--budget-usd", "0", "--out", "zero")
    assert r.code == 3, r.text  # no stage may spend: nothing reaches the provider, the run is incomplete
    assert len(loopback_server.requests) == before
    assert run_cli(capsys, "run", suite, "--adaptive", "--out", "warm").code == 0
    before = len(loopback_server.requests)
    cached = run_cli(capsys, "run", suite, "--adaptive", "--budget-usd", "0", "--out", "cached")
    assert cached.code == 0, cached.text  # every stage answered by the cache: cached answers cost nothing
    assert len(loopback_server.requests) == before
