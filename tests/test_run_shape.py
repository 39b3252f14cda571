"""One shape of a run, facts computed once: critical failures, group statistics, refusals and failure kinds
read the same in the verdict, results.json, the baseline and every report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, write

CONFIG = """
schema_version: 1
name: shape
version: 1.0.0
agent:
  loop: {max_steps: 5}
tools:
  - name: lookup_order
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
  - name: track_parcel
    parameters: {type: object, properties: {parcel: {type: string}}, required: [parcel]}
model:
  provider: mock
  name: mock-shape-1
  mock:
    rules:
      - {role: tool, match: '"parcel"', answers: [{tool_calls: [{name: track_parcel, arguments: {parcel: "P7"}}]}]}
      - {role: tool, match: '"moving"', answers: [{text: "It is on its way."}]}
      - match: "order (?P<order>[0-9]+)$"
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "{{ order }}"}}]}]
      - {match: "refuse", answers: [{text: "I can't help with that."}]}
      - {match: "^Hi", answers: [{text: "Hello!"}]}
"""

JUDGE = """
judge:
  provider: mock
  name: mock-judge-1
  mock: {error_rate: 1.0}
"""


def _suite(tmp: Path, cases: str, *, repeat: int = 3, judge: bool = False) -> Path:
    write(tmp / "shape.yaml", CONFIG)
    return write(tmp / "suite.yaml", f"suite: shape\nconfig: shape.yaml\nrepeat: {repeat}\n"
                 + (JUDGE if judge else "") + "cases:\n" + cases)


QUOTED = """
  - id: "it's-critical"
    input: "Hi there"
    critical: true
    checks: [{contains: "refund"}]
  - id: fine
    input: "Hi"
    checks: [{contains: "Hello"}]
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _junit_case(folder: Path, case_id: str) -> ET.Element:
    root = ET.fromstring((folder / "junit.xml").read_text())
    found = [tc for tc in root.iter("testcase") if tc.get("name") == case_id]
    assert len(found) == 1, (folder / "junit.xml").read_text()
    return found[0]


def _junit_property(folder: Path, prefix: str) -> list[str]:
    root = ET.fromstring((folder / "junit.xml").read_text())
    return [p.get("value", "") for p in root.iter("property") if p.get("name", "").startswith(prefix)]


def test_a_critical_case_id_with_a_quote_is_reported_whole(here: Path, capsys) -> None:
    suite = _suite(here, QUOTED)
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 1, r.text
    assert "critical case(s) failed: it's-critical" in r.out
    assert "critical case 'it's-critical' passed 0/3 runs (run(s) 1, 2, 3 failed; every run must pass)" in r.out
    r = run_cli(capsys, "run", suite, "--out", "again", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 1 and verdict["critical_failures"] == ["it's-critical"]
    case = _junit_case(here / "out", "it's-critical")
    failure = case.find("failure")
    assert failure is not None and "critical case" in failure.get("message", "")
    assert _junit_property(here / "out", "agent_eval.critical_failure.") == ["it's-critical"]
    assert "**Critical case(s) failed:** `it's-critical`" in (here / "out" / "summary.md").read_text()
    assert 'failed: <span class="mono">it&#39;s-critical</span>' in (here / "out" / "report.html").read_text()


def test_a_critical_case_without_a_completed_run_is_a_critical_failure_everywhere(here: Path, capsys) -> None:
    suite = _suite(here, QUOTED.replace("it's-critical", "gone").replace('checks: [{contains: "refund"}]',
                                                                          "rubrics: [{name: polite, criteria: Is polite.}]"),
                   judge=True)
    r = run_cli(capsys, "run", suite, "--out", "out", "--max-retries", "1", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    runs = [line for line in runs_lines(here / "out") if line["case_id"] == "gone"]
    assert runs and all(line["status"] == "errored" for line in runs)
    # no completed run: INCOMPLETE first, and the critical case counts as failed in the verdict and in JUnit alike
    assert r.code == 3 and verdict["outcome"] == "INCOMPLETE"
    assert verdict["critical_failures"] == ["gone"]
    case = _junit_case(here / "out", "gone")
    failure = case.find("failure")
    assert failure is not None and case.find("error") is None
    assert "critical case: no completed run (3 errored)" in failure.get("message", "")
    assert "judge" in (failure.text or "")  # its errors are part of why
    assert _junit_property(here / "out", "agent_eval.critical_failure.") == ["gone"]
    assert results(here / "out")["summary"]["critical_failed"] == 1
    r = run_cli(capsys, "run", suite, "--out", "text", "--max-retries", "1")
    assert "critical case(s) failed: gone" in r.out


TAGGED = """
  - id: hello
    input: "Hi"
    tags: [greet]
    checks: [{contains: "Hello"}]
  - id: refuser
    input: "please refuse"
    tags: [greet, edge]
    checks: [{contains: "Hello"}]
  - id: other
    input: "Hi you"
    tags: [edge]
    checks: [{contains: "Bye"}]
"""


def test_the_reports_group_statistics_are_the_results(here: Path, capsys) -> None:
    from agent_eval.baseline.store import load_baseline, load_results
    from agent_eval.report._sides import baseline_side, candidate_side

    suite = _suite(here, TAGGED)
    assert run_cli(capsys, "run", suite, "--out", "out").code == 0
    assert run_cli(capsys, "baseline", "save", "out", "--to", "base.json").code == 0
    recorded = {line["case_id"]: line["refused"] for line in runs_lines(here / "out")}
    assert recorded == {"hello": False, "refuser": True, "other": False}
    summary = results(here / "out")["summary"]
    assert summary["tags"]["greet"]["refusal_rate"] == 0.5
    cand = candidate_side(load_results(here / "out"))
    base = baseline_side(load_baseline(here / "base.json"))
    assert set(cand.tags) == set(base.tags) == {"edge", "greet"}
    for tag in ("greet", "edge"):
        assert cand.tags[tag].model_dump(mode="json") == summary["tags"][tag]
        # the baseline keeps no tokens or cache flags; every other figure is the results' own
        same = base.tags[tag].model_dump(mode="json")
        assert {k: v for k, v in same.items() if k not in ("tokens", "metrics", "derived")} == \
            {k: v for k, v in summary["tags"][tag].items() if k not in ("tokens", "metrics", "derived")}
    assert base.stats.critical_failed == cand.stats.critical_failed == summary["critical_failed"]

    # a file written before `refused` was recorded reads the refusals from the outputs: the same figures
    data = results(here / "out")
    for case in data["cases"]:
        case["runs"] = [{k: v for k, v in run.items() if k != "refused"} for run in case["runs"]]
    write(here / "old" / "results.json", json.dumps(data))
    old = candidate_side(load_results(here / "old"))
    assert old.tags["greet"].model_dump(mode="json") == summary["tags"]["greet"]


STEPS = """
  - id: wander
    input: "Where is order 7"
    tool_results: {lookup_order: [{result: {parcel: "P7"}}], track_parcel: [{result: {state: "moving"}}]}
    checks: [{contains: "shipped"}]
"""


def _with_steps(src: Path, dest: Path, steps: int) -> Path:
    data = json.loads(src.read_text())
    for case in data["cases"]:
        case["runs"] = [{**run, "steps": steps} for run in case["runs"]]
    return write(dest, json.dumps(data))


def test_compare_against_two_baselines_gives_each_baselines_failure_kinds(here: Path, capsys) -> None:
    suite = _suite(here, STEPS, repeat=1)
    # no baseline, and not one run passed: FAIL
    assert run_cli(capsys, "run", suite, "--out", "first").code == 1
    assert run_cli(capsys, "baseline", "save", "first", "--to", "recorded.json").code == 0
    assert json.loads((here / "recorded.json").read_text())["cases"][0]["runs"][0]["steps"] == 3
    short = _with_steps(here / "recorded.json", here / "short.json", 1)  # 3 steps > 2 x 1: orchestration
    same = _with_steps(here / "recorded.json", here / "same.json", 3)  # within 2 x 3: prompt

    # gated at run time against the short baseline, the stored kind still reads no baseline
    write(here / "golden" / "baselines" / "shape.json", short.read_text())
    run_cli(capsys, "run", suite, "--out", "cand")
    assert [line["failure_kind"] for line in runs_lines(here / "cand")] == ["prompt"]
    assert results(here / "cand")["cases"][0]["runs"][0]["failure_kind"] == "prompt"

    r = run_cli(capsys, "compare", short, "cand", "--out", "vs-short")
    assert r.code != 2, r.text
    assert "failure kinds: orchestration 1 of 1 runs (baseline: prompt 1 of 1 runs)" in r.out
    assert "1 new orchestration failure" in r.out and "1 fewer prompt failure" in r.out
    assert "run 1: failed (orchestration)" in (here / "vs-short" / "junit.xml").read_text()
    assert "| orchestration | 0 | 1 |" in (here / "vs-short" / "summary.md").read_text()

    r = run_cli(capsys, "compare", same, "cand", "--out", "vs-same")
    assert r.code != 2, r.text
    assert "failure kinds: prompt 1 of 1 runs (baseline: prompt 1 of 1 runs)" in r.out
    assert "orchestration" not in r.out
    assert "run 1: failed (prompt)" in (here / "vs-same" / "junit.xml").read_text()
    assert "orchestration" not in (here / "vs-same" / "summary.md").read_text()

    r = run_cli(capsys, "compare", short, "cand", "--out", "vs-short-again")  # the order does not matter
    assert "failure kinds: orchestration 1 of 1 runs" in r.out
