"""Recorded outputs (issue 23): a case or dataset row carries the answer (or the conversation) and is graded by the
same checks and judges with no target called."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import REPO, results, run_cli, write

CONFIG = """\
name: m
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    default: MODEL ANSWER
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _runs(folder: Path, out: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["id"]: c["runs"][0] for c in results(folder / out)["cases"]}


def test_the_shipped_example_grades_recorded_answers_without_a_config(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", REPO / "suites" / "examples" / "recorded" / "suite.yaml", "--out", "out")
    assert result.code == 0, result.text
    data = results(folder / "out")
    assert data["config"]["name"] == "recorded" and data["summary"]["cost_usd"] == 0
    runs = _runs(folder, "out")
    assert set(runs) == {"refund-answer", "handoff", "log-1", "log-2"}
    assert runs["handoff"]["rubrics"][0]["score"] == 5
    assert [t["name"] for t in runs["log-1"]["tool_calls"]] == ["lookup_order"]
    assert runs["log-1"]["tool_calls"][0]["result"] == '{"status": "shipped"}'


def test_a_recorded_case_is_graded_as_written_beside_called_cases(folder: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "c.yaml", CONFIG)
    rows = [{"id": "row", "input": "q", "recorded": json.dumps({"output": "from the log"})}]
    write(folder / "rows.csv", "id,input,recorded\n" + "".join(
        f'{r["id"]},{r["input"]},"{r["recorded"].replace(chr(34), chr(34) * 2)}"\n' for r in rows))
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\nrepeat: 2\ncases_from: rows.csv\ncases:\n"
                  "  - {id: called, input: hello, checks: [{contains: MODEL}]}\n"
                  "  - id: logged\n    input: hello\n    recorded: {output: 'Recorded reply'}\n"
                  "    checks: [{equals: Recorded reply}]\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    runs = _runs(folder, "out")
    assert runs["called"]["output"] == "MODEL ANSWER"
    assert runs["logged"]["output"] == "Recorded reply" and runs["logged"]["passed"] is True
    assert [m["content"] for m in runs["logged"]["messages"]] == ["hello"]  # the question; no config prompt
    assert runs["row"]["output"] == "from the log"


def test_editing_a_recorded_output_redefines_the_case(folder: Path) -> None:
    from agent_eval.suite.loader import load_suite

    text = "suite: s\ncases:\n  - id: a\n    recorded: {output: one}\n"
    write(folder / "s.yaml", text)
    first = load_suite(folder / "s.yaml").cases[0].definition_hash
    write(folder / "s.yaml", text.replace("one", "two"))
    assert load_suite(folder / "s.yaml").cases[0].definition_hash != first


@pytest.mark.parametrize(("case", "message"), [
    ("    input: hi\n    recorded:\n      messages: [{role: user, content: a}, {role: assistant, content: b}]\n",
     "recorded messages hold the whole conversation"),
    ("    recorded:\n      messages: [{role: user, content: a}]\n", "end with the assistant's answer"),
    ("    recorded: {output: a, messages: [{role: assistant, content: b}]}\n", "exactly one of output or messages"),
    ("    conversation: [{user: hi}]\n    recorded: {output: a}\n", "a recorded case has no conversation"),
])
def test_a_malformed_recorded_case_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str], case: str,
                                                   message: str) -> None:
    suite = write(folder / "s.yaml", "suite: s\ncases:\n  - id: a\n" + case)
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2 and message in result.text and "s.yaml" in result.text, result.text
    assert "Traceback" not in result.text


def test_a_suite_with_called_cases_still_needs_a_config(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write(folder / "s.yaml", "suite: s\ncases:\n  - {id: a, recorded: {output: x}}\n  - {id: b, input: y}\n")
    result = run_cli(capsys, "run", suite, "--out", "out")
    assert result.code == 2 and "no config" in result.text


def test_the_suite_schema_publishes_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "schema", "suite")
    schema = json.loads(result.out)
    assert "RecordedSpec" in schema["$defs"]
    assert set(schema["$defs"]["RecordedSpec"]["properties"]) == {"output", "messages", "tool_calls"}
    import jsonschema
    import yaml

    example = yaml.safe_load((REPO / "suites" / "examples" / "recorded" / "suite.yaml").read_text())
    jsonschema.validate(example, schema)  # an editor accepts recorded cases with and without an input...
    example["cases"][1]["conversation"] = [{"user": "hi"}]
    with pytest.raises(jsonschema.ValidationError):  # ...and flags a recorded case that also has a conversation
        jsonschema.validate(example, schema)


def test_recorded_cases_call_nothing_and_spend_nothing(folder: Path, capsys: pytest.CaptureFixture[str],
                                                       clean_provider_env: pytest.MonkeyPatch) -> None:
    # an endpoint where nothing listens: any call would fail the run; a zero budget would refuse any priced call
    write(folder / "c.yaml", "name: o\nversion: 1.0.0\nmodel:\n  provider: openai\n  name: gpt-4o-2024-08-06\n"
          "  base_url: http://127.0.0.1:9/v1\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\nrepeat: 3\ncases:\n"
                  "  - {id: a, input: q, recorded: {output: fine}, checks: [{equals: fine}]}\n")
    dry = run_cli(capsys, "run", suite, "--dry-run")
    assert dry.code == 0 and "$0.0000" in dry.text, dry.text
    result = run_cli(capsys, "run", suite, "--out", "out", "--budget-usd", "0", "--no-cache")
    assert result.code == 0, result.text
    runs = results(folder / "out")["cases"][0]["runs"]
    assert [r["status"] for r in runs] == ["passed"] * 3 and all(r["model"] == "recorded" for r in runs)
