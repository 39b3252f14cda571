"""Bad input: one short message naming file, line and field, exit 2, no traceback, no provider call."""

from __future__ import annotations

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


def suite(body: str, config: str = "config.yaml") -> str:
    return f"suite: s\nconfig: {config}\ncases:\n{body}"


CASES = {
    "malformed yaml": (suite("  - id: a\n    input: [unclosed\n"), 5, "malformed YAML"),
    "unknown field": (suite("  - id: a\n    inptu: hi\n"), 5, "unknown field 'inptu'; did you mean 'input'?"),
    "missing field": (suite("  - id: a\n    tags: [x]\n"), 4, "cases[0].input: required field is missing"),
    "invalid regex": (suite("  - id: a\n    input: hi\n    checks:\n      - regex: '(unclosed'\n"), 7,
                      "invalid regular expression"),
    "unknown check": (suite("  - id: a\n    input: hi\n    checks:\n      - contians: x\n"), 7, "contains"),
    "invalid json schema": (suite("  - id: a\n    input: hi\n    checks:\n      - json: {schema: {type: 12}}\n"),
                            7, "schema"),
    "duplicate id": (suite("  - id: a\n    input: hi\n  - id: a\n    input: ho\n"), 6, "duplicate case id 'a'"),
    "newer schema": ("schema_version: 9\n" + suite("  - id: a\n    input: hi\n"), 1, "newer than this agent-eval"),
    "rubric without judge": (suite("  - id: a\n    input: hi\n    rubrics:\n      - {name: r, criteria: c}\n"), 7,
                             "has no judge"),
    "bad repeat": ("suite: s\nconfig: config.yaml\nrepeat: zero\ncases:\n  - {id: a, input: hi}\n", 3, "repeat"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_suite_is_one_line_with_file_and_line(workdir: Path, capsys, name: str) -> None:
    text, line, expected = CASES[name]
    write(workdir / "bad" / "config.yaml", CONFIG)
    path = write(workdir / "bad" / "suite.yaml", text)
    for command in (["run", path, "--out", "out"], ["validate", path]):
        r = run_cli(capsys, *command)
        assert r.code == 2, (name, r.text)
        assert "Traceback" not in r.text
        assert f"{path}:{line}" in r.err, (name, r.err)
        assert expected in r.err, (name, r.err)
    assert not (workdir / "out").exists()


def test_missing_files_and_unknown_provider(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "nope.yaml")
    assert r.code == 2 and "nope.yaml" in r.err and "not found" in r.err
    write(workdir / "bad" / "config.yaml", CONFIG.replace("provider: mock", "provider: opnai"))
    path = write(workdir / "bad" / "suite.yaml", suite("  - id: a\n    input: hi\n"))
    r = run_cli(capsys, "run", path)
    assert r.code == 2 and "config.yaml:4" in r.err and "unknown provider 'opnai'" in r.err
    path = write(workdir / "bad" / "s2.yaml", suite("  - id: a\n    input: hi\n", config="missing.yaml"))
    r = run_cli(capsys, "run", path)
    assert r.code == 2 and "missing.yaml" in r.err and "not found" in r.err


def test_undefined_template_variable_names_the_case(workdir: Path, capsys) -> None:
    write(workdir / "bad" / "config.yaml", CONFIG.replace('"{{ input }}"', '"{{ input }} for {{ customer }}"'))
    path = write(workdir / "bad" / "suite.yaml", suite("  - id: a\n    input: hi\n"))
    r = run_cli(capsys, "run", path, "--out", "out")
    assert r.code == 2 and "'customer' is undefined" in r.err and "case 'a'" in r.err
    assert "prompt.user" in r.err and not (workdir / "out").exists()


def test_missing_api_key_stops_before_any_call(workdir: Path, capsys) -> None:
    write(workdir / "k" / "config.yaml", CONFIG.replace("provider: mock", "provider: openai")
          .replace("mock-2025-01-01", "gpt-4o-mini-2024-07-18"))
    path = write(workdir / "k" / "suite.yaml", suite("  - id: a\n    input: hi\n"))
    r = run_cli(capsys, "run", path, "--out", "out")
    assert r.code == 2 and "OPENAI_API_KEY" in r.err and "Traceback" not in r.text
    assert not (workdir / "out").exists()


def test_usage_errors_exit_2(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run").code == 2
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--shard", "5/4").code == 2
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--bogus").code == 2
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--filter", "no-such-tag", "--out", "o")
    assert r.code == 2 and "no case matches" in r.err


def test_validate_and_schema(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "validate", "suites")
    assert r.code == 0 and "ok  suites/support-bot.yaml: suite 'support-bot', 20 cases" in r.out
    alias = write(workdir / "alias.yaml", CONFIG.replace("provider: mock", "provider: openai")
                  .replace("mock-2025-01-01", "gpt-4o"))
    r = run_cli(capsys, "validate", alias)
    assert r.code == 0 and "alias" in r.err and "gpt-4o" in r.err
    r = run_cli(capsys, "schema", "suite")
    assert r.code == 0 and '"cases"' in r.out and '"additionalProperties": false' in r.out
    assert run_cli(capsys, "schema", "nonsense").code == 2
