"""What scoring one run costs: the checks of a typical suite, inline and through the check runtime.

Prints microseconds per run for
- the built-in checks called directly (`check.run`, as the engine did before the check runtime),
- the same checks through `CheckRunner.run` (what the engine does now: inline, bounded regexes),
- `re` against the `regex` package on the suite's patterns (the cost of making patterns stoppable),
- a `python:` check in-process against the worker pool (a round trip to another process),
- and the time a catastrophic pattern takes to be given up.

    python benchmarks/check_cost.py [--runs 5000] [--repeat 3]
    python benchmarks/check_cost.py --root /path/to/older/checkout   # only the direct figure, for a before/after
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(sys.argv[sys.argv.index("--root") + 1] if "--root" in sys.argv else Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from agent_eval.checks import CheckInput, compile_check
from agent_eval.suite.case import Case

CHECKS = [
    {"contains": "1234"},
    {"not_icontains": "as an ai"},
    {"regex": r"refund .* (pending|processed)"},
    {"regex": {"pattern": r"^\s*\{", "flags": "m"}},
    {"json": {"schema": {"type": "object", "required": ["status"], "properties": {"status": {"pattern": "^p"}}}}},
    {"json_path": {"path": "$.status", "matches": "pend(ing)?"}},
    {"length": {"max_chars": 2000}},
    {"refusal": False},
]
OUTPUT = '{"status": "pending", "order": "1234", "note": "refund for 1234 is pending, processed soon"}' + " " * 200
USER_CHECK = "def ok(output, case, run):\n    return '1234' in output, 'found the order'\n"


def best(repeat: int, action: Callable[[], float]) -> float:
    return min(action() for _ in range(repeat))


def per_run_us(runs: int, body: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        body()
    return (time.perf_counter() - started) / runs * 1e6


async def per_run_async_us(runs: int, runner: Any, checks: tuple[Any, ...], view: CheckInput,
                           concurrency: int = 1) -> float:
    async def some(n: int) -> None:
        for _ in range(n):
            await runner.run(checks, view)

    started = time.perf_counter()
    await asyncio.gather(*(some(runs // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - started) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", help="import agent_eval from this checkout")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="check-cost-"))
    (folder / "bench_checks.py").write_text(USER_CHECK)
    checks = tuple(compile_check(raw, base_dir=folder) for raw in CHECKS)
    view = CheckInput(output=OUTPUT, case=Case(id="c", input="q", checks=checks))
    [c.run(view) for c in checks]  # warm: lazy imports, compiled patterns
    direct = best(args.repeat, lambda: per_run_us(args.runs, lambda: [c.run(view) for c in checks]))
    print(f"built-in checks ({len(checks)}), called directly:   {direct:8.1f} us/run  ({ROOT})")
    if args.root:
        return
    from agent_eval.checks.runtime import CheckRunner

    runner = CheckRunner()
    through = best(args.repeat, lambda: asyncio.run(per_run_async_us(args.runs, runner, checks, view)))
    print(f"built-in checks, through CheckRunner:     {through:8.1f} us/run")

    patterns = [r"refund .* (pending|processed)", r"^\s*\{", "pend(ing)?"]
    std = [re.compile(p, re.MULTILINE) for p in patterns]
    from agent_eval.userregex import compile_user_regex, search

    bounded = [compile_user_regex(p, re.MULTILINE) for p in patterns]
    re_us = best(args.repeat, lambda: per_run_us(args.runs, lambda: [p.search(OUTPUT) for p in std]))
    regex_us = best(args.repeat, lambda: per_run_us(args.runs, lambda: [search(p, OUTPUT) for p in bounded]))
    print(f"3 searches with re:                       {re_us:8.1f} us/run")
    print(f"3 bounded searches with regex:            {regex_us:8.1f} us/run")

    user = (compile_check({"python": "bench_checks:ok"}, base_dir=folder),)
    inline = best(args.repeat, lambda: per_run_us(args.runs, lambda: user[0].run(view)))

    async def pooled(concurrency: int) -> tuple[float, float]:
        pool_runner = CheckRunner()
        started = time.perf_counter()
        await pool_runner.run(user, view)  # starts the first worker
        first = time.perf_counter() - started
        try:
            us = await per_run_async_us(args.runs // 5, pool_runner, user, view, concurrency)
        finally:
            await pool_runner.aclose()
        return first, us

    first_s, pooled_1 = asyncio.run(pooled(1))
    _, pooled_8 = asyncio.run(pooled(8))
    print(f"python: check in-process (before):        {inline:8.1f} us/run")
    print(f"python: check in a worker, 1 at a time:   {pooled_1:8.1f} us/run (first worker ready in {first_s:.2f} s)")
    print(f"python: check in workers, 8 runs at once: {pooled_8:8.1f} us/run")

    slow = (compile_check({"regex": "(a|aa)+$", "timeout_s": 1.0}, base_dir=folder),)
    bad = CheckInput(output="a" * 40 + "!", case=view.case)
    started = time.perf_counter()
    result = asyncio.run(CheckRunner().run(slow, bad))[0]
    print(f"catastrophic regex, 1 s limit: gave up after {time.perf_counter() - started:.2f} s: {result.reason}")


if __name__ == "__main__":
    main()
