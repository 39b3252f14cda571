"""Issue 20, first part: data files choose no code, schemas fetch nothing, templates are bounded, secrets are
masked in every file and `--redact` leaves no input or output text anywhere (through the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import run_cli, write

CONFIG = """\
name: bot
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
prompt:
  user: "{{ input }}"
"""


def setup(workdir: Path, suite: str, config: str = CONFIG) -> Path:
    write(workdir / "t" / "config.yaml", config)
    return write(workdir / "t" / "suite.yaml", suite)


def assert_input_error(r, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == 2, r.text
    assert "Traceback" not in r.text and "internal error" not in r.text, r.text
    for fragment in fragments:
        assert fragment in r.err, (fragment, r.err)


def files_containing(folder: Path, needles: tuple[str, ...]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(folder)}: {n}" for n in needles if n in text]
    return found


# --- 1. data files choose no code ---------------------------------------------------------------------------

SUITE_FROM = "suite: s\nconfig: config.yaml\ncases_from: {name}\n"


@pytest.mark.parametrize(("name", "body", "line", "field"), [
    ("cases.jsonl", '{"id": "a", "input": "hi"}\n{"id": "b", "input": "x", "checks": [{"python": "pty:spawn"}]}\n',
     2, "checks[0].python"),
    ("cases.jsonl", '{"id": "b", "input": "x", "checks": [{"contains": "x", "transform": {"python": "os:getcwd"}}]}\n',
     1, "checks[0].transform.python"),
    ("cases.jsonl", '{"id": "b", "input": "x", "checks": [{"any": [{"contains": "y"}, {"python": "os:system"}]}]}\n',
     1, "checks[0].any[1].python"),
    ("cases.csv", 'id,input,checks\na,hi,"[{""python"": ""pty:spawn""}]"\n', 2, "checks[0].python"),
    ("cases.yaml", "- id: a\n  input: hi\n- id: b\n  input: x\n  checks:\n    - python: pty:spawn\n",
     6, "[1].checks[0].python"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_cases_from_file_naming_code_is_refused(workdir: Path, capsys, name: str, body: str, line: int,
                                                  field: str, command: str) -> None:
    setup(workdir, SUITE_FROM.format(name=name))
    write(workdir / "t" / name, body)
    r = run_cli(capsys, command, workdir / "t" / "suite.yaml")
    assert_input_error(r, f"{workdir / 't' / name}:{line}: {field}:", "data file never chooses")
    assert not (workdir / "results").exists()


def test_a_python_check_in_the_suite_itself_still_runs(workdir: Path, capsys) -> None:
    write(workdir / "t" / "mychecks.py", "def ok(output, case, run):\n    return True\n")
    setup(workdir, "suite: s\nconfig: config.yaml\ncases_from: cases.jsonl\n"
          "defaults:\n  checks:\n    - python: mychecks:ok\n")
    write(workdir / "t" / "cases.jsonl", '{"id": "a", "input": "hi"}\n')
    r = run_cli(capsys, "validate", workdir / "t" / "suite.yaml")
    assert r.code == 0, r.text


# --- 2. no network from $ref --------------------------------------------------------------------------------

@pytest.mark.parametrize("check", [
    '{json: {schema: {"$ref": "http://127.0.0.1:9/x.json"}}}',
    '{json: {schema: {type: object, properties: {a: {"$ref": "https://example.com/a.json#/b"}}}}}',
    '{contains_json: {schema: {"$ref": "file:///etc/passwd"}}}',
    '{json: {schema: {"$ref": "ftp://example.com/s.json"}}}',
    '{json: {schema: {"$ref": "../../outside.json"}}}',
    '{tool_called: {name: f, args_schema: {"$ref": "http://127.0.0.1:9/y.json"}}}',
])
def test_a_remote_ref_in_a_schema_is_refused_at_load(workdir: Path, capsys, check: str) -> None:
    path = setup(workdir, f"suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    input: hi\n    checks:\n"
                          f"      - {check}\n")
    r = run_cli(capsys, "validate", path)
    assert_input_error(r, f"{path}:7", "$ref", "never fetches")


def test_a_local_ref_still_works(workdir: Path, capsys) -> None:
    path = setup(workdir, 'suite: s\nconfig: config.yaml\ncases:\n  - id: a\n    input: hi\n    checks:\n'
                          '      - {json: {schema: {"$defs": {s: {type: string}}, "$ref": "#/$defs/s"}}}\n')
    assert run_cli(capsys, "validate", path).code == 0
