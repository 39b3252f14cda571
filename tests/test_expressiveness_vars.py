"""Case variables in check values and rubric text, rendered like inputs (following `templated_inputs`),
on the mock and through the OpenAI SDK against the loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import results, run_cli, write
from loopback import LoopbackServer

JUDGE = """\
judge:
  provider: mock
  name: mock-judge-2025-01-01
  mock:
    rules:
      - match: "Mentions order 1234"
        answers: [{text: '{"reasoning": "the criteria name the order", "score": 5}'}]
      - match: "CANDIDATE"
        answers: [{text: '{"reasoning": "criteria left as a template", "score": 1}'}]
"""
CASES = """\
defaults:
  checks: [{icontains: "{{ order }}"}]
cases:
  - id: vars
    input: "Where is order {{ order }}?"
    vars: {order: 1234}
    expected: "Order 1234 ships Monday."
    checks:
      - contains: "{{ order }}"
      - not_contains: "{{ order + 1 }}"
      - any: [{contains: "{{ order }}"}, {contains: nope}]
    rubrics:
      - {name: names-order, criteria: "Mentions order {{ order }}", threshold: 4}
  - id: no-vars
    input: "Show {{ literally }}"
    checks:
      - contains: "{{ literally }}"
"""


def _checks(folder: Path, out: str, case: str) -> list[dict]:  # type: ignore[type-arg]
    found = next(c for c in results(folder / out)["cases"] if c["id"] == case)
    return list(found["runs"][0]["checks"])


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "mock.yaml", """\
name: m
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: "order (?P<n>\\\\d+)"
        answers: [{text: "Order {{ n }} ships Monday."}]
      - match: "Show"
        answers: [{text: "Here: {{ input }}"}]
prompt:
  user: "{{ input }}"
""")
    return tmp_path


def test_check_values_and_rubric_text_use_the_case_vars(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(folder / "suite.yaml", "suite: vars\nconfig: mock.yaml\n" + JUDGE + CASES.replace(
        "      - any:", "      - equals: \"{{ expected }}\"\n      - any:"))
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 0, result.text
    checks = _checks(folder, "out", "vars")
    assert [c["passed"] for c in checks] == [True, True, True, True, True], checks
    assert checks[0]["reason"].startswith('found "1234"')
    assert '"1235"' in checks[1]["reason"]
    run = next(c for c in results(folder / "out")["cases"] if c["id"] == "vars")["runs"][0]
    assert run["rubrics"][0]["score"] == 5  # the judge saw "Mentions order 1234"
    literal = _checks(folder, "out", "no-vars")  # no vars: `auto` leaves the case's text as written
    assert literal[0]["passed"] is True and "{{ literally }}" in literal[0]["reason"]


def test_templated_inputs_false_keeps_check_values_literal(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(folder / "suite.yaml", "suite: vars\nconfig: mock.yaml\ntemplated_inputs: false\n" + JUDGE + CASES)
    run_cli(capsys, "run", path, "--out", "out")
    checks = _checks(folder, "out", "vars")
    assert checks[0]["passed"] is False and '"{{ order }}"' in checks[0]["reason"]


def test_an_undefined_variable_in_a_check_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(folder / "suite.yaml", "suite: vars\nconfig: mock.yaml\ncases:\n  - id: a\n    input: hi\n"
                 "    vars: {order: 1}\n    checks: [{contains: \"{{ ordr }}\"}]\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and "ordr" in result.text and "suite.yaml" in result.text
    assert "Traceback" not in result.text


def test_check_vars_through_the_openai_sdk(folder: Path, capsys: pytest.CaptureFixture[str],
                                           loopback_server: LoopbackServer,
                                           clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    write(folder / "loop.yaml", "name: l\nversion: 1.0.0\nmodel:\n  provider: openai\n  name: loop-2025\n"
          f"  base_url: {loopback_server.openai_base_url}\n  api_key_env: LOOP_KEY\n"
          "prompt:\n  user: \"{{ input }}\"\n")
    path = write(folder / "suite.yaml", "suite: vars\nconfig: loop.yaml\ncases:\n  - id: a\n"
                 "    input: \"Order {{ order }}\"\n    vars: {order: 4321}\n"
                 "    checks: [{equals: \"echo: Order {{ order }}\"}, {not_contains: \"{{ order }}0\"}]\n")
    result = run_cli(capsys, "run", path, "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    assert [c["passed"] for c in _checks(folder, "out", "a")] == [True, True]
