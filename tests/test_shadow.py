"""`agent-eval shadow` on the shipped production log: the candidate (on the loopback server, through the real
OpenAI SDK) against the production replies recorded in the log, per channel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from clitools import results, run_cli, write
from loopback import LoopbackServer
from loopback_wire import last_user_text

LOG = "suites/logs/production-chat.jsonl"


def _answer(body: dict[str, Any]) -> str:
    """The judge names the GOOD answer, or the one that is not BAD; the candidate is GOOD on web questions."""
    text = last_user_text(body)
    if "<<<CANDIDATE A>>>" in text:
        first = re.search(r"<<<CANDIDATE A>>>(.*?)<<<END CANDIDATE A>>>", text, re.DOTALL).group(1)  # type: ignore[union-attr]
        winner = "A" if "GOOD" in first else "B" if "BAD" in first else "A" if "BAD" in text else "B"
        return json.dumps({"reasoning": "compared", "winner": winner})
    asked = " ".join(m["content"] if isinstance(m["content"], str) else "" for m in body["messages"])
    return "GOOD reply" if re.search(r"refund|GBP|billing address", asked) else "BAD reply"


@pytest.fixture
def env(workdir: Path, monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer) -> Path:
    monkeypatch.setenv("LOOP_KEY", "sk-test-shadow")
    loopback_server.configure(responder=_answer)
    model = (f"  provider: openai\n  name: loopback-model-2025-01-01\n  base_url: {loopback_server.openai_base_url}\n"
             "  api_key_env: LOOP_KEY\n")
    write(workdir / "cand.yaml", f"name: cand\nversion: 2.0.0\nmodel:\n{model}prompt: {{system: Be brief., user: \"{{{{{{{{ input }}}}}}}}\"}}\n")
    write(workdir / "shadow.yaml", f"suite: prod\njudge:\n{model}defaults:\n  checks: [{{contains: reply}}]\n"
          "  rubrics: [{name: better, criteria: The more useful reply., head_to_head: true}]\n"
          "cases: [{id: unused, input: unused}]\n")
    return workdir


def test_shadow_replays_production_and_reports_win_tie_loss_per_channel(env: Path, capsys,
                                                                         loopback_server: LoopbackServer) -> None:
    r = run_cli(capsys, "shadow", LOG, "--config", "cand.yaml", "--suite", "shadow.yaml",
                "--stratify", "metadata.channel", "--out", "sh", "--no-cache")
    assert r.code == 0, r.text  # 3 wins and 3 losses: no significant loss overall
    data = json.loads((env / "sh/shadow.json").read_text())
    groups = {g["group"]: g for g in data["groups"]}
    assert groups["web"]["wins"] == 3 and groups["web"]["losses"] == 0
    assert all(groups[c]["losses"] == 1 for c in ("email", "phone", "chat"))
    assert data["overall"]["cases"] == 6 and data["position_bias"]["inconsistent_pairs"] == 0
    assert data["kind"] == "shadow" and data["grouped_by"] == "metadata.channel"
    judge_calls = [q for q in loopback_server.requests.snapshot() if b"CANDIDATE A" in q.body]
    assert len(judge_calls) == 12  # six conversations (one duplicate merged, one without a reply left out) x 2
    runs = results(env / "sh")
    assert all(run["checks"][0]["passed"] for c in runs["cases"] for run in c["runs"])  # the suite's checks ran
    html = (env / "sh/shadow.html").read_text()
    assert "Where the candidate lost (3)" in html and "invoice to jane.doe" in html
    assert "metadata.channel web" in r.out and "loses on" not in r.out.split("web")[0]


def test_replaying_the_same_log_samples_the_same_conversations_as_import(env: Path, capsys) -> None:
    ids = []
    for out in ("a", "b"):
        assert run_cli(capsys, "shadow", LOG, "--config", "cand.yaml", "--suite", "shadow.yaml", "--sample", "0.5",
                       "--out", out).code in (0, 1)
        ids.append(sorted(c["id"] for c in results(env / out)["cases"]))
    assert ids[0] == ids[1] and 0 < len(ids[0]) < 6
    assert run_cli(capsys, "import", LOG, "--to", "golden/s.jsonl", "--sample", "0.5").code == 0
    imported = {json.loads(line)["id"] for line in (env / "golden/s.jsonl").read_text().splitlines()}
    assert set(ids[0]) <= imported  # the same hash decides; import also keeps conversations without a reply
    two = run_cli(capsys, "shadow", LOG, "--config", "cand.yaml", "--suite", "shadow.yaml", "--sample", "2",
                  "--out", "c", "--redact")
    assert two.code in (0, 1) and len(results(env / "c")["cases"]) == 2
    for name in ("shadow.json", "shadow.html", "results.json", "runs.jsonl"):  # customer text masked everywhere
        text = (env / "c" / name).read_text()
        assert "[redacted]" in text and not any(w in text for w in ("8812", "GBP", "jane.doe", "late fee", "billing"))


def test_shadow_refuses_logs_without_replies_and_a_missing_config(env: Path, capsys) -> None:
    write(env / "empty.jsonl", json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    r = run_cli(capsys, "shadow", "empty.jsonl", "--config", "cand.yaml")
    assert r.code == 2 and "no conversation with a production reply" in r.err
    assert run_cli(capsys, "shadow", LOG, "--config", "nope.yaml").code == 2
    schema = run_cli(capsys, "schema", "head-to-head")
    assert '"shadow' in schema.out
