"""Suite features through the CLI: cases from CSV and YAML files, judge prompt overrides, run timeouts."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import results, run_cli, write

CONFIG = """\
name: bot
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: "order (?P<order>\\\\d+)"
        answers: [{text: "Order {{ order }} ships today."}]
prompt:
  user: "{{ input }}"
"""


def test_cases_from_csv_and_yaml_files(workdir: Path, capsys) -> None:
    write(workdir / "s" / "config.yaml", CONFIG)
    write(workdir / "s" / "cases.csv",
          'id,input,expected,tags,critical,checks,order\n'
          'csv-1,Where is order {{ order }}?,,"billing, csv",true,"[{""contains"": ""ships""}]",12\n'
          'csv-2,Where is order 77?,Order 77,csv,,"[{""contains"": ""77""}]",\n')
    write(workdir / "s" / "more.yaml", "cases:\n  - id: yaml-1\n    input: order 5\n    checks: [{contains: '5'}]\n")
    suite = write(workdir / "s" / "suite.yaml",
                  "suite: files\nconfig: config.yaml\ncases_from: [cases.csv, more.yaml]\n"
                  "cases:\n  - {id: inline, input: order 9, checks: [{contains: '9'}]}\n")
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 0, r.text
    cases = {c["id"]: c for c in results(workdir / "out")["cases"]}
    assert set(cases) == {"inline", "csv-1", "csv-2", "yaml-1"}
    assert cases["csv-1"]["tags"] == ["billing", "csv"] and cases["csv-1"]["critical"] is True
    assert cases["csv-2"]["expected"] == "Order 77"
    assert cases["csv-1"]["runs"][0]["output"] == "Order 12 ships today."  # the `order` column is a variable
    assert all(c["stats"]["passed"] == 1 for c in cases.values())


def test_a_bad_row_in_a_cases_file_names_that_file_and_line(workdir: Path, capsys) -> None:
    write(workdir / "s" / "config.yaml", CONFIG)
    write(workdir / "s" / "cases.jsonl", '{"id": "a", "input": "x"}\n{"id": "b", "inputt": "y"}\n')
    suite = write(workdir / "s" / "suite.yaml", "suite: files\nconfig: config.yaml\ncases_from: cases.jsonl\n")
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 2 and f"{workdir / 's' / 'cases.jsonl'}:2" in r.err and "inputt" in r.err


def test_a_suite_may_ship_its_own_judge_prompt(workdir: Path, capsys) -> None:
    write(workdir / "s" / "config.yaml", CONFIG)
    write(workdir / "s" / "judge.j2", "Grade {{ rubric_name }}: {{ criteria }}\nOUTPUT: {{ output }}\n"
                                      "Scale {{ scale_min }}-{{ scale_max }}. Reply JSON.\n")
    judge = """\
judge:
  provider: mock
  name: mock-judge-2025-01-01
  prompt: judge.j2
  mock:
    rules:
      - match: "^Grade polite"
        answers: [{text: '{"reasoning": "custom prompt seen", "score": 5}'}]
"""
    suite = write(workdir / "s" / "suite.yaml", "suite: j\nconfig: config.yaml\n" + judge +
                  "cases:\n  - id: a\n    input: order 3\n    rubrics: [{name: polite, criteria: Is polite.}]\n")
    r = run_cli(capsys, "run", suite, "--out", "out")
    assert r.code == 0, r.text
    data = results(workdir / "out")
    rubric = data["cases"][0]["runs"][0]["rubrics"][0]
    assert rubric["reasoning"] == "custom prompt seen" and rubric["passed"] is True
    shipped = json.loads((workdir / "golden/baselines/support-bot.json").read_text())
    assert data["config"]["judge_prompt_hash"] != shipped["provenance"]["judge_prompt_hash"]


def test_a_judge_that_keeps_failing_is_a_judge_error(workdir: Path, capsys) -> None:
    write(workdir / "s" / "config.yaml", CONFIG)
    judge = "judge:\n  provider: mock\n  name: mock-judge-2025-01-01\n  mock: {error_rate: 1.0}\n"
    suite = write(workdir / "s" / "suite.yaml", "suite: j\nconfig: config.yaml\n" + judge +
                  "cases:\n  - id: a\n    input: order 3\n    rubrics: [{name: polite, criteria: Is polite.}]\n")
    r = run_cli(capsys, "run", suite, "--out", "out", "--max-retries", "2")
    assert r.code == 3, r.text
    run = results(workdir / "out")["cases"][0]["runs"][0]
    assert run["status"] == "errored" and run["error"]["kind"] == "judge"
    assert "call failed" in run["error"]["message"] and run["output"] == "Order 3 ships today."


def test_run_timeout_bounds_a_run_including_its_retries(workdir: Path, capsys) -> None:
    slow = CONFIG.replace("  mock:\n", "  mock:\n    latency_ms: 2000\n")
    write(workdir / "s" / "config.yaml", slow)
    suite = write(workdir / "s" / "suite.yaml", "suite: t\nconfig: config.yaml\ncases:\n  - {id: a, input: order 1}\n")
    r = run_cli(capsys, "run", suite, "--out", "out", "--run-timeout", "0.2")
    assert r.code == 3, r.text
    run = results(workdir / "out")["cases"][0]["runs"][0]
    assert run["error"]["kind"] == "timeout" and "0.2 s" in run["error"]["message"]


def test_a_rubric_without_threshold_passes_at_four_of_five(workdir: Path, capsys) -> None:
    write(workdir / "s" / "config.yaml", CONFIG)
    judge = ("judge:\n  provider: mock\n  name: mock-judge-2025-01-01\n  mock:\n    rules:\n"
             "      - match: 'order 1'\n        answers: [{text: '{\"reasoning\": \"good\", \"score\": 4}'}]\n"
             "      - match: 'order 2'\n        answers: [{text: '{\"reasoning\": \"weak\", \"score\": 3}'}]\n")
    cases = "".join(f"  - id: c{i}\n    input: order {i}\n    rubrics: [{{name: r, criteria: c}}]\n" for i in (1, 2))
    suite = write(workdir / "s" / "suite.yaml", "suite: t\nconfig: config.yaml\n" + judge + "cases:\n" + cases)
    run_cli(capsys, "run", suite, "--out", "out")
    runs = {c["id"]: c["runs"][0] for c in results(workdir / "out")["cases"]}
    assert runs["c1"]["rubrics"][0]["threshold"] == 4 and runs["c1"]["passed"] is True
    assert runs["c2"]["passed"] is False and runs["c2"]["score"] == 0.5


def test_a_filter_or_shard_skips_suites_it_leaves_empty(workdir: Path, capsys) -> None:
    """A folder sharded in CI: a small suite with no case in this shard is skipped, not an error."""
    write(workdir / "s" / "config.yaml", CONFIG)
    write(workdir / "s" / "billing.yaml", "suite: billing\nconfig: config.yaml\ncases:\n"
          "  - {id: invoice-1, input: order 1}\n  - {id: invoice-2, input: order 2}\n")
    write(workdir / "s" / "greeting.yaml", "suite: greeting\nconfig: config.yaml\ncases:\n  - {id: hello, input: hi}\n")
    r = run_cli(capsys, "run", workdir / "s", "--filter", "invoice-*", "--out", "out")
    assert r.code == 0, r.text
    assert "greeting: no case matches --filter; skipped" in r.err
    assert [c["id"] for c in results(workdir / "out" / "billing")["cases"]] == ["invoice-1", "invoice-2"]
    assert not (workdir / "out" / "greeting").exists()
    r = run_cli(capsys, "run", workdir / "s", "--filter", "nothing-*", "--out", "none")
    assert r.code == 2 and "no case of any suite matches" in r.err
