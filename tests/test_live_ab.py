"""Several configs with --gate-against: the arms run in step (checked from the loopback server's request log),
and a provider that got worse since the stored baseline is caught as drift while the live comparison absorbs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import run_cli, write
from loopback import LoopbackServer
from loopback_wire import last_user_text


def _configs(folder: Path, server: LoopbackServer) -> None:
    for name, limit in (("fast", 8), ("slow", 1)):
        write(folder / f"{name}.yaml", f"""\
name: {name}
version: 1.0.0
model:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {server.openai_base_url}
  api_key_env: LOOP_KEY
  limits: {{max_concurrency: {limit}}}
prompt:
  system: You are the {name} arm.
  user: "{{{{ input }}}}"
""")
    cases = "".join(f"  - id: c{i}\n    input: question {i}\n" for i in range(10))
    write(folder / "suite.yaml", f"suite: ab\nconfig: fast.yaml\nrepeat: 2\ngate: {{baseline_repeat: 2}}\n"
          f"defaults:\n  checks: [{{contains: good}}]\ncases:\n{cases}")


def _arm(body: dict[str, Any]) -> str:
    return "slow" if "slow arm" in json.dumps(body) else "fast"


@pytest.fixture
def ab(workdir: Path, monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer) -> Path:
    monkeypatch.setenv("LOOP_KEY", "sk-test-ab")
    loopback_server.configure(responder=lambda body: "good answer", latency_ms=15)
    _configs(workdir / "ab", loopback_server)
    return workdir / "ab"


def test_the_arms_run_in_step_even_when_one_is_slower(ab: Path, capsys, loopback_server: LoopbackServer) -> None:
    r = run_cli(capsys, "run", ab / "suite.yaml", "--config", ab / "fast.yaml", "--config", ab / "slow.yaml",
                "--gate-against", ab / "fast.yaml", "--out", "both", "--no-cache")
    assert r.code == 0, r.text
    arms = [_arm(q.json) for q in loopback_server.requests.snapshot()]
    assert arms.count("fast") == arms.count("slow") == 20
    lead = max(arms[:i].count("fast") - arms[:i].count("slow") for i in range(1, len(arms) + 1))
    # the fast arm (8 in flight) never runs ahead of the slow one (1 in flight) by more than a step or two;
    # unpaced it would send all of its 20 requests before the slow arm's fourth
    assert lead <= 3, arms


def test_provider_drift_is_caught_against_the_stored_baseline_and_absorbed_live(
        ab: Path, capsys, loopback_server: LoopbackServer) -> None:
    assert run_cli(capsys, "run", ab / "suite.yaml", "--save-baseline", "--out", "base", "--no-cache").code == 0

    def worse(body: dict[str, Any]) -> str:  # the provider degrades: half the questions now fail
        return "bad answer" if int(last_user_text(body).split()[-1]) % 2 else "good answer"

    loopback_server.configure(responder=worse)
    r = run_cli(capsys, "run", ab / "suite.yaml", "--config", ab / "fast.yaml", "--config", ab / "slow.yaml",
                "--gate-against", ab / "fast.yaml", "--out", "live", "--no-cache")
    assert r.code == 0, r.text  # the live comparison: both arms degraded alike
    assert "provider drift" in r.out and "scores 0.500 against the stored baseline's 1.000" in r.out
    stored = r.out[r.out.index("against the stored baseline"):]
    assert "slow-" in stored and "FAIL" in stored  # the stored-baseline gate sees the drop
