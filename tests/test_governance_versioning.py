"""Versioned execution context: the behaviour hash, and `validate --against REF` on a real git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from clitools import run_cli, write

CONFIG = """\
schema_version: 1
name: bot
version: {version}
author: {author}
rationale: {rationale}
model:
  provider: {provider}
  name: {model}
  params: {{temperature: 0{params}}}
prompt:
  system: {system}
  user: "{{{{ input }}}}"
tools:
  - type: function
    function:
      name: lookup
      description: {tool_description}
      parameters: {{type: object, properties: {{order: {{type: {order_type}}}}}}}
      implementation: tools_impl:lookup
"""

DEFAULTS = {"version": "1.0.0", "author": "jane@example.com", "rationale": "First version.", "provider": "mock",
            "model": "mock-bot-2025-01-01", "params": "", "system": "You are terse.",
            "tool_description": "Find an order.", "order_type": "string"}


def _config(**changes: str) -> str:
    return CONFIG.format(**{**DEFAULTS, **changes})


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository on `main` with one committed config and its tool implementation."""
    monkeypatch.chdir(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path / "configs" / "bot.yaml", _config())
    write(tmp_path / "configs" / "tools_impl.py", "def lookup(order):\n    return {'order': order}\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    return tmp_path


def _validate(capsys: pytest.CaptureFixture[str], *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(capsys, "validate", "configs", "--against", *(extra or ("main",)))


def test_an_unchanged_config_passes_and_the_default_ref_is_the_merge_base(repo: Path, capsys) -> None:
    result = _validate(capsys, "auto")
    assert result.code == 0, result.text
    assert "0 of 1 config(s) changed" in result.out


def test_same_version_with_a_changed_prompt_is_an_immutability_error(repo: Path, capsys) -> None:
    write(repo / "configs" / "bot.yaml", _config(system="You are verbose."))
    result = _validate(capsys)
    assert result.code == 2
    assert "[immutable]" in result.err and "prompt.system changed" in result.err


def test_a_prompt_change_needs_at_least_a_patch(repo: Path, capsys) -> None:
    write(repo / "configs" / "bot.yaml", _config(system="You are verbose.", version="1.0.1",
                                                 rationale="Longer answers."))
    result = _validate(capsys)
    assert result.code == 0, result.text
    assert "1.0.0 -> 1.0.1" in result.out


@pytest.mark.parametrize("change", [
    {"model": "mock-bot-2025-06-01"},
    {"params": ", response_format: {type: json_object}"},
    {"order_type": "integer"},
])
def test_model_response_format_or_tool_schema_changes_need_a_major_bump(repo: Path, capsys, change) -> None:
    write(repo / "configs" / "bot.yaml", _config(version="1.1.0", rationale="Changed.", **change))
    minor = _validate(capsys)
    assert minor.code == 2
    assert "[bump]" in minor.err and "needs a major version bump" in minor.err
    write(repo / "configs" / "bot.yaml", _config(version="2.0.0", rationale="Changed.", **change))
    assert _validate(capsys).code == 0


def test_a_change_needs_author_and_rationale(repo: Path, capsys) -> None:
    write(repo / "configs" / "bot.yaml", _config(version="1.0.1", system="New.", author="''", rationale="''"))
    result = _validate(capsys)
    assert result.code == 2
    assert "[author]" in result.err and "[rationale]" in result.err


def test_author_rationale_comments_and_key_order_do_not_change_the_hash(repo: Path, capsys) -> None:
    text = _config(author="sam@example.com", rationale="Only words.")
    lines = text.splitlines()
    reordered = "# a comment\n" + "\n".join(lines[5:] + lines[:5]) + "\n"  # labels moved to the end
    write(repo / "configs" / "bot.yaml", reordered)
    result = _validate(capsys)
    assert result.code == 0, result.text
    assert "0 of 1 config(s) changed" in result.out


def test_a_changed_tool_implementation_changes_the_hash(repo: Path, capsys) -> None:
    write(repo / "configs" / "tools_impl.py", "def lookup(order):\n    return {'order': order, 'v': 2}\n")
    result = _validate(capsys)
    assert result.code == 2
    assert "the source of tools_impl:lookup changed" in result.err
    write(repo / "configs" / "bot.yaml", _config(version="1.0.1", rationale="Lookup returns v."))
    assert _validate(capsys).code == 0


def test_a_version_going_down_is_an_error(repo: Path, capsys) -> None:
    write(repo / "configs" / "bot.yaml", _config(version="0.9.0", rationale="Older."))
    result = _validate(capsys)
    assert result.code == 2 and "[downgrade]" in result.err


def test_an_unknown_ref_is_a_usage_error(repo: Path, capsys) -> None:
    result = _validate(capsys, "no-such-branch")
    assert result.code == 2 and "not a commit" in result.err


def test_strict_aliases_turns_the_alias_warning_into_an_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "c.yaml", _config(provider="openai", model="gpt-4o-latest"))
    warned = run_cli(capsys, "validate", "c.yaml")
    assert warned.code == 0 and "warning:" in warned.err and "alias" in warned.err
    strict = run_cli(capsys, "validate", "c.yaml", "--strict-aliases")
    assert strict.code == 2 and "error:" in strict.err and "gpt-4o-latest" in strict.err
    pinned = run_cli(capsys, "validate", "c.yaml", "--strict-aliases")
    write(tmp_path / "c.yaml", _config(provider="openai", model="gpt-4o-2024-11-20"))
    pinned = run_cli(capsys, "validate", "c.yaml", "--strict-aliases")
    assert pinned.code == 0, pinned.text


def test_the_run_records_the_module_sources_and_an_opaque_agent_warns(workdir: Path, capsys) -> None:
    from agent_eval.suite.confighash import behaviour_hash

    found = behaviour_hash({"agent": {"http": {"url": "http://127.0.0.1:1/chat"}}}, workdir)
    assert found.opaque and "opaque" in found.warnings[0]
    pinned = behaviour_hash({"agent": {"http": {"url": "http://127.0.0.1:1/chat"}, "version": "2.3.1"}}, workdir)
    assert not pinned.opaque and pinned.hash != found.hash


def test_a_patch_bump_that_moved_the_score_warns_and_strict_versioning_exits_2(workdir: Path, capsys) -> None:
    regressed = "suites/configs/support-regressed.yaml"
    run = run_cli(capsys, "run", "suites/support-bot.yaml", "--config", regressed, "--out", "reg")
    assert run.code == 1
    assert "behaviour changed" in run.text and "patch bump 1.4.0 -> 1.4.1" in run.text
    assert "should have been a minor or major version" in run.text
    strict = run_cli(capsys, "compare", "golden/baselines/support-bot.json", "reg", "--strict-versioning")
    assert strict.code == 2 and "--strict-versioning" in strict.text
    same = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "same", "--strict-versioning")
    assert same.code == 0 and "behaviour changed" not in same.text


def test_the_versioning_rule_is_two_sided_and_ignores_major_bumps() -> None:
    from scipy.stats import ttest_rel

    from agent_eval.baseline.versioning import moved_p, version_change_warning

    rose = version_change_warning("1.0.0", "1.1.0", p_moved=0.002, change=0.08)
    assert rose is not None and "rose 8.0%" in rose and "should have been a major version" in rose
    assert version_change_warning("1.0.0", "2.0.0", p_moved=0.001, change=-0.2) is None
    assert version_change_warning("1.0.0", "1.0.1", p_moved=0.2, change=-0.2) is None
    assert version_change_warning("1.0.0", "1.0.0", p_moved=0.001, change=-0.2) is None
    pairs = [(0.9, 0.7), (0.8, 0.75), (1.0, 0.6), (0.7, 0.72), (0.95, 0.5)]
    base, cand = zip(*pairs, strict=True)
    assert moved_p(pairs) == pytest.approx(ttest_rel(cand, base).pvalue)  # two-sided, either direction
    assert moved_p([(c, b) for b, c in pairs]) == pytest.approx(moved_p(pairs))


def test_the_suite_hash_covers_the_code_of_its_python_checks(tmp_path: Path, capsys, monkeypatch) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.yaml", _config())
    write(tmp_path / "mychecks.py", "def ok(output, case, run):\n    return True\n")
    write(tmp_path / "tools_impl.py", "def lookup(order):\n    return order\n")
    write(tmp_path / "suite.yaml", "suite: s\nconfig: config.yaml\ncases:\n"
          "  - {id: a, input: hi, checks: [{python: 'mychecks:ok'}]}\n")
    assert run_cli(capsys, "run", "suite.yaml", "--out", "one").code == 0
    write(tmp_path / "mychecks.py", "def ok(output, case, run):\n    return len(output) > 0\n")
    assert run_cli(capsys, "run", "suite.yaml", "--out", "two").code == 0
    one, two = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two"))
    assert one["suite"]["hash"] != two["suite"]["hash"]
    assert list(one["config"]["sources"]) == ["tools_impl:lookup"]  # the tool implementation beside the config


def test_with_nothing_published_yet_the_default_ref_skips(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "trunk")
    write(tmp_path / "configs" / "bot.yaml", _config())
    result = _validate(capsys, "auto")
    assert result.code == 0 and "nothing published yet" in result.out
    assert _validate(capsys, "main").code == 2  # an explicit ref must exist


def test_adding_a_tool_needs_a_minor_bump(repo: Path, capsys) -> None:
    extra = ("  - {name: refund, description: Refund an order., parameters: {type: object}, "
             "implementation: tools_impl:lookup}\n")
    write(repo / "configs" / "bot.yaml", _config(version="1.0.1", rationale="Refunds.") + extra)
    patch = _validate(capsys)
    assert patch.code == 2 and "tool 'refund' was added: that needs a minor version bump" in patch.err
    write(repo / "configs" / "bot.yaml", _config(version="1.1.0", rationale="Refunds.") + extra)
    assert _validate(capsys).code == 0


def test_the_scaffolded_versioning_hook_stops_an_unversioned_change_under_pre_commit(tmp_path: Path) -> None:
    import os
    import shutil
    import sys

    from agent_eval.scaffold import write_scaffold

    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit not found (`pip install pre-commit`): the versioning hook is not run")
    write_scaffold(tmp_path, action="acme/agent-eval@v9")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / ".pre-commit-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)

    sh("git", "init", "-q", "-b", "main")
    sh("git", "add", ".")
    sh("git", "commit", "-q", "--no-verify", "-m", "init")
    sh("git", "checkout", "-q", "-b", "change")
    good = tmp_path / "suites/configs/shop-good.yaml"
    good.write_text(good.read_text().replace("Answer briefly.", "Answer at length."))
    sh("git", "add", "suites/configs/shop-good.yaml")
    stopped = sh(pre_commit, "run", "agent-eval-versioning")
    assert stopped.returncode != 0, stopped.stdout
    assert "[immutable]" in stopped.stdout and "prompt.system changed" in stopped.stdout
    good.write_text(good.read_text().replace("version: 1.0.0", "version: 1.0.1")
                    .replace("rationale: First version.", "rationale: Longer answers."))
    sh("git", "add", "suites/configs/shop-good.yaml")
    passed = sh(pre_commit, "run", "agent-eval-versioning")
    assert passed.returncode == 0, passed.stdout


HTTP_AGENT = """\
schema_version: 1
name: remote
version: 1.0.0
author: jane@example.com
rationale: The deployed agent.
agent:
  http: {url: "http://127.0.0.1:9/chat"}
"""

PYTHON_AGENT = """\
schema_version: 1
name: local
version: 1.0.0
author: jane@example.com
rationale: Our own agent.
model: {provider: mock, name: mock-agent-2025-01-01}
agent:
  python: "my_agent:run"
"""


def test_http_agents_are_opaque_unless_versioned_and_python_agents_hash_their_source(repo: Path, capsys) -> None:
    write(repo / "configs" / "remote.yaml", HTTP_AGENT)
    opaque = run_cli(capsys, "validate", "configs/remote.yaml")
    assert opaque.code == 0 and "the http agent is opaque" in opaque.err
    write(repo / "configs" / "remote.yaml", HTTP_AGENT.replace("agent:\n", "agent:\n  version: 2025.12.1\n"))
    pinned = run_cli(capsys, "validate", "configs/remote.yaml")
    assert pinned.code == 0 and "opaque" not in pinned.err
    write(repo / "configs" / "local.yaml", PYTHON_AGENT)
    write(repo / "configs" / "my_agent.py", "def run(agent_input, context):\n    return 'hi'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "agents")
    write(repo / "configs" / "my_agent.py", "def run(agent_input, context):\n    return 'hello'\n")
    changed = _validate(capsys, "HEAD")
    assert changed.code == 2 and "the source of my_agent:run changed" in changed.err
    write(repo / "configs" / "remote.yaml", HTTP_AGENT.replace("agent:\n", "agent:\n  version: 2025.12.2\n"))
    redeployed = _validate(capsys, "HEAD")
    assert "configs/remote.yaml: [immutable]" in redeployed.err and "agent changed" in redeployed.err
