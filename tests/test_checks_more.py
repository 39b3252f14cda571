"""Checks that say what peers' suites say (issue 23): `expr:` expressions, normalised equals/contains,
tool-call arguments as data, promptfoo rubric metrics in `__expected`, and turn thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import results, run_cli, write

CONFIG = """\
name: cand
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: ticket
        answers: [{text: '{"status": "pending", "score": 0.6, "labels": ["billing"], "reply": "We will look into it."}'}]
      - match: capital
        answers: [{text: "  The capital of France is PARIS!  "}]
      - match: prose
        answers: [{text: "one two three four five six"}]
prompt:
  user: "{{ input }}"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.yaml", CONFIG)
    return tmp_path


def suite(folder: Path, body: str, head: str = "") -> Path:
    return write(folder / "suite.yaml", f"suite: more\nconfig: config.yaml\n{head}cases:\n{body}")


def checks_of(out: Path, case_id: str) -> list[dict[str, Any]]:
    case = next(c for c in results(out)["cases"] if c["id"] == case_id)
    return list(case["runs"][0]["checks"])


def test_expressions_read_json_fields_counts_and_membership(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, """\
  - id: t
    input: a ticket
    vars: {floor: 0.5}
    checks:
      - expr: "output.json.score >= 0.8"
      - expr: "output.json.score >= vars.floor"
      - expr: 'output.json.status in ["open", "closed"]'
      - expr: 'output.json.status not in ["open", "closed"] and "billing" in output.json.labels'
      - expr: "output.json.missing == 1"
      - expr: "output.json.score"
        threshold: 0.5
      - expr: "JSON.parse(output).score >= 0.5 && !output.includes('sorry')"
      - expr: "output.match(/PENDING/i) && Object.keys(JSON.parse(output)).length === 4"
  - id: p
    input: some prose
    checks:
      - expr: "len(output.split()) <= 5"
      - expr: "len(words(output)) == 6 and output.upper().startswith('ONE')"
      - expr: "output.json.x"
""")
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 1, result.text  # runs fail: no baseline, not every run passed
    t = [(c["passed"], c["reason"]) for c in checks_of(folder / "out", "t")]
    assert t[0] == (False, "output.json.score >= 0.8 is false (output.json.score = 0.6)")
    assert t[1][0] is True and "vars.floor = 0.5" in t[1][1]
    assert t[2] == (False, 'output.json.status in ["open", "closed"] is false (output.json.status = "pending")')
    assert t[3][0] is True
    missing = "output.json.missing == 1: output.json.missing is missing (output.json has no field 'missing')"
    assert t[4] == (False, missing)
    score = checks_of(folder / "out", "t")[5]
    assert score["passed"] is True and score["score"] == pytest.approx(0.6)
    pasted = checks_of(folder / "out", "t")[6]  # a promptfoo one-liner pasted as it was: read in translation
    assert pasted["passed"] is True
    assert pasted["reason"].startswith("json(output).score >= 0.5 and not output.contains('sorry') is true")
    regex = checks_of(folder / "out", "t")[7]
    assert regex["passed"] is True, regex["reason"]
    assert regex["reason"].startswith('matches(output, "(?i)PENDING") and keys(json(output)).length == 4 is true')
    p = [(c["passed"], c["reason"]) for c in checks_of(folder / "out", "p")]
    assert p[0] == (False, "len(output.split()) <= 5 is false (len(output.split()) = 6)")
    assert p[1][0] is True
    assert p[2] == (False, "output.json.x: output is not JSON")


@pytest.mark.parametrize(("expr", "message"), [
    ("__import__('os').system('x')", "unknown function"),
    ("output.__class__", "field '__class__' is not allowed"),
    ("[c for c in output]", "a comprehension is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("open('f')", "unknown function 'open'"),
    ("secret > 1", "unknown name 'secret'"),
    ("len(output", "invalid syntax"),
    ("len(output, 2)", "len() takes 1 argument, got 2"),
    ("output.json.a >= 0.8 and f'x'", "an f-string is not allowed"),
])
def test_a_bad_expression_is_a_load_error_with_file_line_and_column(
        folder: Path, capsys: pytest.CaptureFixture[str], expr: str, message: str) -> None:
    path = suite(folder, f"  - id: a\n    input: hi\n    checks:\n      - contains: x\n      - expr: {json.dumps(expr)}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2, result.text
    assert message in result.text and "column" in result.text and "Traceback" not in result.text
    assert "suite.yaml:8:" in result.text and "expr:" in result.text


def test_expression_values_are_bounded_like_templates(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, """\
  - id: p
    input: some prose
    checks:
      - expr: "len(output * 1000000) > 0"
      - expr: "9 ** 9 ** 9 > 0"
      - expr: 'len(replace(output * 100000, " ", output * 20)) > 0'
      - expr: 'len([output * 30000, output * 30000, output * 30000, output * 30000, output * 30000, output * 30000,
              output * 30000, output * 30000, output * 30000, output * 30000, output * 30000, output * 30000,
              output * 30000]) > 0'
""")
    assert run_cli(capsys, "run", path, "--out", "out").code == 1
    reasons = [c["reason"] for c in checks_of(folder / "out", "p")]
    assert "would build more than 1,000,000" in reasons[0]
    assert "too large" in reasons[1]
    assert "would build more than 1,000,000" in reasons[2]
    assert "built more than 10,000,000 characters or items in all" in reasons[3]


def test_the_suite_schema_lists_the_new_checks(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "schema", "suite")
    assert result.code == 0
    item = json.loads(result.out)["$defs"]["CaseSpec"]["properties"]["checks"]["items"]
    assert item["properties"]["expr"]["type"] == "string"


def test_the_expressions_example_runs_offline(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", "suites/examples/expressions.yaml", "--out", "out")
    assert result.code == 0, result.text
    names = {c["name"] for case in results(workdir / "out")["cases"] for c in case["runs"][0]["checks"]}
    assert names == {"expr"}


def test_promptfoo_code_one_liners_become_expressions_and_rubric_types_map_to_templates(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "data.csv",
          "q,__expected1,__expected2,__expected3,__expected4,__expected5\n"
          "\"a ticket\",\"javascript:JSON.parse(output).score >= 0.5 && !output.includes('sorry')\","
          "\"python:len(output.split()) <= 3\",\"factuality(0.5):The status is pending\","
          "context-faithfulness,\"javascript:/^\\{/.test(output.trim())\"\n")
    path = write(folder / "suite.yaml", """\
suite: ds
config: config.yaml
judge:
  provider: mock
  name: mock-judge
  mock: {rules: [{match: "(?s)Candidate answer.*pending|pending", answers: [{text: '{"reasoning": "ok", "score": 5}'}]}]}
cases_from: data.csv
""")
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 1, result.text  # the word count fails
    [case] = results(folder / "out")["cases"]
    [run] = case["runs"][:1]
    checks = [(c["name"], c["passed"]) for c in run["checks"]]
    assert checks == [("expr", True), ("expr", False), ("expr", True)]
    assert "JSON" not in run["checks"][0]["reason"] and run["checks"][0]["reason"].startswith(
        "json(output).score >= 0.5 and not output.contains('sorry') is true")
    rubrics = {r["name"]: r for r in run["rubrics"]}
    assert set(rubrics) == {"factuality", "context_faithfulness"}
    assert rubrics["factuality"]["passed"] is True and rubrics["factuality"]["threshold"] == 3.0


def test_normalised_equals_and_contains(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, """\
  - id: c
    input: the capital?
    checks:
      - equals: "capital of France is Paris"
        normalize: true
      - equals: "capital of France is Paris"
      - equals: "the capital of france is paris!"
        normalize: [case, whitespace]
      - contains: "france is paris"
        normalize: [case]
      - not_contains_any: ["paris"]
        normalize: [case]
      - contains_all: ["CAPITAL", "PARIS"]
        normalize: [case, punctuation]
      - ends_with: "Paris"
        normalize: true
      - ends_with: "PARIS"
""")
    assert run_cli(capsys, "run", path, "--out", "out").code == 1
    checks = checks_of(folder / "out", "c")
    assert [c["passed"] for c in checks] == [True, False, True, True, False, True, True, False]
    assert checks[7]["reason"] == 'expected output to end with "PARIS"; it ends "  The capital of France is PARIS!"'
    assert checks[0]["reason"] == ('output equals "capital of france is paris" '
                                   "(normalised: case, punctuation, articles, whitespace)")


@pytest.mark.parametrize(("item", "message"), [
    ({"equals": "a", "normalize": ["case", "accents"]}, "normalize is true or a list of case, punctuation"),
    ({"regex": "a", "normalize": True}, 'unknown option "normalize" for regex'),
])
def test_bad_normalize_options_are_load_errors(folder: Path, capsys: pytest.CaptureFixture[str],
                                               item: dict[str, Any], message: str) -> None:
    path = suite(folder, f"  - id: a\n    input: hi\n    checks:\n      - {json.dumps(item)}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "suite.yaml:" in result.text


def test_the_answers_example_runs_offline(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", "suites/examples/answers.yaml", "--out", "out")
    assert result.code == 0, result.text
    cases = results(workdir / "out")["cases"]
    rubrics = {r["name"] for case in cases for r in case["runs"][0]["rubrics"]}
    assert rubrics == {"factuality", "answer_relevance", "context_faithfulness"}
    assert all(run["passed"] for case in cases for run in case["runs"])


AGENT = """\
name: agent
version: 1.0.0
agent:
  loop: {max_steps: 4}
tools:
  - name: lookup
    parameters: {type: object, properties: {id: {type: string}, note: {type: string}}}
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - role: tool
        match: "^error: "
        answers: [{text: "Lookup failed."}]
      - role: tool
        match: '"status": "(?P<s>\\w+)"'
        answers: [{text: "It is {{ s }}."}]
      - match: "order (?P<id>\\\\d+)"
        answers: [{tool_calls: [{name: lookup, arguments: {id: "{{ id }}", note: "the customer wants a refund"}}]}]
prompt:
  user: "{{ input }}"
"""


def test_checks_on_tool_call_arguments_results_and_errors(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "agent.yaml", AGENT)
    path = write(folder / "suite.yaml", """\
suite: tools
config: agent.yaml
cases:
  - id: ok
    input: where is order 42
    tool_results: {lookup: [{result: {status: shipped}}]}
    checks:
      - equals: "42"
        tool_args: {name: lookup, path: "$.id"}
      - equals: "7"
        tool_args: {name: lookup, path: "$.id"}
      - expr: 'output.json.id == "42" and "refund" in output.json.note'
        tool_args: lookup
      - icontains: refund
        transform: [{tool_args: {name: lookup, call: first}}, {json_path: "$.note"}]
      - equals: shipped
        transform: {tool_result: {name: lookup, path: "$.status"}}
      - equals: x
        tool_args: {name: other}
      - not_tool_error: true
      - tool_error: true
  - id: failed
    input: where is order 9
    tool_results: {lookup: [{error: "order 9 not found"}]}
    checks:
      - tool_error: {name: lookup, contains: NOT FOUND}
      - tool_error: {name: lookup, contains: timeout}
      - equals: x
        transform: {tool_result: lookup}
""")
    assert run_cli(capsys, "run", path, "--out", "out").code == 1
    ok = [(c["passed"], c["reason"]) for c in checks_of(folder / "out", "ok")]
    assert [p for p, _ in ok] == [True, False, True, True, True, False, True, False]
    assert ok[5][1] == "transform: tool_args: no call to other"
    assert ok[7][1].startswith("expected a failed tool call; got lookup(")
    failed = [(c["passed"], c["reason"]) for c in checks_of(folder / "out", "failed")]
    assert failed[0] == (True, "lookup failed: 'order 9 not found'")
    assert failed[1][0] is False and "other errors: lookup: 'order 9 not found'" in failed[1][1]
    assert failed[2] == (False, "transform: tool_result: the call to lookup failed: order 9 not found")


@pytest.mark.parametrize(("item", "message"), [
    ({"equals": "a", "tool_args": {"name": "x", "paht": "$.a"}}, 'unknown option "paht" for tool_args'),
    ({"equals": "a", "tool_args": {"path": "$..["}}, "invalid JSONPath"),
    ({"equals": "a", "transform": {"tool_result": {"call": "middle"}}}, "call is last, first or an index"),
    ({"tool_error": 3}, "expected true, a tool name or a mapping"),
])
def test_bad_tool_call_options_are_load_errors(folder: Path, capsys: pytest.CaptureFixture[str],
                                               item: dict[str, Any], message: str) -> None:
    path = suite(folder, f"  - id: a\n    input: hi\n    checks:\n      - {json.dumps(item)}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "suite.yaml:" in result.text, result.text


def test_the_tool_args_example_runs_offline(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", "suites/examples/tool-args.yaml", "--out", "out")
    assert result.code == 0, result.text
    cases = results(workdir / "out")["cases"]
    assert all(run["passed"] for case in cases for run in case["runs"])


def test_simulated_turns_are_graded_and_turn_thresholds_count_replies(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", "suites/examples/turns.yaml", "--out", "out")
    assert result.code == 0, result.text
    case, shared = results(workdir / "out")["cases"]
    run = case["runs"][0]
    assert [t["checks"][0]["name"] for t in run["turns"]] == ["not_icontains", "not_icontains"]
    # turn_threshold: one result per turn check or rubric, counting replies; the turns keep their own results
    share = shared["runs"][0]
    assert [(c["name"], c["passed"], c["score"]) for c in share["checks"]] == [("turns: icontains", True, 0.5)]
    assert share["checks"][0]["reason"].startswith("1 of 2 replies passed, at least 1 needed; turn 2: expected")
    assert [r["name"] for r in share["rubrics"]] == ["turns: relevant-reply"]
    assert [t["checks"][0]["passed"] for t in share["turns"]] == [True, False] and share["score"] == 0.75
    assert [r["name"] for r in run["rubrics"]] == ["turn 1: relevant-reply", "turn 2: relevant-reply"]
    by_name = {c["name"]: c for c in run["checks"]}
    assert by_name["icontains"]["reason"] == "2 of 2 replies passed, at least 2 needed"
    # stricter thresholds: 3 replies (there are 2) and "relevant" on every reply fail with the counts
    suite = workdir / "suites/examples/turns.yaml"
    text = suite.read_text().replace("scope: {at_least: 2}", "scope: {at_least: 3}")
    text = text.replace('- expr: "len(output) < 300"', '- expr: "len(output) < 100"')
    suite.write_text(text)
    assert run_cli(capsys, "run", suite, "--out", "out2").code == 0  # no baseline: only a suite of no passing run fails
    checks = {c["name"]: c for c in results(workdir / "out2")["cases"][0]["runs"][0]["checks"]}
    assert results(workdir / "out2")["cases"][1]["runs"][0]["passed"] is True
    assert checks["icontains"]["passed"] is False
    assert checks["icontains"]["reason"] == "2 of 2 replies passed, at least 3 needed"
    assert checks["expr"]["passed"] is False and checks["expr"]["score"] == 0.5
    assert checks["expr"]["reason"].startswith("1 of 2 replies passed, at least 2 needed; turn 2: len(output) < 100")


@pytest.mark.parametrize(("scope", "message"), [
    ("{at_least: 0}", "scope must be one of last, all_turns, any_turn, {at_least: 3} or {at_least_share: 0.8}"),
    ("{at_least_share: 1.5}", "at_least_share: in (0, 1]"),
    ("{turns: 2}", "scope must be"),
])
def test_bad_turn_thresholds_are_load_errors(folder: Path, capsys: pytest.CaptureFixture[str], scope: str,
                                             message: str) -> None:
    path = suite(folder, f"  - id: a\n    conversation: [{{user: hi}}]\n    checks:\n      - contains: x\n"
                         f"        scope: {scope}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "suite.yaml:" in result.text, result.text


def test_a_turn_threshold_takes_one_of_count_or_share(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = workdir / "suites/examples/turns.yaml"
    suite.write_text(suite.read_text().replace("turn_threshold: {at_least_share: 0.5}",
                                               "turn_threshold: {at_least_share: 0.5, at_least: 1}"))
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2 and "give one of at_least (replies) or at_least_share" in result.text
    assert "turns.yaml:" in result.text and "turn_threshold" in result.text


def test_the_suite_schema_has_turn_checks_and_tool_options(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(run_cli(capsys, "schema", "suite").out)
    simulated = document["$defs"]["SimulatedUserSpec"]["properties"]
    assert {"turn_checks", "turn_rubrics", "turn_threshold"} <= set(simulated)
    item = document["$defs"]["CaseSpec"]["properties"]["checks"]["items"]["properties"]
    assert {"expr", "not_expr", "tool_error", "tool_args", "normalize", "scope"} <= set(item)
