"""Agents that report no usage have unknown cost: the progress line, the console table, summary.md and the
HTML report say "unknown" (no run's cost known) or "≥ $X (N runs' cost unknown)" (some), never `$0.0000`."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import run_cli, write

AGENT = '''
async def agent(inp, ctx):
    if inp.case_id.startswith("priced"):
        reply = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages)
        return reply.choices[0].message.content
    return "hello from an agent that reports no usage"
'''


def _suite(tmp: Path, ids: list[str]) -> Path:
    write(tmp / "usage_agents.py", AGENT)
    write(tmp / "config.yaml", """schema_version: 1
name: cfg
version: 1.0.0
agent: {python: "usage_agents:agent"}
model: {provider: mock, name: m, mock: {rules: [{match: ".", answers: [{text: "hello, priced"}]}]}}
pricing: {m: {input: 1000.0, output: 1000.0}}
""")
    cases = "".join(f"  - {{id: {i}, input: hi, checks: [{{contains: hello}}]}}\n" for i in ids)
    return write(tmp / "suite.yaml", f"schema_version: 1\nsuite: costs\nconfig: config.yaml\ncases:\n{cases}")


def _reports(out: Path) -> tuple[str, str]:
    return (out / "summary.md").read_text(), (out / "report.html").read_text()


def test_no_runs_cost_known_is_unknown_never_zero(tmp_path: Path, capsys) -> None:
    suite = _suite(tmp_path, ["a", "b"])
    r = run_cli(capsys, "run", suite, "--out", tmp_path / "out", "--no-cache")
    assert r.code == 0, r.text
    summary = json.loads((tmp_path / "out/results.json").read_text())["summary"]
    assert summary["cost_unknown_runs"] == 2 and summary["cost_usd"] == 0.0
    assert "$0.0000" not in r.text
    assert "cost unknown" in r.text  # the progress line
    assert "unknown" in r.out.split("overall")[1].splitlines()[0]  # the console table's overall row
    markdown, html = _reports(tmp_path / "out")
    assert "$0.0000" not in markdown and "$0.0000" not in html
    assert "| Cost (total) |" in markdown and "unknown" in markdown.split("| Cost (total) |")[1].splitlines()[0]
    assert "Cost (total)" in html and "unknown" in html.split("Cost (total)")[1][:300]


def test_some_runs_cost_known_is_a_lower_bound(tmp_path: Path, capsys) -> None:
    suite = _suite(tmp_path, ["priced-a", "priced-b", "free"])
    r = run_cli(capsys, "run", suite, "--out", tmp_path / "out", "--no-cache")
    assert r.code == 0, r.text
    summary = json.loads((tmp_path / "out/results.json").read_text())["summary"]
    assert summary["cost_unknown_runs"] == 1 and summary["cost_usd"] > 0
    total = f"${summary['cost_usd']:.4f}"
    assert f"≥ {total} (1 run's cost unknown)" in r.text  # the progress line
    assert f"≥ {total}" in r.out.split("overall")[1]  # the console table
    markdown, html = _reports(tmp_path / "out")
    assert f"≥ {total} (1 run's cost unknown)" in markdown
    assert f"≥ {total} (1 run&#39;s cost unknown)" in html or f"≥ {total} (1 run's cost unknown)" in html
