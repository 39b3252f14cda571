"""What the promptfoo-style features cost: check evaluation per run, named-metric aggregation, and
several configs interleaved in one run versus one after the other.

    python benchmarks/expressiveness.py [--repeat 5]

Prints the best of --repeat measurements (and the first, cold one) for each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agent_eval.checks import CheckInput, compile_check
from agent_eval.records import CaseResult, CaseStats, CheckResult, RunRecord, RunStatus
from agent_eval.stats.named import with_named_metrics
from agent_eval.stats.reduce import summarize
from agent_eval.suite.case import Case

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = 'Label: BILLING. {"label": "billing", "priority": "high", "reply": "We are refunding the charge."} ' * 3
PLAIN = [{"contains": "billing"}, {"regex": "Label: \\w+"}, {"json": True}]
RICH = [
    {"contains_json": {"schema": {"type": "object", "required": ["label", "priority"]}}},
    {"equals": "billing", "transform": {"json_path": "$.label"}, "metric": "tp"},
    {"any": [{"icontains": "refund"}, {"icontains": "reimburse"}]},
    {"at_least": {"n": 2, "checks": [{"contains": "a"}, {"contains": "zz"}, {"contains": "Label"}]}},
    {"regex": "^[A-Z]+$", "transform": {"regex": "Label: (\\w+)\\.", "group": 1}},
]


def best(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times[0]


def check_cost(items: list[dict], runs: int) -> float:  # type: ignore[type-arg]
    checks = [compile_check(item, base_dir=ROOT) for item in items]
    view = CheckInput(output=OUTPUT, case=Case(id="c", input="x"))

    async def go() -> None:
        for _ in range(runs):
            for check in checks:
                await check.arun(view)

    start = time.perf_counter()
    asyncio.run(go())
    return (time.perf_counter() - start) / runs * 1e6


def metric_results(cases: int, k: int) -> list[CaseResult]:
    out = []
    stats = CaseStats(n=k, passed=k, errors=0, k=k, pass_rate=1, pass_hat_k=1, pass_at_k=1, score=1, flaky=False)
    for c in range(cases):
        runs = tuple(RunRecord(case_id=f"c{c}", index=i, status=RunStatus.PASSED, passed=True, score=1.0, checks=(
            CheckResult(name="equals", passed=(c + i) % 3 > 0, reason="", metric="tp", weight=0),
            CheckResult(name="equals", passed=(c + i) % 5 == 0, reason="", metric="fp", weight=0),
            CheckResult(name="equals", passed=(c + i) % 7 == 0, reason="", metric="fn", weight=0),
        )) for i in range(k))
        out.append(CaseResult(id=f"c{c}", tags=(f"t{c % 10}",), definition_hash="h", runs=runs, stats=stats))
    return out


def cli(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "agent_eval", *args], cwd=cwd, check=False, capture_output=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"agent-eval {' '.join(args)} exited {done.returncode}: {done.stderr[-500:]}")


CONFIG = """name: {name}\nversion: 1.0.0\nmodel:\n  provider: mock\n  name: m\n  limits: {{max_concurrency: 4}}
  mock: {{latency_ms: 20, default: "{answer}"}}\nprompt:\n  user: "{{{{ input }}}}"\n"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    plain = min(check_cost(PLAIN, 2000) for _ in range(args.repeat))
    rich = min(check_cost(RICH, 2000) for _ in range(args.repeat))
    print(f"checks per run: 3 plain checks {plain:.0f} µs; 5 groups/transforms/contains_json {rich:.0f} µs")
    results = metric_results(1000, 5)
    formulas = {"precision": "tp / (tp + fp)", "recall": "tp / (tp + fn)",
                "f1": "2 * precision * recall / (precision + recall)"}
    summary = summarize(results)
    warm, cold = best(lambda: with_named_metrics(summary, results, formulas), args.repeat)
    print(f"named + derived metrics, 1000 cases x k=5, 10 tags: best {warm * 1000:.0f} ms (cold {cold * 1000:.0f} ms)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a.yaml").write_text(CONFIG.format(name="a", answer="yes"))
        (folder / "b.yaml").write_text(CONFIG.format(name="b", answer="no"))
        cases = "".join(f"  - id: c{i}\n    input: q{i}\n    checks: [{{contains: \"yes\"}}]\n" for i in range(40))
        (folder / "s.yaml").write_text(f"suite: s\nconfig: a.yaml\nrepeat: 2\ncases:\n{cases}")
        n = [0]

        def both() -> None:
            n[0] += 1
            cli("run", "s.yaml", "-c", "a.yaml", "-c", "b.yaml", "--out", f"m{n[0]}", cwd=folder)

        def apart() -> None:
            n[0] += 1
            cli("run", "s.yaml", "-c", "a.yaml", "--out", f"a{n[0]}", cwd=folder)
            cli("run", "s.yaml", "-c", "b.yaml", "--out", f"b{n[0]}", cwd=folder)

        together, cold_t = best(both, args.repeat)
        sequential, cold_s = best(apart, args.repeat)
        print(f"2 configs x 40 cases x k=2 (mock, 20 ms/call, 4 in flight per config): one run with two --config "
              f"{together:.2f} s (cold {cold_t:.2f} s); two runs one after the other {sequential:.2f} s "
              f"(cold {cold_s:.2f} s)")


if __name__ == "__main__":
    main()
