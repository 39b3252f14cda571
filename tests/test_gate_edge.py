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
    loopback_server.add_faults("500", "503", "500", "hang")  # the first four calls; each is one run (no retry)
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
