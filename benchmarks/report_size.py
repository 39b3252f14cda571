"""How big and how slow is the HTML report at scale? 2,000 cases x 5 runs by default.

    python benchmarks/report_size.py [--cases 2000] [--runs 5] [--repeat 1] [--out DIR] [--no-browser]

Builds a synthetic candidate `Results`, a `Baseline` and the gate's `Verdict`, writes the
reports (the fastest of --repeat writes is reported), and prints the file sizes, the render
time and the time headless Chromium takes to open report.html until the cases table is present
and its script has run. It measures the checkout it lives in, not an installed agent_eval.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_eval.baseline.gate import GateOptions, decide
from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.verdict import Verdict
from agent_eval.records import (
    CaseResult,
    CheckResult,
    ConfigInfo,
    Message,
    Results,
    RubricResult,
    RunError,
    RunRecord,
    RunStatus,
    Span,
    SuiteInfo,
    ToolCall,
    Usage,
)
from agent_eval.report import write_reports
from agent_eval.stats.reduce import case_stats, summarize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TAGS = ("billing", "refunds", "shipping", "account", "safety", "smalltalk", "escalation", "returns")
WORDS = ["your", "order", "has", "shipped", "and", "will", "arrive", "within", "three", "business", "days", "please", "keep", "the", "tracking", "number", "for", "reference", "we", "have", "issued", "a", "refund", "to", "the", "original", "payment", "method", "it", "can", "take", "up", "to", "ten", "days", "to", "appear", "on", "your", "statement", "I", "am", "sorry", "for", "the", "inconvenience", "let", "me", "check", "the", "account", "settings", "for", "you", "the", "password", "reset", "link", "expires", "after", "one", "hour", "contact", "support"]
TRACES = {"on": True}  # --no-traces: runs without spans, as recorded before traces existed
SYSTEM = "You are a courteous support agent for ExampleShop. Answer briefly, cite the policy, never invent order data."


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _mutate(rng: random.Random, text: str, rate: float) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < rate else w for w in text.split())


def _run(rng: random.Random, case_id: str, i: int, base_text: str, user: str, quality: float) -> RunRecord:
    if rng.random() < 0.01:
        err = RunError(kind="provider", message="HTTP 503: upstream overloaded", status=503, attempts=4)
        return RunRecord(case_id=case_id, index=i, status=RunStatus.ERRORED, passed=False, error=err, attempts=4)
    output = _mutate(rng, base_text, 0.15)
    ok_contains = rng.random() < quality
    rubric_score = max(1.0, min(5.0, round(rng.gauss(3.2 + 1.6 * quality, 0.7), 1)))
    checks = (
        CheckResult(name="contains", passed=ok_contains, reason="expected 'refund' in the output; " + ("found it" if ok_contains else "not found")),
        CheckResult(name="max_length", passed=True, reason=f"expected at most 1200 characters, found {len(output)}"),
        CheckResult(name="not_regex", passed=True, reason="expected no match of '\\bguarantee\\b'; none found"),
    )
    rubric = RubricResult(
        name="helpfulness", score=rubric_score, normalized=(rubric_score - 1) / 4, passed=rubric_score >= 4,
        threshold=4, reasoning=_text(rng, 45), judge_model="judge-model-2024-08-06", samples=(rubric_score,),
    )  # fmt: skip
    passed = ok_contains and rubric.passed is True
    score = (sum(c.passed for c in checks) + (rubric.normalized or 0.0)) / 4
    trace: tuple[Span, ...] = ()
    if TRACES["on"]:  # what a plain run records: one model span with its messages; the judge its own span
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "model-2024-11-20",
                 "gen_ai.input.messages": messages, "gen_ai.output.messages": [{"role": "assistant", "content": output}],
                 "gen_ai.usage.input_tokens": 200, "gen_ai.usage.output_tokens": len(output) // 4,
                 "gen_ai.response.finish_reasons": ["stop"]}
        trace = (Span(kind="model", name="chat model-2024-11-20", duration_ms=700.0, attributes=attrs),)
        judged = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "judge-model-2024-08-06",
                  "gen_ai.usage.input_tokens": 400, "gen_ai.usage.output_tokens": 60}
        rubric = rubric.model_copy(update={"trace": (Span(kind="judge", name="chat judge", start_ms=700.0,
                                                          duration_ms=300.0, attributes=judged),)})
    return RunRecord(
        case_id=case_id, index=i, status=RunStatus.PASSED if passed else RunStatus.FAILED, passed=passed,
        score=score, output=output, trace=trace, steps=1 if trace else None,
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=user)),
        tool_calls=(ToolCall(id=f"call_{i}", name="lookup_order", arguments='{"order_id": "A-1042"}'),) if i == 0 else (),
        tokens=Usage(input_tokens=180 + rng.randrange(40), output_tokens=len(output) // 4),
        cost_usd=0.0004 + rng.random() * 0.0003, latency_ms=rng.lognormvariate(6.6, 0.4),
        checks=checks, rubrics=(rubric,), model="model-2024-11-20", finished_at="2025-01-01T00:00:00Z",
    )  # fmt: skip


def _results(cases: int, k: int, seed: int, drift: float, version: str) -> Results:
    rng = random.Random(seed)
    text_rng = random.Random(1)  # the same base answers on both sides, so the diffs are small
    out = []
    for n in range(cases):
        cid = f"case-{n:05d}"
        tags = tuple(sorted(rng.sample(TAGS, rng.choice((1, 1, 2)))))
        user = f"Customer question {n}: " + _text(text_rng, 30)
        base_text = _text(text_rng, 70)
        quality = max(0.0, min(1.0, rng.gauss(0.85 - drift * (tags[0] == "refunds"), 0.1)))
        runs = tuple(_run(rng, cid, i, base_text, user, quality) for i in range(k))
        out.append(
            CaseResult(
                id=cid, tags=tags, critical=n % 50 == 0, definition_hash=f"sha256:{n:064x}",
                input=user, expected="A refund is issued to the original payment method.",
                runs=runs, stats=case_stats(runs, k),
            )
        )  # fmt: skip
    config = ConfigInfo(
        name="support-bot", version=version, hash=f"sha256:{seed:064x}", path="configs/support.yaml",
        provider="openai", model="model-2024-11-20", params={"temperature": 0.2, "max_tokens": 400},
        system_prompt=SYSTEM, user_template="{{ input }}", author="bench", judge_model="judge-model-2024-08-06",
    )  # fmt: skip
    return Results(
        tool_version="0.1.0", suite=SuiteInfo(name="support", path="suites/support.yaml", hash="sha256:" + "ab" * 32, repeat=k),
        config=config, seed=seed, git_commit="0123456789abcdef", started_at="2025-01-01T00:00:00Z",
        finished_at="2025-01-01T00:10:00Z", complete=True, cases=tuple(out), summary=summarize(out),
    )  # fmt: skip


def synthetic(cases: int = 2000, k: int = 5, seed: int = 7) -> tuple[Results, Baseline, Verdict]:
    """A candidate that got worse on 'refunds', its baseline, and the gate's verdict."""
    baseline = baseline_from_results(_results(cases, k, seed, 0.0, "1.3.0"))
    candidate = _results(cases, k, seed + 1, 0.25, "1.3.1")
    return candidate, baseline, decide(candidate, baseline, GateOptions())


_INTERACTIONS = {
    "filter by a status": """() => { const t = performance.now();
        document.querySelector(".chip[data-status]").click(); const ms = performance.now() - t;
        document.getElementById("reset-filters").click(); return ms; }""",
    "open the first case": """() => new Promise(done => { const row = document.querySelector("details.case");
        const t = performance.now();
        row.addEventListener("toggle", () => setTimeout(() => done(performance.now() - t), 0), {once: true});
        row.open = true; })""",
    "full-text search (first query, 120 ms debounce included)": """() => new Promise(done => {
        const box = document.getElementById("search"); const shown = document.getElementById("shown");
        const before = shown.textContent; const t = performance.now();
        box.value = "inconvenience"; box.dispatchEvent(new Event("input"));
        const poll = () => shown.textContent !== before ? done(performance.now() - t) : setTimeout(poll, 5);
        poll(); })""",
    "expand every case (details filled, word diffs marked)": """() => new Promise(done => {
        document.getElementById("reset-filters").click(); const t = performance.now();
        document.getElementById("expand-all").click();
        const poll = () => document.querySelector(".slot:empty") ? setTimeout(poll, 10) : done(performance.now() - t);
        poll(); })""",
}


def open_in_chromium(path: Path) -> dict[str, float] | None:
    """Seconds until the cases table is ready, then milliseconds for a few interactions."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: pip install playwright", file=sys.stderr)
        return None
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install -y chromium", file=sys.stderr)
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="commit")
        page.wait_for_selector("#cases details.case", state="attached", timeout=120_000)
        # A selector, not wait_for_function: the report's CSP forbids the eval that polling uses.
        page.wait_for_selector("html[data-ready='1']", state="attached", timeout=120_000)
        figures = {"open until the cases table is ready (s)": time.perf_counter() - start}
        for name, script in _INTERACTIONS.items():
            figures[f"{name} (ms)"] = float(page.evaluate(script))
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="write the reports this many times; report the fastest")
    parser.add_argument("--out", type=Path, default=None, help="keep the reports here")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-traces", action="store_true", help="runs without spans (as before traces)")
    args = parser.parse_args()
    TRACES["on"] = not args.no_traces
    t0 = time.perf_counter()
    results, baseline, verdict = synthetic(args.cases, args.runs)
    print(f"inputs: {args.cases} cases x {args.runs} runs, built in {time.perf_counter() - t0:.1f} s; verdict {verdict.outcome}")
    out = args.out or Path(tempfile.mkdtemp(prefix="agent-eval-bench-"))
    times = []
    for _ in range(max(1, args.repeat)):
        t1 = time.perf_counter()
        paths = write_reports(out, results, verdict, baseline)
        times.append(time.perf_counter() - t1)
    spread = f" (fastest of {len(times)}; slowest {max(times):.2f} s)" if len(times) > 1 else ""
    print(f"render (html + junit + markdown): {min(times):.2f} s{spread}")
    for p in (paths.html, paths.junit, paths.markdown):
        print(f"  {p.name}: {p.stat().st_size / 1e6:.2f} MB")
    if not args.no_browser:
        figures = open_in_chromium(paths.html)
        for name, value in (figures or {}).items():
            print(f"headless chromium, {name}: {value:.2f}")
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
