"""The gate at the command line: errors, broken cases, baseline lookup, absolute limits and `power`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from clitools import results as results_json
from clitools import run_cli, write
from test_gate import C, base, results

from agent_eval.baseline.store import dump_json

SUITE = Path("suites/support-bot.yaml")
REGRESSED = Path("suites/configs/support-regressed.yaml")


def _files(tmp: Path, cand: list[C], baseline: list[C]) -> tuple[Path, Path]:
    res, bl = tmp / "run" / "results.json", tmp / "baseline.json"
    write(res, results(cand).model_dump_json())
    write(bl, dump_json(base(baseline)))
    return bl, res


def test_five_cases_all_errored_is_not_a_pass(tmp_path: Path, capsys) -> None:
    good = [C(f"c{i:03d}", [1.0] * 5) for i in range(100)]
    cand = [C(f"c{i:03d}", [None] * 5 if i < 5 else [1.0] * 5) for i in range(100)]  # 5% of runs errored
    bl, res = _files(tmp_path, cand, good)
    r = run_cli(capsys, "compare", bl, res, "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 3 and verdict["outcome"] == "INCOMPLETE", verdict
    assert "no completed candidate run" in verdict["rule"]
    assert verdict["sensitivity"].startswith("if every errored run had failed: FAIL")
    r = run_cli(capsys, "compare", bl, res, "--errors-as-failures")
    assert r.code == 1 and "FAIL" in r.out
    assert "sensitivity:" not in r.out  # no errors left to be sensitive to


def test_one_case_from_5_of_5_to_0_of_5_among_100_fails(tmp_path: Path, capsys) -> None:
    good = [C(f"c{i:03d}", [1.0] * 5) for i in range(100)]
    cand = [*good[:99], C("c099", [0.0] * 5)]
    bl, res = _files(tmp_path, cand, good)
    r = run_cli(capsys, "compare", bl, res, "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 1 and verdict["outcome"] == "FAIL"
    assert verdict["rule"].startswith("1 case(s) passed every baseline run and no candidate run: c099 (collapse test")
    assert verdict["regressed"] == ["c099"] and verdict["new_failures"] == ["c099"]


def test_removed_cases_fail_until_accepted_or_re_recorded_with_baseline_update(tmp_path: Path, capsys) -> None:
    good = [C(f"c{i:02d}", [1.0] * 5) for i in range(20)]
    cand = [*good[:18], C("c19", [0.0] * 5, definition="v2")]  # c18 removed, c19 edited (and broken)
    bl, res = _files(tmp_path, cand, good)
    r = run_cli(capsys, "compare", bl, res, "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 1 and verdict["rule"].startswith("unpaired cases: 1 passing baseline case(s) missing from the "
                                                     "candidate: c18; 1 passing baseline case(s) changed definition: c19")
    assert run_cli(capsys, "compare", bl, res, "--accept-unpaired", "c18", "--accept-unpaired", "c19").code == 0
    r = run_cli(capsys, "baseline", "update", res, "--cases", "c18,c19", "--to", bl)
    assert r.code == 0 and "re-recorded: c19; removed: c18" in r.out
    stored = json.loads(bl.read_text())
    assert [c["id"] for c in stored["cases"]] == [f"c{i:02d}" for i in range(18)] + ["c19"]
    assert stored["cases"][-1]["stats"]["passed"] == 0 and stored["cases"][-1]["definition_hash"] == "v2"
    assert run_cli(capsys, "compare", bl, res).code == 0
    r = run_cli(capsys, "baseline", "update", res, "--cases", "nope", "--to", bl)
    assert r.code == 2 and "nope is in neither the baseline nor the results" in r.err


def test_a_run_from_a_subfolder_finds_the_baseline_and_prints_where(workdir: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workdir / "suites")
    r = run_cli(capsys, "run", "support-bot.yaml", "--config", "configs/support-regressed.yaml", "--out", "out")
    assert r.code == 1, r.text
    assert f"baseline: {workdir / 'golden/baselines/support-bot.json'}" in r.out
    r = run_cli(capsys, "report", "out")  # report without --baseline uses the same lookup
    assert r.code == 1 and "FAIL" in r.out and "golden/baselines/support-bot.json" in r.out


def test_require_baseline_without_one_exits_2_before_running(workdir: Path, capsys) -> None:
    (workdir / "golden/baselines/support-bot.json").unlink()
    r = run_cli(capsys, "run", SUITE, "--out", "out", "--require-baseline")
    assert r.code == 2
    assert f"looked for {workdir / 'golden/baselines/support-bot.json'}" in r.err
    assert not (workdir / "out").exists()  # nothing ran
    assert run_cli(capsys, "run", SUITE, "--out", "new", "--require-baseline", "--new-suite", "support-bot").code == 0
    suite = workdir / SUITE
    suite.write_text(suite.read_text().replace("gate:\n", "gate:\n  require_baseline: true\n"))
    assert run_cli(capsys, "run", SUITE, "--out", "again").code == 2
    plain = run_cli(capsys, "run", SUITE, "--out", "saved", "--save-baseline")  # recording one is always allowed
    assert plain.code == 0, plain.text
    assert (workdir / "golden/baselines/support-bot.json").is_file()


def test_save_baseline_runs_2k_and_the_next_run_at_k_does_not_warn(workdir: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workdir / "suites")  # saved where it is looked up, not under the current folder
    r = run_cli(capsys, "run", "support-bot.yaml", "--out", "rec", "--save-baseline")
    assert r.code == 0, r.text
    saved = json.loads((workdir / "golden/baselines/support-bot.json").read_text())
    assert saved["provenance"]["repeat"] == 10 and all(len(c["runs"]) == 10 for c in saved["cases"])
    assert all(c["stats"]["k"] == 5 for c in saved["cases"])  # pass^k of the suite's k, from all 10 runs
    assert not (workdir / "suites/golden").exists()
    r = run_cli(capsys, "run", "support-bot.yaml", "--out", "next", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 0 and not any("k (runs per case)" in w for w in verdict["warnings"]), verdict
    assert verdict["baseline_se"] is not None and verdict["baseline_se"] > 0


def test_min_pass_rate_without_a_baseline_fails_below_it(workdir: Path, capsys) -> None:
    (workdir / "golden/baselines/support-bot.json").unlink()
    suite = workdir / SUITE
    suite.write_text(suite.read_text().replace("gate:\n", "gate:\n  min_pass_rate: 0.95\n"))
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "low", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 1 and verdict["outcome"] == "FAIL", verdict
    assert "pass rate 0.750 against min_pass_rate 0.95" in verdict["rule"]
    ok = run_cli(capsys, "run", SUITE, "--out", "good", "--format", "json")
    assert json.loads(ok.out)["suites"][0]["outcome"] in ("PASS", "WARN") and ok.code == 0


def test_critical_with_a_tolerated_rate_and_tag_floors_are_read_from_the_suite(workdir: Path, capsys) -> None:
    (workdir / "golden/baselines/support-bot.json").unlink()
    suite = workdir / SUITE
    text = suite.read_text().replace("tags: {safety: 0.0}", "tags: {format: {min_pass_rate: 0.9}}")
    text = text.replace("    tags: [billing, factual, smoke]\n", "    tags: [billing, factual, smoke]\n    critical: {min_pass_rate: 0.8}\n", 1)
    suite.write_text(text)
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "o", "--format", "json")
    verdict = json.loads(r.out)["suites"][0]
    assert r.code == 1 and "tag 'format' min_pass_rate" in verdict["rule"], verdict
    assert "critical 'refund-status' rate" in [route["name"] for route in verdict["routes"]]
    assert run_cli(capsys, "validate", SUITE).code == 0
    bad = suite.read_text().replace("gate:\n", "gate:\n  case_collapse: maybe\n")
    suite.write_text(bad)
    r = run_cli(capsys, "validate", SUITE)
    assert r.code == 2 and "case_collapse" in r.err


def test_power_from_a_run_matches_the_closed_form(workdir: Path, capsys) -> None:
    from agent_eval.stats.hypotheses import t_quantile

    assert run_cli(capsys, "run", SUITE, "--out", "run").code == 0
    r = run_cli(capsys, "power", "run", "--detect", "0.1", "--routes", "2")
    assert r.code == 0, r.text
    data = results_json(workdir / "run")
    scores = [[run["score"] for run in c["runs"]] for c in data["cases"]]
    means = [sum(s) / len(s) for s in scores]
    q = sum(means) / len(means)
    run_var = sum(sum((x - sum(s) / len(s)) ** 2 for x in s) / (len(s) - 1) for s in scores) / len(scores)
    between = max(sum((m - q) ** 2 for m in means) / (len(means) - 1) - run_var / 5, 0.0)
    c = (t_quantile(1 - 0.05 / 2**0.75, 19) + t_quantile(0.8, 19)) / (math.sqrt(20) * q)
    w = run_var / 5 + 0.97**2 * run_var / 10
    expected = 0.03 + c * math.sqrt(w / (1 - c * c * between))
    assert f"a true drop of {expected:.1%} would FAIL with 80% power" in r.out
    assert "to FAIL a true drop of 10.0% with 80% power:" in r.out
    inside = run_cli(capsys, "power", "run", "--detect", "0.02")
    assert "within the 3.0% limit" in inside.out
    # the gate's main family: overall, run-level and pass rate (graded scores); the tag safety is tested in a budget
    # of its own and the 3 critical cases outside Holm, as the verdict prints ("Holm level of 3 tests")
    assert "/ 3 tests (Holm" in inside.out


def test_power_ab_gives_sessions_per_arm(capsys) -> None:
    r = run_cli(capsys, "power", "--ab", "--baseline-rate", "0.8", "--mde", "0.05")
    assert r.code == 0 and "1,094 sessions per arm, 2,188 in all" in r.out
    assert run_cli(capsys, "power", "--ab", "--baseline-rate", "0.8").code == 2
    assert run_cli(capsys, "power").code == 2


def test_defaults_critical_reaches_every_case_that_sets_none(tmp_path: Path) -> None:
    from agent_eval.suite.loader import load_suite

    suite = write(tmp_path / "s.yaml", """suite: s
config: c.yaml
defaults: {critical: {min_pass_rate: 0.8}}
cases:
  - {id: a, input: hi}
  - {id: b, input: hi, critical: false}
  - {id: c, input: hi, critical: true}
""")
    cases = {c.id: (c.critical, c.critical_min_pass_rate) for c in load_suite(suite).cases}
    assert cases == {"a": (True, 0.8), "b": (False, None), "c": (True, None)}


def test_the_report_shows_the_rendered_input_and_the_pass_curve(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", SUITE, "--out", "out")
    assert r.code == 0 and "pass^1..pass^5: " in r.out
    html = (workdir / "out/report.html").read_text()
    assert "Where is the refund for order 1234?" in html
    assert "order {{ order }}" not in html  # the template as written is not what the model saw
    assert "pass^1..pass^5: " in html and "pass^5 " in html
    assert "Routes to FAIL tested (" in html and "run-level permutation test" in html
