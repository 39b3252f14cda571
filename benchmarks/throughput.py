"""Throughput of `agent-eval run` against the loopback server, as whole processes.

Prints, per scenario: wall time against the ideal (runs x latency / concurrency, or the
rate limit's own ideal), runner CPU per run and peak memory of the agent-eval process, and the
same workload through a bare asyncio loop of the official SDK and through a bare httpx loop (no SDK).

    python benchmarks/throughput.py            # the full set (about 6 minutes on 2 cores)
    python benchmarks/throughput.py --quick    # smaller, for a smoke check
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = ROOT / "tests" / "loopback.py"

BARE_SDK = r"""
import asyncio, sys, time
import openai
base_url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=8)
    gate = asyncio.Semaphore(concurrency)
    async def one(i):
        async with gate:
            r = await client.chat.completions.create(model="loopback-model-2025-01-01", max_tokens=64,
                messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": f"question {i}"}])
            return r.choices[0].message.content
    await asyncio.gather(*(one(i) for i in range(total)))
asyncio.run(main())
"""

BARE_HTTP = r"""
import asyncio, json, sys
import httpx2
base_url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(concurrency)
        headers = {"authorization": "Bearer bench", "content-type": "application/json"}
        async def one(i):
            async with gate:
                body = {"model": "loopback-model-2025-01-01", "max_tokens": 64, "messages": [
                    {"role": "system", "content": "You are terse."}, {"role": "user", "content": f"question {i}"}]}
                r = await client.post(f"{base_url}/chat/completions", content=json.dumps(body), headers=headers)
                return r.json()["choices"][0]["message"]["content"]
        await asyncio.gather(*(one(i) for i in range(total)))
asyncio.run(main())
"""


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    peak_mb: float
    code: int


class Server:
    """The loopback server in its own process, so its CPU is not the client's."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(LOOPBACK), "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, object]:
        import urllib.request

        root = self.base_url.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(f"{root}/_loopback/stats") as reply:
            return json.loads(reply.read())

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure(command: list[str], cwd: Path) -> Measured:
    """Wall time, CPU (user + sys) and peak RSS of one child process (os.wait4: that child's own usage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "true", "BENCH_KEY": "bench"})
    assert proc.stderr is not None
    stderr = proc.stderr.read()  # drained as it runs, so a chatty child never blocks
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in (0, 1) or "Traceback" in stderr:  # a crash or a missing install must not read as a figure
        print(stderr[-2000:], file=sys.stderr)
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def write_suite(folder: Path, base_url: str, cases: int, k: int) -> Path:
    (folder / "config.yaml").write_text(f"""\
name: bench
version: 1.0.0
model:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {base_url}
  api_key_env: BENCH_KEY
  params: {{max_tokens: 64}}
prompt:
  system: You are terse.
  user: "{{{{ input }}}}"
""")
    body = "".join(f"  - id: case-{i}\n    tags: [t{i % 5}]\n    input: question {i}\n"
                   f"    checks: [{{contains: echo}}, {{max_latency_ms: 5000}}]\n" for i in range(cases))
    suite = folder / "suite.yaml"
    suite.write_text(f"suite: bench\nconfig: config.yaml\nrepeat: {k}\ncases:\n{body}")
    return suite


def run_agent_eval(folder: Path, suite: Path, tag: str, *flags: str) -> Measured:
    return measure([sys.executable, "-m", "agent_eval", "run", str(suite), "--out", str(folder / tag),
                    "--no-cache", *flags], cwd=folder)


def errored(folder: Path, tag: str) -> str:
    """Errored runs of one agent-eval run, from its results.json."""
    try:
        summary = json.loads((folder / tag / "results.json").read_text())["summary"]
    except (OSError, ValueError, KeyError):
        return "errored ?"
    return f"errored {summary['errors']}"


def report(name: str, m: Measured, runs: int, ideal: float | None, floor: float | None = None) -> None:
    parts = [f"{name:<44} wall {m.wall_s:6.2f} s"]
    if ideal:
        parts.append(f"ideal {ideal:5.2f} s ({m.wall_s / ideal:4.2f}x)")
    if floor:
        parts.append(f"bare SDK {floor:5.2f} s ({m.wall_s / floor:4.2f}x)")
    parts.append(f"CPU/run {m.cpu_s / runs * 1000:5.2f} ms  peak {m.peak_mb:5.0f} MB  exit {m.code}")
    print("  ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 cases instead of 1,000")
    parser.add_argument("--only", choices=["concurrency", "limits"], help="run one half of the scenarios")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each scenario (shared machines are noisy)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64], help="concurrency levels to measure")
    parser.add_argument("--cases", type=int, help="cases per suite (default 1,000; 200 with --quick)")
    parser.add_argument("--flag", action="append", default=[], help="an extra flag for agent-eval run, e.g. "
                                                                    "--flag=--workers=2 (repeatable)")
    args = parser.parse_args()
    cases = args.cases or (200 if args.quick else 1000)
    k, latency = 5, 0.050
    print(f"agent-eval throughput · {os.cpu_count()} cores · loopback latency {latency * 1000:.0f} ms\n", flush=True)
    # an installed package has its bytecode (pip compiles it); a checkout under PYTHONDONTWRITEBYTECODE would not
    compileall.compile_dir(ROOT / "agent_eval", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only != "limits":
            concurrency_scenarios(folder, cases, k, latency, args.repeat, tuple(args.concurrency),
                                  tuple(args.flag))
        if args.only != "concurrency":
            limit_scenarios(folder, k, latency, args.repeat)


def concurrency_scenarios(folder: Path, cases: int, k: int, latency: float, repeat: int,
                          levels: tuple[int, ...], flags: tuple[str, ...] = ()) -> None:
    """N x k at each concurrency, paired with a bare SDK loop and a bare HTTP loop making the same calls.

    The three alternate, so a noisy minute hits all of them; the best of `repeat` and the first (cold) run
    are both reported, with the machine's load before and after.
    """
    runs = cases * k
    with Server("--latency-ms", "50") as server:
        suite = write_suite(folder, server.base_url, cases, k)
        for concurrency in levels:
            ideal = runs * latency / concurrency
            load_before = os.getloadavg()[0]
            bares, raws, ours = [], [], []
            for _ in range(repeat):
                bares.append(measure([sys.executable, "-c", BARE_SDK, server.base_url, str(runs), str(concurrency)],
                                     cwd=folder))
                raws.append(measure([sys.executable, "-c", BARE_HTTP, server.base_url, str(runs), str(concurrency)],
                                    cwd=folder))
                ours.append(run_agent_eval(folder, suite, f"c{concurrency}", "-j", str(concurrency), "--overwrite",
                                           *flags))
            bare = min(bares, key=lambda m: m.wall_s)
            raw = min(raws, key=lambda m: m.wall_s)
            best = min(ours, key=lambda m: m.wall_s)
            report(f"bare SDK loop, {runs} calls, c={concurrency}", bare, runs, ideal)
            report(f"bare httpx loop, {runs} calls, c={concurrency}", raw, runs, ideal)
            report(f"agent-eval {cases}x{k}, c={concurrency}", best, runs, ideal, bare.wall_s)
            print(f"{'':44} best: {best.wall_s / bare.wall_s:4.2f}x the bare SDK loop, "
                  f"{best.wall_s / raw.wall_s:4.2f}x the bare httpx loop; cold (first) runs: "
                  f"{ours[0].wall_s / bares[0].wall_s:4.2f}x SDK, {ours[0].wall_s / raws[0].wall_s:4.2f}x httpx; "
                  f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
            if repeat > 1:
                print(f"{'':44} all walls: bare SDK {[round(m.wall_s, 1) for m in bares]}, "
                      f"httpx {[round(m.wall_s, 1) for m in raws]}, agent-eval {[round(m.wall_s, 1) for m in ours]}",
                      flush=True)


def limit_scenarios(folder: Path, k: int, latency: float, repeat: int) -> None:
    """200 x k against random 429s, and against servers allowing 3,000 requests a minute.

    Each 3,000-rpm scenario runs `repeat` times on a fresh server; the best is shown, with every wall time
    and errored count (the first run is the cold one).
    """
    small = 200
    with Server("--latency-ms", "50", "--fault-429", "0.2", "--retry-after", "0") as server:
        suite = write_suite(folder, server.base_url, small, k)
        m = run_agent_eval(folder, suite, "r429", "-j", "16")
        report(f"agent-eval {small}x{k}, c=16, 20% answered 429", m, small * k, small * k * latency / 16)
        print(f"{'':44} server: {server.stats().get('by_status')}, {errored(folder, 'r429')}", flush=True)
    # 3,000 a minute, enforced per second as providers do: 50 in any 1 s window
    limited = ("--latency-ms", "50", "--rpm", "50", "--rpm-window-s", "1")
    scenarios = (
        ("told --rpm 3000", ("--no-retry-after",), ["-j", "16", "--rpm", "3000"]),
        ("429s only (no Retry-After)", ("--no-retry-after",), ["-j", "16"]),
        ("429 + exact retry-after-ms, c=32", (), ["-j", "32"]),
        ("x-ratelimit-* headers, c=32", ("--advertise-limits",), ["-j", "32"]),
    )
    for index, (label, server_flags, flags) in enumerate(scenarios):
        walls, outcomes = [], []
        for attempt in range(repeat):
            with Server(*limited, *server_flags) as server:  # a fresh server: an empty rate window each time
                suite = write_suite(folder, server.base_url, small, k)
                tag = f"rpm{index}-{attempt}"
                walls.append(run_agent_eval(folder, suite, tag, *flags))
                statuses = server.stats().get("by_status")
                outcomes.append((statuses.get("429", 0) if isinstance(statuses, dict) else "?", errored(folder, tag)))
        best = min(range(repeat), key=lambda i: walls[i].wall_s)
        report(f"agent-eval {small}x{k}, 3,000 rpm server, {label}", walls[best], small * k, small * k / 50)
        print(f"{'':44} 429s {outcomes[best][0]}, {outcomes[best][1]}", flush=True)
        if repeat > 1:
            print(f"{'':44} all walls {[round(m.wall_s, 2) for m in walls]} (first is cold); "
                  f"429s {[o[0] for o in outcomes]}; {[o[1] for o in outcomes]}", flush=True)


if __name__ == "__main__":
    main()
