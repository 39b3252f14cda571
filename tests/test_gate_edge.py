"""Around the gate (issue 22): end-of-run re-runs of outage errors, a pinned seed, power that keeps its word,
strict versioning's margin, escalation and calibration intervals. Through the CLI and the loopback server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from clitools import results, run_cli, runs_lines
from loopback import LoopbackServer
from test_cli_faults import SECRET, make_suite


@pytest.fixture
def env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    return workdir


def _errored(folder: Path) -> list[dict]:
    return [run for c in results(folder)["cases"] for run in c["runs"] if run["status"] == "errored"]


# ---- provider and timeout errors re-run once at the end of the run -------------------------------

def test_an_outage_at_the_start_is_re_run_at_the_end_and_recovered(env: Path, capsys,
                                                                    loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=5, k=2)
    loopback_server.add_faults("500", "503", "500", "drop")  # the first four calls; each is one run (no retry)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--max-retries", "1",
                "--timeout", "0.5")
    assert r.code == 0, r.text
    data = results(env / "out")
    assert data["reruns"] == 4 and data["summary"]["errors"] == 0 and data["summary"]["runs"] == 10
    reruns = [run for c in data["cases"] for run in c["runs"] if run["rerun"]]
    assert len(reruns) == 4 and all(run["status"] == "passed" for run in reruns)
    lines = runs_lines(env / "out")
    assert len(lines) == 14 and sum(1 for line in lines if line["status"] == "errored") == 4  # both kept
    assert "re-ran 4 run(s)" in r.err and "4 recovered, 0 still errored" in r.err
    assert loopback_server.total == 14


def test_no_rerun_errors_keeps_the_errors_for_one_config_and_several(env: Path, capsys,
                                                                     loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=5, k=2)
    loopback_server.add_faults("500", "500", "500", "500")
    r = run_cli(capsys, "run", suite, "--out", "one", "-j", "1", "--no-cache", "--max-retries", "1",
                "--no-rerun-errors")
    assert "re-ran" not in r.err, r.text
    assert results(env / "one")["reruns"] == 0 and len(_errored(env / "one")) == 4

    other = shutil.copy(env / "s" / "config.yaml", env / "s" / "other.yaml")
    (env / "s" / "other.yaml").write_text(Path(other).read_text().replace("name: loop", "name: other"))
    configs = ("--config", env / "s" / "config.yaml", "--config", env / "s" / "other.yaml")
    loopback_server.add_faults("500", "500", "500", "500")
    r = run_cli(capsys, "run", suite, *configs, "--out", "two", "-j", "1", "--no-cache", "--max-retries", "1",
                "--no-rerun-errors")
    arms = [p.parent for p in (env / "two").glob("*/results.json")]
    assert len(arms) == 2 and "re-ran" not in r.err, r.text
    assert sum(len(_errored(a)) for a in arms) == 4 and all(results(a)["reruns"] == 0 for a in arms)

    loopback_server.add_faults("500", "500", "500", "500")
    r = run_cli(capsys, "run", suite, *configs, "--out", "three", "-j", "1", "--no-cache", "--max-retries", "1")
    arms = [p.parent for p in (env / "three").glob("*/results.json")]
    assert sum(results(a)["reruns"] for a in arms) == 4 and sum(len(_errored(a)) for a in arms) == 0, r.text
    assert "recovered" in r.err


def test_a_re_run_that_errs_again_stays_errored_and_is_counted(env: Path, capsys,
                                                               loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=1, k=2)
    loopback_server.add_faults("500", "500", "500")  # both runs err, and so does the first re-run
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--max-retries", "1")
    data = results(env / "out")
    assert data["reruns"] == 2 and len(_errored(env / "out")) == 1 and _errored(env / "out")[0]["rerun"] is True
    assert "1 recovered, 1 still errored" in r.err, r.text


def test_a_bad_request_is_not_re_run(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=4, k=5)
    loopback_server.add_faults("400")
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache")
    assert results(env / "out")["reruns"] == 0 and len(_errored(env / "out")) == 1 and "re-ran" not in r.err


# ---- a pinned seed ---------------------------------------------------------------------------------

def test_a_pinned_seed_is_warned_about(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=2)
    config = env / "s" / "config.yaml"
    r = run_cli(capsys, "run", suite, "--out", "plain", "--no-cache")
    assert r.code == 0 and "pins seed" not in r.err, r.text
    config.write_text(config.read_text().replace("max_tokens: 64}", "max_tokens: 64, seed: 7}"))
    r = run_cli(capsys, "run", suite, "--out", "seeded", "--no-cache")
    assert "pins seed 7 at temperature 0" in r.err and "k identical runs count as one run" in r.err, r.text


# ---- power that keeps its word -------------------------------------------------------------------

def _binary_suite(folder: Path, cases: int, k: int) -> Path:
    """A pass/fail suite on the mock: case i passes each run with probability 0.8 + 0.2 i / (cases - 1)."""
    rules = "".join(
        f"      - match: '^case {i}$'\n        answers: [{{text: 'yes', weight: {80 + 20 * i / (cases - 1):.3f}}}, "
        f"{{text: 'no', weight: {20 - 20 * i / (cases - 1) + 1e-6:.6f}}}]\n" for i in range(cases))
    (folder / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        "name: coin\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: mock-coin-2025-01-01\n  mock:\n    rules:\n"
        + rules + "prompt:\n  user: '{{ input }}'\n")
    body = "".join(f"  - id: c{i}\n    input: case {i}\n    checks: [{{equals: 'yes'}}]\n" for i in range(cases))
    suite = folder / "suite.yaml"
    suite.write_text(f"suite: coin\nconfig: config.yaml\nrepeat: {k}\ncases:\n{body}")
    return suite


def _figures(text: str) -> tuple[float, float]:
    import re

    drop = re.search(r"a true drop of ([\d.]+)% would FAIL with 80% power", text)
    sim = re.search(r"FAILed a true drop of [\d.]+% in (\d+)% of (\d+) trials", text)
    assert drop and sim, text
    return float(drop.group(1)) / 100, float(sim.group(1)) / 100


@pytest.mark.parametrize("k", [1, 5])
def test_power_on_pass_fail_runs_keeps_its_word_in_simulation(workdir: Path, capsys, k: int) -> None:
    suite = _binary_suite(workdir / "coin", 40, k)
    assert run_cli(capsys, "run", suite, "--out", "run").code == 0
    r = run_cli(capsys, "power", "run", "--trials", "200")
    assert r.code == 0, r.text
    drop, rate = _figures(r.out)
    assert "p(1-d)(1-p(1-d))" in r.out
    assert 0.70 <= rate <= 0.92, r.out  # the whole gate, simulated through decide_sides at the printed drop
    if k == 1:  # one run per case used to read as no run noise at all: "3.0%" (truth ~14% at 100 cases)
        assert "one run per case" in r.out and drop > 0.15, r.out


def test_the_printed_bound_is_at_the_tested_level_so_a_bound_past_the_limit_always_fails() -> None:
    import random

    from agent_eval.baseline.gate import GateOptions, decide_sides
    from agent_eval.baseline.pairing import make_side
    from agent_eval.baseline.verdict import Outcome

    rng = random.Random(3)
    past = fails_at_95 = 0
    for _ in range(300):
        drop = rng.uniform(0.0, 0.15)
        base, cand = {}, {}
        for i in range(30):
            p = rng.uniform(0.7, 1.0)
            b = [float(rng.random() < p) for _ in range(6)]
            c = [float(rng.random() < p * (1 - drop)) for _ in range(3)]
            base[f"c{i}"] = make_side(f"c{i}", b, [x > 0 for x in b], k=3, definition_hash="h")
            cand[f"c{i}"] = make_side(f"c{i}", c, [x > 0 for x in c], k=3, definition_hash="h")
        v = decide_sides(cand, base, GateOptions())
        assert v.relative_change_ci is not None and v.bound_alpha is not None and v.bound_alpha < 0.05
        if v.relative_change_ci[1] < -0.03:
            past += 1
            assert v.outcome is Outcome.FAIL, v.rule
        elif v.p_value is not None and v.p_value < 0.05:
            fails_at_95 += 1  # would have printed a 95% bound past the limit
    assert past > 20 and fails_at_95 > 0


# ---- strict versioning: a margin, and a behaviour change under an unchanged version ---------------

def test_a_changed_config_under_the_same_version_is_a_versioning_finding(workdir: Path, capsys) -> None:
    config = workdir / "suites/configs/support-good.yaml"
    config.write_text(config.read_text().replace("max_tokens: 512}", "max_tokens: 500}"))  # same version 1.4.0
    strict = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "strict", "--strict-versioning")
    assert strict.code == 2, strict.text
    assert "behaviour changed under an unchanged version 1.4.0" in strict.text and "9d5e1fb2494a" in strict.text
    lenient = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "lenient")
    assert lenient.code == 0 and "behaviour changed under an unchanged version" in lenient.text


def test_strict_versioning_needs_a_move_of_at_least_one_percent() -> None:
    from agent_eval.baseline.versioning import version_change_warning

    assert version_change_warning("1.0.0", "1.0.1", p_moved=1e-6, change=-0.004) is None  # significant, tiny
    moved = version_change_warning("1.0.0", "1.0.1", p_moved=1e-6, change=-0.012)
    assert moved is not None and "dropped 1.2%" in moved and "at least 1%" in moved
    assert version_change_warning("1.0.0", "1.0.0", p_moved=1e-6, change=-0.2, baseline_hash="a" * 64,
                                  candidate_hash="a" * 64) is None  # same version, same behaviour: the gate's job


# ---- escalation precision and recall: intervals with the case as the unit -----------------------

def test_escalation_intervals_cover_when_runs_of_a_case_move_together() -> None:
    import random

    from agent_eval.stats.escalation import clustered_ratio_ci

    rng = random.Random(5)
    covered = naive_covered = 0
    trials = 400
    for _ in range(trials):  # 12 cases x 5 runs; each case's recall is 0.9 or 0.15
        cases = []
        for _ in range(12):
            p = 0.9 if rng.random() < 0.75 else 0.15
            cases.append((sum(rng.random() < p for _ in range(5)), 5))
        truth = 0.75 * 0.9 + 0.25 * 0.15
        ci = clustered_ratio_ci(cases)
        assert ci is not None
        covered += ci[0] <= truth <= ci[1]
        runs = [(hit, 1) for hits, n in cases for hit in [1] * hits + [0] * (n - hits)]
        naive = clustered_ratio_ci(runs)  # every run its own case: the interval a run-level count would give
        assert naive is not None
        naive_covered += naive[0] <= truth <= naive[1]
    assert covered / trials >= 0.90 > naive_covered / trials
    assert clustered_ratio_ci([(3, 3)]) == pytest.approx((0.2065, 1.0), abs=1e-3)  # one case: one unit


# ---- calibrate: intervals that cover, and borderline labels weighted back to the population -------

def test_borderline_labels_are_weighted_back_so_a_good_judge_is_not_told_to_fix_the_rubric(tmp_path: Path, capsys,
                                                                                         monkeypatch) -> None:
    from test_governance_calibration import CONFIG, SUITE, _label

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "suite.yaml").write_text(SUITE)

    def weighted(output: str, human: float, weight: float) -> str:
        import json

        row = json.loads(_label(output, human))
        return json.dumps({**row, "weight": weight}) + "\n"

    # the mock judge scores A 1, B 2, C 3; 10 random labels (each standing for 10 outputs) it gets right, and
    # 10 borderline ones (all there were) it mostly gets wrong
    clear = [("A", 1)] * 4 + [("C", 3)] * 4 + [("B", 2)] * 2
    border = [("B", 3)] * 4 + [("C", 2)] * 4 + [("A", 3)] * 2
    lines = [weighted(f"{o} {i}", h, 10.0) for i, (o, h) in enumerate(clear)]
    lines += [weighted(f"{o} b{i}", h, 1.0) for i, (o, h) in enumerate(border)]
    labels = tmp_path / "golden/labels/cal.jsonl"
    labels.parent.mkdir(parents=True)
    labels.write_text("".join(lines))
    r = run_cli(capsys, "calibrate", "suite.yaml")
    assert r.code == 0 and "fix rubric" not in r.text, r.text
    import json

    (rubric,) = json.loads((tmp_path / "golden/labels/cal.calibration.json").read_text())["rubrics"]
    assert rubric["kappa"] == pytest.approx(0.9069, abs=1e-3) and rubric["kappa_ci"][0] >= 0.6
    labels.write_text("".join(line.replace('"weight": 10.0', '"weight": 1.0') for line in lines))  # unweighted
    r = run_cli(capsys, "calibrate", "suite.yaml")
    assert r.code == 1 and "fix rubric 'good'" in r.text  # the borderline-heavy sample read as the population


def test_kappa_intervals_cover_on_pass_fail_rubrics_at_small_n() -> None:
    import random

    from agent_eval.calibration.agreement import kappa_interval

    rng = random.Random(2)
    for accuracy, truth in ((0.8, 0.6), (0.95, 0.9)):  # balanced classes: kappa = 2 accuracy - 1
        covered = tried = 0
        for _ in range(400):
            human = [int(rng.random() < 0.5) for _ in range(12)]
            judge = [h if rng.random() < accuracy else 1 - h for h in human]
            ci = kappa_interval(judge, human, 0, 1)
            if ci is not None:
                tried += 1
                covered += ci[0] <= truth <= ci[1]
        assert covered / tried >= 0.93, (accuracy, covered / tried)  # the z jackknife covered .39-.87 here


def test_review_export_writes_each_random_row_s_weight(workdir: Path, capsys) -> None:
    import csv

    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--config", "suites/configs/support-regressed.yaml",
                   "--out", "reg").code == 1
    assert run_cli(capsys, "review", "export", "reg", "--to", "review.csv", "--random", "1").code == 0
    with open(workdir / "review.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    (row,) = rows  # 1 picked at random of the 2 distinct outputs that were neither borderline nor split
    assert row["why"] == "random sample" and float(row["weight"]) == 2.0


def test_a_run_past_run_timeout_is_re_run_too(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=1)
    loopback_server.add_faults("hang")
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--run-timeout", "0.5")
    rerun = [run for c in results(env / "out")["cases"] for run in c["runs"] if run["rerun"]]
    assert len(rerun) == 1 and rerun[0]["status"] == "passed" and r.code == 0, r.text
    first = [line for line in runs_lines(env / "out") if line["status"] == "errored"]
    assert len(first) == 1 and first[0]["error"]["kind"] == "timeout"
