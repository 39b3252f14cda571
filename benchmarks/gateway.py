"""What the gateway behind `ctx` adds to one model call: latency and CPU, against the same call made directly.

The loopback server runs in its own process. Each call is a chat completion with a short prompt, one at a
time, best of --repeat:

- direct: the OpenAI SDK (async) straight to the loopback server;
- ctx.openai: the same SDK through the gateway's in-process transport, then forwarded to the server;
- ctx.base_url: the same SDK over loopback HTTP to the gateway, then forwarded to the server;
- streamed: ctx.openai with `stream: true` (relayed once the upstream stream ends).

CPU is this process's (the server's is not counted), so the difference is the gateway's own work.

    python benchmarks/gateway.py [--calls 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_eval.calls import endpoint_for
from agent_eval.modelspec import ModelSpec
from agent_eval.records import Message
from agent_eval.suite.case import Case
from agent_eval.targets.base import TargetRun
from agent_eval.targets.calling import ModelCaller, RunMeter
from agent_eval.targets.gateway import Gateway

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "question"}]


async def _time(call: Any, calls: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per call."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        await call(i)
    return (time.perf_counter() - wall) * 1e3 / calls, (time.process_time() - cpu) * 1e3 / calls


async def measure(base_url: str, calls: int, repeat: int) -> None:
    import openai

    spec = ModelSpec(provider="openai", name="loopback-model", base_url=base_url, api_key_env="GATEWAY_BENCH")
    endpoint = endpoint_for(spec, concurrency=4, rpm=None, tpm=None, max_retries=1, timeout_s=30)
    caller = ModelCaller(endpoint=endpoint, provider_name="openai", base_url=base_url, model=spec.name, params={},
                         tools=(), seed=0, pricing={})
    gateway = Gateway(caller)
    meter = RunMeter()
    token = gateway.register(meter, TargetRun(case=Case(id="bench", input="question"), index=0,
                                              messages=(Message(role="user", content="question"),)))
    ctx_base, anthropic_base = await gateway.base_urls(token)
    in_process = gateway.client("openai", ctx_base, anthropic_base)
    over_http = openai.AsyncOpenAI(base_url=ctx_base, api_key="agent-eval", max_retries=0)
    direct = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    def chat(client: Any, **extra: Any) -> Any:
        async def call(i: int) -> None:  # a distinct prompt each time: the cache is off, but keep keys apart
            messages = [*MESSAGES[:1], {"role": "user", "content": f"question {i}"}]
            reply = await client.chat.completions.create(model=spec.name, messages=messages, **extra)
            if extra.get("stream"):
                async for _ in reply:
                    pass
        return call

    paths = {"direct": chat(direct), "ctx.openai": chat(in_process), "ctx.base_url": chat(over_http),
             "ctx.openai streamed": chat(in_process, stream=True), "direct streamed": chat(direct, stream=True)}
    for call in paths.values():
        await _time(call, 10)  # warm up: imports, connections
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):  # interleaved, so a noisy neighbour hits all alike
        for name, call in paths.items():
            wall, cpu = await _time(call, calls)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))
    base = best["direct"]
    for name, (wall, cpu) in best.items():
        reference = best["direct streamed"] if name == "ctx.openai streamed" else base
        print(f"{name:>20}: {wall:6.3f} ms ({cpu:.3f} ms CPU) per call · added {wall - reference[0]:+.3f} ms "
              f"({cpu - reference[1]:+.3f} ms CPU)")
    await over_http.close()
    await direct.close()
    gateway.unregister(token)
    await gateway.aclose()
    await endpoint.provider.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "loopback.py"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        os.environ["GATEWAY_BENCH"] = "bench"
        asyncio.run(measure(base_url, args.calls, args.repeat))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
