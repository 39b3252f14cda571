"""Execute (case, repetition) pairs concurrently and stream each finished run to disk."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from agent_eval.calls.budget import Budget, Reservation
from agent_eval.calls.cache import ResponseCache
from agent_eval.calls.endpoint import Endpoint, EndpointStats
from agent_eval.checks.base import CheckInput, CheckServiceError, CheckServices
from agent_eval.checks.refusal import is_refusal
from agent_eval.checks.runtime import CheckRunner
from agent_eval.errors import FatalProviderError
from agent_eval.judge.parse import JudgeError
from agent_eval.judge.protocol import Judge
from agent_eval.records import CheckResult, Message, RubricResult, RunError, RunRecord, RunStatus
from agent_eval.runner.store import RunsWriter
from agent_eval.scoring.escalation import detect_escalation
from agent_eval.scoring.score import score_run
from agent_eval.suite.case import Case
from agent_eval.targets.base import Target, TargetResult, TargetRun
from agent_eval.targets.recorded import RecordedTarget
from agent_eval.trace.failure import FailurePolicy, classify_failure, retrieved_documents, with_context

if TYPE_CHECKING:
    from agent_eval.conversation.driver import Conversations, Played
    from agent_eval.runner.interleave import ArmPacer

__all__ = ["Engine", "Outcome", "Progress", "WorkItem"]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One (case, repetition) pair with its rendered messages."""

    case: Case
    index: int
    messages: tuple[Message, ...]


class Progress(Protocol):
    """Where the engine reports progress; the CLI picks a rich or a plain implementation."""

    def start(self, total: int, stats: EndpointStats | None = None) -> None: ...

    def advance(self, record: RunRecord) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Outcome:
    """What the engine did: the records it produced and why it stopped early, if it did."""

    records: list[RunRecord] = field(default_factory=list)
    stopped: str | None = None  # "interrupted" | "budget" | "fatal"
    fatal: FatalProviderError | None = None  # 401/403/404: the caller reports it, exit 2


@dataclass(slots=True)
class Engine:
    """Runs work items on one target (whose model calls go to `endpoint`), grading with an optional judge."""

    target: Target
    endpoint: Endpoint
    tools: tuple[Mapping[str, Any], ...]
    writer: RunsWriter
    progress: Progress
    budget: Budget
    concurrency: int
    cache: ResponseCache | None = None
    judge: Judge | None = None
    checks: CheckRunner = field(default_factory=CheckRunner)
    run_timeout_s: float | None = None
    grace_s: float = 5.0
    conversations: Conversations | None = None  # plays conversation cases (also holds `escalation:`)
    spend_estimate: Callable[[WorkItem], tuple[float | None, int]] | None = None  # (USD, tokens) before a run
    failure_policy: FailurePolicy = field(default_factory=FailurePolicy)
    services: CheckServices | None = None  # embeddings and moderation for checks that call a model
    rerun: bool = False  # records made now are end-of-run re-runs (runner.rerun): marked `rerun`
    pacer: ArmPacer | None = None  # several arms in one run: start each run in step with the other arms
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _in_flight: int = 0

    async def execute(self, items: Iterable[WorkItem]) -> Outcome:
        """Run every item (unless stopped) and return the finished records."""
        outcome = Outcome()
        items = list(items)
        queue = iter(items)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._interrupt, outcome)
        workers: list[asyncio.Task[None]] = []
        try:
            prepare = getattr(self.target, "prepare", None)  # e.g. start a Python agent's worker processes
            if prepare is not None and items:
                await prepare(min(len(items), self.concurrency))
            workers = [asyncio.create_task(self._worker(queue, outcome)) for _ in range(self.concurrency)]
            await self._drain(workers)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        for task in workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return outcome

    async def _drain(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; after a stop, give runs in flight `grace_s` to land, then cancel."""
        stop_wait = asyncio.create_task(self._stop.wait())
        pending: set[asyncio.Task[Any]] = set(workers)
        while pending and not self._stop.is_set():
            _, pending = await asyncio.wait(pending | {stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stop_wait)
        if pending:  # runs already paid for may finish when the budget stopped us
            await asyncio.wait(pending, timeout=None if self.budget.exhausted else self.grace_s)
        stop_wait.cancel()
        for task in workers:
            if not task.done():
                task.cancel()
        await asyncio.gather(*workers, stop_wait, return_exceptions=True)

    async def aclose(self) -> None:
        """Close the results stream, the cache and every connection."""
        self.writer.close()
        await self.target.aclose()
        if self.conversations is not None:
            await self.conversations.aclose()
        await self.checks.aclose()
        if self.cache is not None:
            self.cache.close()
        await self.endpoint.provider.aclose()
        if self.judge is not None:
            await self.judge.aclose()
        if self.services is not None:
            await self.services.aclose()

    def _interrupt(self, outcome: Outcome) -> None:
        outcome.stopped = outcome.stopped or "interrupted"
        self._stop.set()

    async def _worker(self, queue: Iterable[WorkItem], outcome: Outcome) -> None:
        for item in queue:  # a shared iterator: each item is taken by one worker
            if self._stop.is_set():
                return
            if self.pacer is not None:
                await self.pacer.wait(item.case.id, item.index)
            held = await self._reserve(item)
            if held is None:
                outcome.stopped = outcome.stopped or "budget"
                self._stop.set()
                return
            self._in_flight += 1
            try:
                record = await self._run_item(item)
            except FatalProviderError as exc:
                outcome.fatal = outcome.fatal or exc
                outcome.stopped = "fatal"
                self._stop.set()
                return
            finally:
                self._in_flight -= 1
                await self.budget.release(held)
            if self.rerun:
                record = record.model_copy(update={"rerun": True})
            record = self.writer.append(record)  # as written: repaired if it held invalid Unicode
            outcome.records.append(record)
            self.progress.advance(record)
            if record.error is not None and record.error.kind == "budget":  # a call of it was refused
                outcome.stopped = outcome.stopped or "budget"
                self._stop.set()

    async def _reserve(self, item: WorkItem) -> Reservation | None:
        """Hold the run's expected spend under a budget (waiting for runs in flight); None when it is spent."""
        if not self.budget.limited:
            return Reservation()
        usd, tokens = self.spend_estimate(item) if self.spend_estimate is not None else (None, 0)
        return await self.budget.reserve(usd, tokens)

    async def _run_item(self, item: WorkItem) -> RunRecord:
        try:
            async with asyncio.timeout(self.run_timeout_s):
                return await self._run_unbounded(item)
        except TimeoutError:
            return _errored(item, RunError(kind="timeout", message=f"run exceeded {self.run_timeout_s:g} s"))

    async def _run_unbounded(self, item: WorkItem) -> RunRecord:
        deadline = time.monotonic() + self.run_timeout_s if self.run_timeout_s is not None else None
        played: Played | None = None
        try:
            if item.case.is_conversation and self.conversations is not None:
                played = await self.conversations.play(self.target, item.case, item.index, item.messages, deadline)
                result = played.result
            else:
                target = self.target if item.case.recorded is None else _RECORDED
                result = await target.run(TargetRun(case=item.case, index=item.index, messages=item.messages,
                                                    deadline=deadline))
        except FatalProviderError:
            raise
        except Exception as exc:  # a custom agent's result we failed to read: its run errs, the others go on
            if self.target.kind not in ("python", "http", "command"):
                raise
            message = f"the {self.target.kind} agent's result could not be read: {type(exc).__name__}: {exc}"
            return _errored(item, RunError(kind="target", message=message[:500],
                                           detail="".join(traceback.format_exception(exc))[-20000:]))
        if (item.case.id, item.index) in self.budget.stopped_runs:  # whatever the agent made of the refusal
            self.budget.forget((item.case.id, item.index))  # its calls were charged as they were made
            error = RunError(kind="budget", message=f"stopped by a budget: a model call of this run was refused "
                                                    f"({self.budget.describe()})")
            record = _errored(item, error, attempts=result.attempts, result=result)
            return record if played is None else record.model_copy(update={"simulated_user": played.simulator})
        if result.error is not None:
            self.budget.forget((item.case.id, item.index))
            record = _errored(item, result.error, attempts=result.attempts, result=result)
            return record if played is None else record.model_copy(update={"simulated_user": played.simulator})
        return await self._score(item, result, played)

    async def _score(self, item: WorkItem, result: TargetResult, played: Played | None = None) -> RunRecord:
        from agent_eval.conversation import scoring as conversation


        if not result.cached:
            self.budget.charge_run((item.case.id, item.index), result.cost_usd, result.usage.total,
                                   estimated=result.usage.estimated)
        if result.usage.estimated:  # the budget counted the estimate; the run's own cost is unknown
            result = dataclasses.replace(result, cost_usd=None)
        spec = self.conversations.escalation if self.conversations is not None else None
        if played is not None:
            escalated = played.escalated
        else:
            escalation = detect_escalation(spec, result)
            escalated = escalation.escalated
            if escalation.warning is not None:
                result = dataclasses.replace(result, warnings=(*result.warnings, escalation.warning))
        view = CheckInput(
            output=result.output, case=item.case, messages=result.messages, tool_calls=result.tool_calls,
            tokens=result.usage, latency_ms=result.latency_ms, cost_usd=result.cost_usd, steps=result.steps,
            tools=self.tools, services=self.services, escalated=escalated,
        )
        error: RunError | None = None
        turn_checks: dict[int, tuple[CheckResult, ...]] = {}
        try:
            if played is None:
                checks = result.violations + await self.checks.run(item.case.checks, view)
            else:
                turn_checks = await conversation.turn_checks(played, self.checks.run, view)
                checks = result.violations + conversation.named(turn_checks, item.case) + await conversation.case_checks(
                    item.case, view, played, self.checks.run)
        except CheckServiceError as exc:  # an embeddings/moderation endpoint failed: missing data, not a fail
            checks, error = (), RunError(kind="provider", message=str(exc))
        rubrics: tuple[RubricResult, ...] = ()
        graded: dict[int, tuple[RubricResult, ...]] = {}
        if self.judge is not None and (item.case.rubrics or played is not None) and error is None:
            try:
                if played is not None:
                    graded = await conversation.grade_turns(self.judge, item.case, played, item.index)
                    rubrics = conversation.named(graded, item.case)
                if item.case.rubrics:
                    target_kind = self.target.kind if item.case.recorded is None else _RECORDED.kind
                    asked, reported = _judged_conversation(target_kind, item.messages, result.messages)
                    rubrics += await self.judge.grade(item.case, asked, result.output, item.index,
                                                      context=retrieved_documents(result.trace, result.context,
                                                                                  self.failure_policy),
                                                      transcript=reported)
            except JudgeError as exc:  # the run has no verdict; its output and checks are kept
                stopped = (item.case.id, item.index) in self.budget.stopped_runs  # a judge call was refused
                error = RunError(kind="budget" if stopped else "judge", message=f"judge: {exc}")
        score, passed = score_run(checks, rubrics)
        status = RunStatus.ERRORED if error else RunStatus.PASSED if passed else RunStatus.FAILED
        record = RunRecord(
            case_id=item.case.id, index=item.index, status=status, passed=passed and error is None,
            score=None if error else score, output=result.output, messages=result.messages,
            tool_calls=result.tool_calls, tokens=result.usage, cost_usd=result.cost_usd,
            latency_ms=result.latency_ms, checks=checks, rubrics=rubrics, error=error, cached=result.cached,
            attempts=result.attempts, model=result.model, finished_at=_now(), trace=result.trace,
            steps=result.steps, warnings=result.warnings, escalated=escalated, refused=is_refusal(result.output),
            **(conversation.record_fields(played, turn_checks, graded) if played is not None else {}),
        )
        kind = classify_failure(record, self.failure_policy, context=result.context)
        return record.model_copy(update={"failure_kind": kind, "trace": with_context(result.trace, result.context)})


_RECORDED = RecordedTarget()


def _judged_conversation(kind: str, asked: tuple[Message, ...],
                         messages: tuple[Message, ...]) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
    """(the conversation the judge reads as the question, the turns it reads as the candidate's own).

    A custom agent's transcript is its own text: the case's input stays the question and the rest, or all
    of it when it rewrote the input, is fenced like its answer.
    """
    if kind == "recorded":  # its history's assistant turns were written by a model too: fenced like the answer
        first = next((i for i, m in enumerate(messages) if m.role == "user"), len(messages) - 1)
        return messages[:first + 1], messages[first + 1:]
    if kind not in ("python", "http", "command"):
        return messages, ()
    return asked, messages[len(asked):] if messages[:len(asked)] == asked else messages


def _errored(item: WorkItem, error: RunError, *, attempts: int = 0, result: TargetResult | None = None) -> RunRecord:
    """A run without a verdict; what the target did before it failed (output, tool calls, trace) is kept.

    A crash of the target itself (kind `target`: the agent raised or exited non-zero) is recorded as what it
    counts as: a completed, failed run with score 0, its error kept."""
    crashed = error.kind == "target"
    status = RunStatus.FAILED if crashed else RunStatus.ERRORED
    score = 0.0 if crashed else None
    if result is None:
        return RunRecord(case_id=item.case.id, index=item.index, status=status, passed=False, score=score,
                         messages=item.messages, error=error, attempts=attempts, finished_at=_now())
    return RunRecord(
        case_id=item.case.id, index=item.index, status=status, passed=False, score=score, output=result.output,
        messages=result.messages or item.messages, tool_calls=result.tool_calls, tokens=result.usage,
        cost_usd=result.cost_usd, error=error, attempts=attempts, finished_at=_now(), trace=result.trace,
        steps=result.steps,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
