"""Hostile or broken input through the CLI (issue 9, "Inputs and flags" and "Smaller defects"):
one short message with file, line and field, exit 2, no traceback, nothing written where it must not be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, spawn_cli, write

CONFIG = """\
name: bot
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
prompt:
  user: "{{ input }}"
"""


def suite(body: str, head: str = "") -> str:
    return f"suite: s\nconfig: config.yaml\n{head}cases:\n{body}"


def setup(workdir: Path, text: str, config: str = CONFIG) -> Path:
    write(workdir / "t" / "config.yaml", config)
    return write(workdir / "t" / "suite.yaml", text)


def assert_input_error(r, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == 2, r.text
    assert "Traceback" not in r.text and "internal error" not in r.text, r.text
    for fragment in fragments:
        assert fragment in r.err, (fragment, r.err)


# --- YAML ---------------------------------------------------------------------------------------------------

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.parametrize("command", ["run", "validate"])
def test_yaml_alias_bomb_is_refused_with_exit_2(workdir: Path, capsys, command: str) -> None:
    path = setup(workdir, suite("  - {id: a, input: hi}\n") + BOMB.replace("a: &a", "x: &a"))
    r = run_cli(capsys, command, path)
    assert_input_error(r, f"{path}:", "alias bomb")


@pytest.mark.parametrize("command", ["run", "validate"])
def test_yaml_duplicate_key_is_refused_with_its_line(workdir: Path, capsys, command: str) -> None:
    path = setup(workdir, suite("  - id: a\n    input: hi\n    input: ho\n"))
    assert_input_error(run_cli(capsys, command, path), f"{path}:6", "duplicate key 'input'")
    config = setup(workdir, suite("  - {id: a, input: hi}\n"), CONFIG + "name: other\n")
    assert_input_error(run_cli(capsys, command, config), "config.yaml:8", "duplicate key 'name'")


def test_yaml_anchors_and_merge_keys_still_work(workdir: Path, capsys) -> None:
    path = setup(workdir, suite("  - &base {id: a, input: hi, tags: [x]}\n  - {<<: *base, id: b}\n"))
    r = run_cli(capsys, "validate", path)
    assert r.code == 0 and "2 cases" in r.out, r.text


def test_yaml_nested_too_deep_is_refused(workdir: Path, capsys) -> None:
    path = setup(workdir, suite("  - {id: a, input: hi}\n") + "x: " + "[" * 60000 + "\n")
    assert_input_error(run_cli(capsys, "validate", path), "nested more than")


# --- case files ---------------------------------------------------------------------------------------------

def cases_file(workdir: Path, name: str, data: bytes) -> Path:
    setup(workdir, f"suite: s\nconfig: config.yaml\ncases_from: {name}\n")
    path = workdir / "t" / name
    path.write_bytes(data)
    return workdir / "t" / "suite.yaml"


@pytest.mark.parametrize("name,data,line,expected", [
    ("c.jsonl", b'{"id": "a", "input": "hi"}\n{"id": "b", "input": "caf\xe9"}\n', 2, "not valid UTF-8"),
    ("c.jsonl", b'{"id": "a", "input": "hi"}\n{"id": "b", "input": "x\\ud800y"}\n', 2, "lone surrogate"),
    ("c.csv", b"id,input\na,hi\nb,caf\xe9\n", 3, "not valid UTF-8"),
    ("c.csv", b"id,input\na,hi\nb," + b"x" * (129 * 1024) + b"\n", 3, "longer than 128 KiB"),
    ("c.jsonl", b'{"id": "a", "input": ' + b"[" * 100000 + b"\n", 1, "invalid JSON"),
], ids=["jsonl-utf8", "jsonl-surrogate", "csv-utf8", "csv-huge-field", "jsonl-deep"])
def test_bad_case_files_are_one_line_exit_2(workdir: Path, capsys, name: str, data: bytes, line: int,
                                            expected: str) -> None:
    path = cases_file(workdir, name, data)
    for command in ("run", "validate"):
        r = run_cli(capsys, command, path, *(["--out", "o"] if command == "run" else []))
        assert_input_error(r, f"{name}:{line}", expected)
    assert not (workdir / "o").exists()


def test_lone_surrogate_in_yaml_suite_is_refused(workdir: Path, capsys) -> None:
    path = setup(workdir, suite("  - id: a\n    input: \"hi \\ud800\"\n"))
    assert_input_error(run_cli(capsys, "validate", path), f"{path}:")


# --- templates ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("template", ["{{ 1/0 }}", "{% include 'x.txt' %}", "{{ range(10**8) | list }}",
                                      "{{ 'a' * 10**9 }}", "{{ x ** 100000000 }}"],
                         ids=["div0", "include", "range", "repeat", "power"])
def test_jinja_runtime_errors_are_input_errors(workdir: Path, capsys, template: str) -> None:
    path = setup(workdir, suite(f"  - id: a\n    input: \"{template}\"\n    vars: {{x: 1}}\n"))
    for command in ("run", "validate"):
        r = run_cli(capsys, command, path, *(["--out", "o"] if command == "run" else []))
        assert_input_error(r, "case 'a'", "cannot render template")
    assert not (workdir / "o").exists()


ECHO = CONFIG.replace("prompt:", "  mock: {rules: [{match: '.*', answers: [{text: ok}]}]}\nprompt:")


def sent(folder: Path) -> dict[str, str]:
    return {r["case_id"]: r["messages"][-1]["content"] for r in runs_lines(folder)}


def test_templated_inputs_auto_renders_only_cases_with_vars(workdir: Path, capsys) -> None:
    body = ("  - {id: plain, input: 'Customer wrote {{7*7}} and {{ oops'}\n"
            "  - {id: tpl, input: 'order {{ order }} {{7*7}}', vars: {order: 12}}\n")
    path = setup(workdir, suite(body), ECHO)
    r = run_cli(capsys, "run", path, "--out", "o")
    assert r.code == 0, r.text
    assert sent(workdir / "o") == {"plain": "Customer wrote {{7*7}} and {{ oops", "tpl": "order 12 49"}
    jsonl = write(workdir / "t" / "c.jsonl", json.dumps({"id": "f", "input": "{{ 2 + 2 }}"}) + "\n"
                  + json.dumps({"id": "g", "input": "{{ 2 + 2 }}", "vars": {"v": 1}}) + "\n")
    path = setup(workdir, f"suite: s\nconfig: config.yaml\ncases_from: {jsonl.name}\n", ECHO)
    assert run_cli(capsys, "run", path, "--out", "o2").code == 0
    assert sent(workdir / "o2") == {"f": "{{ 2 + 2 }}", "g": "4"}


def test_templated_inputs_true_and_false(workdir: Path, capsys) -> None:
    body = "  - {id: a, input: '{{ 3 * 3 }}'}\n  - {id: b, input: '{{ v }}', vars: {v: x}}\n"
    path = setup(workdir, suite(body, "templated_inputs: true\n"), ECHO)
    assert run_cli(capsys, "run", path, "--out", "o").code == 0
    assert sent(workdir / "o") == {"a": "9", "b": "x"}
    path = setup(workdir, suite(body, "templated_inputs: false\n"), ECHO)
    assert run_cli(capsys, "run", path, "--out", "o2").code == 0
    assert sent(workdir / "o2") == {"a": "{{ 3 * 3 }}", "b": "{{ v }}"}
    path = setup(workdir, suite(body, "templated_inputs: sometimes\n"), ECHO)
    assert_input_error(run_cli(capsys, "validate", path), f"{path}:3", "templated_inputs", "auto, true or false")


def test_quickstart_and_init_suites_still_render(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "q")
    assert r.code == 0, r.text
    assert any("order 1234" in text for text in sent(workdir / "q").values())


# --- suite names, repeat, judges ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../../x", "/tmp/abs", "a/b", "[bold]x[/]", ".hidden", "a b", "x\x1b[31m"])
def test_unsafe_suite_names_are_refused(workdir: Path, capsys, name: str) -> None:
    path = setup(workdir, f"suite: {json.dumps(name)}\nconfig: config.yaml\ncases:\n  - {{id: a, input: hi}}\n")
    for command in (["run", path, "--save-baseline", "--out", "o"], ["validate", path]):
        assert_input_error(run_cli(capsys, *command), f"{path}:1", "suite name")
    assert not (workdir / "o").exists() and not (workdir.parent / "x.json").exists()


def test_baseline_save_refuses_a_results_file_with_an_unsafe_suite_name(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o").code == 0
    data = results(workdir / "o")
    data["suite"]["name"] = "../../escaped"
    (workdir / "o" / "results.json").write_text(json.dumps(data))
    assert_input_error(run_cli(capsys, "baseline", "save", "o"), "suite name")
    assert not (workdir.parent / "escaped.json").exists()


def test_repeat_flag_is_capped_at_the_suite_limit(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--repeat", "1000000000", "--dry-run")
    assert r.code == 2 and "1000" in r.text and "Traceback" not in r.text


@pytest.mark.parametrize("where", ["case", "rubric"])
def test_validate_checks_case_and_rubric_judges(workdir: Path, capsys, where: str) -> None:
    judge = "{provider: opnai, name: gpt-4o-2024-11-20}"
    if where == "case":
        body = f"  - id: a\n    input: hi\n    judge: {judge}\n    rubrics: [{{name: r, criteria: c}}]\n"
    else:
        body = f"  - id: a\n    input: hi\n    rubrics:\n      - {{name: r, criteria: c, judge: {judge}}}\n"
    path = setup(workdir, suite(body))
    assert_input_error(run_cli(capsys, "validate", path), f"{path}:", "unknown provider 'opnai'")
