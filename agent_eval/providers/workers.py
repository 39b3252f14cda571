"""Model calls made in worker processes (`--workers N`), so the SDKs' CPU runs on more than one core.

`CallWorkers` is a provider: the endpoint in the main process keeps the one pacer, the retries, the
budget, the cache and the results file, and hands each attempt to the worker with the fewest calls in
flight. Workers start in the background; until one is ready, and if all have ended, calls are made here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_eval.modelspec import ModelSpec
from agent_eval.providers.base import Completion, CompletionRequest, Provider, RetryDecision, RetryKind

__all__ = ["CallWorkers", "WorkerCallFailed"]

_HEADER_SIZE = 4
_START_TIMEOUT_S = 60.0


class WorkerCallFailed(Exception):
    """A call a worker made failed; the worker classified the SDK's exception into `decision`."""

    def __init__(self, decision: RetryDecision) -> None:
        super().__init__(decision.message)
        self.decision = decision


def _frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER_SIZE, "big") + data


@dataclass(slots=True)
class _Worker:
    process: asyncio.subprocess.Process
    pending: dict[int, asyncio.Future[tuple[bool, Any]]] = field(default_factory=dict)
    alive: bool = True
    reader: asyncio.Task[None] | None = None
    batch: list[bytes] = field(default_factory=list)

    def send(self, message: Any) -> None:
        """Queue a frame; the frames of one loop iteration go out in one write."""
        if not self.batch:
            asyncio.get_running_loop().call_soon(self._write)
        self.batch.append(_frame(message))

    def _write(self) -> None:
        data = b"".join(self.batch)
        self.batch.clear()
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.write(data)

    async def receive(self) -> Any:
        assert self.process.stdout is not None
        size = int.from_bytes(await self.process.stdout.readexactly(_HEADER_SIZE), "big")
        return pickle.loads(await self.process.stdout.readexactly(size))

    async def read_answers(self) -> None:
        """Resolve each call as its answer arrives; when the worker ends, its calls in flight fail (transient)."""
        try:
            while True:
                call_id, ok, value = await self.receive()
                future = self.pending.pop(call_id, None)
                if future is not None and not future.done():
                    future.set_result((ok, value))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError, EOFError):
            pass
        finally:
            self.alive = False
            ended = RetryDecision(RetryKind.TRANSIENT, "the call worker process ended")
            for future in self.pending.values():
                if not future.done():
                    future.set_result((False, ended))
            self.pending.clear()


class CallWorkers:
    """A provider whose calls are made by `count` worker processes, each with its own SDK client."""

    def __init__(self, local: Provider, spec: ModelSpec, *, count: int, api_key: str | None,
                 base_url: str | None, max_connections: int) -> None:
        self.name = local.name
        self._local = local
        self._setup = (spec, api_key, base_url, max_connections)
        self._count = count
        self._workers: list[_Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)

    def __getattr__(self, name: str) -> Any:  # embeddings and moderation stay in this process
        return getattr(self._local, name)

    async def start(self) -> int:
        """Start the workers now (else the first call does, in the background); the number ready."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
        await asyncio.shield(self._starting)
        return sum(w.alive for w in self._workers)

    async def complete(self, request: CompletionRequest) -> Completion:
        """One attempt, by the least busy ready worker (here while none is)."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
        ready = [w for w in self._workers if w.alive]
        if not ready:
            return await self._local.complete(request)
        worker = min(ready, key=lambda w: len(w.pending))
        call_id = next(self._ids)
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = future
        try:
            worker.send((call_id, request))
            ok, value = await future
        finally:
            worker.pending.pop(call_id, None)
        if ok:
            completion: Completion = value
            return completion
        raise WorkerCallFailed(value)

    def classify(self, exc: BaseException) -> RetryDecision:
        if isinstance(exc, WorkerCallFailed):
            return exc.decision
        return self._local.classify(exc)

    async def _start(self) -> None:
        started = await asyncio.gather(*(self._start_one() for _ in range(self._count)), return_exceptions=True)
        self._workers = [w for w in started if isinstance(w, _Worker)]

    async def _start_one(self) -> _Worker:
        root = str(Path(__file__).resolve().parent.parent.parent)  # the folder holding agent_eval/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent_eval.providers._call_worker", env=env, start_new_session=True,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26)
        worker = _Worker(process)
        try:
            assert process.stdin is not None
            process.stdin.write(_frame(self._setup))
            async with asyncio.timeout(_START_TIMEOUT_S):
                if await worker.receive() != (0, True, "ready"):
                    raise ConnectionError("the call worker did not start")
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        worker.reader = asyncio.create_task(worker.read_answers())
        return worker

    async def aclose(self) -> None:
        """Stop the workers (stdin closed: each finishes and exits), then the local client."""
        if self._starting is not None:
            if not self._starting.done():
                self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self._workers:
            try:
                async with asyncio.timeout(5.0):
                    await worker.process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            if worker.reader is not None:
                worker.reader.cancel()
                with contextlib.suppress(BaseException):
                    await worker.reader
        await self._local.aclose()
