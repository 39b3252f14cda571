"""promptfoo-style suites through the CLI on the mock: groups, weight 0, transforms, embedded JSON,
named and derived metrics (with the baseline), and datasets (CSV without ids, __expected, JSONL messages)."""

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
      - match: invoice
        answers: [{text: 'Sure! Here it is: {"order_id": "7", "amount": 3.5, "currency": "USD"} Anything else?'}]
      - match: ship
        answers: [{text: "Your order ships on Monday by courier."}]
      - match: "classify (?P<label>spam|ham)"
        answers: [{text: "{{ label | upper }}", weight: 3}, {text: "UNSURE"}]
prompt:
  user: "{{ input }}"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.yaml", CONFIG)
    return tmp_path


def suite(folder: Path, body: str, head: str = "") -> Path:
    return write(folder / "suite.yaml", f"suite: expr\nconfig: config.yaml\n{head}cases:\n{body}")


def checks_of(out: Path, case_id: str) -> list[dict[str, Any]]:
    case = next(c for c in results(out)["cases"] if c["id"] == case_id)
    return list(case["runs"][0]["checks"])


def test_groups_weight_zero_transforms_and_embedded_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, """\
  - id: inv
    input: invoice please
    checks:
      - contains_json: {schema: {type: object, required: [amount]}}
      - json: {extract: true, schema: {type: object, required: [refund_id]}}
      - equals: USD
        transform: {json_path: "$.currency"}
      - regex: "^\\\\d+$"
        transform: {regex: 'order_id": "(\\d+)"', group: 1}
      - any: [{contains: nope}, {icontains: "anything else"}]
      - at_least: {n: 2, checks: [{contains: Sure}, {contains: zzz}, {contains: USD}]}
      - all: [{contains: Sure}, {contains: zzz}]
      - contains: never-there
        weight: 0
""")
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 1, result.text  # no baseline, and not one run passed: FAIL
    by_name = {c["name"] + str(i): c for i, c in enumerate(checks_of(folder / "out", "inv"))}
    assert by_name["contains_json0"]["passed"] is True
    assert by_name["json1"]["passed"] is False and "refund_id" in by_name["json1"]["reason"]
    assert by_name["equals2"]["passed"] is True
    assert by_name["regex3"]["passed"] is True
    assert by_name["any4"]["passed"] is True and by_name["any4"]["score"] == 1.0
    assert by_name["at_least5"]["passed"] is True and "2 of 3 passed" in by_name["at_least5"]["reason"]
    assert by_name["all6"]["passed"] is False and by_name["all6"]["score"] == 0.5
    informational = by_name["contains7"]
    assert (informational["passed"], informational["weight"]) == (False, 0.0)
    run = results(folder / "out")["cases"][0]["runs"][0]
    # 7 weighted checks: 5 pass, json fails (0), all scores 0.5 -> (5 + 0.5) / 7; the weight-0 check counts nowhere
    assert run["score"] == pytest.approx(5.5 / 7)
    assert run["passed"] is False  # the json and all checks failed, not the informational one


def test_transform_that_finds_nothing_fails_with_its_reason(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, """\
  - id: ship
    input: when does it ship
    checks:
      - not_contains: x
        transform: {json_path: "$.a"}
""")
    # no baseline, and not one run passed: FAIL
    assert run_cli(capsys, "run", path, "--out", "out").code == 1
    [check] = checks_of(folder / "out", "ship")
    assert check["passed"] is False and check["reason"] == "transform: json_path $.a: output holds no JSON"


@pytest.mark.parametrize(("item", "message"), [
    ({"any": []}, "expected a non-empty list of checks"),
    ({"at_least": {"n": 3, "checks": [{"contains": "a"}]}}, "n is 3 but the group has 1 counted checks"),
    ({"any": [{"contains": "a", "metric": "m"}]}, "metric goes on the group"),
    ({"contains": "a", "transform": {"jsonpath": "$.a"}}, "a transform has one of json_path, regex or python"),
    ({"contains": "a", "transform": {"regex": "(a)", "group": 2}}, "group 2 is not a group of /(a)/"),
    ({"contains": "a", "metric": "bad name"}, "metric must be a name"),
    ({"contains": "a", "weight": -1}, "weight must be a number >= 0"),
])
def test_bad_new_check_items_are_clear_errors(folder: Path, capsys: pytest.CaptureFixture[str],
                                              item: dict[str, Any], message: str) -> None:
    path = suite(folder, f"  - id: a\n    input: hi\n    checks:\n      - {json.dumps(item)}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2
    assert message in result.text and "suite.yaml" in result.text and "Traceback" not in result.text


CLASSIFIER = """\
  - id: s{i}
    tags: [spam]
    input: classify spam {i}
    checks:
      - {{equals: SPAM}}
      - {{equals: SPAM, metric: tp, weight: 0}}
      - {{not_equals: SPAM, metric: fn, weight: 0}}
  - id: h{i}
    tags: [ham]
    input: classify ham {i}
    checks:
      - {{equals: HAM}}
      - {{not_equals: HAM, metric: fp, weight: 0}}
"""
DERIVED = """\
repeat: 4
derived_metrics:
  precision: tp / (tp + fp)
  recall: tp / (tp + fn)
  f1: 2 * precision * recall / (precision + recall)
"""


def test_named_and_derived_metrics_sum_counts_over_runs_then_apply_the_formula(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(folder, "".join(CLASSIFIER.format(i=i) for i in range(3)), DERIVED)
    first = run_cli(capsys, "run", path, "--out", "out", "--save-baseline", "--repeat", "4")
    assert first.code in (0, 1), first.text
    summary = results(folder / "out")["summary"]
    runs = [r for c in results(folder / "out")["cases"] for r in c["runs"]]
    tp = sum(1 for r in runs if r["case_id"].startswith("s") and r["output"] == "SPAM")
    fn = sum(1 for r in runs if r["case_id"].startswith("s") and r["output"] != "SPAM")
    fp = sum(1 for r in runs if r["case_id"].startswith("h") and r["output"] != "HAM")
    assert (summary["metrics"]["tp"]["total"], summary["metrics"]["fn"]["total"]) == (tp, fn)
    assert summary["metrics"]["fp"]["total"] == fp
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert summary["derived"]["precision"]["value"] == pytest.approx(precision)
    assert summary["derived"]["f1"]["value"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert summary["metrics"]["tp"]["mean"] == pytest.approx(tp / 12)  # 3 cases x 4 runs
    assert summary["tags"]["spam"]["metrics"]["tp"]["total"] == tp and "tp" not in summary["tags"]["ham"]["metrics"]
    assert "named metrics" in first.text and "f1 = 2 * precision" in first.text
    baseline = json.loads((folder / "golden/baselines/expr.json").read_text())
    assert any(run.get("metrics", {}).get("tp") == 1.0 for case in baseline["cases"] for run in case["runs"])
    # a second run is compared with the baseline: same seed, same answers, change 0
    second = run_cli(capsys, "run", path, "--out", "out2")
    summary_md = (folder / "out2/summary.md").read_text()
    assert "| Named metric | Value | 95% CI | Total | Baseline | Change |" in summary_md
    assert f"| `precision` = `tp / (tp + fp)` | {precision:.3f} | — | — | {precision:.3f} | +0.000 |" in summary_md
    html = (folder / "out2/report.html").read_text()
    assert 'id="named-metrics"' in html and "f1 = 2 * precision * recall / (precision + recall)" in html
    assert second.code in (0, 1)


@pytest.mark.parametrize(("formula", "message"), [
    ("__import__('os').system('x')", "only the functions min, max, abs, sqrt may be called"),
    ("tp.real", "Attribute is not allowed"),
    ("tp +", "cannot parse"),
    ("tpp / 2", "unknown metric tpp"),
])
def test_derived_metric_formulas_are_parsed_never_evaluated(folder: Path, capsys: pytest.CaptureFixture[str],
                                                           formula: str, message: str) -> None:
    head = f"derived_metrics:\n  x: {json.dumps(formula)}\n"
    path = suite(folder, "  - id: a\n    input: hi\n    checks: [{contains: a, metric: tp}]\n", head)
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "derived_metrics.x" in result.text


def test_csv_without_id_or_input_with_promptfoo_expected_columns(folder: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "data/one.csv", "question,topic,__expected1,__expected2\n"
          "invoice please,billing,contains-json,\"icontains-any:usd,eur\"\n"
          "when does it ship,shipping,not-contains:error,Your order ships on Monday by courier.\n")
    write(folder / "data/two.csv", "prompt,__expected\nwhen does it ship,regex:Mon\\w+\n")
    path = write(folder / "suite.yaml", "suite: ds\nconfig: config.yaml\ncases_from:\n"
                 "  - {path: data/one.csv, input_column: question}\n  - data/t*.csv\n")
    first = run_cli(capsys, "run", path, "--out", "out")
    assert first.code == 0, first.text
    cases = results(folder / "out")["cases"]
    assert [c["input"] for c in cases] == ["invoice please", "when does it ship", "when does it ship"]
    assert all(c["id"].startswith("row-") for c in cases) and len({c["id"] for c in cases}) == 3
    names = [[ch["name"] for ch in c["runs"][0]["checks"]] for c in cases]
    assert names == [["contains_json", "any"], ["not_contains", "equals"], ["regex"]]
    run_cli(capsys, "run", path, "--out", "again")
    assert [c["id"] for c in results(folder / "again")["cases"]] == [c["id"] for c in cases]  # stable ids


@pytest.mark.parametrize(("value", "message"), [
    ("python:import os", "holds python code that is not a simple expression; a dataset never runs code"),
    ("javascript:output.length > 3 ? 1 : 0", "holds javascript code that is not a simple expression"),
    ("levenshtein:hello", "promptfoo assertion 'levenshtein' has no agent-eval form"),
])
def test_code_and_unknown_promptfoo_types_in_data_are_refused(folder: Path, capsys: pytest.CaptureFixture[str],
                                                               value: str, message: str) -> None:
    write(folder / "data.csv", f"q,__expected\nhi,\"{value}\"\n")
    path = write(folder / "suite.yaml", "suite: ds\nconfig: config.yaml\ncases_from: data.csv\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "data.csv" in result.text


def test_jsonl_in_openai_chat_format(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = {"messages": [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": [{"type": "text", "text": "when does it ship?"}]},
                        {"role": "assistant", "content": "Monday."}],
           "checks": [{"contains": "Monday"}]}
    write(folder / "chats.jsonl", json.dumps(row) + "\n")
    path = write(folder / "suite.yaml", "suite: chats\nconfig: config.yaml\ncases_from: [chats.jsonl]\n")
    assert run_cli(capsys, "run", path, "--out", "out").code == 0
    [case] = results(folder / "out")["cases"]
    assert case["expected"] == "Monday."
    assert [m["role"] for m in case["input"]] == ["system", "user"]
    assert case["runs"][0]["messages"][1]["content"] == "when does it ship?"


def test_parquet_cases(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["when does it ship"], "__expected": ["icontains:monday"]}),
                   folder / "cases.parquet")
    path = write(folder / "suite.yaml", "suite: pq\nconfig: config.yaml\ncases_from: cases.parquet\n")
    assert run_cli(capsys, "run", path, "--out", "out").code == 0
    [case] = results(folder / "out")["cases"]
    assert case["input"] == "when does it ship" and case["runs"][0]["checks"][0]["name"] == "icontains"


def test_the_shipped_example_runs_offline(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", "suites/examples/triage.yaml", "--out", "out")
    assert result.code == 0, result.text
    summary = results(workdir / "out")["summary"]
    assert {"billing_precision", "billing_recall", "billing_f1"} <= set(summary["derived"])
    assert summary["metrics"]["well_formed"]["mean"] == 1.0 and "billing_f1" in result.text
