"""`--workers N`: the candidate's model calls made by worker processes, pacing and results in one process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from clitools import results, run_cli
from loopback import LoopbackServer
from test_cli_faults import SECRET, make_suite

from agent_eval.modelspec import ModelSpec
from agent_eval.providers.base import CompletionRequest, RetryKind
from agent_eval.providers.registry import create_provider
from agent_eval.providers.workers import CallWorkers
from agent_eval.records import Message


async def _calls(provider_name: str, server: LoopbackServer) -> list[object]:
    """A 429 that says when, a 401 and an answer, each made by the one worker (started before the calls)."""
    base_url = server.openai_base_url if provider_name == "openai" else server.anthropic_base_url
    provider = create_provider(ModelSpec(provider=provider_name, name="m-1", base_url=base_url,
                                         api_key_env="LOOP_KEY", timeout_s=5.0), max_connections=4, workers=2)
    assert isinstance(provider, CallWorkers)
    outcomes: list[object] = []
    try:
        assert await provider.start() == 1
        server.add_faults("429:ms=300", 401)
        request = CompletionRequest(model="m-1", messages=(Message(role="user", content="hello"),),
                                    params={"max_tokens": 8})
        for _ in range(3):
            try:
                outcomes.append(await provider.complete(request))
            except Exception as exc:  # the worker's classification crossed the pipe
                outcomes.append(provider.classify(exc))
    finally:
        await provider.aclose()
    outcomes.append([worker.process.returncode for worker in provider._workers])
    return outcomes


def test_a_worker_makes_the_call_and_its_errors_keep_their_classification(
        loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    limited, fatal, completion, exits = asyncio.run(_calls("openai", loopback_server))
    assert limited.kind is RetryKind.RATE_LIMIT and limited.retry_after_s == pytest.approx(0.3)  # type: ignore[attr-defined]
    assert fatal.kind is RetryKind.FATAL and "LOOP_KEY" in fatal.message  # type: ignore[attr-defined]
    assert completion.text == "echo: hello" and completion.usage.input_tokens > 0  # type: ignore[attr-defined]
    assert exits == [0]  # the worker ended when told to
    assert loopback_server.total == 3


def test_a_run_with_workers_writes_what_a_run_without_writes(workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch,
                                                             loopback_server: LoopbackServer) -> None:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    suite = make_suite(workdir / "s", loopback_server, cases=6, k=2)
    one = run_cli(capsys, "run", suite, "--out", "one", "--no-cache")
    loopback_server.add_faults("429:ms=50", "429:ms=50", 503)
    two = run_cli(capsys, "run", suite, "--out", "two", "--no-cache", "--workers", "2", "-j", "4")
    assert one.code == 0 and two.code == 0, two.text
    assert loopback_server.total == 12 + 12 + 3  # every retry went through the one endpoint
    fields = ("case_id", "index", "status", "output", "score", "tokens")

    def runs(folder: str) -> list[dict[str, object]]:
        lines = (workdir / folder / "runs.jsonl").read_text().splitlines()
        return sorted(({k: json.loads(line)[k] for k in fields} for line in lines),
                      key=lambda r: (r["case_id"], r["index"]))

    assert runs("two") == runs("one") and len(runs("two")) == 12
    assert results(workdir / "two")["summary"]["pass_rate"] == 1.0
    assert sum(run["attempts"] for case in results(workdir / "two")["cases"] for run in case["runs"]) == 15
