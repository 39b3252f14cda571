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
    assert_input_error(run_cli(capsys, "validate", path), "nested too deeply")


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


# --- baseline and results files -----------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,expected", [
    ("score", float("nan"), "finite"), ("score", float("inf"), "finite"), ("score", -0.5, "between 0 and 1"),
    ("n", -3, "at least 0"), ("pass_rate", 7.0, "between 0 and 1"),
], ids=["nan", "inf", "negative-score", "negative-n", "rate-over-1"])
def test_baseline_with_bad_numbers_is_refused_before_any_call(workdir: Path, capsys, field: str, value: float,
                                                             expected: str) -> None:
    path = workdir / "golden" / "baselines" / "support-bot.json"
    data = json.loads(path.read_text())
    data["cases"][3]["stats"][field] = value
    path.write_text(json.dumps(data))
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o")
    assert_input_error(r, str(path), f"cases[3].stats.{field}", expected)
    assert not (workdir / "o").exists()
    assert_input_error(run_cli(capsys, "baseline", "show", path), f"cases[3].stats.{field}")


def test_results_with_bad_numbers_are_refused(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o").code == 0
    data = results(workdir / "o")
    data["cases"][0]["runs"][0]["score"] = float("nan")
    (workdir / "o" / "results.json").write_text(json.dumps(data))
    for command in (["compare", "golden/baselines/support-bot.json", "o"], ["report", "o"],
                    ["baseline", "save", "o", "--to", "b.json"]):
        assert_input_error(run_cli(capsys, *command), "results.json", "cases[0].runs[0].score", "finite")
    assert not (workdir / "b.json").exists()


# --- results folders: locks, duplicate names, resume -------------------------------------------------------

SLOW = CONFIG.replace("prompt:", "  mock: {latency_ms: 400}\nprompt:")


def test_second_run_on_the_same_out_folder_is_refused(workdir: Path, capsys) -> None:
    path = setup(workdir, suite("".join(f"  - {{id: c{i}, input: hi}}\n" for i in range(8))), SLOW)
    first = spawn_cli("run", path, "--out", "busy", "-j", "1", cwd=workdir)
    try:
        deadline = time.monotonic() + 120
        while not (workdir / "busy" / ".agent-eval.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        r = run_cli(capsys, "run", path, "--out", "busy", "--overwrite")
        assert_input_error(r, "busy", "in use by another agent-eval run", f"pid {first.pid}")
    finally:
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert len(runs_lines(workdir / "busy")) == 8  # the first run alone wrote the folder
    assert not (workdir / "busy" / ".agent-eval.lock").exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(workdir: Path, capsys) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write(workdir / "o" / ".agent-eval.lock", f"{dead.pid}\n")
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o")
    assert r.code == 0, r.text
    assert (workdir / "o" / "results.json").exists() and not (workdir / "o" / ".agent-eval.lock").exists()


def test_two_suites_with_one_name_in_one_run_are_refused(workdir: Path, capsys) -> None:
    write(workdir / "two" / "config.yaml", CONFIG)
    write(workdir / "two" / "a.yaml", suite("  - {id: a, input: hi}\n"))
    write(workdir / "two" / "b.yaml", suite("  - {id: b, input: ho}\n"))
    r = run_cli(capsys, "run", "two", "--out", "o")
    assert_input_error(r, "a.yaml", "b.yaml", "both named 's'")
    assert not (workdir / "o").exists()


def test_errors_before_the_run_name_no_results_folder_and_leave_none(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--filter", "no-such-tag")
    assert r.code == 2 and "no case matches" in r.err
    assert "results in" not in r.text
    assert not list((workdir / ".agent-eval" / "runs").glob("*")) if (workdir / ".agent-eval" / "runs").exists() \
        else True


def test_save_baseline_is_refused_when_every_run_errored(workdir: Path, capsys) -> None:
    path = setup(workdir, suite("  - {id: a, input: hi}\n  - {id: b, input: ho}\n"),
                 CONFIG.replace("prompt:", "  mock: {error_rate: 1.0}\nprompt:"))
    r = run_cli(capsys, "run", path, "--out", "o", "--save-baseline", "--max-retries", "1")
    assert r.code == 2 and "--save-baseline refused" in r.err and "INCOMPLETE" in r.err, r.text
    assert not (workdir / "golden" / "baselines" / "s.json").exists()
    r = run_cli(capsys, "baseline", "save", "o", "--to", "b.json")
    assert r.code == 2 and "INCOMPLETE" in r.err and not (workdir / "b.json").exists()


def interrupted(workdir: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    """A finished run of the example whose runs.jsonl lost its last 3 records."""
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o").code == 0
    lines = (workdir / "o" / "runs.jsonl").read_text().splitlines(keepends=True)
    (workdir / "o" / "runs.jsonl").write_text("".join(lines[:-3]))
    return workdir / "o" / "runs.jsonl"


def test_resume_after_a_cut_last_line_starts_on_a_new_line(workdir: Path, capsys) -> None:
    runs = interrupted(workdir, capsys)
    text = runs.read_text()
    runs.write_text(text[:-40])  # the last record cut mid-line, no newline
    r = run_cli(capsys, "run", "--resume", "o")
    assert r.code == 0, r.text
    assert "corrupt or truncated line" in r.err
    lines = runs.read_text().splitlines()
    assert sum(1 for line in lines if line.strip()) == 101  # 96 intact, the cut one, 4 new (the cut one redone)
    for line in lines[-4:]:
        json.loads(line)  # every new record is a line of its own
    assert results(workdir / "o")["summary"]["runs"] == 100


def test_resume_ignores_records_outside_the_plan(workdir: Path, capsys) -> None:
    runs = interrupted(workdir, capsys)
    record = json.loads(runs.read_text().splitlines()[0])
    extra = [{**record, "index": 999}, {**record, "index": -1}, {**record, "case_id": "no-such-case"}]
    with runs.open("a") as handle:
        handle.writelines(json.dumps(x) + "\n" for x in extra)
    r = run_cli(capsys, "run", "--resume", "o")
    assert r.code == 0, r.text
    assert "3 record(s) outside this run's plan ignored" in r.err
    data = results(workdir / "o")
    assert data["summary"]["runs"] == 100
    assert all(0 <= run["index"] < 5 for case in data["cases"] for run in case["runs"])


def test_resume_refuses_a_manifest_from_a_newer_version(workdir: Path, capsys) -> None:
    interrupted(workdir, capsys)
    manifest = workdir / "o" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 99}))
    assert_input_error(run_cli(capsys, "run", "--resume", "o"), "manifest.json", "schema_version 99 is newer")


def cached_loopback_suite(workdir: Path, loopback_server, monkeypatch, cases: str) -> tuple[Path, Path]:
    """A suite on the loopback server (the mock provider is never cached) and where its cache lives."""
    monkeypatch.setenv("LOOP_KEY", "sk-test")
    write(workdir / "l" / "config.yaml", CONFIG.replace("provider: mock", "provider: openai").replace(
        "mock-2025-01-01", "loopback-2025-01-01\n  api_key_env: LOOP_KEY\n  base_url: "
        + loopback_server.openai_base_url))
    return write(workdir / "l" / "suite.yaml", suite(cases)), workdir / ".agent-eval" / "cache" / "responses.sqlite"


def test_a_corrupt_cache_file_is_moved_aside_and_the_run_goes_on(workdir: Path, capsys, loopback_server,
                                                                 monkeypatch) -> None:
    path, cache = cached_loopback_suite(workdir, loopback_server, monkeypatch,
                                        "  - {id: a, input: hi}\n  - {id: b, input: ho}\n")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(os.urandom(8192))
    r = run_cli(capsys, "run", path, "--out", "o")
    assert r.code == 0, r.text
    assert "DatabaseError" not in r.text and "Traceback" not in r.text
    assert "response cache" in r.err and "moved it to responses.sqlite.corrupt-" in r.err
    assert list(cache.parent.glob("responses.sqlite.corrupt-*"))
    assert results(workdir / "o")["summary"]["runs"] == 2
    r = run_cli(capsys, "run", path, "--out", "o2")  # the next run starts a fresh cache
    assert r.code == 0 and "response cache" not in r.err


def test_a_cache_that_cannot_be_opened_is_never_moved_aside(workdir: Path, capsys, loopback_server,
                                                          monkeypatch) -> None:
    """Busy or unopenable is another process (or the system) at work on a good cache: run without it, keep it."""
    path, cache = cached_loopback_suite(workdir, loopback_server, monkeypatch, "  - {id: a, input: hi}\n")
    (cache / "kept").mkdir(parents=True)  # a folder where the file should be: sqlite cannot open it
    r = run_cli(capsys, "run", path, "--out", "o")
    assert r.code == 0, r.text
    assert "Traceback" not in r.text and "cannot be opened" in r.err and "moved it" not in r.err
    assert (cache / "kept").is_dir() and not list(cache.parent.glob("*.corrupt-*"))
    assert results(workdir / "o")["summary"]["runs"] == 1


def test_a_shard_without_rubric_cases_keeps_the_judge_model(workdir: Path, capsys) -> None:
    judge = ("judge:\n  provider: mock\n  name: mock-judge-2025-01-01\n  mock:\n    rules:\n"
             "      - {match: '.*', answers: [{text: '{\"reasoning\": \"ok\", \"score\": 5}'}]}\n")
    body = ("  - {id: plain1, input: hi}\n  - {id: plain2, input: ho}\n  - {id: plain3, input: hu}\n"
            "  - id: judged\n    input: hey\n    rubrics: [{name: r, criteria: polite}]\n")
    path = setup(workdir, suite(body, judge))
    assert run_cli(capsys, "run", path, "--out", "full", "--save-baseline").code == 0
    r = run_cli(capsys, "run", path, "--out", "f", "--filter", "plain*")
    assert "judge model differs" not in r.text and "-> None" not in r.text, r.text
    assert results(workdir / "f")["config"]["judge_model"] == "mock-judge-2025-01-01"
    for i in (1, 2):
        assert run_cli(capsys, "run", path, "--out", f"sh{i}", "--shard", f"{i}/2").code in (0, 1)
    r = run_cli(capsys, "merge", "sh1", "sh2", "--out", "merged")
    assert results(workdir / "merged")["config"]["judge_model"] == "mock-judge-2025-01-01", r.text


# --- printing: markup, control characters, narrow terminals -------------------------------------------------

def test_rich_markup_in_config_and_model_names_is_printed_as_is(workdir: Path, capsys) -> None:
    config = CONFIG.replace("name: bot", "name: '[/]bot[bold]'").replace("mock-2025-01-01", "'mock-[/]-2025-01-01'")
    path = setup(workdir, suite("  - {id: a, input: hi}\n"), config)
    for command in (["run", path, "--out", "o"], ["validate", path], ["validate", workdir / "t" / "config.yaml"],
                    ["run", path, "--dry-run"]):
        r = run_cli(capsys, *command)
        assert r.code == 0 and "Traceback" not in r.text, r.text
        assert "[/]bot[bold]" in r.text or "mock-[/]-2025-01-01" in r.text, r.text


def test_control_characters_in_ids_and_tags_never_reach_the_terminal_or_summary(workdir: Path, capsys) -> None:
    body = ('  - id: "evil\\e[2J\\e]0;pwned\\a-id"\n    tags: ["t\\e[31mred"]\n    input: hi\n'
            '    checks: [{contains: nope}]\n')
    path = setup(workdir, suite(body))
    r = run_cli(capsys, "run", path, "--out", "o")
    assert r.code == 1, r.text  # no baseline, and not one run passed: FAIL
    assert "\x1b" not in r.text and "\x07" not in r.text
    assert "tred" in r.out
    summary = (workdir / "o" / "summary.md").read_text()
    assert "\x1b" not in summary and "\x07" not in summary
    r = run_cli(capsys, "compare", "o/results.json", "o")  # a bad baseline path: the error line is clean too
    assert "\x1b" not in r.text


def test_case_table_keeps_the_tag_column_readable_on_80_columns(workdir: Path, capsys, monkeypatch) -> None:
    from rich.console import Console

    from agent_eval.baseline.store import load_results
    from agent_eval.report.console import print_results

    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o").code == 0
    loaded = load_results(workdir / "o")
    for width in (80, 100, 127):
        console = Console(width=width, record=True, highlight=False)
        print_results(console, loaded)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        for tag in loaded.summary.tags:
            assert f" {tag} " in text, (width, tag, text)
        assert "pass rate" in text and "…" not in text


def test_baseline_show_prints_provenance_and_whole_ids_in_a_pipe(workdir: Path, capsys) -> None:
    path = workdir / "golden" / "baselines" / "support-bot.json"
    data = json.loads(path.read_text())
    long_id = "a-very-long-case-id-" + "x" * 100
    data["cases"][0]["id"] = long_id
    path.write_text(json.dumps(data))
    r = run_cli(capsys, "baseline", "show", path)
    assert r.code == 0, r.text
    assert "config.name: support-bot" in r.out and "config.params.temperature: 0" in r.out
    assert "suite_name: support-bot" in r.out
    assert any(long_id in line for line in r.out.splitlines())
    assert "…" not in r.out


def test_compare_and_report_print_only_paths_they_wrote(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o").code == 0
    (workdir / "o" / "report.html").unlink()
    r = run_cli(capsys, "compare", "golden/baselines/support-bot.json", "o")
    assert r.code == 0, r.text
    printed = [line.split(maxsplit=1)[1] for line in r.out.splitlines() if line.startswith(("results:", "report:"))]
    assert printed and all(Path(p).exists() for p in printed), printed
    assert (workdir / "o" / "report.html").exists()
    r = run_cli(capsys, "report", "o", "--out", "elsewhere")
    assert "elsewhere/results.json" not in r.out
    printed = [line.split(maxsplit=1)[1] for line in r.out.splitlines() if line.startswith(("results:", "report:"))]
    assert printed and all(Path(p).exists() for p in printed), printed
    r = run_cli(capsys, "compare", "golden/baselines/support-bot.json", "o", "--format", "json")
    paths = json.loads(r.out)["suites"][0]
    assert Path(paths["report"]).exists()


def test_help_has_plain_metavars_and_defaults(capsys) -> None:
    for command in (["run", "--help"], ["compare", "--help"], ["baseline", "save", "--help"]):
        r = run_cli(capsys, *command)
        assert r.code == 0
        assert "<bool>" not in r.out and "<list[" not in r.out and "<path>" not in r.out, r.out
        assert "(8)" not in r.out and "[default: (" not in r.out
        assert not r.out.startswith(" ") and r.out.splitlines()[0].strip() != ""
    r = run_cli(capsys, "run", "--help")
    flat = " ".join(r.out.split())
    assert "[default: 8]" in r.out and "golden/baselines/<suite>.json" in flat
    assert "--baseline" in flat and "…" not in r.out  # the baseline default is wrapped, never cut


def test_redact_also_redacts_results_and_runs(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "o", "--redact")
    assert r.code == 0, r.text
    raw = (workdir / "o" / "results.json").read_text() + (workdir / "o" / "runs.jsonl").read_text()
    assert "should reach your card" not in raw and "Where is the refund" not in raw and "[redacted]" in raw
    data = results(workdir / "o")
    assert data["summary"]["runs"] == 100 and data["cases"][0]["runs"][0]["score"] is not None
    assert run_cli(capsys, "compare", "golden/baselines/support-bot.json", "o").code == 0


def test_gitignore_covers_the_virtualenv() -> None:
    from clitools import REPO

    assert ".venv/" in (REPO / ".gitignore").read_text().splitlines()
