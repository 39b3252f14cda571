"""The conversation driver's own overhead per turn, against the same target calls made directly.

A scripted conversation of --turns user turns on the plain prompt target (offline mock: no I/O,
the pure CPU cost of agent-eval), played by `Conversations.play` (rendering each turn, the
escalation check, per-turn views, spans, combining the turns), against the same prompt-target
runs on the same growing histories with nothing around them. One conversation at a time, best
of --repeat:

    overhead per turn = (driver time - direct time) / (runs x turns)

    python benchmarks/conversation_turns.py [--runs 200] [--turns 6] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_eval.calls import endpoint_for
from agent_eval.conversation import Conversations
from agent_eval.modelspec import ModelSpec
from agent_eval.records import Message
from agent_eval.suite.case import Case, Turn
from agent_eval.suite.loader import LoadedConfig
from agent_eval.suite.schema import ConfigFile, EscalationSpec
from agent_eval.targets.base import TargetRun
from agent_eval.targets.calling import ModelCaller
from agent_eval.targets.prompt import PromptTarget

MOCK = {"rules": [{"match": "turn (?P<n>\\d+)", "answers": [{"text": "Answer to turn {{ n }}."}]}]}


def _setup(turns: int) -> tuple[PromptTarget, Conversations, Case, tuple[Message, ...]]:
    spec = ModelSpec.model_validate({"provider": "mock", "name": "bench", "mock": MOCK})
    endpoint = endpoint_for(spec, concurrency=1, rpm=None, tpm=None, max_retries=1, timeout_s=30)
    caller = ModelCaller(endpoint=endpoint, provider_name="mock", base_url=None, model="bench", params={},
                         tools=(), seed=0, pricing={})
    config = LoadedConfig(spec=ConfigFile.model_validate({"name": "b", "version": "1.0.0", "model": spec.model_dump(),
                                                          "prompt": {"system": "Be brief.", "user": "{{ input }}"}}),
                          path=Path("bench.yaml"), hash="")
    case = Case(id="bench", input="turn 1", conversation=tuple(Turn(user=f"turn {n}") for n in range(1, turns + 1)))
    start = (Message(role="system", content="Be brief."), Message(role="user", content="turn 1"))
    talks = Conversations(config=config, escalation=EscalationSpec(tool="handoff_to_human"))
    return PromptTarget(caller), talks, case, start


async def _driver(target: PromptTarget, talks: Conversations, case: Case, start: tuple[Message, ...],
                  runs: int) -> float:
    began = time.perf_counter()
    for index in range(runs):
        await talks.play(target, case, index, start, None)
    return time.perf_counter() - began


async def _direct(target: PromptTarget, case: Case, start: tuple[Message, ...], runs: int, turns: int) -> float:
    began = time.perf_counter()
    for index in range(runs):
        history = list(start)
        for n in range(1, turns + 1):
            result = await target.run(TargetRun(case=dataclasses.replace(case, input=f"turn {n}"), index=index,
                                                messages=tuple(history)))
            history = [*result.messages, Message(role="assistant", content=result.output),
                       Message(role="user", content=f"turn {n + 1}")]
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    target, talks, case, start = _setup(args.turns)
    driver, direct = [], []
    for _ in range(args.repeat):
        driver.append(asyncio.run(_driver(target, talks, case, start, args.runs)))
        direct.append(asyncio.run(_direct(target, case, start, args.runs, args.turns)))
    turns = args.runs * args.turns
    best_driver, best_direct = min(driver) / turns * 1000, min(direct) / turns * 1000
    print(f"{args.runs} conversations x {args.turns} turns, mock prompt target, best of {args.repeat}")
    print(f"  driver: {best_driver:.3f} ms per turn (cold: {driver[0] / turns * 1000:.3f})")
    print(f"  direct: {best_direct:.3f} ms per turn (cold: {direct[0] / turns * 1000:.3f})")
    print(f"  overhead per turn: {best_driver - best_direct:.3f} ms")


if __name__ == "__main__":
    main()
