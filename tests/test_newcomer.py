"""The newcomer's path: one discovery rule for every command, the distribution's name and version."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.clitools import REPO, run_cli

_SUITE = """suite: {name}
config: {config}
repeat: 1
cases:
  - id: one
    input: hello
    checks: [{{contains: know}}]
"""
_CONFIG = "name: c\nversion: 1.0.0\nmodel: {provider: mock, name: mock-1}\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git work tree with suites at two depths, and suites where none should be found."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _write(tmp_path / "c.yaml", _CONFIG)
    _write(tmp_path / "suites" / "top.yaml", _SUITE.format(name="top", config="../c.yaml"))
    _write(tmp_path / "suites" / "deep" / "nested.yaml", _SUITE.format(name="nested", config="../../c.yaml"))
    broken = "suite: broken\ncases: [this is not a case]\n"
    _write(tmp_path / "suites" / "venv" / "pyvenv.cfg", "home = /usr/bin\n")
    _write(tmp_path / "suites" / "venv" / "lib" / "x.yaml", broken)
    _write(tmp_path / "suites" / ".hidden" / "x.yaml", broken)
    _write(tmp_path / "suites" / "ignored" / "x.yaml", broken)
    _write(tmp_path / "suites" / "node_modules" / "x.yaml", broken)
    _write(tmp_path / ".gitignore", "ignored/\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_finds_suites_recursively_and_skips_ignored_venv_and_dot_folders(repo: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites", "--out", "out", "--format", "json")
    assert r.code == 0, r.text
    assert sorted(s["suite"] for s in json.loads(r.out)["suites"]) == ["nested", "top"]


def test_validate_uses_the_same_rule(repo: Path, capsys) -> None:
    r = run_cli(capsys, "validate", ".")
    assert r.code == 0, r.text
    assert "suites/deep/nested.yaml" in r.out and "suites/top.yaml" in r.out
    assert "x.yaml" not in r.text
    # The same broken file outside the skipped folders is found and fails: the rule is what kept it out.
    _write(repo / "suites" / "x.yaml", "suite: broken\ncases: [this is not a case]\n")
    assert run_cli(capsys, "validate", ".").code == 2


def test_validate_against_in_this_repository_skips_the_packaged_template(capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    r = run_cli(capsys, "validate", ".")
    assert r.code == 0, r.text
    assert "scaffold" not in r.text


def test_version_names_the_distribution(capsys) -> None:
    from importlib.metadata import version

    import agent_eval

    r = run_cli(capsys, "--version")
    assert r.code == 0 and r.out.strip() == f"agent-eval {agent_eval.__version__}"
    assert version("agent-eval-gate") == agent_eval.__version__


def test_a_new_suite_whose_agent_crashes_on_every_run_fails_and_records_failed_runs(tmp_path: Path, capsys,
                                                                                       monkeypatch) -> None:
    _write(tmp_path / "crashing.py", "def run(agent_input, ctx):\n    raise RuntimeError('boom')\n")
    _write(tmp_path / "c.yaml", "name: c\nversion: 1.0.0\nmodel: {provider: mock, name: mock-1}\n"
                                "agent: {python: 'crashing:run'}\n")
    _write(tmp_path / "s.yaml", _SUITE.format(name="crash", config="c.yaml").replace("repeat: 1", "repeat: 2"))
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "s.yaml", "--out", "out")
    assert r.code == 1, r.text
    assert "FAIL: no baseline to compare with; not one of 2 completed run(s) passed" in r.text
    runs = [json.loads(line) for line in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert [(x["status"], x["score"], x["error"]["kind"]) for x in runs] == [("failed", 0.0, "target")] * 2
    assert "2 failed, 0 errors" in r.err  # the progress line counts them as the tables do


def test_a_new_suite_where_one_run_passes_is_not_failed_for_lack_of_a_baseline(repo: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/top.yaml", "--out", "out")
    assert r.code == 0 and "PASS" in r.text, r.text


def test_a_suite_whose_requires_are_missing_is_skipped_in_a_folder_and_refused_by_name(repo: Path, capsys) -> None:
    text = _SUITE.format(name="needs", config="../c.yaml") + "requires: [no_such_package_here]\n"
    _write(repo / "suites" / "needs.yaml", text)
    r = run_cli(capsys, "run", "suites", "--out", "out", "--format", "json")
    assert r.code == 0, r.text
    assert "note: needs: needs no_such_package_here, not installed; skipped" in r.err
    assert sorted(s["suite"] for s in json.loads(r.out)["suites"]) == ["nested", "top"]
    named = run_cli(capsys, "run", "suites/needs.yaml", "--out", "named")
    assert named.code == 2 and "needs the Python package(s) no_such_package_here" in named.err
    _write(repo / "suites" / "needs.yaml", text.replace("no_such_package_here", "json"))
    assert run_cli(capsys, "run", "suites/needs.yaml", "--out", "installed").code == 0


def test_two_configs_with_identical_scores_are_not_significantly_different(repo: Path, capsys) -> None:
    _write(repo / "c2.yaml", _CONFIG.replace("name: mock-1}", "name: mock-1, params: {temperature: 0.5}}"))
    cases = "".join(f"  - {{id: c{i}, input: 'q{i}', checks: [{{contains: {'know' if i % 2 else 'nope'}}}]}}\n"
                    for i in range(4))
    _write(repo / "four.yaml", f"suite: four\nconfig: c.yaml\nrepeat: 2\ncases:\n{cases}")
    r = run_cli(capsys, "run", "four.yaml", "--config", "c.yaml", "--config", "c2.yaml", "--out", "out")
    assert r.code == 0, r.text
    (pair,) = json.loads((repo / "out" / "matrix.json").read_text())["pairs"]
    assert pair["diff"] == 0 and pair["p_value"] == 1.0 and pair["better"] is None
    assert "p = 0" not in (repo / "out" / "summary.md").read_text()


def test_resuming_a_no_cache_run_does_not_use_the_cache(repo: Path, capsys, loopback_server, monkeypatch) -> None:
    from tests.test_cli_faults import make_suite

    monkeypatch.setenv("LOOP_KEY", "sk-loop")
    suite = make_suite(repo / "loop", loopback_server, cases=2, k=2)
    assert run_cli(capsys, "run", suite, "--out", "out", "--no-cache").code == 0
    runs = (repo / "out" / "runs.jsonl").read_text().splitlines()
    (repo / "out" / "runs.jsonl").write_text(runs[0] + "\n")  # as if interrupted after one run
    r = run_cli(capsys, "run", "--resume", "out")
    assert r.code == 0, r.text
    assert len((repo / "out" / "runs.jsonl").read_text().splitlines()) == 4
    cache = repo / ".agent-eval" / "cache"
    assert not cache.exists() or not any(cache.iterdir()), list(cache.iterdir())
    assert run_cli(capsys, "run", suite, "--out", "cached").code == 0
    assert cache.exists() and any(cache.iterdir())  # the check above can fail: a cached run writes there


def test_empty_shards_write_mergeable_results_and_pass(repo: Path, capsys) -> None:
    """A CI matrix with more shards than a small suite has cases: every shard passes, and merge puts them together."""
    for i in (1, 2, 3):
        r = run_cli(capsys, "run", "suites/top.yaml", "--shard", f"{i}/3", "--out", f"shard{i}")
        assert r.code == 0, r.text
    sizes = [len(json.loads((repo / f"shard{i}" / "results.json").read_text())["cases"]) for i in (1, 2, 3)]
    assert sorted(sizes) == [0, 0, 1]
    empty = next(i for i in (1, 2, 3) if sizes[i - 1] == 0)
    assert (repo / f"shard{empty}" / "runs.jsonl").read_text() == ""
    merged = run_cli(capsys, "merge", "shard1", "shard2", "shard3", "--out", "merged")
    assert merged.code == 0, merged.text
    assert [c["id"] for c in json.loads((repo / "merged" / "results.json").read_text())["cases"]] == ["one"]


def test_the_readme_quickstart_verdict_reads_as_the_readme_shows(capsys, tmp_path: Path, monkeypatch) -> None:
    """The README's regressed quickstart: its first verdict line and the rule line, as printed."""
    import re
    import shutil

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("agent-eval run suites/support-bot.yaml --config suites/configs/support-regressed.yaml\n```",
                         1)[1].split("```\n", 2)[1]
    shown = [line for line in block.splitlines() if line and line != "..." and not line.startswith("  ...")]
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    shutil.copytree(REPO / "golden", tmp_path / "golden")
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", "suites/configs/support-regressed.yaml")
    assert r.code == 1
    printed = r.out.splitlines()
    for line in shown:
        assert line in printed, f"README line not printed: {line!r}"
    assert printed.index(shown[0]) < printed.index(shown[1])  # the plain-words line comes first
    assert re.match(r"FAIL: quality dropped", shown[0])


def _readme_block(after: str, fence: str = "```yaml\n") -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split(after, 1)[1].split(fence, 1)[1].split("```\n", 1)[0]


def test_the_readme_named_metrics_example_loads_and_computes(tmp_path: Path, monkeypatch, capsys) -> None:
    block = _readme_block("## Named and derived metrics\n")
    judge = "judge: {provider: mock, name: mock-judge-1, mock: {default: '{\"reasoning\": \"ok\", \"score\": 5}'}}\n"
    _write(tmp_path / "s.yaml", "suite: spam\nconfig: c.yaml\n" + judge + block)
    _write(tmp_path / "c.yaml", "name: c\nversion: 1.0.0\nmodel: {provider: mock, name: mock-1, mock: "
                                "{rules: [{match: PRIZE, answers: [{text: SPAM}]}], default: HAM}}\n")
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "s.yaml", "--out", "out")
    assert r.code == 0, r.text
    derived = json.loads((tmp_path / "out" / "results.json").read_text())["summary"]["derived"]
    assert derived["precision"]["value"] == 1.0 and derived["recall"]["value"] == 1.0


def test_the_readme_escalation_lines_are_what_the_conversation_example_prints(tmp_path: Path, monkeypatch,
                                                                               capsys) -> None:
    import shutil

    block = _readme_block("that did):\n", "```\n")
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    shutil.copytree(REPO / "golden", tmp_path / "golden")
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "suites/support-conversations.yaml", "--out", "out")
    assert r.code == 0, r.text
    for line in block.splitlines():
        assert line in r.out.splitlines(), line


def test_a_custom_judge_template_receives_the_documented_variables(tmp_path: Path, monkeypatch, capsys) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = readme.split("**A custom judge template**", 1)[1].split("Start from a copy", 1)[0]
    names = ["rubric_name", "criteria", "steps", "input", "expected", "output", "scale_min", "scale_max", "context"]
    assert all(f"`{n}`" in documented for n in names)
    shown = " ".join(f"{n}=[{{{{ {n} }}}}]" for n in names)
    _write(tmp_path / "judge.j2", shown + '\nreply {"reasoning": "r", "score": 5}\n')
    _write(tmp_path / "s.yaml", "suite: j\nconfig: c.yaml\njudge: {provider: mock, name: mock-judge-1, prompt: judge.j2, "
                                "mock: {rules: [{match: 'rubric_name=\\[tone\\] criteria=\\[Polite\\] steps=\\[\\[\\]\\] input=\\[.*hi', "
                                "answers: [{text: '{\"reasoning\": \"seen\", \"score\": 5}'}]}], "
                                "default: '{\"reasoning\": \"unseen\", \"score\": 1}'}}\n"
                                "cases:\n  - id: one\n    input: hi\n    rubrics: [{name: tone, criteria: Polite}]\n")
    _write(tmp_path / "c.yaml", _CONFIG)
    monkeypatch.chdir(tmp_path)
    r = run_cli(capsys, "run", "s.yaml", "--out", "out")
    assert r.code == 0, r.text
    rubric = json.loads((tmp_path / "out" / "results.json").read_text())["cases"][0]["runs"][0]["rubrics"][0]
    assert rubric["score"] == 5, rubric


@pytest.mark.parametrize("workflow", [".github/workflows/agent-eval-example.yml", "agent_eval/scaffold/workflow.yml"])
def test_a_fork_pull_request_fails_the_gate_unless_the_workflow_says_skip(tmp_path: Path, workflow: str) -> None:
    import os

    import yaml

    steps = yaml.safe_load((REPO / workflow).read_text())["jobs"]["gate"]["steps"]
    step = next(s for s in steps if s.get("id") == "secrets")
    assert step["env"]["FORK_POLICY"] == "fail"  # the safe default: a required check blocks an ungated merge

    def run(policy: str, key: str) -> tuple[int, str, str]:
        out = tmp_path / f"out-{policy}-{bool(key)}"
        out.write_text("")
        env = {**os.environ, "FROM_FORK": "true", "OPENAI_API_KEY": key, "FORK_POLICY": policy,
               "GITHUB_OUTPUT": str(out)}
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env, capture_output=True, text=True,
                              check=False)
        return done.returncode, done.stdout, out.read_text()

    code, printed, outputs = run("fail", "")
    assert code == 1 and "::error" in printed and "run=true" not in outputs
    code, printed, outputs = run("skip", "")
    assert code == 0 and "::notice" in printed and "run=false" in outputs
    assert run("fail", "sk-from-a-secret")[2].strip() == "run=true"


def test_two_runs_in_the_same_second_get_their_own_default_folders(repo: Path, capsys) -> None:
    first = run_cli(capsys, "run", "suites/top.yaml")
    second = run_cli(capsys, "run", "suites/top.yaml")
    assert first.code == 0 and second.code == 0, second.text
    assert len([p for p in (repo / ".agent-eval" / "runs").iterdir() if p.is_dir()]) == 2


def test_a_zero_budget_refuses_calls_but_not_a_fully_cached_rerun(repo: Path, capsys, loopback_server,
                                                                   monkeypatch) -> None:
    from tests.test_cli_faults import make_suite

    monkeypatch.setenv("LOOP_KEY", "sk-loop")
    suite = make_suite(repo / "loop", loopback_server, cases=2, k=2)
    refused = run_cli(capsys, "run", suite, "--out", "refused", "--budget-usd", "0")
    assert refused.code == 3 and loopback_server.total == 0, refused.text  # nothing cached yet: nothing spent
    assert run_cli(capsys, "run", suite, "--out", "first").code == 0
    sent = loopback_server.total
    again = run_cli(capsys, "run", suite, "--out", "again", "--budget-usd", "0")
    assert again.code == 0, again.text  # every answer from the cache: it costs nothing
    assert loopback_server.total == sent
