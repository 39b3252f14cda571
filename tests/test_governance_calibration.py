"""Human review and judge calibration through the CLI; figures checked against hand-computed values and scipy."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from clitools import run_cli, write

CONFIG = """\
schema_version: 1
name: cal
version: 1.0.0
model: {provider: mock, name: mock-cal-2025-01-01, mock: {default: "A"}}
prompt: {user: "{{ input }}"}
"""

SUITE = """\
suite: cal
config: config.yaml
judge:
  provider: mock
  name: mock-judge-2025-01-01
  mock:
    rules:
      - {match: "<<<CANDIDATE>>>\\\\s*A", answers: [{text: '{"reasoning": "a", "score": 1}'}]}
      - {match: "<<<CANDIDATE>>>\\\\s*B", answers: [{text: '{"reasoning": "b", "score": 2}'}]}
      - {match: "<<<CANDIDATE>>>\\\\s*C", answers: [{text: '{"reasoning": "c", "score": 3}'}]}
cases:
  - id: q
    input: question
    rubrics: [{name: good, criteria: Is good., scale: [1, 3], threshold: 3}]
"""


def _label(output: str, human: float, *, case: str = "q", rubric: str = "good") -> str:
    import hashlib

    return json.dumps({"suite": "cal", "case_id": case, "rubric": rubric, "output": output,
                       "output_hash": hashlib.sha256(output.encode()).hexdigest()[:16],
                       "messages": [{"role": "user", "content": "question"}], "scale": [1, 3], "threshold": 3,
                       "human_score": human}) + "\n"


@pytest.fixture
def cal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.yaml", CONFIG)
    write(tmp_path / "suite.yaml", SUITE)
    return tmp_path


def test_weighted_kappa_bias_and_false_pass_match_hand_computed_values(cal: Path, capsys) -> None:
    # judge 1, 2, 3, 3 against human 1, 2, 2, 3 on a 1-3 scale:
    # observed weighted disagreement 0.25 (one cell one step off, weight 1/4), expected 1.25 -> kappa 0.8
    write(cal / "golden/labels/cal.jsonl", _label("A", 1) + _label("B", 2) + _label("C one", 2) + _label("C two", 3))
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert result.code == 1, result.text  # 4 labels are too few to trust, however well they agree
    data = json.loads((cal / "golden/labels/cal.calibration.json").read_text())
    (rubric,) = data["rubrics"]
    assert rubric["kappa"] == pytest.approx(0.8) and rubric["more_labels"] >= 6
    assert rubric["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert rubric["bias"] == pytest.approx(0.25)
    assert rubric["false_pass_rate"] == pytest.approx(1 / 3)  # human fails A, B, "C one"; the judge passes "C one"
    assert rubric["false_fail_rate"] == pytest.approx(0.0)
    assert data["judge_model"] == "mock-judge-2025-01-01" and data["created_at"]
    assert "weighted kappa 0.80" in result.out


def test_kappa_interval_is_the_jackknife_with_t_and_spearman_matches_scipy(cal: Path, capsys) -> None:
    import numpy as np
    from scipy.stats import spearmanr

    outputs = ["A", "A", "B", "B", "C", "C", "A", "B", "C", "C", "A", "B"]
    humans = [1, 2, 2, 3, 3, 3, 1, 1, 3, 2, 1, 2]
    write(cal / "golden/labels/cal.jsonl", "".join(_label(f"{o} {i}", h) for i, (o, h) in
                                                   enumerate(zip(outputs, humans, strict=True))))
    assert run_cli(capsys, "calibrate", "suite.yaml").code in (0, 1)
    (rubric,) = json.loads((cal / "golden/labels/cal.calibration.json").read_text())["rubrics"]
    judge = np.array([{"A": 1, "B": 2, "C": 3}[o] for o in outputs])
    human = np.array(humans)

    def kappa(j: np.ndarray, h: np.ndarray) -> float:
        w = np.subtract.outer(np.arange(3), np.arange(3)) ** 2 / 4
        o = np.zeros((3, 3))
        for a, b in zip(h, j, strict=True):
            o[a - 1, b - 1] += 1
        e = np.outer(o.sum(1), o.sum(0)) / len(j)
        return float(1 - (w * o).sum() / (w * e).sum())

    full = kappa(judge, human)
    loo = np.array([kappa(np.delete(judge, i), np.delete(human, i)) for i in range(len(judge))])
    se = math.sqrt((len(loo) - 1) / len(loo) * ((loo - loo.mean()) ** 2).sum())
    assert rubric["kappa"] == pytest.approx(full)
    t = 2.200985  # t_{0.975, 11}: the jackknife with a t quantile (a 1-3 scale: no Wilson widening)
    assert rubric["kappa_ci"] == pytest.approx([full - t * se, min(1.0, full + t * se)], abs=1e-5)
    assert rubric["spearman"] == pytest.approx(spearmanr(judge, human).statistic)
    lengths = [len(f"{o} {i}") for i, o in enumerate(outputs)]
    assert rubric["length_judge"] == pytest.approx(spearmanr(lengths, judge).statistic)


def test_labels_needed_and_the_trust_rule() -> None:
    from agent_eval.calibration.agreement import labels_needed, weighted_kappa

    # half-width 0.2 must shrink to 0.1: (0.2 / 0.1)^2 = 4 times the labels, so 60 more than 20
    assert labels_needed(0.7, (0.5, 0.9), 20) == 60
    assert labels_needed(0.55, (0.3, 0.8), 20) is None  # kappa itself under 0.6: fix the rubric
    assert labels_needed(0.8, (0.65, 0.95), 20) == 0
    # two categories: plain kappa, (4/6 - 1/2) / (1 - 1/2) = 1/3
    assert weighted_kappa([1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1], 0, 1) == pytest.approx(1 / 3)


def test_an_untrustworthy_rubric_is_named_with_what_to_do(cal: Path, capsys) -> None:
    # the judge gives 1 to what humans score 3 and the reverse
    write(cal / "golden/labels/cal.jsonl", "".join(_label(f"{o} {i}", h) for i, (o, h) in
                                                   enumerate([("A", 3), ("C", 1), ("B", 2), ("A", 3), ("C", 1)])))
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert result.code == 1
    assert "NOT TRUSTWORTHY" in result.out and "fix rubric 'good'" in result.out


def test_the_example_suite_calibrates_offline_on_the_mock_judge(workdir: Path, capsys) -> None:
    result = run_cli(capsys, "calibrate", "suites/support-bot.yaml")
    assert result.code == 0, result.text
    assert "30 of 30 labels re-judged" in result.out and "TRUSTWORTHY" in result.out
    data = json.loads((workdir / "golden/labels/support-bot.calibration.json").read_text())
    assert data["trustworthy"] and data["rubrics"][0]["kappa_ci"][0] >= 0.6
    run = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "out")
    assert run.code == 0
    summary = (workdir / "out/summary.md").read_text()
    assert "Judge calibration" in summary and data["created_at"][:10] in summary
    assert "Judge calibration" in (workdir / "out/report.html").read_text()


def test_review_export_picks_runs_and_import_stores_labels(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", "suites/support-bot.yaml", "--config", "suites/configs/support-regressed.yaml",
                   "--out", "reg").code == 1
    exported = run_cli(capsys, "review", "export", "reg", "--to", "review.csv", "--random", "5")
    assert exported.code == 0, exported.text
    with open(workdir / "review.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["case_id"] == "refund-status" and r["rubric"] == "grounded" for r in rows)
    assert len({r["output_hash"] for r in rows}) == len(rows)  # one row per distinct output
    assert rows[0]["criteria"].startswith("States the refund status")
    rows[0]["human_score"] = "4"
    rows[0]["notes"] = "fine"
    with open(workdir / "review.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    imported = run_cli(capsys, "review", "import", "review.csv", "--reviewer", "ana", "--to", "labels")
    assert imported.code == 0, imported.text
    assert "1 label(s) added" in imported.out and f"{len(rows) - 1} row(s) without a human score" in imported.out
    (label,) = [json.loads(line) for line in (workdir / "labels/support-bot.jsonl").read_text().splitlines()]
    assert label["human_score"] == 4 and label["reviewer"] == "ana" and label["notes"] == "fine"
    assert label["output"] == rows[0]["output"] and label["messages"][-1]["role"] == "user"
    again = run_cli(capsys, "review", "import", "review.csv", "--to", "labels")
    assert "0 label(s) added, 1 replaced" in again.out
    rows[1]["human_score"] = "9"
    with open(workdir / "review.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    bad = run_cli(capsys, "review", "import", "review.csv", "--to", "labels")
    assert bad.code == 2 and "review.csv:3: human_score: human_score 9 is outside the scale 1-5" in bad.err


ENSEMBLE = """\
suite: cal
config: config.yaml
judge:
  - provider: mock
    name: mock-judge-a-2025-01-01
    mock: {rules: [{match: "<<<CANDIDATE>>>", answers: [{text: '{"reasoning": "fine", "score": 3}'}]}]}
  - provider: mock
    name: mock-judge-b-2025-01-01
    mock:
      rules:
        - {match: "<<<CANDIDATE>>>\\\\s*A", answers: [{text: '{"reasoning": "bad", "score": 1}'}]}
        - {match: "<<<CANDIDATE>>>", answers: [{text: '{"reasoning": "fine", "score": 3}'}]}
cases:
  - id: q
    input: question
    rubrics: [{name: good, criteria: Is good., scale: [1, 3], threshold: 3}]
"""


def test_an_ensemble_of_judges_reports_their_disagreement(cal: Path, capsys) -> None:
    write(cal / "suite.yaml", ENSEMBLE)
    run = run_cli(capsys, "run", "suite.yaml", "--out", "out", "--repeat", "2")
    assert run.code == 1, run.text  # no baseline, and not one run passed: FAIL
    data = json.loads((cal / "out/results.json").read_text())
    rubric = data["cases"][0]["runs"][0]["rubrics"][0]
    assert rubric["samples"] == [3.0, 1.0] and rubric["score"] == 2.0  # the mean over the two judges
    assert rubric["judge_model"] == "mock-judge-a-2025-01-01,mock-judge-b-2025-01-01"
    assert "mock-judge-b-2025-01-01: bad" in rubric["reasoning"]
    assert data["summary"]["judge_disagreement"] > 0
    write(cal / "golden/labels/cal.jsonl", _label("A 1", 1) + _label("A 2", 2) + _label("C 1", 3) + _label("C 2", 3))
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert "ensemble: mean judge spread" in result.out
    (cal_rubric,) = json.loads((cal / "golden/labels/cal.calibration.json").read_text())["rubrics"]
    assert cal_rubric["escalations"] == 2  # A 1 and A 2: one judge passes, the other fails
    assert cal_rubric["judge_disagreement"] == pytest.approx(0.5)  # (2 + 2 + 0 + 0) / 4 over a range of 2


def test_the_shipped_labels_and_calibration_match_their_json_schemas(capsys) -> None:
    import jsonschema
    from clitools import REPO

    labels = run_cli(capsys, "schema", "labels")
    assert labels.code == 0
    for line in (REPO / "golden/labels/support-bot.jsonl").read_text().splitlines():
        jsonschema.validate(json.loads(line), json.loads(labels.out))
    calibration = run_cli(capsys, "schema", "calibration")
    shipped = json.loads((REPO / "golden/labels/support-bot.calibration.json").read_text())
    jsonschema.validate(shipped, json.loads(calibration.out))
    bad = {**shipped, "rubrics": [{**shipped["rubrics"][0], "kappa": "high"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json.loads(calibration.out))


def test_review_export_picks_near_threshold_and_self_disagreement_first(cal: Path, capsys) -> None:
    write(cal / "suite.yaml", ENSEMBLE)
    # no baseline, and not one run passed: FAIL
    assert run_cli(capsys, "run", "suite.yaml", "--out", "out").code == 1
    split = run_cli(capsys, "review", "export", "out", "--to", "split.csv", "--random", "0")
    assert "1 judges disagreed" in split.out
    with open(cal / "split.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["why"] == "judges disagreed (3, 1)" and row["judge_score"] == "2"  # the ensemble split
    near = run_cli(capsys, "review", "export", "out", "--to", "near.csv", "--margin", "1")
    assert "1 near the threshold" in near.out


def test_perfect_agreement_on_three_labels_is_not_yet_trustworthy(cal: Path, capsys) -> None:
    write(cal / "golden/labels/cal.jsonl", _label("A", 1) + _label("B", 2) + _label("C", 3))
    result = run_cli(capsys, "calibrate", "suite.yaml")
    assert result.code == 1
    (rubric,) = json.loads((cal / "golden/labels/cal.calibration.json").read_text())["rubrics"]
    assert rubric["kappa"] == 1.0 and rubric["kappa_ci"][1] == 1.0
    assert rubric["kappa_ci"][0] < 0.6  # 3 of 3 agreeing is no longer read as [1, 1] (the jackknife's)
    n = rubric["more_labels"]
    assert n >= 7 and f"about {n} more label(s)" in rubric["advice"]
