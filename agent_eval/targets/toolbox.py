"""Executing the tool calls a model makes: canned per-case results first, then the tool's implementation.

An unknown tool, arguments that are not a JSON object, a canned list with no matching entry
and a tool that raises are all tool errors: fed back to the model and recorded, never a crash.
With isolation on (the default, as for Python agents) implementations run in worker processes, so a
tool that calls `os._exit` or is killed ends its run as errored (`ToolCrashed`), never agent-eval.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_eval.checks._util import json_equal, render_json
from agent_eval.errors import ConfigError
from agent_eval.records import ToolCall
from agent_eval.suite.case import Case
from agent_eval.suite.schema import ToolResultSpec
from agent_eval.tooldefs import tool_parts

if TYPE_CHECKING:
    from agent_eval.targets.isolation import AgentWorkerPool

__all__ = ["ToolBox", "ToolContext", "ToolCrashed", "import_ref", "jsonable"]


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool implementation `fn(args, ctx)` may know about the run calling it."""

    case_id: str
    repetition: int
    vars: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


def import_ref(ref: str, base_dir: Path) -> Callable[..., Any]:
    """The callable named "pkg.module:function", imported with `base_dir` and the cwd importable."""
    module_name, _, attr = ref.partition(":")
    added = [p for p in (str(base_dir.resolve()), str(Path.cwd())) if p not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f'cannot import "{ref}": {exc}') from None
    finally:
        for path in added:
            sys.path.remove(path)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f'"{ref}": module {module_name} has no {attr}')
    if not callable(target):
        raise ConfigError(f'"{ref}" is not callable')
    return target  # type: ignore[no-any-return]


def jsonable(value: Any) -> Any:
    """A tool's or agent's value as plain JSON data (what a record can hold): other objects become text."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (ValueError, TypeError, RecursionError):
        return str(value)


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return json_equal(expected, actual)


class ToolCrashed(Exception):
    """A tool implementation's worker process died mid-call (`os._exit`, a signal): the run errors."""


class ToolBox:
    """The config's tools with their implementations imported once (and run in worker processes when isolated)."""

    def __init__(self, tools: tuple[Mapping[str, Any], ...], base_dir: Path, *, workers: int = 0) -> None:
        self.names = tuple(tool_parts(tool)[0] for tool in tools)
        self._functions: dict[str, Callable[..., Any]] = {}
        self._refs: dict[str, str] = {}
        self._base_dir = str(base_dir.resolve())
        for tool in tools:
            ref = tool.get("implementation")
            if isinstance(ref, str):
                self._functions[tool_parts(tool)[0]] = import_ref(ref, base_dir)
                self._refs[tool_parts(tool)[0]] = ref
        self._workers: AgentWorkerPool | None = None
        if workers > 0 and self._refs:
            from agent_eval.targets.isolation import AgentWorkerPool

            self._workers = AgentWorkerPool(workers)

    async def prepare(self, runs: int) -> None:
        """Start the workers the first runs need, a tool imported in each, before any run's clock starts."""
        if self._workers is not None:
            first = next(iter(self._refs.values()))
            await self._workers.prestart(min(self._workers.size, runs), {"preload": first, "base_dir": self._base_dir})

    async def aclose(self) -> None:
        """End the tools' worker processes."""
        if self._workers is not None:
            await self._workers.aclose()

    async def execute(self, call: ToolCall, case: Case, ctx: ToolContext) -> tuple[Any, str | None, float]:
        """(result, error, duration_ms) of one call."""
        start = time.perf_counter()
        result, error = await self._execute(call, case, ctx)
        return result, error, (time.perf_counter() - start) * 1000.0

    async def _execute(self, call: ToolCall, case: Case, ctx: ToolContext) -> tuple[Any, str | None]:
        args = call.parsed_arguments()
        if not isinstance(args, dict):
            return None, f"arguments of {call.name} are not a JSON object: {call.arguments[:80]!r}"
        canned = case.tool_results.get(call.name)
        if canned is not None:
            return _canned(call.name, canned, args)
        function = self._functions.get(call.name)
        if function is None:
            if call.name in self.names:
                return None, f"tool {call.name} has no implementation and the case no tool_results for it"
            known = ", ".join(self.names) or "none"
            return None, f"unknown tool {call.name} (tools: {known})"
        if self._workers is not None:
            return await self._in_worker(self._workers, call.name, args, ctx)
        try:
            if inspect.iscoroutinefunction(function):
                return jsonable(await function(args, ctx)), None
            value = await asyncio.to_thread(function, args, ctx)
            return jsonable(await value if inspect.isawaitable(value) else value), None
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a tool's exit is its error, not agent-eval's
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            return None, f"{type(exc).__name__}: {exc}{where}"


    async def _in_worker(self, workers: AgentWorkerPool, name: str, args: dict[str, Any],
                         ctx: ToolContext) -> tuple[Any, str | None]:
        from agent_eval.targets.isolation import WorkerEnded

        request = {"tool": name, "ref": self._refs[name], "base_dir": self._base_dir, "args": args,
                   "printed_limit": 0,
                   "ctx": {"case_id": ctx.case_id, "repetition": ctx.repetition, "vars": jsonable(dict(ctx.vars)),
                           "metadata": jsonable(dict(ctx.metadata))}}
        try:
            answer = await workers.call(request)
        except WorkerEnded as exc:
            raise ToolCrashed(f"tool {name} ({self._refs[name]}): {exc}".replace("agent's ", "")) from None
        if "error" in answer:
            return None, str(answer["error"][0])
        if "unsendable" in answer:
            return None, str(answer["unsendable"])
        return answer.get("result"), None


def _canned(name: str, entries: tuple[ToolResultSpec, ...], args: dict[str, Any]) -> tuple[Any, str | None]:
    for entry in entries:
        if entry.when is None or _subset(entry.when, args):
            return (None, entry.error) if entry.error is not None else (entry.result, None)
    return None, f"no tool_results entry of {name} matches the arguments {render_json(args)}"
