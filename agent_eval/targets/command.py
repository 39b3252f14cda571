"""A command agent: `agent: {command: ["node", "agent.js"], timeout_s: 60}`.

The process gets the AgentInput JSON on stdin and prints an AgentResult (or a bare JSON string)
on stdout; it runs in the config file's folder. A non-zero exit, unreadable stdout or a timeout
is an errored run of kind `target`, with stderr kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from agent_eval.records import RunError
from agent_eval.targets.agent_io import agent_input
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import RunMeter
from agent_eval.targets.python_agent import as_result, build_result

__all__ = ["CommandTarget"]

_STDERR_KEPT = 8000


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
                stderr=asyncio.subprocess.PIPE, cwd=self.cwd)
        except OSError as exc:
            return _failed(run, f"cannot start {self.argv[0]}: {exc}")
        try:
            async with asyncio.timeout(self.timeout_s):
                stdout, stderr = await process.communicate(payload)
        except TimeoutError:
            return _failed(run, f"{self._name} gave no answer within {self.timeout_s:g} s (killed)", None)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        errors = stderr.decode(errors="replace")[-_STDERR_KEPT:]
        if process.returncode != 0:
            return _failed(run, f"{self._name} exited with status {process.returncode}", errors)
        try:
            result = as_result(json.loads(stdout))
        except (ValueError, TypeError) as exc:
            shown = stdout.decode(errors="replace")[:200]
            return _failed(run, f"{self._name} printed no AgentResult JSON ({type(exc).__name__}): {shown!r}", errors)
        extra = {"process.command_args": list(self.argv), "process.exit.code": 0}
        if errors:
            extra["agent_eval.stderr"] = errors
        return build_result(result, run, meter, name=f"invoke_agent {self._name}", start_ms=start, extra=extra)

    @property
    def _name(self) -> str:
        return " ".join(self.argv)[:80]


    async def aclose(self) -> None:
        return None


def _failed(run: TargetRun, message: str, detail: str | None = None) -> TargetResult:
    return TargetResult(messages=run.messages, error=RunError(kind="target", message=message[:500], detail=detail))
