"""Evaluating a run's checks without ever blocking the event loop for long.

Built-in checks run inline: they are cheap, and the few steps that could run long (user regexes)
are bounded searches that give up after 50 ms inline (RegexTimeout), after which
the check (or its transform) runs again in a thread with its full time limit. `python:` checks run in worker
processes, started lazily on the first one and reused; a worker that overruns the check's limit
(or is cancelled with its run by `--run-timeout` or Ctrl-C) is killed and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from agent_eval.checks._worker import HEADER
from agent_eval.checks.base import Check, CheckInput, CheckTimeout
from agent_eval.checks.groups import GroupSpec, group_verdict
from agent_eval.checks.python import CallOutcome, UserCheck, interpret
from agent_eval.records import CheckResult
from agent_eval.userregex import RegexTimeout, time_budget

__all__ = ["DEFAULT_CHECK_TIMEOUT_S", "CheckRunner", "WorkerPool"]

DEFAULT_CHECK_TIMEOUT_S = 10.0
_START_TIMEOUT_S = 60.0  # starting a worker (an interpreter and our imports) is not the check's time

T = TypeVar("T")


class WorkerFailed(Exception):
    """A worker process could not start, or ended without answering."""


@dataclass(slots=True)
class _Worker:
    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls) -> _Worker:
        root = str(Path(__file__).resolve().parent.parent.parent)  # the folder holding agent_eval/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent_eval.checks._worker", env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise WorkerFailed(f"cannot start a worker process for python checks: {exc}") from None
        worker = cls(process)
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                ready = await worker._read()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            ready = None
        except BaseException:  # cancelled while starting: leave no process behind
            worker.kill()
            raise
        if ready != "ready":
            worker.kill()
            raise WorkerFailed("the worker process for python checks did not start")
        return worker

    async def ask(self, request: Any) -> Any:
        try:
            data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise WorkerFailed(f"cannot send the run to the worker process: {exc}") from None
        assert self.process.stdin is not None
        self.process.stdin.write(HEADER.pack(len(data)) + data)
        await self.process.stdin.drain()
        return await self._read()

    async def _read(self) -> Any:
        assert self.process.stdout is not None
        head = await self.process.stdout.readexactly(HEADER.size)
        (size,) = HEADER.unpack(head)
        data = await self.process.stdout.readexactly(size)
        try:
            return pickle.loads(data)
        except Exception as exc:  # e.g. an instance of a class only the worker imported
            raise WorkerFailed(f"the function's result cannot be read back: {type(exc).__name__}: {exc}") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


@dataclass(slots=True)
class WorkerPool:
    """Up to `size` worker processes, each answering one call at a time."""

    size: int
    _idle: list[_Worker] = field(default_factory=list)
    _retired: list[_Worker] = field(default_factory=list)
    _slots: asyncio.Semaphore | None = None

    async def call(self, request: Any, limit_s: float) -> Any:
        """Send one request to an idle worker; CheckTimeout past `limit_s`, WorkerFailed if it dies."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            worker = self._idle.pop() if self._idle else await _Worker.start()
            answered = False
            try:
                async with asyncio.timeout(limit_s):
                    answer = await worker.ask(request)
                answered = True
                return answer
            except TimeoutError:
                raise CheckTimeout(f"timed out after {limit_s:g} s") from None
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await worker.process.wait()
                code = worker.process.returncode
                detail = f" (exit code {code})" if code is not None else ""
                raise WorkerFailed(f"the worker process ended without an answer{detail}") from exc
            finally:  # a worker stopped mid-call (timeout, cancellation, death) is never reused
                if answered:
                    self._idle.append(worker)
                else:
                    worker.kill()
                    self._retired.append(worker)

    async def aclose(self) -> None:
        """End idle workers (closing their input ends them) and reap killed ones."""
        for worker in self._idle:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in [*self._idle, *self._retired]:
            try:
                async with asyncio.timeout(2.0):
                    await worker.process.wait()
            except TimeoutError:
                worker.kill()
                await worker.process.wait()
        self._idle.clear()
        self._retired.clear()


@dataclass(slots=True)
class CheckRunner:
    """Evaluates the checks of runs; owns the worker pool of `python:` checks."""

    timeout_s: float = DEFAULT_CHECK_TIMEOUT_S
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    _pool: WorkerPool | None = None

    async def run(self, checks: Sequence[Check], view: CheckInput) -> tuple[CheckResult, ...]:
        """Every check's result, in order."""
        return tuple([await self._one(check, view) for check in checks])

    async def _one(self, check: Check, run_view: CheckInput) -> CheckResult:
        view, failed = await self._view(check, run_view)
        if failed is not None:
            return failed
        if isinstance(check.arg, GroupSpec):  # its checks run here too: in workers, off the loop, ...
            return check.verdict(*group_verdict(check.arg, await self.run(check.arg.checks, view)))
        if check.aevaluate is not None:  # calls a model (similar, moderation)
            return await check.aevaluate_view(view)
        if check.isolated:
            return await self._in_worker(check, view)
        try:
            return check.evaluate_view(view)
        except RegexTimeout:
            return await self._off_loop(check, view)

    async def _view(self, check: Check, run_view: CheckInput) -> tuple[CheckInput, CheckResult | None]:
        """The check's transform applied: inline unless it runs user code or a bounded search ran out of time."""
        if check.transform is None:
            return run_view, None
        if not check.transform.runs_user_code:
            try:
                return check.view(run_view)
            except RegexTimeout:
                pass  # again off the loop, with the check's full time
        limit = self.limit(check)

        def bounded() -> tuple[CheckInput, CheckResult | None]:
            with time_budget(limit):
                return check.view(run_view)

        try:
            async with asyncio.timeout(limit):
                return await _in_thread(bounded)
        except (TimeoutError, RegexTimeout):
            return run_view, check.failed(f"transform timed out after {limit:g} s")

    def limit(self, check: Check) -> float:
        return check.timeout_s if check.timeout_s is not None else self.timeout_s

    async def _off_loop(self, check: Check, view: CheckInput) -> CheckResult:
        limit = self.limit(check)

        def bounded() -> CheckResult:
            with time_budget(limit):
                return check.evaluate_view(view)

        try:
            async with asyncio.timeout(limit + 1.0):  # the budget bounds each search; this bounds the rest
                return await _in_thread(bounded)
        except (CheckTimeout, RegexTimeout, TimeoutError):
            return check.failed(f"{check.name} timed out after {limit:g} s")

    async def _in_worker(self, check: Check, view: CheckInput) -> CheckResult:
        user: UserCheck = check.arg
        if self._pool is None:
            self._pool = WorkerPool(self.workers)
        light = CheckInput(  # plain data only: compiled checks and live services stay in this process
            output=view.output, case=replace(view.case, checks=()), messages=view.messages,
            tool_calls=view.tool_calls, tokens=view.tokens, latency_ms=view.latency_ms, cost_usd=view.cost_usd,
        )
        request = (user.ref, str(user.base_dir), light, user.config)
        try:
            outcome: CallOutcome = await self._pool.call(request, self.limit(check))
        except CheckTimeout:
            return check.failed(f"{user.ref} timed out after {self.limit(check):g} s")
        except WorkerFailed as exc:
            return check.failed(f"{user.ref}: {exc}")
        graded = interpret(user, outcome)
        return check.verdict(graded.passed, graded.reason, graded.score, graded.named_scores)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


async def _in_thread(function: Callable[[], T]) -> T:
    """Run `function` in a daemon thread (never joined at exit: a stuck one cannot hold the process)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = function()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="agent-eval-check", daemon=True).start()
    return await future
