"""A command agent: `agent: {command: ["node", "agent.js"], timeout_s: 60}`.

The process gets the AgentInput JSON on stdin and prints an AgentResult (or a bare JSON string)
on stdout; it runs in the config file's folder, in its own process group. A non-zero exit,
unreadable stdout or stdout over 16 MiB is an errored run of kind `target`, with stderr kept (its
last 8,000 characters); past `timeout_s` the run is a timeout. When the command ends, or times
out, or the run is stopped, its whole group is killed: children it left behind never outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

from agent_eval.records import RunError
from agent_eval.targets.agent_io import (
    JSON_DEPTH_LIMIT,
    PRINTED_LIMIT_CHARS,
    STREAM_LIMIT_BYTES,
    agent_input,
    json_depth,
)
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import RunMeter
from agent_eval.targets.python_agent import as_result, build_result

__all__ = ["CommandTarget"]

_CHUNK = 64 * 1024


class _Bounded:
    """A stream read to its end, keeping at most `limit` bytes (the first or the last ones)."""

    def __init__(self, limit: int, *, tail: bool = False) -> None:
        self.limit, self.tail = limit, tail
        self.data = bytearray()
        self.total = 0

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(_CHUNK):
            self.total += len(chunk)
            if self.tail:
                self.data += chunk
                del self.data[:-self.limit]
            elif len(self.data) < self.limit:
                self.data += chunk[: self.limit - len(self.data)]

    @property
    def cut(self) -> bool:
        return self.total > self.limit


class CommandTarget:
    """Starts the command once per run."""

    kind = "command"

    def __init__(self, argv: tuple[str, ...], timeout_s: float, cwd: Path) -> None:
        self.argv = argv
        self.timeout_s = timeout_s
        self.cwd = cwd

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline)
        start = meter.clock.now_ms()
        payload = agent_input(run).model_dump_json().encode()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=self.cwd, start_new_session=True)
        except OSError as exc:
            return _failed(run, f"cannot start {self.argv[0]}: {exc}")
        stdout, stderr = _Bounded(STREAM_LIMIT_BYTES), _Bounded(PRINTED_LIMIT_CHARS, tail=True)
        readers = [asyncio.create_task(stdout.drain(process.stdout)), asyncio.create_task(stderr.drain(process.stderr)),
                   asyncio.create_task(_feed(process, payload))]
        try:
            async with asyncio.timeout(self.timeout_s):
                await _exited(process, readers[:2])
                _kill_group(process)  # what it left running would hold its pipes open
                await asyncio.wait(readers, timeout=2.0)
        except TimeoutError:
            return _failed(run, f"{self._name} gave no answer within agent.timeout_s={self.timeout_s:g} s "
                           "(its process group was killed)", _text(stderr), kind="timeout")
        finally:  # a timeout, a stop (SIGTERM) or a cancelled run: the whole group goes
            _kill_group(process)
            for reader in readers:
                reader.cancel()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await _reaped(process)
        errors = _text(stderr)
        if process.returncode != 0:
            return _failed(run, f"{self._name} exited with status {process.returncode}", errors)
        if stdout.cut:
            return _failed(run, f"{self._name} printed more than {STREAM_LIMIT_BYTES:,} bytes on stdout "
                           f"({stdout.total:,}; cut, not read)", errors)
        try:
            value = json.loads(bytes(stdout.data))
            if not json_depth(value):
                raise ValueError(f"nested deeper than {JSON_DEPTH_LIMIT}")
            result = as_result(value)
        except (ValueError, TypeError, RecursionError) as exc:
            shown = bytes(stdout.data[:200]).decode(errors="replace")
            return _failed(run, f"{self._name} printed no AgentResult JSON ({type(exc).__name__}): {shown!r}", errors)
        extra: dict[str, object] = {"process.command_args": list(self.argv), "process.exit.code": 0}
        if errors:
            extra["agent_eval.stderr"] = errors
        return build_result(result, run, meter, name=f"invoke_agent {self._name}", start_ms=start, extra=extra)

    @property
    def _name(self) -> str:
        return " ".join(self.argv)[:80]

    async def aclose(self) -> None:
        return None


async def _feed(process: asyncio.subprocess.Process, payload: bytes) -> None:
    """The AgentInput on stdin; a command that does not read it is not an error."""
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(payload)
        await process.stdin.drain()
        process.stdin.close()


async def _exited(process: asyncio.subprocess.Process, readers: list[asyncio.Task[None]]) -> None:
    """The command's exit. Not `process.wait()`, which also waits for its pipes to close: a child it left
    running holds them open."""
    pause = 0.005
    while process.returncode is None:
        pending = [reader for reader in readers if not reader.done()]
        if pending:  # usually its pipes close as it exits
            await asyncio.wait(pending, timeout=pause)
            pause = min(0.1, pause * 2)
        else:
            await asyncio.sleep(0.001)


async def _reaped(process: asyncio.subprocess.Process) -> None:
    """Wait for the killed process; a descendant that escaped its group may hold the pipes: close them."""
    try:
        async with asyncio.timeout(2.0):
            await process.wait()
    except TimeoutError:
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _text(stream: _Bounded) -> str:
    text = bytes(stream.data).decode(errors="replace")
    return f"[agent-eval: stderr cut to its last {PRINTED_LIMIT_CHARS:,} bytes]\n{text}" if stream.cut else text


def _failed(run: TargetRun, message: str, detail: str | None = None, *, kind: str = "target") -> TargetResult:
    error = RunError(kind=kind, message=message[:500], detail=detail or None)  # type: ignore[arg-type]
    return TargetResult(messages=run.messages, error=error)
