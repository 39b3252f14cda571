"""Head-to-head rubrics through the CLI, on the loopback server: a judge with a deliberate position bias."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from clitools import run_cli, write
from loopback import LoopbackServer
from loopback_wire import last_user_text

SECRET = "sk-test-SECRET-h2h"
TAGS = ("better", "worse", "same")


def _answer(body: dict[str, Any]) -> str:
    """The judge prefers GOOD over BAD and otherwise names answer A (position bias); the agents answer by tag."""
    text = last_user_text(body)
    if "<<<CANDIDATE A>>>" in text:
        first = re.search(r"<<<CANDIDATE A>>>(.*?)<<<END CANDIDATE A>>>", text, re.DOTALL).group(1)  # type: ignore[union-attr]
        second = re.search(r"<<<CANDIDATE B>>>(.*?)<<<END CANDIDATE B>>>", text, re.DOTALL).group(1)  # type: ignore[union-attr]
        winner = "B" if "GOOD" in second and "BAD" in first else "A"
        return json.dumps({"reasoning": "compared", "winner": winner})
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    candidate = "candidate" in system
    if text.startswith("better"):
        return "GOOD answer" if candidate else "BAD answer"
    if text.startswith("worse"):
        return "BAD answer" if candidate else "GOOD answer"
    return "SAME answer"


def _config(folder: Path, name: str, server: LoopbackServer) -> Path:
    return write(folder / f"{name}.yaml", f"""\
name: {name}
version: 1.0.0
model:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {server.openai_base_url}
  api_key_env: LOOP_KEY
  params: {{temperature: 0}}
prompt:
  system: You are the {name}.
  user: "{{{{ input }}}}"
""")


@pytest.fixture
def h2h(workdir: Path, monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer) -> Path:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    loopback_server.configure(responder=_answer)
    _config(workdir / "h", "baseline", loopback_server)
    _config(workdir / "h", "candidate", loopback_server)
    cases = "".join(f"  - id: {tag}-{i}\n    tags: [{tag}]\n    input: {tag} question {i}\n"
                    for tag in TAGS for i in range(5))
    write(workdir / "h/suite.yaml", f"""\
suite: h2h
config: baseline.yaml
repeat: 2
gate: {{baseline_repeat: 2}}
judge:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {loopback_server.openai_base_url}
  api_key_env: LOOP_KEY
defaults:
  checks: [{{contains: answer}}]
  rubrics: [{{name: preferred, criteria: The more helpful answer., head_to_head: true}}]
cases:
{cases}""")
    return workdir / "h"


def test_head_to_head_wins_loses_and_reports_the_judges_position_bias(h2h: Path, capsys,
                                                                       loopback_server: LoopbackServer) -> None:
    saved = run_cli(capsys, "run", h2h / "suite.yaml", "--save-baseline", "--out", "base", "--no-cache")
    assert saved.code == 0, saved.text
    assert "need a baseline" in saved.text  # nothing to compare with yet
    baseline = json.loads((h2h.parent / "golden/baselines/h2h.json").read_text())
    assert baseline["schema_version"] == 3 and baseline["outputs_for_head_to_head"] is True
    before = len(loopback_server.requests)
    result = run_cli(capsys, "run", h2h / "suite.yaml", "--config", h2h / "candidate.yaml", "--out", "cand",
                     "--no-cache", "--format", "json")
    assert result.code == 0, result.text
    judge_calls = [r for r in loopback_server.requests.snapshot()[before:] if "CANDIDATE A" in r.body.decode()]
    assert len(judge_calls) == 2 * 15 * 2  # every pair, in both orders
    data = json.loads((Path("cand") / "head_to_head.json").read_text())
    groups = {g["group"]: g for g in data["groups"]}
    assert groups["better"]["wins"] == 10 and groups["better"]["direction"] == "better"
    assert groups["worse"]["losses"] == 10 and groups["worse"]["direction"] == "worse"
    assert groups["same"]["ties"] == 10 and groups["same"]["direction"] == "no significant difference"
    # the biased judge named answer A in both orders of every "same" pair: those flip and count as ties
    assert data["position_bias"]["inconsistent_pairs"] == 10
    assert data["position_bias"]["first_rate"] == pytest.approx(40 / 60)
    assert data["overall"]["win_rate"] == pytest.approx(0.5)
    verdict = json.loads(result.out[result.out.index("{"):])
    assert verdict["suites"][0]["head_to_head"]["overall"]["wins"] == 10
    html = (Path("cand") / "head_to_head.html").read_text()
    assert "Where the candidate lost (10)" in html and "worse-0" in html


def test_a_redacted_or_older_baseline_is_refused_for_head_to_head(h2h: Path, capsys) -> None:
    assert run_cli(capsys, "run", h2h / "suite.yaml", "--save-baseline", "--out", "base", "--no-cache").code == 0
    path = h2h.parent / "golden/baselines/h2h.json"
    data = json.loads(path.read_text())
    older = {k: v for k, v in data.items() if k != "outputs_for_head_to_head"} | {"schema_version": 2}
    path.write_text(json.dumps(older))
    result = run_cli(capsys, "run", h2h / "suite.yaml", "--config", h2h / "candidate.yaml", "--out", "c1")
    assert result.code == 2 and "older than baseline schema 3" in result.err
    assert len(result.err.strip().splitlines()) == 1
    data["cases"][0]["runs"][0]["output"] = "[redacted]"
    data["outputs_for_head_to_head"] = False
    path.write_text(json.dumps(data))
    result = run_cli(capsys, "run", h2h / "suite.yaml", "--config", h2h / "candidate.yaml", "--out", "c2")
    assert result.code == 2 and "redacted" in result.err


def test_the_head_to_head_file_has_a_json_schema(capsys) -> None:
    result = run_cli(capsys, "schema", "head-to-head")
    assert result.code == 0 and "win_rate" in json.loads(result.out)["$defs"]["WinRateEntry"]["properties"]
