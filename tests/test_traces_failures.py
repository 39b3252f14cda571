"""Failure kinds: each produced by a case built to cause it, on the mock provider and the built-in tool loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, write

from agent_eval.calls.tracing import agent_span, tool_span
from agent_eval.records import CheckResult, RunRecord, RunStatus, Span
from agent_eval.trace.failure import FailurePolicy, classify_failure, failure_changes

CONFIG = """
schema_version: 1
name: kinds
version: 1.0.0
agent:
  loop: {max_steps: 3}
tools:
  - name: lookup_order
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
  - name: search_docs
    kind: retrieval
    parameters: {type: object, properties: {query: {type: string}}, required: [query]}
model:
  provider: mock
  name: mock-kinds-1
  mock:
    rules:
      - {role: tool, match: "^error: ", answers: [{text: "Sorry, something broke."}]}
      - {role: tool, match: "^\\\\{\\\\}$", answers: [{text: "Nothing to say."}]}
      - {role: tool, match: '"again": true', answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "3"}}]}]}
      - {role: tool, match: "^\\\\[\\\\]$", answers: [{text: "I found no documents."}]}
      - {role: tool, match: "cafeteria", answers: [{text: "Shipping takes 3 days."}]}
      - {role: tool, match: '"twin"', answers: [{text: "Order 6 is fine."}]}
      - match: "order (?P<order>[0-9]+)$"
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "{{ order }}"}}]}]
      - match: "twice"
        answers: [{tool_calls: [{name: lookup_order, arguments: {order_id: "6"}}, {name: lookup_order, arguments: {order_id: "6"}}]}]
      - match: "docs about (?P<topic>\\\\w+)"
        answers: [{tool_calls: [{name: search_docs, arguments: {query: "{{ topic }}"}}]}]
      - {match: "^Hi", answers: [{text: "Hello!"}]}
"""

SUITE = """
suite: kinds
config: kinds.yaml
judge:
  provider: mock
  name: mock-judge-1
  mock:
    rules:
      - {match: "cafeteria", answers: [{text: '{"reasoning": "off topic", "score": 1}'}]}
      - {match: "grader", answers: [{text: '{"reasoning": "fine", "score": 5}'}]}
cases:
  - id: tool-error
    input: "Where is order 1"
    tool_results: {lookup_order: [{error: "database down"}]}
    checks: [{contains: "shipped"}]
  - id: tool-empty
    input: "Where is order 2"
    tool_results: {lookup_order: [{result: {}}]}
    checks: [{contains: "shipped"}]
  - id: runaway
    input: "Where is order 3"
    tool_results: {lookup_order: [{result: {again: true}}]}
    checks: [{contains: "shipped"}]
  - id: repeated
    input: "Check order six twice"
    tool_results: {lookup_order: [{result: {twin: 1}}]}
    checks: [{contains: "shipped"}]
  - id: retrieval-empty
    input: "Any docs about returns"
    tool_results: {search_docs: [{result: []}]}
    checks: [{contains: "30 days"}]
  - id: retrieval-irrelevant
    input: "Any docs about shipping"
    tool_results: {search_docs: [{result: ["The cafeteria menu for Monday."]}]}
    rubrics: [{name: relevance, template: context_relevance}]
  - id: prompt
    input: "Hi there"
    checks: [{contains: "refund"}]
"""

EXPECTED = {"tool-error": "tool", "tool-empty": "tool", "runaway": "orchestration", "repeated": "orchestration",
            "retrieval-empty": "retrieval", "retrieval-irrelevant": "retrieval", "prompt": "prompt"}


@pytest.fixture
def kinds_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "kinds.yaml", CONFIG)
    return write(tmp_path / "suite.yaml", SUITE)


def test_each_failure_kind_comes_from_a_case_built_to_cause_it(kinds_suite: Path, capsys) -> None:
    r = run_cli(capsys, "run", kinds_suite, "--out", "out")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    runs = {line["case_id"]: line for line in runs_lines(Path("out"))}
    assert {case: run["failure_kind"] for case, run in runs.items()} == EXPECTED
    assert all(run["status"] == "failed" for run in runs.values())
    # the trace says why: a tool span with the error, the loop's step spans, the judge's own tree
    tool = runs["tool-error"]["trace"][0]["children"][1]
    assert tool["kind"] == "tool" and tool["error"] == "database down"
    assert [s["name"] for s in runs["runaway"]["trace"]] == ["step 1", "step 2", "step 3"]
    judge = runs["retrieval-irrelevant"]["rubrics"][0]["trace"]
    assert judge[0]["kind"] == "judge" and "cafeteria" in judge[0]["attributes"]["gen_ai.input.messages"][0]["content"]
    # counts in the console, summary.md, JUnit and the HTML report
    assert "failure kinds: tool 2, retrieval 2, orchestration 2, prompt 1 of 7 runs" in r.out
    summary = Path("out/summary.md").read_text()
    assert "**Failure kinds**" in summary and "| orchestration | 2 |" in summary
    junit = Path("out/junit.xml").read_text()
    assert "failure kinds: orchestration ×1" in junit and 'run 1: failed (tool)' in junit
    html = Path("out/report.html").read_text()
    assert "retrieval failure" in html and "Failure kinds</h3>" in html


def test_failure_kinds_are_compared_with_the_baseline(kinds_suite: Path, capsys) -> None:
    # no baseline, and not one run passed: FAIL
    assert run_cli(capsys, "run", kinds_suite, "--out", "base", "--filter", "prompt", "--filter", "tool-*").code == 1
    data = results(Path("base"))
    from agent_eval.baseline.store import save_baseline
    from agent_eval.records import Results

    save_baseline(Results.model_validate(data), Path("golden/baselines/kinds.json"))
    saved = json.loads(Path("golden/baselines/kinds.json").read_text())
    assert saved["schema_version"] == 3
    tool_run = next(c for c in saved["cases"] if c["id"] == "tool-error")["runs"][0]
    assert tool_run["failure_kind"] == "tool" and tool_run["steps"] == 2
    assert tool_run["tool_calls"] == [{"step": 0, "name": "lookup_order", "arguments": {"order_id": "1"},
                                       "result": None, "error": "database down"}]
    r = run_cli(capsys, "run", kinds_suite, "--out", "cand")
    # the 3 cases of the baseline failed alike; the 4 new ones bring new kinds (counted per case at k)
    assert "failure kinds: tool 2, retrieval 2, orchestration 2, prompt 1 of 7 runs (baseline: tool 2, prompt 1 " \
           "of 3 runs); 2 new retrieval failures, 2 new orchestration failures" in r.out
    assert "2 new orchestration failures" in Path("cand/summary.md").read_text()
    assert "2 new orchestration failures" in Path("cand/junit.xml").read_text()


def _run(trace: tuple[Span, ...], *, checks: tuple[CheckResult, ...] = (), steps: int | None = None) -> RunRecord:
    failing = checks or (CheckResult(name="contains", passed=False, reason="missing"),)
    return RunRecord(case_id="c", index=0, status=RunStatus.FAILED, passed=False, trace=trace, steps=steps,
                     checks=failing)


def _step(*tools: Span) -> Span:
    model = Span(kind="model", name="chat m")
    return agent_span("step", (model, *tools), start_ms=0, duration_ms=1)


def test_orchestration_when_steps_exceed_twice_the_baseline_median() -> None:
    run = _run((_step(), _step(), _step(), _step(), _step()), steps=5)
    assert classify_failure(run, FailurePolicy(baseline_steps={"c": 2})) == "orchestration"
    assert classify_failure(run, FailurePolicy(baseline_steps={"c": 3})) == "prompt"
    assert classify_failure(run) == "prompt"  # no baseline, nothing to compare with


def test_classifier_precedence_and_retrieval_context() -> None:
    lookup = tool_span("lookup", {"id": 1}, {"ok": True}, start_ms=0, duration_ms=1)
    broken = tool_span("lookup", {"id": 2}, None, start_ms=0, duration_ms=1, error="boom")
    limit = CheckResult(name="agent.loop.max_steps", passed=False, reason="stopped at 3")
    assert classify_failure(_run((_step(broken),), checks=(limit,))) == "orchestration"  # the limit comes first
    assert classify_failure(_run((_step(broken),))) == "tool"
    search = tool_span("search", {"q": "x"}, [], start_ms=0, duration_ms=1)
    policy = FailurePolicy.from_config([{"name": "search", "kind": "retrieval"}], {})
    assert classify_failure(_run((_step(search),)), policy) == "retrieval"
    assert classify_failure(_run((_step(lookup),)), policy, context=("the return policy",)) == "prompt"
    declared = FailurePolicy.from_config([], {"index": "docs"})  # a custom agent reporting its context
    assert classify_failure(_run((_step(lookup),)), declared) == "retrieval"  # declared, nothing retrieved
    assert classify_failure(_run((_step(lookup),)), declared, context=("doc",)) == "prompt"
    passed = _run(()).model_copy(update={"status": RunStatus.PASSED, "passed": True})
    assert classify_failure(passed) is None


def test_failure_changes_read_like_a_sentence() -> None:
    assert failure_changes({"orchestration": 3}, {"orchestration": 0}) == ["3 new orchestration failures"]
    assert failure_changes({"tool": 1}, {"tool": 2, "prompt": 1}) == ["1 fewer tool failure", "1 fewer prompt failure"]
    assert failure_changes({"prompt": 1}, None) == ["1 prompt failure"]


DOCS = Path("suites/retrieval/support-docs.yaml")


def test_retrieval_example_passes_and_its_regression_is_named_retrieval(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", DOCS, "--out", "good")
    assert r.code == 0 and "PASS" in r.out and "failure kinds" not in r.out, r.text
    run = next(line for line in runs_lines(workdir / "good") if line["case_id"] == "warranty")
    faithful = next(rb for rb in run["rubrics"] if rb["name"] == "faithful")
    prompt = faithful["trace"][0]["attributes"]["gen_ai.input.messages"][0]["content"]
    assert "<<<CONTEXT 1>>>\nWarranty: two years" in prompt and "<<<CANDIDATE>>>\nThe warranty covers" in prompt
    r = run_cli(capsys, "run", DOCS, "--config", "suites/retrieval/configs/support-docs-regressed.yaml", "--out", "bad")
    assert r.code == 1 and "FAIL" in r.out, r.text
    assert "failure kinds: retrieval 4 of 6 runs (baseline: none of 12 runs); 4 new retrieval failures" in r.out
    kinds = {(line["case_id"], line["failure_kind"]) for line in runs_lines(workdir / "bad")}
    assert kinds == {("returns-window", "retrieval"), ("warranty", "retrieval"), ("shipping-time", None)}


AGENT = '''
from agent_eval.targets import AgentResult


def answer(inp, ctx):
    if "nothing" in inp.input:
        return AgentResult(output="I could not find it.", context=[])
    return AgentResult(output="Returns are free.", context=["Returns: within 30 days of delivery."])
'''


def test_a_custom_agents_context_decides_retrieval_and_is_kept_in_the_trace(tmp_path: Path, capsys,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "docs_agent.py", AGENT)
    write(tmp_path / "agent.yaml", "schema_version: 1\nname: docs\nversion: 1.0.0\n"
          "agent: {python: 'docs_agent:answer'}\nretrieval: {index: help-centre}\n"
          "model: {provider: mock, name: mock-docs-1}\n")
    suite = write(tmp_path / "suite.yaml", "suite: docs\nconfig: agent.yaml\ncases:\n"
                  "  - {id: empty, input: 'find nothing', checks: [{contains: '30 days'}]}\n"
                  "  - {id: found, input: 'returns?', checks: [{contains: '30 days'}]}\n")
    r = run_cli(capsys, "run", suite, "--out", "out", "--trace-export", "t.json")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    runs = {line["case_id"]: line for line in runs_lines(Path("out"))}
    assert runs["empty"]["failure_kind"] == "retrieval" and runs["found"]["failure_kind"] == "prompt"
    assert runs["found"]["trace"][0]["attributes"]["agent_eval.context"] == ["Returns: within 30 days of delivery."]
    assert "context (1 document): Returns: within 30 days" in Path("out/report.html").read_text()
    assert run_cli(capsys, "run", suite, "--out", "red", "--redact", "--trace-export", "red.json").code == 1
    assert "within 30 days" in Path("t.json").read_text() and "within 30 days" not in Path("red.json").read_text()


def test_a_custom_agents_unreported_tool_result_is_not_a_tool_failure() -> None:
    unreported = tool_span("lookup", {"id": 1}, None, start_ms=0, duration_ms=None)
    empty = tool_span("lookup", {"id": 1}, [], start_ms=0, duration_ms=None)
    custom = FailurePolicy.from_config([], {}, reports_context=True)  # python, http, command agents
    loop = FailurePolicy.from_config([], {}, reports_context=False)  # the built-in loop ran the tool itself
    assert classify_failure(_run((_step(unreported),)), custom) == "prompt"
    assert classify_failure(_run((_step(empty),)), custom) == "tool"
    assert classify_failure(_run((_step(unreported),)), loop) == "tool"


def test_an_unknown_judge_template_is_an_input_error(kinds_suite: Path, capsys) -> None:
    kinds_suite.write_text(kinds_suite.read_text().replace("template: context_relevance", "template: relevance"))
    r = run_cli(capsys, "run", kinds_suite, "--out", "out")
    assert r.code == 2 and "unknown judge template 'relevance': expected context_relevance, faithfulness" in r.err


def test_validate_names_an_unknown_judge_template(kinds_suite: Path, capsys) -> None:
    assert run_cli(capsys, "validate", kinds_suite).code == 0
    kinds_suite.write_text(kinds_suite.read_text().replace("template: context_relevance", "template: relevance"))
    r = run_cli(capsys, "validate", kinds_suite)
    assert r.code == 2 and "unknown judge template 'relevance'" in r.err


def test_changes_are_counted_at_the_candidates_runs_per_case() -> None:
    from agent_eval.report._failures import kinds_view

    # a baseline of 2 x k runs with 2 prompt failures is, at k runs, 1: one more is 1 new failure, not 0
    view = kinds_view({"a": ["prompt", "prompt", None]}, {"a": ["prompt", None, None, "prompt", None, None]})
    assert view.changes == ("1 new prompt failure",)
    assert view.line() == "failure kinds: prompt 2 of 3 runs (baseline: prompt 2 of 6 runs); 1 new prompt failure"
    assert kinds_view({"a": [None], "b": ["tool"]}, {"a": ["tool"]}).changes == ()  # b is new: no baseline to beat
