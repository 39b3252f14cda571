"""Servers that misbehave, through the CLI and the real SDKs: outages are errors, never a quality verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import results, run_cli
from loopback import Fault, LoopbackServer
from test_cli_faults import SECRET, make_suite

PRICED = "pricing:\n  loopback-model-2025-01-01: {input: 10000, output: 10000}\n"  # $0.01 a token


@pytest.fixture
def env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOP_KEY", SECRET)
    return workdir


def all_runs(folder: Path) -> list[dict]:
    return [run for case in results(folder)["cases"] for run in case["runs"]]


def priced(suite: Path, max_tokens: int = 64) -> Path:
    config = suite.parent / "config.yaml"
    text = config.read_text().replace("max_tokens: 64", f"max_tokens: {max_tokens}")
    config.write_text(text + PRICED)
    return suite


# ---- HTTP 200s that are not answers -------------------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("kind,needle", [("error200", "No connected db."), ("empty", "HTTP 200 with")])
def test_a_200_holding_an_error_or_no_choices_is_an_errored_run(env: Path, capsys, loopback_server: LoopbackServer,
                                                                 provider: str, kind: str, needle: str) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=1, provider=provider)
    loopback_server.add_faults(kind)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--no-rerun-errors")
    errored = [run for run in all_runs(env / "out") if run["status"] == "errored"]
    assert len(errored) == 1 and errored[0]["error"]["kind"] == "provider", r.text
    assert needle in errored[0]["error"]["message"] and errored[0]["error"]["status"] == 200
    assert errored[0]["attempts"] == 1 and loopback_server.total == 2
    assert results(env / "out")["summary"]["pass_rate"] == 1.0  # never scored as an empty answer
    assert r.code == 3 and "FAIL" not in r.out


@pytest.mark.parametrize("provider,api", [("openai", "OpenAI-compatible"), ("anthropic", "Anthropic")])
@pytest.mark.parametrize("kind,content_type,start", [
    ("html", "text/html", "<!DOCTYPE html>"),
    ("sse", "text/event-stream", "data: {" ),
    ("badjson", "application/json", "not valid JSON"),
])
def test_html_or_an_unasked_stream_says_the_base_url_is_not_that_api(
        env: Path, capsys, loopback_server: LoopbackServer, provider: str, api: str, kind: str,
        content_type: str, start: str) -> None:
    suite = make_suite(env / "s", loopback_server, cases=3, k=1, provider=provider)
    loopback_server.configure(rates={kind: 1.0})
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert r.code == 3, r.text
    assert "Traceback" not in r.text and "AttributeError" not in r.text
    runs = all_runs(env / "out")
    assert all(run["status"] == "errored" and run["error"]["kind"] == "provider" for run in runs)
    message = runs[0]["error"]["message"]
    if kind == "badjson":
        assert start in message
    else:
        assert f"does not look like an {api} API" in message and content_type in message
        assert (start if provider == "openai" or kind != "sse" else "event: message_start") in message


# ---- usage the server did not report --------------------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_missing_usage_is_estimated_and_max_checks_fail_as_unknown(env: Path, capsys,
                                                                   loopback_server: LoopbackServer,
                                                                   provider: str) -> None:
    loopback_server.configure(usage=False)
    suite = priced(make_suite(env / "s", loopback_server, cases=2, k=1, provider=provider))
    suite.write_text(suite.read_text().replace("checks: [{contains: echo}]",
                                               "checks: [{contains: echo}, {max_tokens: 1000}, {max_cost_usd: 5}]"))
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    runs = all_runs(env / "out")
    assert all(run["status"] == "failed" for run in runs), r.text
    run = runs[0]
    assert run["tokens"]["estimated"] is True and run["tokens"]["output_tokens"] > 0
    assert run["cost_usd"] is None
    reasons = {check["name"]: check["reason"] for check in run["checks"]}
    assert "unknown" in reasons["max_tokens"] and "unknown" in reasons["max_cost_usd"]
    assert "reported no usage" in reasons["max_cost_usd"]


def test_missing_usage_still_counts_against_a_token_budget(env: Path, capsys,
                                                          loopback_server: LoopbackServer) -> None:
    loopback_server.configure(usage=False)
    suite = make_suite(env / "s", loopback_server, cases=30, k=1)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--max-tokens-total", "100")
    assert r.code == 3, r.text
    data = results(env / "out")
    assert "budget" in data["incomplete_reason"] and 0 < loopback_server.total < 30
    assert "estimated from text" in r.err


# ---- why runs errored reaches the console, summary.md and --format json ---------------------------

def test_top_error_reasons_with_counts_in_console_summary_and_json(env: Path, capsys,
                                                                   loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=4, k=2)
    leaked = "sk-upstream-0123456789abcdef"
    loopback_server.add_faults(*[Fault.error(400, message=f"content filter: key {leaked} flagged")] * 2)
    loopback_server.configure(rates={"error200": 1.0})
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--format", "json")
    assert r.code == 3, r.text
    payload = json.loads(r.out)
    top = payload["suites"][0]["top_errors"]
    assert top[0]["count"] == 6 and "No connected db." in top[0]["message"] and top[0]["kind"] == "provider"
    assert top[1]["count"] == 2 and "content filter" in top[1]["message"]
    summary = (env / "out" / "summary.md").read_text()
    assert "8 of 8" in summary and "6 × provider" in summary and "No connected db." in summary
    assert "6 × provider" in r.err and "No connected db." in r.err and "8 of 8 runs errored" in r.err
    for text in (r.out, r.err, summary):
        assert leaked not in text and SECRET not in text


# ---- the same 4xx for several cases is configuration ---------------------------------------------

def test_the_same_400_for_three_cases_before_any_success_stops_with_exit_2(env: Path, capsys,
                                                                           loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=10, k=3)
    loopback_server.configure(rates={400: 1.0})
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache")
    assert r.code == 2, r.text
    assert "Invalid request." in r.err and "3 different cases" in r.err and "Traceback" not in r.text
    assert loopback_server.total <= 3 * 3  # never the whole suite
    assert results(env / "out")["complete"] is False


def test_a_400_repeating_within_one_case_stays_that_runs_error(env: Path, capsys,
                                                               loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=4, k=3)
    suite.write_text(suite.read_text().replace("input: question 0", "input: question 0 flagged"))
    loopback_server.configure(reject_containing="flagged")
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache")
    assert r.code == 3, r.text  # 3 of 12 runs errored: incomplete, not a configuration stop
    runs = {(c["id"], run["index"]): run for c in results(env / "out")["cases"] for run in c["runs"]}
    assert len(runs) == 12 and all(runs[("c0", i)]["status"] == "errored" for i in range(3))
    assert sum(run["status"] == "passed" for run in runs.values()) == 9


# ---- rate limits -----------------------------------------------------------------------------------

def test_a_429_that_says_when_uses_no_attempt(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=1, k=1)
    loopback_server.add_faults(*["429:ms=20"] * 5)
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "--max-retries", "2")
    assert r.code == 0, r.text
    run = all_runs(env / "out")[0]
    assert run["status"] == "passed" and run["attempts"] == 6


def test_max_wait_bounds_the_waiting_of_one_run(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=1, k=1)
    loopback_server.add_faults(*["429:ms=200"] * 20)
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "--max-wait", "0.5")
    assert r.code == 3, r.text
    run = all_runs(env / "out")[0]
    assert run["status"] == "errored" and "--max-wait" in run["error"]["message"] and 2 <= run["attempts"] <= 4


def test_a_huge_retry_after_errors_the_run_instead_of_stalling(env: Path, capsys,
                                                               loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=2, k=1)
    loopback_server.add_faults("429:1e9")
    # a run timeout of an hour: the run errors because the wait asked for is too long, not by timing out
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--run-timeout", "3600",
                "--no-rerun-errors")
    errored = [run for run in all_runs(env / "out") if run["status"] == "errored"]
    assert len(errored) == 1 and "--max-retry-wait 120 s" in errored[0]["error"]["message"], r.text
    assert "1e+09 s" in errored[0]["error"]["message"]
    r = run_cli(capsys, "run", suite, "--out", "out2", "-j", "1", "--no-cache", "--max-retry-wait", "0.01")
    assert r.code == 0  # the server is fine now


@pytest.mark.parametrize("prefix", ["", "llm_provider-"])
def test_a_server_limit_told_by_exact_retry_after_loses_no_run(env: Path, capsys, loopback_server: LoopbackServer,
                                                               prefix: str) -> None:
    loopback_server.configure(rpm=10, rpm_window_s=0.5, retry_header_prefix=prefix)  # 1,200 a minute
    suite = make_suite(env / "s", loopback_server, cases=20, k=2)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "16", "--no-cache", "--max-retries", "1")
    assert r.code == 0, r.text
    assert results(env / "out")["summary"]["errors"] == 0 and len(all_runs(env / "out")) == 40
    assert loopback_server.status_counts().get(429, 0) > 0  # it was limited, and nothing was lost


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_advertised_rate_limit_headers_pace_the_run_with_no_429(env: Path, capsys, loopback_server: LoopbackServer,
                                                                 provider: str) -> None:
    # Says: 600 a minute. The pacer's schedule is checked exactly on a virtual clock (test_pacing.py); here, on a
    # loaded 2-core machine, the SDK and the loop delay a send by tens of ms, which an exact 1 s window turns into
    # a 429 now and then (2 runs in 7). The grace admits a request 60 ms early, as real limiters do.
    loopback_server.configure(rpm=10, rpm_window_s=1.0, advertise_limits=True, rpm_grace_s=0.06)
    suite = make_suite(env / "s", loopback_server, cases=12, k=2, provider=provider)
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "8", "--no-cache")
    assert r.code == 0, r.text
    assert 429 not in loopback_server.status_counts(), loopback_server.status_counts()
    assert loopback_server.total == 24


# ---- budgets ---------------------------------------------------------------------------------------

def test_budget_zero_spends_nothing(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = priced(make_suite(env / "s", loopback_server, cases=5, k=2))
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache", "--budget-usd", "0")
    assert r.code == 3, r.text
    assert loopback_server.total == 0 and "budget" in results(env / "out")["incomplete_reason"]


def test_budget_zero_runs_a_free_mock_suite(env: Path, capsys) -> None:
    r = run_cli(capsys, "run", "suites/support-bot.yaml", "--out", "out", "--budget-usd", "0", "-k", "1")
    assert r.code in (0, 1), r.text
    assert results(env / "out")["complete"] is True


def test_budget_is_not_overshot_by_the_runs_in_flight(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    loopback_server.configure(latency_ms=30)
    suite = priced(make_suite(env / "s", loopback_server, cases=10, k=3))  # $0.10 a run
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "8", "--no-cache", "--budget-usd", "0.45")
    assert r.code == 3, r.text
    data = results(env / "out")
    assert 0 < data["summary"]["runs"] <= 4 and data["summary"]["cost_usd"] <= 0.45 + 1e-9
    assert loopback_server.total == data["summary"]["runs"]


def test_rate_limit_headers_in_both_formats_and_durations() -> None:
    from agent_eval.providers.ratelimits import parse_duration, parse_rate_headers

    openai = parse_rate_headers({"x-ratelimit-limit-requests": "3000", "x-ratelimit-remaining-requests": "2999",
                                 "x-ratelimit-reset-requests": "20ms", "x-ratelimit-limit-tokens": "150000",
                                 "x-ratelimit-reset-tokens": "1m30.5s"})
    assert openai is not None and openai.limit_requests == 3000 and openai.remaining_requests == 2999
    assert openai.reset_requests_s == pytest.approx(0.02) and openai.reset_tokens_s == pytest.approx(90.5)
    anthropic = parse_rate_headers({"anthropic-ratelimit-requests-limit": "50",
                                    "anthropic-ratelimit-requests-remaining": "0",
                                    "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:30Z"},
                                   now=1767225600.0)  # 2026-01-01T00:00:00Z
    assert anthropic is not None and anthropic.limit_requests == 50 and anthropic.reset_requests_s == 30
    assert parse_duration("6m0s") == 360 and parse_duration("1h2m3.5s") == 3723.5 and parse_duration("soon") is None
    assert parse_rate_headers({"content-type": "application/json"}) is None
    assert parse_rate_headers({"x-ratelimit-limit-requests": "lots"}) is None


def test_a_suite_budget_of_zero_spends_nothing(env: Path, capsys, loopback_server: LoopbackServer) -> None:
    suite = priced(make_suite(env / "s", loopback_server, cases=5, k=2))
    suite.write_text(suite.read_text() + "budget:\n  usd: 0\n")
    assert run_cli(capsys, "validate", suite).code == 0
    r = run_cli(capsys, "run", suite, "--out", "out", "--no-cache")
    assert r.code == 3, r.text
    assert loopback_server.total == 0 and "budget" in results(env / "out")["incomplete_reason"]


def test_an_outage_is_one_cluster_of_errors_and_scattered_errors_are_many(env: Path, capsys,
                                                                          loopback_server: LoopbackServer) -> None:
    suite = make_suite(env / "s", loopback_server, cases=10, k=2)
    loopback_server.add_faults(*["500"] * 8)  # the first 8 calls, one after another: one outage
    r = run_cli(capsys, "run", suite, "--out", "out", "-j", "1", "--no-cache", "--max-retries", "1",
                "--no-rerun-errors")
    assert "40.0% (8/20) of candidate runs errored" in r.err + r.out and "in 1 cluster(s)" in r.err + r.out, r.text
    loopback_server.reset()
    loopback_server.add_faults(*["500", 200, 200] * 4)  # errors with completed runs between them: 4 outages
    r = run_cli(capsys, "run", suite, "--out", "out2", "-j", "1", "--no-cache", "--max-retries", "1",
                "--no-rerun-errors")
    assert "of candidate runs errored" in r.err + r.out and "in 4 cluster(s)" in r.err + r.out, r.text
