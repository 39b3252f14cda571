"""Worker processes for Python agents, so nothing an agent does can take the run down.

Each worker is a long-lived `python -m agent_eval.targets._agent_worker` in its own session
(process group), started on first use and reused, one run at a time. A worker that was stopped
mid-run (timeout, cancellation, SIGTERM), that died (`os._exit`, a signal) or whose agent left
threads running is retired: its whole process group is killed, children included.
Set AGENT_EVAL_ISOLATION=none to run agents in agent-eval's own process instead (debugging).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_eval.checks._worker import HEADER

__all__ = ["ISOLATION_ENV", "AgentWorkerPool", "WorkerEnded", "isolated"]

ISOLATION_ENV = "AGENT_EVAL_ISOLATION"
_START_TIMEOUT_S = 60.0


def isolated() -> bool:
    """Python agents run in worker processes unless AGENT_EVAL_ISOLATION=none."""
    return os.environ.get(ISOLATION_ENV, "").strip().lower() not in ("none", "off", "0")


class WorkerEnded(Exception):
    """The worker process could not start, or ended without answering."""


@dataclass(slots=True)
class _Worker:
    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls) -> _Worker:
        root = str(Path(__file__).resolve().parent.parent.parent)  # the folder holding agent_eval/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent_eval.targets._agent_worker", env=env, start_new_session=True,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise WorkerEnded(f"cannot start a worker process for the agent: {exc}") from None
        worker = cls(process)
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                ready = await worker.read()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            ready = None
        except BaseException:  # cancelled while starting: leave no process behind
            worker.kill()
            raise
        if ready != "ready":
            worker.kill()
            raise WorkerEnded("the worker process for the agent did not start")
        return worker

    async def ask(self, request: Any) -> Any:
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        assert self.process.stdin is not None
        self.process.stdin.write(HEADER.pack(len(data)) + data)
        await self.process.stdin.drain()
        return await self.read()

    async def read(self) -> Any:
        assert self.process.stdout is not None
        (size,) = HEADER.unpack(await self.process.stdout.readexactly(HEADER.size))
        return pickle.loads(await self.process.stdout.readexactly(size))

    def kill(self) -> None:
        """The worker and every process the agent started in its group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


@dataclass(slots=True)
class AgentWorkerPool:
    """Up to `size` workers, each running one agent run at a time."""

    size: int
    _idle: list[_Worker] = field(default_factory=list)
    _retired: list[_Worker] = field(default_factory=list)
    _slots: asyncio.Semaphore | None = None
    _preload: dict[str, Any] | None = None
    _starting: set[asyncio.Task[None]] = field(default_factory=set)

    async def prestart(self, count: int, preload: dict[str, Any]) -> None:
        """Start `count` workers at once, each importing the agent, before any run's clock starts."""
        self._preload = preload
        await asyncio.gather(*(self._spare() for _ in range(max(0, count - len(self._idle)))))

    async def _spare(self) -> None:
        """One more idle worker with the agent imported; one that cannot start is left to the run needing it."""
        worker = None
        try:
            worker = await _Worker.start()
            if self._preload is not None:
                async with asyncio.timeout(_START_TIMEOUT_S):  # an import that never returns
                    await worker.ask(self._preload)
        except (WorkerEnded, TimeoutError, asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            if worker is not None:
                worker.kill()
                self._retired.append(worker)
            return
        except BaseException:
            if worker is not None:
                worker.kill()
                self._retired.append(worker)
            raise
        self._idle.append(worker)

    def _replace(self) -> None:
        """Start a spare in the background for a retired worker, so the next run does not wait for one."""
        if self._preload is not None and len(self._idle) + len(self._starting) < self.size:
            task = asyncio.create_task(self._spare())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One run in an idle worker; WorkerEnded when the worker dies without an answer."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            if not self._idle and self._starting:  # a spare is on its way
                await asyncio.wait(set(self._starting), return_when=asyncio.FIRST_COMPLETED)
            worker = self._idle.pop() if self._idle else await _Worker.start()
            answer: dict[str, Any] | None = None
            try:
                answer = await worker.ask(request)
                return answer
            except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError) as exc:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await worker.process.wait()
                raise WorkerEnded(_ended(worker.process.returncode)) from exc
            finally:  # stopped mid-run, dead, or with the agent's threads still running: never reused
                if answer is not None and not answer.get("threads"):
                    self._idle.append(worker)
                else:
                    worker.kill()
                    self._retired.append(worker)
                    self._replace()

    async def aclose(self) -> None:
        """End idle workers (closing their input ends them), then kill what is left of every group."""
        self._preload = None  # no more spares
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        for worker in self._idle:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in [*self._idle, *self._retired]:
            try:
                async with asyncio.timeout(2.0):
                    await worker.process.wait()
            except TimeoutError:
                pass
            worker.kill()  # children the agent left behind die with the run
            await worker.process.wait()
        self._idle.clear()
        self._retired.clear()


def _ended(code: int | None) -> str:
    if code is None:
        return "the agent's worker process stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"the agent's worker process was killed by {signal.Signals(-code).name}"
    return f"the agent's worker process exited with status {code} (os._exit?)"
