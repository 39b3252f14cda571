"""Dataset sources (issue 23): JSON arrays, a field mapping for JSON/JSONL/CSV (Inspect datasets unchanged), and
`agent-eval dataset fetch` for Hugging Face datasets (an explicit command; `run` never fetches)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from clitools import REPO, results, run_cli, write

ECHO = """\
name: m
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: "(?P<all>[\\\\s\\\\S]+)"
        answers: [{text: "{{ all }}"}]
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "c.yaml", ECHO)
    return tmp_path


def test_the_shipped_datasets_example_passes(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", REPO / "suites" / "examples" / "datasets" / "suite.yaml", "--out", "out",
                     "--no-cache")
    assert result.code == 0, result.text
    runs = {c["id"]: c["runs"][0] for c in results(folder / "out")["cases"]}
    assert set(runs) == {"1", "2", "q1", "q2", "row-900524e306"}
    assert runs["row-900524e306"]["model"] == "recorded"  # the CSV's recorded output: no model called
    assert all(r["passed"] for r in runs.values())


def test_an_inspect_jsonl_loads_with_a_field_mapping(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "d.jsonl", json.dumps({"id": 7, "input": "Say {{ choices[1] }}", "target": ["B", "b"],
                                          "choices": ["A", "B"], "metadata": {"k": 1}}) + "\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases_from: {path: d.jsonl, fields: {expected: "
                  "target}}\ndefaults:\n  checks: [{equals: 'Say {{ expected }}'}]\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    case = results(folder / "out")["cases"][0]
    assert case["id"] == "7" and case["runs"][0]["output"] == "Say B"
    unmapped = write(folder / "s2.yaml", "suite: s\nconfig: c.yaml\ncases_from: d.jsonl\n")
    refused = run_cli(capsys, "validate", unmapped)  # without the mapping `target` is no case field: an error
    assert refused.code == 2 and "d.jsonl:1" in refused.text and "target" in refused.text, refused.text


def test_a_json_array_with_mapped_fields_names_the_line_of_a_bad_row(folder: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "d.json", '[\n  {"qid": "a", "q": "hi", "gold": "hi"},\n  {"qid": "b", "q": "yo", "gold": "yo"}\n]\n')
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases_from: {path: d.json, fields: {id: qid, input: q,"
                  " expected: gold}}\ndefaults:\n  checks: [{equals: '{{ expected }}'}]\ntemplated_inputs: true\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    assert [c["id"] for c in results(folder / "out")["cases"]] == ["a", "b"]
    write(folder / "d.json", '[\n  {"qid": "a", "q": "hi", "gold": "hi"},\n  {"qid": "b", "gold": "yo"}\n]\n')
    bad = run_cli(capsys, "validate", suite)
    assert bad.code == 2 and "d.json:3" in bad.text and "fields.input names 'q'" in bad.text, bad.text
    write(folder / "d.json", '[{"qid": "a",]')
    broken = run_cli(capsys, "validate", suite)
    assert broken.code == 2 and "d.json:1" in broken.text and "invalid JSON" in broken.text, broken.text


def test_a_csv_field_mapping_renames_columns(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "d.csv", "question,target,qid\nping,ping,x1\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ntemplated_inputs: true\ncases_from: {path: d.csv, "
                  "fields: {input: question, expected: target, id: qid}}\ndefaults:\n  checks: [{equals: "
                  "'{{ expected }}'}]\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    assert results(folder / "out")["cases"][0]["id"] == "x1"


def test_dataset_fetch_without_the_datasets_package_is_one_line_exit_2(
        folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # as when the optional extra is not installed
    result = run_cli(capsys, "dataset", "fetch", "openai/gsm8k", "--split", "test", "-o", "gsm8k.jsonl")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "pip install 'agent-eval-gate[hf]'" in result.err
    assert not (folder / "gsm8k.jsonl").exists()


def test_dataset_fetch_writes_a_jsonl_a_suite_reads(folder: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # a stand-in for the third-party `datasets` package (no network here): load_dataset returns rows
    write(folder / "hub" / "datasets.py", "class Split(list):\n    column_names = ['question', 'answer']\n\n"
          "def load_dataset(name, subset, split, revision):\n"
          "    assert (name, subset, split) == ('org/quiz', 'main', 'test')\n"
          "    return Split([{'question': f'q{i}', 'answer': f'q{i}'} for i in range(5)])\n")
    monkeypatch.syspath_prepend(str(folder / "hub"))
    monkeypatch.delitem(sys.modules, "datasets", raising=False)
    result = run_cli(capsys, "dataset", "fetch", "org/quiz", "--subset", "main", "--split", "test", "-o",
                     "quiz.jsonl", "--limit", "3")
    assert result.code == 0, result.text
    assert "wrote 3 rows" in result.out and "question, answer" in result.out
    again = run_cli(capsys, "dataset", "fetch", "org/quiz", "--subset", "main", "-o", "quiz.jsonl")
    assert again.code == 2 and "--overwrite" in again.text
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ntemplated_inputs: true\ncases_from: {path: "
                  "quiz.jsonl, fields: {input: question, expected: answer}}\ndefaults:\n  checks: [{equals: "
                  "'{{ expected }}'}]\n")
    run = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert run.code == 0 and len(results(folder / "out")["cases"]) == 3, run.text


def test_the_suite_schema_publishes_the_field_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    schema = json.loads(run_cli(capsys, "schema", "suite").out)
    mapping = schema["$defs"]["CasesFromSpec"]["properties"]["fields"]
    assert set(mapping["propertyNames"]["enum"]) == {"id", "input", "expected", "metadata", "tags", "output"}
