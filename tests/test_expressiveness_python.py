"""Graded python checks through the CLI: scores, thresholds, named scores, the config keyword, inside
groups and after transforms (run in the worker process), on the mock and the loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import results, run_cli, write
from loopback import LoopbackServer

CHECKS = '''\
def overlap(output, case, run):
    words = set(output.lower().split())
    wanted = set(case.expected.lower().split())
    return len(words & wanted) / len(wanted)


def graded(output, case, run, config):
    hits = sum(1 for word in config["words"] if word in output.lower())
    return {"pass": hits >= config["need"], "score": hits / len(config["words"]),
            "reason": f"{hits} of {len(config['words'])} words", "named_scores": {"word_hits": hits}}


def with_reason(output, case, run):
    return 0.4, "too short"


def no_config(output, case, run):
    return True


def out_of_range(output, case, run):
    return 3
'''
SUITE = """\
suite: graded
config: {config}
derived_metrics:
  hits_per_run: word_hits / runs
cases:
  - id: ship
    input: when does it ship
    expected: the order ships on monday by courier
    checks:
      - python: "graded_checks:overlap"                # 5 of 7 words: 0.714 < 0.75
      - python: "graded_checks:overlap"
        threshold: 0.5
        metric: overlap
      - python: "graded_checks:graded"
        config: {{words: [monday, courier, tuesday], need: 2}}
        weight: 2
      - python: "graded_checks:with_reason"
        weight: 0
      - python: "graded_checks:no_config"
        config: {{ignored: true}}
      - python: "graded_checks:out_of_range"
        weight: 0
      - any: [{{contains: nope}}, {{python: "graded_checks:no_config"}}]
      - python: "graded_checks:overlap"
        transform: {{regex: "(?i)(ships on monday)"}}
"""


def _check(folder: Path, out: str) -> list[dict]:  # type: ignore[type-arg]
    return list(results(folder / out)["cases"][0]["runs"][0]["checks"])


def _assert_graded(folder: Path, out: str, output: str) -> None:
    c = _check(folder, out)
    words = set(output.lower().split()) & {"the", "order", "ships", "on", "monday", "by", "courier"}
    overlap = len(words) / 7
    assert (c[0]["passed"], c[0]["score"]) == (overlap >= 0.75, pytest.approx(overlap))
    assert c[1]["passed"] is True and c[1]["metric"] == "overlap"
    assert (c[2]["passed"], c[2]["score"], c[2]["reason"]) == (True, pytest.approx(2 / 3), "2 of 3 words")
    assert c[2]["named_scores"] == {"word_hits": 2.0}
    assert (c[3]["passed"], c[3]["score"], c[3]["reason"]) == (False, 0.4, "too short")
    assert c[4]["passed"] is True
    assert c[5]["passed"] is False and "a score is a number in [0, 1]" in c[5]["reason"]
    assert c[6]["passed"] is True and c[6]["name"] == "any"
    assert c[7]["passed"] is False and c[7]["score"] == pytest.approx(3 / 7)  # "ships on monday"
    run = results(folder / out)["cases"][0]["runs"][0]
    weighted = [(c[0]["score"], 1), (overlap, 1), (2 / 3, 2), (1.0, 1), (1.0, 1), (3 / 7, 1)]
    assert run["score"] == pytest.approx(sum(s * w for s, w in weighted) / sum(w for _, w in weighted))
    summary = results(folder / out)["summary"]
    assert summary["metrics"]["word_hits"]["total"] == 2.0 and summary["derived"]["hits_per_run"]["value"] == 2.0


def test_graded_python_checks_on_the_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "graded_checks.py", CHECKS)
    output = "Your order ships on Monday by courier."
    write(tmp_path / "mock.yaml", "name: m\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: mock-2025\n"
          f"  mock: {{default: \"{output}\"}}\nprompt:\n  user: \"{{{{ input }}}}\"\n")
    path = write(tmp_path / "suite.yaml", SUITE.format(config="mock.yaml"))
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 1, result.text  # no baseline, and not one run passed: FAIL
    _assert_graded(tmp_path, "out", output)


def test_graded_python_checks_through_the_openai_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str],
                                                     loopback_server: LoopbackServer,
                                                     clean_provider_env: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    clean_provider_env.setenv("LOOP_KEY", "k")
    write(tmp_path / "graded_checks.py", CHECKS)
    output = "Yes: the order ships on Monday by courier"
    loopback_server.configure(responder=lambda body: output)
    write(tmp_path / "loop.yaml", "name: l\nversion: 1.0.0\nmodel:\n  provider: openai\n  name: loop-2025\n"
          f"  base_url: {loopback_server.openai_base_url}\n  api_key_env: LOOP_KEY\n"
          "prompt:\n  user: \"{{ input }}\"\n")
    path = write(tmp_path / "suite.yaml", SUITE.format(config="loop.yaml"))
    result = run_cli(capsys, "run", path, "--out", "out", "--no-cache")
    assert result.code == 1, result.text  # no baseline, and not one run passed: FAIL
    _assert_graded(tmp_path, "out", output)


@pytest.mark.parametrize(("extra", "message"), [
    ("threshold: 2", "threshold must be a number in [0, 1]"),
    ("config: [1, 2]", "config must be a mapping"),
])
def test_bad_python_options_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             extra: str, message: str) -> None:
    write(tmp_path / "graded_checks.py", CHECKS)
    write(tmp_path / "mock.yaml", "name: m\nversion: 1.0.0\nmodel: {provider: mock, name: m}\nprompt: {user: hi}\n")
    path = write(tmp_path / "suite.yaml", "suite: s\nconfig: mock.yaml\ncases:\n  - id: a\n    input: hi\n"
                 f"    checks:\n      - python: graded_checks:overlap\n        {extra}\n")
    result = run_cli(capsys, "validate", path)
    assert result.code == 2 and message in result.text and "suite.yaml" in result.text
