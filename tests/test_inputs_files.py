"""Prompts and values from files (issue 23): `prompt: {file: ...}` text and chat templates, `file:` vars,
all read inside their folder and hashed by content; run through the CLI on the mock."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import REPO, results, run_cli, write

MOCK = """\
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
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], suite: Path, out: str, *extra: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(capsys, "run", suite, "--out", out, "--no-cache", *extra)
    assert result.code in (0, 1), result.text
    return results(suite.parent / out)


def test_a_text_prompt_file_is_the_user_template_and_its_contents_are_hashed(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "prompts" / "p.txt", "Product {{ product }}. Q: {{ input }}\n")
    write(folder / "c.yaml", MOCK + "prompt:\n  system: Be brief.\n  file: prompts/p.txt\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases:\n  - id: a\n    input: hi\n"
                  "    vars: {product: Acme}\n    checks: [{equals: \"Product Acme. Q: hi\"}]\n")
    first = _run(capsys, suite, "one")
    run = first["cases"][0]["runs"][0]
    assert run["passed"] is True, run
    assert [m["role"] for m in run["messages"]] == ["system", "user"]
    assert first["config"]["user_template"] == "Product {{ product }}. Q: {{ input }}"
    write(folder / "prompts" / "p.txt", "Product {{ product }}! Q: {{ input }}\n")  # one character edited
    second = _run(capsys, suite, "two")
    assert second["config"]["hash"] != first["config"]["hash"]
    assert second["cases"][0]["runs"][0]["passed"] is False


def test_a_chat_template_renders_messages_and_loops_over_vars(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "chat.json", '[{"role": "system", "content": "For {{ product }}"}\n'
          '{%- for t in history %}, {"role": {{ t.role | tojson }}, "content": {{ t.content | tojson }}}{% endfor %},\n'
          ' {"role": "user", "content": {{ input | tojson }}}]\n')
    write(folder / "c.yaml", MOCK + "prompt:\n  file: chat.json\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases:\n  - id: a\n    input: 'and \"now\"?'\n"
                  "    vars:\n      product: Acme\n      history: [{role: user, content: one}, "
                  "{role: assistant, content: two}]\n    checks: [{equals: 'and \"now\"?'}]\n")
    run = _run(capsys, suite, "out")["cases"][0]["runs"][0]
    assert [(m["role"], m["content"]) for m in run["messages"]] == [
        ("system", "For Acme"), ("user", "one"), ("assistant", "two"), ("user", 'and "now"?')]
    assert run["passed"] is True


def test_the_shipped_prompt_file_examples_pass(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = REPO / "suites" / "examples" / "prompt-files"
    for suite, config in [("suite.yaml", None), ("suite.yaml", "few-shot.yaml"), ("history-suite.yaml", None)]:
        extra = ("--config", str(base / config)) if config else ()
        result = run_cli(capsys, "run", base / suite, "--out", str(folder / f"o-{suite}-{config}"), "--no-cache",
                         *extra)
        assert result.code == 0, (suite, config, result.text)


@pytest.mark.parametrize(("prompt", "message"), [
    ("  file: ../outside.txt\n", "must be a relative path inside"),
    ("  file: /etc/hostname\n", "must be a relative path inside"),
    ("  file: missing.txt\n", "file 'missing.txt' not found"),
    ("  file: p.txt\n  user: '{{ input }}'\n", "prompt.file and prompt.user together"),
    ("  file: bad.yaml\n", "message 1 must be {role: system|user|assistant"),
])
def test_a_bad_prompt_file_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str], prompt: str,
                                           message: str) -> None:
    write(folder / "outside.txt", "x")
    write(folder / "cfg" / "p.txt", "x")
    write(folder / "cfg" / "bad.yaml", "- {role: robot, content: x}\n")
    write(folder / "cfg" / "c.yaml", MOCK + "prompt:\n" + prompt)
    suite = write(folder / "s.yaml", "suite: s\nconfig: cfg/c.yaml\ncases:\n  - {id: a, input: hi}\n")
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2, result.text
    assert message in result.text and ".yaml" in result.text and "Traceback" not in result.text


def test_a_link_out_of_the_folder_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "secret.txt", "x")
    write(folder / "cfg" / "c.yaml", MOCK + "prompt:\n  file: p.txt\n")
    (folder / "cfg" / "p.txt").symlink_to(folder / "secret.txt")
    suite = write(folder / "s.yaml", "suite: s\nconfig: cfg/c.yaml\ncases:\n  - {id: a, input: hi}\n")
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2 and "leads outside" in result.text, result.text


# --- values from files, default vars, from_json, vars_transform ---

ECHO_SUITE = "suite: s\nconfig: c.yaml\n"


def _echo(folder: Path) -> None:
    write(folder / "c.yaml", MOCK)


def test_the_shipped_file_vars_example_passes(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", REPO / "suites" / "examples" / "file-vars" / "suite.yaml", "--out", "out",
                     "--no-cache")
    assert result.code == 0, result.text
    runs = {c["id"]: c["runs"][0] for c in results(folder / "out")["cases"]}
    assert runs["refund"]["passed"] and runs["csv-shipping"]["passed"]
    assert "Exchanges: unopened items" in runs["refund"]["messages"][1]["content"]  # the file's text, via defaults
    assert "Question: When does" in runs["csv-shipping"]["messages"][1]["content"]  # the transform capitalised it


def test_a_file_value_is_read_and_editing_the_file_redefines_its_cases(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_eval.suite.loader import load_suite

    _echo(folder)
    write(folder / "docs" / "a.md", "Alpha text")
    suite = write(folder / "s.yaml", ECHO_SUITE + "defaults:\n  vars: {who: all}\ncases:\n"
                  "  - id: reads\n    input: '{{ doc }} for {{ who }}'\n    vars: {doc: 'file:docs/a.md'}\n"
                  "    checks: [{equals: Alpha text for all}]\n"
                  "  - id: own\n    input: '{{ who }}'\n    vars: {who: me}\n    checks: [{equals: me}]\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    before = {c.id: c.definition_hash for c in load_suite(suite).cases}
    write(folder / "docs" / "a.md", "Alpha text, edited")
    after = {c.id: c.definition_hash for c in load_suite(suite).cases}
    assert after["reads"] != before["reads"] and after["own"] == before["own"]


@pytest.mark.parametrize(("value", "message"), [
    ("file:../outside.md", "must be a relative path inside"),
    ("file:/etc/hostname", "must be a relative path inside"),
    ("file:docs/none.md", "not found"),
    ("file:docs/big.md", "larger than 5 MB"),
    ("file:docs/blob.txt", "is not UTF-8 text"),
    ("file:link.md", "leads outside"),
])
def test_a_bad_file_value_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str], value: str,
                                          message: str) -> None:
    _echo(folder)
    write(folder / "outside.md", "x")
    write(folder / "suite" / "docs" / "big.md", "x" * (5 * 1024 * 1024 + 1))
    (folder / "suite" / "docs" / "blob.txt").write_bytes(b"\xff\xfe\x00bad")
    (folder / "suite" / "link.md").symlink_to(folder / "outside.md")
    suite = write(folder / "suite" / "s.yaml", "suite: s\nconfig: ../c.yaml\ncases:\n  - id: a\n    input: x\n"
                  f"    vars:\n      doc: '{value}'\n")
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2, result.text
    assert message in result.text and "s.yaml:7: cases[0].vars.doc:" in result.text, result.text


def test_dataset_rows_read_files_only_when_the_suite_opts_in(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _echo(folder)
    write(folder / "d.md", "from a file")
    write(folder / "rows.csv", "id,input,doc\nr1,hi,file:d.md\n")
    suite = write(folder / "s.yaml", ECHO_SUITE + "cases_from: rows.csv\n")
    refused = run_cli(capsys, "validate", suite)
    assert refused.code == 2 and "rows.csv:2" in refused.text and "allow_files" in refused.text, refused.text
    write(folder / "s.yaml", ECHO_SUITE + "dataset: {allow_files: true}\ncases_from: rows.csv\n"
          "defaults:\n  checks: [{equals: 'from a file'}]\n")
    write(folder / "rows.csv", "id,input,doc\nr1,{{ doc }},file:d.md\n")
    result = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert result.code == 0 and results(folder / "out")["cases"][0]["runs"][0]["output"] == "from a file", result.text


def test_from_json_reads_a_var_holding_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _echo(folder)
    suite = write(folder / "s.yaml", ECHO_SUITE + "cases:\n  - id: a\n    input: '{{ (row | from_json).names | "
                  "join(\"+\") }}'\n    vars: {row: '{\"names\": [\"x\", \"y\"]}'}\n    checks: [{equals: x+y}]\n")
    assert run_cli(capsys, "run", suite, "--out", "out", "--no-cache").code == 0
    write(folder / "s.yaml", ECHO_SUITE + "cases:\n  - id: a\n    input: '{{ (row | from_json).x }}'\n"
          "    vars: {row: 'not json'}\n")
    bad = run_cli(capsys, "validate", suite)
    assert bad.code == 2 and "from_json: not valid JSON" in bad.text, bad.text


def test_vars_transform_is_named_in_the_suite_and_hashed(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_eval.suite.loader import load_suite

    _echo(folder)
    write(folder / "tf_a.py", "def shout(v, case_id):\n    return {**v, 'name': v['name'].upper() + case_id}\n")
    suite = write(folder / "s.yaml", ECHO_SUITE + "vars_transform: tf_a:shout\ncases:\n"
                  "  - {id: a, input: 'hi {{ name }}', vars: {name: ann}, checks: [{equals: hi ANNa}]}\n")
    assert run_cli(capsys, "run", suite, "--out", "out", "--no-cache").code == 0
    before = load_suite(suite).hash
    write(folder / "tf_a.py", "def shout(v, case_id):\n    return {**v, 'name': v['name'].upper() + '!'}\n")
    assert load_suite(suite).hash != before  # the transform's source is part of the suite
    write(folder / "tf_b.py", "def shout(v):\n    return None\n")
    write(folder / "s.yaml", ECHO_SUITE + "vars_transform: tf_b:shout\ncases:\n  - {id: a, input: x}\n")
    bad = run_cli(capsys, "validate", suite)
    assert bad.code == 2 and "tf_b:shout returned NoneType for case 'a'" in bad.text, bad.text
    write(folder / "rows.jsonl", '{"id": "r", "input": "x", "vars_transform": "tf_a:shout"}\n')
    write(folder / "s.yaml", ECHO_SUITE + "cases_from: rows.jsonl\n")
    row = run_cli(capsys, "validate", suite)  # a data file never names a function: not a case field
    assert row.code == 2 and "rows.jsonl:1" in row.text and "vars_transform" in row.text, row.text


def test_the_suite_schema_publishes_the_new_fields(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    schema = json.loads(run_cli(capsys, "schema", "suite").out)
    assert {"vars_transform", "dataset"} <= set(schema["properties"])
    assert "vars" in schema["$defs"]["DefaultsSpec"]["properties"]
    config = json.loads(run_cli(capsys, "schema", "config").out)
    assert "file" in config["$defs"]["PromptSpec"]["properties"]
