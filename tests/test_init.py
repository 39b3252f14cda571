"""`agent-eval init`: the scaffold runs offline at once, PASS on its baseline, FAIL on the regressed config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from clitools import results, run_cli

SUITE = "suites/shop-assistant.yaml"
REGRESSED = "suites/configs/shop-regressed.yaml"
EXPECTED = [
    "suites/shop-assistant.yaml",
    "suites/configs/shop-good.yaml",
    "suites/configs/shop-regressed.yaml",
    "golden/shop-assistant-cases.yaml",
    "golden/baselines/shop-assistant.json",
    ".pre-commit-config.yaml",
    ".agent-eval/.gitignore",
]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_provider_env: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_writes_the_scaffold_and_prints_what_to_try(repo: Path, capsys) -> None:
    r = run_cli(capsys, "init")
    assert r.code == 0, r.text
    for rel in EXPECTED:
        assert (repo / rel).is_file(), rel
        assert rel in r.out
    assert f"agent-eval run {SUITE}" in r.out and REGRESSED in r.out and "pre-commit install" in r.out
    for rel in EXPECTED:
        assert not re.search(r"__[A-Z]+__", (repo / rel).read_text()), f"placeholder left in {rel}"
    # this agent-eval is an editable install of a checkout with no GitHub remote: nothing to pin a workflow to
    assert not (repo / ".github").exists()
    assert "no .github/workflows/agent-eval.yml written" in r.out and "--action OWNER/REPO@REF" in r.out
    hook = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"][0]
    assert hook["id"] == "agent-eval" and hook["entry"] == "python -m agent_eval.ci.precommit"
    assert (repo / ".agent-eval/.gitignore").read_text().splitlines()[-1] == "*"


def test_the_shipped_baseline_matches_a_fresh_run_of_the_example(repo: Path, capsys) -> None:
    assert run_cli(capsys, "init").code == 0
    r = run_cli(capsys, "run", SUITE, "--out", "out", "--format", "json")
    assert r.code == 0, r.text
    verdict = json.loads(r.out)["suites"][0]
    assert verdict["outcome"] == "PASS" and verdict["baseline"], verdict
    stale = ("agent_eval/scaffold/baseline.json is stale; regenerate it as its package docstring says "
             "(agent_eval/scaffold/__init__.py)")
    assert verdict["warnings"] == [], stale
    baseline = json.loads((repo / "golden/baselines/shop-assistant.json").read_text())
    shipped = {c["id"]: [run["output"] for run in c["runs"]] for c in baseline["cases"]}
    run = results(repo / "out")
    fresh = {c["id"]: [r["output"] for r in c["runs"]] for c in run["cases"]}
    assert fresh == {case: outputs[:3] for case, outputs in shipped.items()}, stale  # the first k of 2k runs
    provenance = baseline["provenance"]
    assert (provenance["suite_hash"], provenance["config_hash"]) == (run["suite"]["hash"], run["config"]["hash"]), stale
    assert 6 <= len(fresh) <= 8 and all(len(outputs) == 3 for outputs in fresh.values())
    assert all(len(outputs) == 6 for outputs in shipped.values())  # gate.baseline_repeat: 2x k


def test_the_regressed_config_fails_the_gate(repo: Path, capsys) -> None:
    assert run_cli(capsys, "init").code == 0
    r = run_cli(capsys, "run", SUITE, "--config", REGRESSED, "--out", "out", "--format", "json")
    assert r.code == 1, r.text
    verdict = json.loads(r.out)["suites"][0]
    assert verdict["outcome"] == "FAIL" and "score dropped" in verdict["rule"]
    assert "order-json" in verdict["regressed"]


def test_a_second_init_writes_nothing_and_exits_2(repo: Path, capsys) -> None:
    assert run_cli(capsys, "init").code == 0
    (repo / "suites/shop-assistant.yaml").write_text("suite: mine\n")
    before = _snapshot(repo)
    r = run_cli(capsys, "init")
    assert r.code == 2
    assert "suites/shop-assistant.yaml" in r.err and "--force" in r.err
    assert _snapshot(repo) == before


def test_one_existing_file_stops_init_before_anything_is_written(repo: Path, capsys) -> None:
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    r = run_cli(capsys, "init", ".")
    assert r.code == 2 and ".pre-commit-config.yaml" in r.err
    assert sorted(p.name for p in repo.iterdir()) == [".pre-commit-config.yaml"]
    assert (repo / ".pre-commit-config.yaml").read_text() == "repos: []\n"


def test_force_overwrites(repo: Path, capsys) -> None:
    assert run_cli(capsys, "init").code == 0
    original = (repo / SUITE).read_text()
    (repo / SUITE).write_text("suite: mine\n")
    r = run_cli(capsys, "init", "--force")
    assert r.code == 0, r.text
    assert (repo / SUITE).read_text() == original


def test_init_into_a_folder_with_another_action(repo: Path, capsys) -> None:
    r = run_cli(capsys, "init", "sub/dir", "--action", "acme/agent-eval@v2")
    assert r.code == 0, r.text
    assert "cd sub/dir" in r.out
    workflow = (repo / "sub/dir/.github/workflows/agent-eval.yml").read_text()
    assert "uses: acme/agent-eval@v2" in workflow
    assert "git+https://github.com/acme/agent-eval@v2" in workflow
    assert "no .github/workflows" not in r.out and "gates it" in r.out
    assert run_cli(capsys, "init", "other", "--action", "not-a-ref").code == 2
    assert not (repo / "other").exists()


def test_the_workflow_pins_the_github_source_this_agent_eval_was_installed_from(tmp_path: Path) -> None:
    import subprocess

    from agent_eval.scaffold.source import action_from_direct_url, github_repo

    commit = "0123456789abcdef0123456789abcdef01234567"
    git_install = {"url": "https://github.com/acme/agent-eval.git", "vcs_info": {"vcs": "git", "commit_id": commit}}
    assert action_from_direct_url(git_install) == f"acme/agent-eval@{commit}"
    assert action_from_direct_url({"url": "https://example.com/agent_eval_gate-0.1.0.tar.gz",
                                   "archive_info": {}}) is None
    assert github_repo("git@github.com:acme/agent-eval.git") == "acme/agent-eval"
    # a local checkout: pinned only when its HEAD is on a branch of its GitHub remote (a CI runner can fetch it)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": __import__("os").environ["PATH"]}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True,
                              env=env).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "one")
    git("remote", "add", "origin", "https://github.com/acme/agent-eval.git")
    local = {"url": checkout.as_uri(), "dir_info": {"editable": True}}
    assert action_from_direct_url(local) is None  # not pushed
    head = git("rev-parse", "HEAD")
    git("update-ref", "refs/remotes/origin/main", head)
    assert action_from_direct_url(local) == f"acme/agent-eval@{head}"
