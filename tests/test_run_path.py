"""One run path: every run-level flag works the same for one config and several; the public API returns the
outcome the CLI prints; one list of the models and secrets a suite and config use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clitools import copy_examples, run_cli

GOOD = "suites/configs/support-good.yaml"
REGRESSED = "suites/configs/support-regressed.yaml"
# Texts only the mock candidates produce: none may survive --redact in any file.
OUTPUT_TEXTS = ("should reach your card", "Settings > Subscription", "Payment methods", "We accept USD")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files_containing(folder: Path, needles: tuple[str, ...]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(folder)}: {n}" for n in needles if n in text]
    return found


def test_redact_leaves_no_output_in_any_file_for_one_config_and_for_two(workdir: Path, capsys) -> None:
    one = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--out", "one", "--redact")
    two = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--config", REGRESSED,
                  "--out", "two", "--redact")
    assert one.code == 0, one.text
    assert two.code == 1, two.text  # the regressed arm fails its gate
    arms = [p for p in (workdir / "two").iterdir() if p.is_dir()]
    assert len(arms) == 2 and all((a / "runs.jsonl").exists() and (a / "results.json").exists() for a in arms)
    assert _files_containing(workdir / "one", OUTPUT_TEXTS) == []
    assert _files_containing(workdir / "two", OUTPUT_TEXTS) == []
    # Without --redact the same outputs are there: the check above can fail.
    plain = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--config", REGRESSED, "--out", "raw")
    assert plain.code == 1 and _files_containing(workdir / "raw", OUTPUT_TEXTS) != []


def test_trace_export_writes_every_arm_of_a_two_config_run(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--config", REGRESSED,
                "--out", "out", "--trace-export", "traces.json")
    assert r.code == 1, r.text
    document = json.loads((workdir / "traces.json").read_text())
    configs = {a["value"]["stringValue"] for rs in document["resourceSpans"] for a in rs["resource"]["attributes"]
               if a["key"] == "agent_eval.config"}
    assert configs == {"support-bot 1.4.0", "support-bot 1.4.1"}
    runs = sum(1 for rs in document["resourceSpans"] for s in rs["scopeSpans"] for span in s["spans"]
               if span["name"].startswith("invoke_agent "))
    arms = [json.loads(p.read_text()) for p in (workdir / "out").glob("*/results.json")]
    assert len(arms) == 2 and runs == sum(a["summary"]["runs"] for a in arms)  # one root span a run of each arm
    assert "traces:  traces.json" in r.err


def test_strict_versioning_sets_the_exit_code_alike_for_one_config_and_several(workdir: Path, capsys) -> None:
    one = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", REGRESSED, "--out", "one",
                  "--strict-versioning", "--format", "json")
    assert one.code == 2, one.text
    assert json.loads(one.out)["exit_code"] == 2
    assert json.loads(one.out)["suites"][0]["exit_code"] == 2
    two = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--config", REGRESSED, "--out", "two",
                  "--strict-versioning", "--format", "json")
    assert two.code == 2, two.text
    payload = json.loads(two.out)
    assert payload["exit_code"] == 2
    assert sorted(s["exit_code"] for s in payload["suites"]) == [0, 2]
    assert "--strict-versioning" in two.err
    lenient = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", GOOD, "--config", REGRESSED,
                      "--out", "lenient", "--format", "json")
    assert lenient.code == 1 and json.loads(lenient.out)["exit_code"] == 1


def test_several_suites_and_several_configs_run_in_one_path(workdir: Path, capsys) -> None:
    (workdir / "suites" / "only").mkdir()
    text = (workdir / "suites" / "support-bot.yaml").read_text().replace("config: configs/", "config: ../configs/")
    text = text.replace("cases_from: ../golden/", "cases_from: ../../golden/")
    for name in ("bot-a", "bot-b"):
        (workdir / "suites" / "only" / f"{name}.yaml").write_text(text.replace("suite: support-bot", f"suite: {name}"))
    r = run_cli(capsys, "run", "suites/only", "--gate-against", GOOD, "--config", REGRESSED, "--out", "out",
                "--redact", "--format", "json")
    assert r.code == 1, r.text
    payload = json.loads(r.out)
    assert [s["exit_code"] for s in payload["suites"]] == [0, 1, 0, 1]  # new suites: gated against the live arm
    assert [(s["suite"], s["arm"][:12]) for s in payload["suites"]] == [
        ("bot-a", "support-good"), ("bot-a", "support-regr"), ("bot-b", "support-good"), ("bot-b", "support-regr")]
    assert all((workdir / "out" / suite / "matrix.html").exists() for suite in ("bot-a", "bot-b"))
    assert (workdir / "out" / "junit.xml").exists() and (workdir / "out" / "summary.md").exists()
    assert _files_containing(workdir / "out", OUTPUT_TEXTS) == []


def test_the_public_api_returns_the_outcome_the_cli_prints(workdir: Path, capsys) -> None:
    import agent_eval

    outcome = agent_eval.run("suites/support-bot.yaml", config=REGRESSED, out="api")
    cli = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", REGRESSED, "--out", "cli", "--format", "json")
    assert outcome.exit_code == cli.code == 1
    assert outcome.outcome is agent_eval.Outcome.FAIL
    (suite,) = outcome.suites
    assert isinstance(suite.results, agent_eval.Results) and isinstance(suite.verdict, agent_eval.Verdict)
    assert suite.verdict.relative_change == pytest.approx(json.loads(cli.out)["suites"][0]["relative_change"])
    assert capsys.readouterr().out == ""  # the library prints nothing unless given a console
    several = agent_eval.run("suites/support-bot.yaml", config=[GOOD, REGRESSED], out="api2",
                             gate=agent_eval.GateFlags(strict_versioning=True))
    assert several.exit_code == 2 and len(several.suites) == 2 and several.matrices


def test_importing_the_public_surface_loads_no_provider_sdk() -> None:
    code = ("import sys, agent_eval\n"
            "for name in agent_eval.__all__: getattr(agent_eval, name)\n"
            "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert out.stdout.strip() == "[]"


_MODELS_SUITE = """
suite: inventory
config: c.yaml
similarity_model: {provider: openai, name: text-embedding-3-small, api_key_env: SIMILARITY_KEY}
moderation_model: {provider: openai, name: omni-moderation-2024-09-26, api_key_env: MODERATION_KEY}
judge:
  - {provider: openai, name: gpt-4o-2024-11-20, api_key_env: JUDGE_KEY}
  - {provider: anthropic, name: claude-3-5-sonnet-20241022, api_key_env: ENSEMBLE_KEY}
cases:
  - id: talk
    conversation:
      - user: hello
        rubrics: [{name: turn, criteria: polite, judge: {provider: openai, name: gpt-4o, api_key_env: TURN_KEY}}]
  - id: sim
    simulated_user:
      goal: get a refund
      opening: hi
      model: {provider: openai, name: gpt-4o-mini-2024-07-18, api_key_env: SIMULATOR_KEY}
    checks: [{contains: refund}]
"""

_MODELS_CONFIG = """
name: c
version: 1.0.0
model: {provider: mock, name: mock-1}
"""


def test_one_list_of_every_model_a_suite_and_config_use(tmp_path: Path, monkeypatch, capsys) -> None:
    from agent_eval.suite.inventory import models_in_use
    from agent_eval.suite.loader import load_config, load_suite

    (tmp_path / "s.yaml").write_text(_MODELS_SUITE)
    (tmp_path / "c.yaml").write_text(_MODELS_CONFIG)
    uses = models_in_use(load_suite(tmp_path / "s.yaml"), load_config(tmp_path / "c.yaml"))
    keys = {(u.role, u.spec.api_key_env) for u in uses}
    assert keys == {("candidate", None), ("judge", "JUDGE_KEY"), ("judge", "ENSEMBLE_KEY"), ("judge", "TURN_KEY"),
                    ("simulated user", "SIMULATOR_KEY"), ("similarity", "SIMILARITY_KEY"),
                    ("moderation", "MODERATION_KEY")}
    # Its consumers: the alias warning names the turn rubric's judge, the credential check the simulator's key.
    monkeypatch.chdir(tmp_path)
    for name in ("JUDGE_KEY", "ENSEMBLE_KEY", "TURN_KEY", "SIMILARITY_KEY", "MODERATION_KEY"):
        monkeypatch.setenv(name, "sk-test")
    monkeypatch.delenv("SIMULATOR_KEY", raising=False)
    for var in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    r = run_cli(capsys, "run", "s.yaml", "--out", "out")
    assert r.code == 2 and "SIMULATOR_KEY is not set" in r.err
    assert "judge model 'gpt-4o' is an alias" in r.err
    assert not (tmp_path / "out" / "runs.jsonl").exists()


def test_secret_values_cover_every_model_key_and_variable(tmp_path: Path) -> None:
    from agent_eval.flow.traces import secret_values
    from agent_eval.suite.loader import load_config, load_suite

    (tmp_path / "s.yaml").write_text(_MODELS_SUITE)
    (tmp_path / "c.yaml").write_text(_MODELS_CONFIG + "description: token ${DESCRIBED}\n")
    environ = {name: f"secret-{name.lower()}" for name in
               ("JUDGE_KEY", "ENSEMBLE_KEY", "TURN_KEY", "SIMULATOR_KEY", "SIMILARITY_KEY", "MODERATION_KEY",
                "DESCRIBED", "UNRELATED")}
    found = secret_values([(load_suite(tmp_path / "s.yaml"), load_config(tmp_path / "c.yaml"))], environ)
    assert set(found) == {v for k, v in environ.items() if k != "UNRELATED"}


def test_check_functions_receive_the_public_views(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "my_checks.py").write_text(
        "import agent_eval\n"
        "def views(output, case, run):\n"
        "    ok = isinstance(case, agent_eval.CaseView) and isinstance(run, agent_eval.RunView)\n"
        "    return ok and run.case == case and case.vars == {'n': 1} and run.output == output, type(case).__name__\n"
        "def last_word(output, case):\n"
        "    return output.split()[-1] if isinstance(case, agent_eval.CaseView) else 'wrong'\n")
    (tmp_path / "s.yaml").write_text(
        "suite: views\nconfig: c.yaml\ncases:\n  - id: one\n    input: 'say {{ n }}'\n    vars: {n: 1}\n"
        "    checks:\n      - python: 'my_checks:views'\n"
        "      - {equals: 'know.', transform: {python: 'my_checks:last_word'}}\n")
    (tmp_path / "c.yaml").write_text(_MODELS_CONFIG)
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "s.yaml", "--out", "out", "--repeat", "1")
    assert r.code == 0, r.text
    run = json.loads((tmp_path / "out" / "results.json").read_text())["cases"][0]["runs"][0]
    assert [c["passed"] for c in run["checks"]] == [True, True], run["checks"]
