"""Every shell example in the README runs as written (offline, in a copy of suites/ and golden/), and every YAML
example runs: placed into a suite or config on the offline mock provider and run, or, when it needs a provider's
key, fully loaded by `agent-eval validate`; workflow and pre-commit examples name only real inputs and hooks.
Extracted from the README itself, so an example cannot drift from the code."""

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
# One sequence per bash block: a block's commands run in order in one folder (later ones read the runs and baselines
# earlier ones wrote); blocks are independent, so they are separate tests the test workers share.
SEQUENCES = [seq for seq in ([line.strip() for line in body.splitlines()
                              if line.strip().startswith("agent-eval ") and "[" not in line.split("#")[0]]
                             for kind, body in BLOCKS if kind == "bash") if seq]
COMMANDS = [line for seq in SEQUENCES for line in seq]


def _expected(comment: str) -> set[int]:
    """The exit code a command's README comment states (PASS 0, FAIL 1); otherwise it must not error (0 or 1)."""
    if re.search(r"\bFAIL\b", comment):
        return {1}
    if re.search(r"\bPASS\b", comment):
        return {0}
    return {0, 1}


def test_the_readme_has_the_examples_this_test_runs() -> None:
    assert len(COMMANDS) >= 15 and sum(1 for kind, _ in BLOCKS if kind == "yaml") >= 15


@pytest.mark.parametrize("sequence", SEQUENCES, ids=lambda seq: " ; ".join(line.split("#")[0].strip()[11:]
                                                                          for line in seq)[:60])
def test_every_shell_example_runs_as_written(sequence: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys, clean_provider_env) -> None:
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
    for line in sequence:
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


# ---- YAML examples: each is assembled into a suite or config and run (or, when it needs a provider's key, fully
# loaded by `agent-eval validate`: configs, datasets, check names, templates). Fragments go into a minimal suite on
# the support bot's offline mock config, where the README shows them.

PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
# Files the README's fragments name but does not show; each holds what the fragment expects to read.
FIXTURES = {
    "my_checks.py": "def last_line(output, case):\n    return output.strip().splitlines()[-1]\n",
    "judge.j2": "Grade the answer {{ output }} for: {{ criteria }}. Reply with JSON {\"score\": N, \"reason\": \"...\"}.",
    "golden/tickets.jsonl": '{"id": "t1", "input": "Where is the refund for order 1?"}\n',
    "golden/extra/more.csv": "id,input\nx1,Where is the refund for order 2?\n",
    "golden/questions.csv": "id,question\nq1,Where is the refund for order 3?\n",
    "golden/chats.jsonl": '{"messages": [{"role": "user", "content": "Where is the refund for order 4?"}]}\n',
}
CONFIG = "suites/configs/support-good.yaml"
# Keys that need a provider's key or a server: such examples are loaded (validate), not run.
_NEEDS_A_PROVIDER = re.compile(r"provider: (openai|anthropic)|'provider': '(openai|anthropic)'|\bsimilar\b|"
                               r"\bmoderation\b|\bhttp\b|\bsimulated_user\b")


def _first_simulated_user() -> dict[str, object]:
    for kind, body in BLOCKS:
        document = yaml.safe_load(body) if kind == "yaml" else None
        for case in document if isinstance(document, list) else ():
            if isinstance(case, dict) and isinstance(case.get("simulated_user"), dict):
                return dict(case["simulated_user"])
    raise AssertionError("the README shows no complete simulated user")


def _fields(model: type) -> set[str]:
    return set(model.model_fields)  # type: ignore[attr-defined]


def _assemble(document: object, root: Path) -> tuple[str, Path | None]:
    """(what the example is, the suite file to load and run, or None when it is not a suite or config)."""
    from agent_eval.modelspec import MockSpec, ModelSpec
    from agent_eval.suite.schema import CaseSpec, ConfigFile, SuiteFile

    config = yaml.safe_load((root / CONFIG).read_text())
    # vars: the running example's order, and the product prompts/support.txt names
    case: dict[str, object] = {"id": "readme", "input": "Where is the refund for order 1234?",
                               "vars": {"order": 1234, "product": "Acme Cloud"}}
    # the support bot's offline mock judge, for rubrics
    judge = yaml.safe_load((root / "suites/support-bot.yaml").read_text())["judge"]
    judge["mock"]["rules"].append({"match": ".", "answers": [{"text": '{"reasoning": "any other rubric", "score": 4}'}]})
    suite: dict[str, object] = {"suite": "readme", "config": CONFIG, "repeat": 1, "judge": judge, "cases": [case]}
    if isinstance(document, list) and all(isinstance(d, dict) and "repo" in d for d in document):
        return "pre-commit", None
    if isinstance(document, dict) and {"steps", "permissions"} & set(document):
        return "workflow", None
    if isinstance(document, list) and all(isinstance(d, dict) and "id" not in d for d in document):  # checks
        case["checks"] = document
    elif isinstance(document, list):  # cases
        suite["cases"] = document
    elif isinstance(document, dict) and set(document) <= _fields(SuiteFile) and "suite" not in document:
        suite.update(document)
    elif isinstance(document, dict) and {"suite", "cases"} <= set(document):
        suite = document
    elif isinstance(document, dict) and {"name", "version", "model"} <= set(document):
        (root / "readme-config.yaml").write_text(yaml.safe_dump(document))
        suite["config"] = "readme-config.yaml"
    elif isinstance(document, dict) and set(document) <= _fields(ConfigFile) | _fields(MockSpec):
        for key, value in document.items():
            if key in _fields(MockSpec):
                config["model"]["mock"][key] = value
            else:
                config[key] = value
        (root / "readme-config.yaml").write_text(yaml.safe_dump(config))
        suite["config"] = "readme-config.yaml"
    elif isinstance(document, dict) and set(document) <= _fields(CaseSpec):
        case.update(document)
        if {"conversation", "simulated_user"} & set(document):
            del case["input"]
    else:
        raise AssertionError(f"a README YAML example this test cannot place: keys {document}")
    assert set(_fields(ModelSpec)) >= {"provider", "name"}
    inputs = ("input", "conversation", "simulated_user", "recorded")
    # a fragment's case that only adds to the README's running example (id, rubrics) takes its input and vars
    suite["cases"] = [c if any(k in c for k in inputs) else {**case, **c} for c in suite["cases"]]  # type: ignore
    for c in suite["cases"]:  # type: ignore[attr-defined]
        # "# ... persona, goal, opening, model as above": the README's first simulated user fills in the rest
        if isinstance(c.get("simulated_user"), dict):
            c["simulated_user"] = {**_first_simulated_user(), **c["simulated_user"]}
    path = root / "readme-suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return "suite", path


@pytest.mark.parametrize("index", [i for i, (kind, _) in enumerate(BLOCKS) if kind == "yaml"])
def test_every_yaml_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                 clean_provider_env) -> None:
    body = BLOCKS[index][1]
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        pytest.fail(f"README YAML example {index} does not parse: {exc}\n{body}")
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    shutil.copytree(REPO / "golden", tmp_path / "golden")
    for rel, text in FIXTURES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "checks.py").write_text(next(b for b in PYTHON_BLOCKS if b.startswith("# checks.py")))
    # the prompt, document, image and dataset files the README's examples name: the example folders' own
    for folder in ("prompt-files", "multimodal", "file-vars", "datasets"):
        source = REPO / "suites" / "examples" / folder
        for file in source.rglob("*"):
            rel = file.relative_to(source)
            if file.is_file() and not (len(rel.parts) == 1 and file.suffix == ".yaml"):
                (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file, tmp_path / rel)
    # The complete suite example names its config and dataset relative to itself.
    (tmp_path / "configs").mkdir()
    shutil.copy(tmp_path / CONFIG, tmp_path / "configs" / "support.yaml")
    (tmp_path / "../golden").resolve().mkdir(exist_ok=True)
    if isinstance(document, dict) and isinstance(document.get("cases_from"), list):
        try:
            import pyarrow  # noqa: F401
        except ImportError:  # the Parquet reader is an extra; its line is checked by test_datasets
            document["cases_from"] = [e for e in document["cases_from"] if "parquet" not in str(e)]
    monkeypatch.chdir(tmp_path)
    kind, suite = _assemble(document, tmp_path)
    if kind == "workflow":
        action = yaml.safe_load((REPO / "action.yml").read_text())
        steps = [s for s in document["steps"] if "with" in s]
        assert steps and all(set(s["with"]) <= set(action["inputs"]) for s in steps), "inputs action.yml lacks"
        return
    if kind == "pre-commit":
        hooks = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
        assert {h["id"] for repo in document for h in repo["hooks"]} <= hooks
        return
    assert suite is not None
    if "../golden/support.jsonl" in body:  # relative to the suite: the suite goes where that file is
        suite = suite.rename(tmp_path / "suites" / "readme-suite.yaml")
        (tmp_path / "suites" / "configs" / "support.yaml").write_text((tmp_path / CONFIG).read_text())
    r = run_cli(capsys, "validate", suite)
    assert r.code == 0, f"README YAML example {index} does not load:\n{r.text}\n{body}"
    assembled = suite.read_text() + (tmp_path / "readme-config.yaml").read_text() \
        if (tmp_path / "readme-config.yaml").exists() else suite.read_text()
    if _NEEDS_A_PROVIDER.search(assembled):
        return
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "-k", "1", "--new-suite", "readme")
    assert r.code in (0, 1), f"README YAML example {index} does not run (exit {r.code}):\n{r.text}\n{body}"
    assert (tmp_path / "out" / "results.json").is_file()
