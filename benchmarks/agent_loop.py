"""The built-in tool loop's own overhead per step, against the bare model call (the prompt target).

Each step of the loop is one model call plus executing the tool calls it asked for (a canned
result here), building the spans and growing the transcript. The bare call is the plain prompt
target on the same endpoint. Both run one run at a time, in process, best of --repeat:

    overhead per step = (loop run time / steps) - (prompt run time)

on the offline mock provider (no I/O: the pure CPU cost of agent-eval) and on the OpenAI SDK
against the loopback server in its own process (what a real endpoint adds around it).

Then the cost of isolating Python agents: the same agent run in a worker process (the default)
and in agent-eval's own process (AGENT_EVAL_ISOLATION=none), one run at a time, best of
--repeat; once an agent that only answers, once one that makes a `ctx.openai` call (mock model);
and a call of a loop tool's implementation in a worker process against in agent-eval's process.

    python benchmarks/agent_loop.py [--runs 200] [--steps 8] [--repeat 5] [--only isolation]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_eval.calls import endpoint_for
from agent_eval.modelspec import ModelSpec
from agent_eval.records import Message
from agent_eval.suite.case import Case
from agent_eval.suite.schema import ToolResultSpec
from agent_eval.targets.base import TargetRun
from agent_eval.targets.calling import ModelCaller
from agent_eval.targets.loop import ToolLoopTarget
from agent_eval.targets.prompt import PromptTarget
from agent_eval.targets.python_agent import PythonTarget
from agent_eval.targets.toolbox import ToolBox, import_ref

TOOLS = ({"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},)
MOCK = {"rules": [{"role": "tool", "match": ".", "answers": [{"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}]},
                  {"match": ".", "answers": [{"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}]}]}


def _caller(spec: ModelSpec) -> ModelCaller:
    endpoint = endpoint_for(spec, concurrency=1, rpm=None, tpm=None, max_retries=1, timeout_s=30)
    return ModelCaller(endpoint=endpoint, provider_name=spec.provider, base_url=spec.base_url, model=spec.name,
                       params={"max_tokens": 64}, tools=TOOLS, seed=0, pricing={})


START = (Message(role="system", content="You are terse."), Message(role="user", content="question"))


async def _time(target: object, runs: int, case: Case, messages: tuple[Message, ...] = START) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per run."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(runs):
        await target.run(TargetRun(case=case, index=i, messages=messages))  # type: ignore[attr-defined]
    return (time.perf_counter() - wall) / runs, (time.process_time() - cpu) / runs


async def measure(spec: ModelSpec, runs: int, steps: int, repeat: int) -> None:
    case = Case(id="bench", input="question", tool_results={"lookup": (ToolResultSpec(result={"hits": [1, 2, 3]}),)})
    caller = _caller(spec)
    prompt = PromptTarget(caller)
    loop = ToolLoopTarget(caller, ToolBox(TOOLS, ROOT), max_steps=steps)
    await _time(prompt, 5, case)  # warm up: imports, connections
    sample = await loop.run(TargetRun(case=case, index=0, messages=START))
    # the transcript a loop step sends on average: the bare call gets the same, so only the loop's own work differs
    middle = sample.messages[: len(START) + 2 * ((steps - 1) // 2)]
    bares, mids, loops = [], [], []
    for _ in range(repeat):  # interleaved, so a noisy neighbour hits all alike
        bares.append(await _time(prompt, runs, case))
        mids.append(await _time(prompt, runs, case, middle))
        loops.append(await _time(loop, max(1, runs // steps), case))
    bare, mid, looped = min(bares), min(mids), min(loops)
    step = (looped[0] / steps, looped[1] / steps)
    print(f"{spec.provider:>8}: bare call {bare[0] * 1e3:6.3f} ms ({bare[1] * 1e3:.3f} CPU) · same call with a "
          f"{len(middle)}-message transcript {mid[0] * 1e3:6.3f} ms ({mid[1] * 1e3:.3f} CPU) · loop step "
          f"{step[0] * 1e3:6.3f} ms ({step[1] * 1e3:.3f} CPU) · loop overhead per step "
          f"{(step[0] - mid[0]) * 1e3:+.3f} ms ({(step[1] - mid[1]) * 1e3:+.3f} ms CPU)")
    await caller.endpoint.provider.aclose()


AGENTS = """
async def answers(inp, ctx):
    return "ok"

async def calls(inp, ctx):
    reply = await ctx.openai.chat.completions.create(model=ctx.model, messages=inp.messages)
    return reply.choices[0].message.content

def lookup(args, ctx):
    return {"q": args.get("q"), "status": "shipped"}
"""


async def measure_tool_isolation(calls: int, repeat: int) -> None:
    """Per call of an implemented tool of the loop: in a worker process minus in agent-eval's process."""
    import tempfile

    from agent_eval.records import ToolCall
    from agent_eval.targets.toolbox import ToolContext

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench_tools.py").write_text(AGENTS)
        tools = ({**TOOLS[0], "implementation": "bench_tools:lookup"},)
        boxes = {workers: ToolBox(tools, Path(folder), workers=workers) for workers in (1, 0)}
        call, case, ctx = ToolCall(id="c", name="lookup", arguments='{"q": "x"}'), Case(id="b", input="q"), ToolContext("b", 0)
        timings: dict[int, list[float]] = {1: [], 0: []}
        for box in boxes.values():
            await box.prepare(1)
            for _ in range(20):
                await box.execute(call, case, ctx)
        for _ in range(repeat):
            for workers, box in boxes.items():
                start = time.perf_counter()
                for _ in range(calls):
                    await box.execute(call, case, ctx)
                timings[workers].append((time.perf_counter() - start) / calls)
        isolated, own = min(timings[1]), min(timings[0])
        print(f"loop tool implementation: in process {own * 1e3:6.3f} ms · in a worker {isolated * 1e3:6.3f} ms · "
              f"isolation per call {(isolated - own) * 1e3:+.3f} ms")
        for box in boxes.values():
            await box.aclose()


async def measure_isolation(runs: int, repeat: int) -> None:
    """Per run: isolated (worker process) minus in-process, for an agent that answers and one that calls ctx."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench_agents.py").write_text(AGENTS)
        spec = ModelSpec.model_validate({"provider": "mock", "name": "mock-bench",
                                         "mock": {"rules": [{"match": ".", "answers": [{"text": "hi"}]}]}})
        case = Case(id="bench", input="question")
        for name in ("answers", "calls"):
            ref = f"bench_agents:{name}"
            targets = {isolate: PythonTarget(_caller(spec), import_ref(ref, Path(folder)), ref, workers=1,
                                             base_dir=Path(folder), isolate=isolate) for isolate in (True, False)}
            for target in targets.values():
                await target.prepare(1)
                await _time(target, 5, case)  # warm up: the worker, imports, connections
            timings: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for _ in range(repeat):
                for isolate, target in targets.items():
                    timings[isolate].append(await _time(target, runs, case))
            (iso_wall, iso_cpu), (own_wall, own_cpu) = min(timings[True]), min(timings[False])
            print(f"python agent that {name:>7}: in process {own_wall * 1e3:6.3f} ms ({own_cpu * 1e3:.3f} CPU) · "
                  f"isolated {iso_wall * 1e3:6.3f} ms ({iso_cpu * 1e3:.3f} CPU here) · isolation per run "
                  f"{(iso_wall - own_wall) * 1e3:+.3f} ms")
            for target in targets.values():
                await target.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["isolation"], default=None)
    args = parser.parse_args()
    asyncio.run(measure_isolation(args.runs, args.repeat))
    asyncio.run(measure_tool_isolation(args.runs, args.repeat))
    if args.only == "isolation":
        return
    mock = ModelSpec.model_validate({"provider": "mock", "name": "mock-bench", "mock": MOCK})
    asyncio.run(measure(mock, args.runs, args.steps, args.repeat))
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "loopback.py"), "--port", "0", "--reply-tool", "lookup"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        spec = ModelSpec(provider="openai", name="loopback-model", base_url=base_url, api_key_env="AGENT_LOOP_BENCH")
        import os

        os.environ["AGENT_LOOP_BENCH"] = "bench"
        asyncio.run(measure(spec, max(20, args.runs // 4), args.steps, args.repeat))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
