"""The worker process that runs Python agents: `python -m agent_eval.targets._agent_worker`.

It speaks the length-prefixed pickle frames of the `python:` check workers on the stdin/stdout it
was started with, which it keeps for itself: the agent sees /dev/null as stdin and our stderr as
fd 1, and what it prints through `sys.stdout`/`sys.stderr` during a run is captured (bounded) and
sent back with the answer. A request is one run (see `isolation.AgentRequest`); the answer is an
`AgentAnswer`. Exits the agent raises (SystemExit, KeyboardInterrupt, CancelledError) are answers
too; `os._exit` or a signal ends the worker, which the parent sees as an errored run.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_eval.checks._worker import HEADER, read_frame, write_frame

__all__ = ["main"]


class _Capture(io.TextIOBase):
    """What the agent prints, kept up to `limit` characters (then counted)."""

    def __init__(self, limit: int) -> None:
        self._parts: list[str] = []
        self._kept = 0
        self._dropped = 0
        self._limit = limit
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            room = self._limit - self._kept
            if room > 0:
                self._parts.append(text[:room])
                self._kept += min(room, len(text))
            self._dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        with self._lock:
            kept = "".join(self._parts)
            return kept + (f"\n[agent-eval: {self._dropped:,} more characters printed, not kept]"
                           if self._dropped else "")


class _Context:
    """The worker's AgentContext: clients over loopback HTTP to the parent's gateway."""

    def __init__(self, fields: dict[str, Any]) -> None:
        from agent_eval.targets.agent_io import AgentContext

        remaining = fields["remaining_s"]
        deadline = None if remaining is None else time.monotonic() + remaining
        self.clients: list[Any] = []
        self.ctx = AgentContext(
            case_id=fields["case_id"], repetition=fields["repetition"], model=fields["model"],
            params=fields["params"], base_url=fields["base_url"], anthropic_base_url=fields["anthropic_base_url"],
            deadline=deadline, client_factory=self._client)

    def _client(self, kind: str) -> Any:
        import httpx2

        # plain HTTP to loopback: no TLS context (creating one costs ~50 ms), no timeout but the run's own
        http = httpx2.AsyncClient(verify=False, timeout=None)
        if kind == "openai":
            import openai

            client: Any = openai.AsyncOpenAI(api_key=self.ctx.api_key, base_url=self.ctx.base_url, max_retries=0,
                                             http_client=http)
        else:
            import anthropic

            client = anthropic.AsyncAnthropic(api_key=self.ctx.api_key, base_url=self.ctx.anthropic_base_url,
                                              max_retries=0, http_client=http)
        self.clients.append(client)
        return client


def _function(functions: dict[tuple[str, str], Callable[..., Any]], ref: str, base_dir: str) -> Callable[..., Any]:
    from agent_eval.targets.toolbox import import_ref

    function = functions.get((ref, base_dir))
    if function is None:
        for path in (base_dir, str(Path.cwd())):  # the agent may import its siblings while it runs
            if path not in sys.path:
                sys.path.insert(0, path)
        function = functions[(ref, base_dir)] = import_ref(ref, Path(base_dir))
    return function


def _run(loop: asyncio.AbstractEventLoop, function: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    """One run: {"result": AgentResult fields} or {"error": (message, traceback)}."""
    from agent_eval.targets.agent_io import AgentInput
    from agent_eval.targets.python_agent import as_result

    context = _Context(request["ctx"])
    inp = AgentInput.model_validate(request["input"])
    try:
        if inspect.iscoroutinefunction(function):
            value = loop.run_until_complete(function(inp, context.ctx))
        else:
            value = function(inp, context.ctx)
            if inspect.isawaitable(value):
                value = loop.run_until_complete(value)
        return {"result": as_result(value).model_dump(mode="python")}
    except BaseException as exc:  # exits of any kind are the run's error, never the worker's end
        return {"error": (f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc)))}
    finally:
        for client in context.clients:
            with contextlib.suppress(BaseException):
                loop.run_until_complete(client.close())


def _tool(loop: asyncio.AbstractEventLoop, function: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    """One tool call of the built-in loop: {"result": its value as JSON data} or {"error": (message, where)}."""
    from agent_eval.targets.toolbox import ToolContext, jsonable

    try:
        value = function(request["args"], ToolContext(**request["ctx"]))
        if inspect.isawaitable(value):
            value = loop.run_until_complete(value)
        return {"result": jsonable(value)}
    except BaseException as exc:  # a tool's exit is its error, as in-process
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        return {"error": (f"{type(exc).__name__}: {exc}{where}", "")}


def _send(answers: Any, answer: dict[str, Any]) -> None:
    """The answer; a result that does not pickle goes as its JSON or text, one that cannot go at all is an error."""
    from agent_eval.targets.toolbox import jsonable

    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        try:
            data = pickle.dumps({**answer, "result": jsonable(answer.get("result"))}, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            problem = f"returned a value that cannot be sent back: {type(exc).__name__}: {exc}"[:500]
            data = pickle.dumps({"unsendable": problem, "printed": answer.get("printed", ""),
                                 "threads": answer.get("threads", 0)}, protocol=pickle.HIGHEST_PROTOCOL)
    answers.write(HEADER.pack(len(data)) + data)
    answers.flush()


def _left_threads() -> int:
    """Threads the agent left running that would keep a process alive: such a worker is retired, not reused.
    The worker loop's own executor threads (`asyncio_N`, e.g. for DNS lookups) are ours."""
    return sum(1 for t in threading.enumerate()
               if t is not threading.main_thread() and not t.daemon and not t.name.startswith("asyncio_"))


def _die_with_parent() -> None:
    """Linux: SIGKILL when agent-eval dies without closing our input (kill -9), so no worker outlives it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from agent_eval.checks._worker import _private_streams
    from agent_eval.targets import python_agent  # noqa: F401 (imported before "ready": not a run's time)

    requests, answers = _private_streams()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    functions: dict[tuple[str, str], Callable[..., Any]] = {}
    write_frame(answers, "ready")
    while True:
        request = read_frame(requests)
        if request is None:
            return
        if "preload" in request:  # import the agent before the first run (its import is not the run's time)
            with contextlib.suppress(BaseException):
                _function(functions, request["preload"], request["base_dir"])
                if request.get("sdk"):  # ctx.openai's first use would otherwise count in a run's latency
                    warm = _Context({"case_id": "", "repetition": 0, "model": "", "params": {}, "remaining_s": None,
                                     "base_url": "http://127.0.0.1:9/v1", "anthropic_base_url": ""})
                    assert warm.ctx.openai.chat.completions is not None  # its lazy imports, never a request
            write_frame(answers, "loaded")
            continue
        capture = _Capture(request["printed_limit"])
        sys.stdout = sys.stderr = capture
        try:
            function = _function(functions, request["ref"], request["base_dir"])
        except BaseException as exc:  # an import that raises or exits
            answer: dict[str, Any] = {"error": (f"cannot import {request['ref']}: {type(exc).__name__}: {exc}",
                                                "".join(traceback.format_exception(exc)))}
        else:
            answer = _tool(loop, function, request) if "tool" in request else _run(loop, function, request)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        answer["printed"] = capture.text()
        answer["threads"] = _left_threads()
        _send(answers, answer)


if __name__ == "__main__":
    main()
