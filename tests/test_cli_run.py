"""`agent-eval run` on the offline example suite: exit codes, files on disk, numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines, write

SUITE = Path("suites/support-bot.yaml")
REGRESSED = Path("suites/configs/support-regressed.yaml")


def test_quickstart_passes_against_the_committed_baseline_and_writes_every_file(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--out", "out")
    assert r.code == 0, r.text
    assert "PASS" in r.out and "baseline: " in r.out
    out = workdir / "out"
    for name in ("runs.jsonl", "results.json", "manifest.json", "report.html", "junit.xml", "summary.md"):
        assert (out / name).is_file(), name
    data = results(out)
    assert data["schema_version"] == 1
    assert data["suite"]["name"] == "support-bot" and data["suite"]["repeat"] == 5
    assert data["config"]["version"] == "1.4.0" and len(data["config"]["hash"]) == 16
    assert data["summary"]["cases"] == 20 and data["summary"]["runs"] == 100
    assert len(runs_lines(out)) == 100
    case = next(c for c in data["cases"] if c["id"] == "refund-status")
    assert case["stats"]["n"] == 5 and 0 <= case["stats"]["pass_rate"] <= 1
    run0 = case["runs"][0]
    assert run0["messages"][0]["role"] == "system"
    assert run0["messages"][1]["content"] == "Where is the refund for order 1234?"
    assert {c["name"] for c in run0["checks"]} == {"contains", "regex", "not_icontains"}
    assert run0["rubrics"][0]["name"] == "grounded" and run0["rubrics"][0]["judge_model"]


def test_regressed_config_fails_the_gate_and_names_the_regressed_cases(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "out", "--format", "json")
    assert r.code == 1, r.text
    verdict = json.loads(r.out)
    assert verdict["outcome"] == "FAIL" and verdict["exit_code"] == 1
    suite = verdict["suites"][0]
    assert suite["relative_change"] < -0.03 and suite["p_value"] < 0.05
    assert "invoice-json" in suite["regressed"]
    assert "score dropped" in suite["rule"] and "run-level" in suite["rule"]
    assert "regressed (" in r.err  # tables go to stderr with --format json


def test_same_seed_gives_identical_outputs_and_another_seed_differs(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", SUITE, "--out", "a", "--seed", "7").code == 0
    assert run_cli(capsys, "run", SUITE, "--out", "b", "--seed", "7").code == 0
    assert run_cli(capsys, "run", SUITE, "--out", "c", "--seed", "8").code in (0, 1)
    outputs = {d: [(r["case_id"], r["index"], r["output"]) for r in sorted(runs_lines(workdir / d),
               key=lambda r: (r["case_id"], r["index"]))] for d in "abc"}
    assert outputs["a"] == outputs["b"]
    assert outputs["a"] != outputs["c"]


def test_filter_and_repeat_select_what_runs(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--out", "out", "--filter", "safety", "--filter", "greeting", "-k", "2")
    data = results(workdir / "out")
    assert {c["id"] for c in data["cases"]} == {"refuse-other-customer", "refuse-admin-password", "refuse-ssn",
                                                "greeting"}
    assert data["summary"]["runs"] == 8 and r.code in (0, 1)


def test_existing_results_folder_is_refused_without_overwrite(workdir: Path, capsys) -> None:
    write(workdir / "out" / "keep.txt", "x")
    r = run_cli(capsys, "run", SUITE, "--out", "out")
    assert r.code == 2 and "not empty" in r.err and "--overwrite" in r.err
    assert run_cli(capsys, "run", SUITE, "--out", "out", "--overwrite").code == 0
    assert (workdir / "out" / "keep.txt").exists()


def test_a_failing_critical_case_fails_without_a_baseline(workdir: Path, capsys) -> None:
    config = (workdir / "suites/configs/support-good.yaml").read_text()
    leaky = config.replace("I'm sorry, but I can't share that information.", "Sure: it is 4111 1111 1111 1111.")
    write(workdir / "suites/configs/leaky.yaml", leaky)
    (workdir / "golden/baselines/support-bot.json").unlink()
    r = run_cli(capsys, "run", SUITE, "--config", "suites/configs/leaky.yaml", "--out", "out")
    assert r.code == 1, r.text
    assert "critical" in r.out and "refuse-admin-password" in r.out


def test_more_than_five_percent_errors_is_incomplete(workdir: Path, capsys) -> None:
    config = (workdir / "suites/configs/support-good.yaml").read_text()
    write(workdir / "suites/configs/flaky.yaml",
          config.replace("  params: {temperature: 0, max_tokens: 512}\n",
                         "  params: {temperature: 0, max_tokens: 512}\n  timeout_s: 5\n", 1)
          .replace("  mock:\n", "  mock:\n    error_rate: 0.5\n", 1))
    r = run_cli(capsys, "run", SUITE, "--config", "suites/configs/flaky.yaml", "--out", "out", "--max-retries", "1")
    assert r.code == 3, r.text
    data = results(workdir / "out")
    errored = [run for c in data["cases"] for run in c["runs"] if run["status"] == "errored"]
    assert errored and all(run["error"]["kind"] == "provider" and run["checks"] == [] for run in errored)
    assert data["summary"]["errors"] == len(errored)
    assert "INCOMPLETE" in r.out


def test_save_baseline_then_compare_offline(workdir: Path, capsys) -> None:
    (workdir / "golden/baselines/support-bot.json").unlink()
    assert run_cli(capsys, "run", SUITE, "--out", "good", "--save-baseline").code == 0
    baseline = workdir / "golden/baselines/support-bot.json"
    saved = json.loads(baseline.read_text())
    assert saved["schema_version"] == 3 and len(saved["cases"]) == 20
    assert all(r["steps"] == 1 for c in saved["cases"] for r in c["runs"])
    assert run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "bad").code == 1
    r = run_cli(capsys, "compare", baseline, "bad")
    assert r.code == 1 and "FAIL" in r.out
    r = run_cli(capsys, "compare", baseline, "good/results.json")
    assert r.code == 0 and "PASS" in r.out
    r = run_cli(capsys, "baseline", "show", baseline)
    assert r.code == 0 and "invoice-json" in r.out


@pytest.mark.parametrize("strict", [False, True])
def test_max_drop_flag_changes_the_verdict(workdir: Path, capsys, strict: bool) -> None:
    args = ["run", SUITE, "--config", REGRESSED, "--out", f"out{strict}", "--max-drop", "0.5"]
    r = run_cli(capsys, *args, *(["--strict"] if strict else []))
    assert r.code == 0, r.text


def test_step_summary_is_appended_in_ci(workdir: Path, capsys, monkeypatch) -> None:
    summary = workdir / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "out").code == 1
    text = summary.read_text()
    assert "<!-- agent-eval-summary -->" in text and "FAIL" in text and "invoice-json" in text
    assert (workdir / ".agent-eval" / ".gitignore").read_text().strip().endswith("*")


def test_several_suites_give_one_combined_verdict(workdir: Path, capsys) -> None:
    suites = workdir / "suites"
    smoke = (suites / "support-bot.yaml").read_text().replace("suite: support-bot", "suite: support-smoke")
    (suites / "smoke.yaml").write_text(smoke.replace("configs/support-good.yaml", "configs/support-regressed.yaml"))
    r = run_cli(capsys, "run", suites, "--out", "all")
    assert r.code == 0, r.text  # support-smoke has no baseline: nothing to compare, no critical failure
    for name in ("support-bot", "support-smoke", "support-agent", "support-conversations", "triage", "support-docs",
                 "head-to-head"):
        assert (workdir / "all" / name / "results.json").is_file()  # sub-folders too: examples/, retrieval/
    junit = (workdir / "all" / "junit.xml").read_text()
    # 20 + 20 + 6 + 6 + 3 + 3; the expression, answer, tool-args and turns examples 2 + 3 + 2 + 2; the inputs
    # examples: prompt-files 2 + 1, recorded 4, file-vars 2, datasets 5, multimodal 4; head-to-head 6
    assert junit.count("<testsuite ") == 17 and junit.count("<testcase ") == 91
    assert "support-smoke" in (workdir / "all" / "summary.md").read_text()
    (workdir / "golden/baselines/support-smoke.json").write_text(
        (workdir / "golden/baselines/support-bot.json").read_text().replace('"support-bot"', '"support-smoke"'))
    # the passing suite beside it is enough to show the worst code wins; all six again would only repeat the above
    r = run_cli(capsys, "run", suites / "support-bot.yaml", suites / "smoke.yaml", "--out", "all2")
    assert r.code == 1, r.text  # the regressed smoke suite fails the gate; the worst code wins
    assert (workdir / "all2" / "support-bot" / "results.json").is_file()


def test_summary_links_the_ci_run(workdir: Path, capsys, monkeypatch) -> None:
    for name, value in (("GITHUB_SERVER_URL", "https://github.com"), ("GITHUB_REPOSITORY", "acme/bot"),
                        ("GITHUB_RUN_ID", "4242")):
        monkeypatch.setenv(name, value)
    assert run_cli(capsys, "run", SUITE, "--out", "out").code == 0
    assert "https://github.com/acme/bot/actions/runs/4242" in (workdir / "out" / "summary.md").read_text()


def test_redact_keeps_model_output_out_of_the_summary_and_the_html(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "out", "--redact")
    assert r.code == 1
    secret_output = "Sure thing! Here is your invoice"
    assert secret_output not in (workdir / "out" / "runs.jsonl").read_text()  # raw files redacted too (issue 9)
    assert len((workdir / "out" / "runs.jsonl").read_text().splitlines()) == 100  # every run is still recorded
    assert secret_output not in (workdir / "out" / "summary.md").read_text()
    html = (workdir / "out" / "report.html").read_text()
    assert secret_output not in html and "Where is the refund for order 1234?" not in html
    assert "invoice-json" in html  # case ids stay, so the report is still useful


def test_an_underpowered_drop_warns_and_passes(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "out", "--filter", "refund-status",
                "--filter", "refund-status-5678", "--filter", "greeting", "--filter", "currencies", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert verdict["outcome"] == "WARN" and r.code == 0, verdict
    assert verdict["relative_change"] < -0.03 and verdict["p_value"] >= 0.05
    assert "underpowered" in verdict["rule"] or "not significant" in verdict["rule"]
