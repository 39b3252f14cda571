"""Every shell example in the README runs as written (offline, in a copy of suites/ and golden/), and every YAML
example parses; a complete suite or config among them validates. Extracted from the README itself, so an example
cannot drift from the code."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from tests.clitools import REPO, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(bash|yaml)\n(.*?)```", README, re.DOTALL)
# Set-up lines (pip, pytest) are what .ci/run itself runs; synopsis lines ([optional] flags) are not commands.
COMMANDS = [line.strip() for kind, body in BLOCKS if kind == "bash" for line in body.splitlines()
            if line.strip().startswith("agent-eval ") and "[" not in line.split("#")[0]]


def _expected(comment: str) -> set[int]:
    """The exit code a command's README comment states (PASS 0, FAIL 1); otherwise it must not error (0 or 1)."""
    if re.search(r"\bFAIL\b", comment):
        return {1}
    if re.search(r"\bPASS\b", comment):
        return {0}
    return {0, 1}


def test_the_readme_has_the_examples_this_test_runs() -> None:
    assert len(COMMANDS) >= 15 and sum(1 for kind, _ in BLOCKS if kind == "yaml") >= 15


def test_every_shell_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                             clean_provider_env) -> None:
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    shutil.copytree(REPO / "golden", tmp_path / "golden")
    configs = tmp_path / "suites" / "configs"
    # The several-configs examples name a.yaml, b.yaml and c.yaml: the good config, the regressed one, a third.
    shutil.copy(configs / "support-good.yaml", tmp_path / "a.yaml")
    shutil.copy(configs / "support-regressed.yaml", tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text((configs / "support-good.yaml").read_text().replace(
        "params: {temperature: 0", "params: {temperature: 0.2"))
    monkeypatch.chdir(tmp_path)
    failures = []
    for line in COMMANDS:
        command, _, comment = line.partition("#")
        runs = sorted((tmp_path / ".agent-eval" / "runs").glob("*")) if (tmp_path / ".agent-eval" / "runs").exists() \
            else []
        last = next((p for p in reversed(runs) if (p / "results.json").exists()), None)
        command = command.replace(".agent-eval/runs/<run>/", f"{last}/" if last else "MISSING/")
        args = shlex.split(command)[1:]
        r = run_cli(capsys, *args)
        if r.code not in _expected(comment):
            failures.append(f"{line}\n  exit {r.code}, expected {sorted(_expected(comment))}\n  {r.err[-400:]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("index", [i for i, (kind, _) in enumerate(BLOCKS) if kind == "yaml"])
def test_every_yaml_example_parses(index: int, tmp_path: Path, capsys) -> None:
    body = BLOCKS[index][1]
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        pytest.fail(f"README YAML example {index} does not parse: {exc}\n{body}")
    if isinstance(document, dict) and "suite" in document and "cases" in document:
        # a complete suite: it loads (its config and files are the README's own, so only the schema is checked)
        from agent_eval.suite.schema import SuiteFile

        SuiteFile.model_validate(document)
