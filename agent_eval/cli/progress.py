"""Progress of a run: a rich bar on a terminal, plain lines in CI or when piped."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from agent_eval.calls.endpoint import EndpointStats
from agent_eval.records import RunRecord, RunStatus
from agent_eval.report._format import unknown_runs

__all__ = ["PlainProgress", "RichProgress", "make_progress"]


@dataclass(slots=True)
class _Tally:
    done: int = 0
    failed: int = 0
    errors: int = 0
    cached: int = 0
    cost: float = 0.0
    cost_known: int = 0  # runs with a known cost
    cost_unknown: int = 0  # completed runs without one (no usage reported, no price)

    def add(self, record: RunRecord) -> None:
        self.done += 1
        self.failed += record.status is RunStatus.FAILED
        self.errors += record.status is RunStatus.ERRORED
        self.cached += record.cached
        self.cost += (record.cost_usd or 0.0) + sum(r.cost_usd or 0.0 for r in record.rubrics)
        self.cost_known += record.cost_usd is not None
        self.cost_unknown += record.cost_usd is None and record.status is not RunStatus.ERRORED

    def spend(self) -> str:
        """The spend so far: never `$0.0000` for runs whose cost nobody knows."""
        if not self.cost_unknown:
            return f"${self.cost:.4f}"
        if not self.cost_known and not self.cost:
            return "cost unknown"
        return f"≥ ${self.cost:.4f} ({unknown_runs(self.cost_unknown)} cost unknown)"

    def line(self, total: int) -> str:
        return (f"{self.done}/{total} runs, {self.failed} failed, {self.errors} errors, "
                f"{self.cached} cached, {self.spend()}")


def _endpoint_text(stats: EndpointStats | None) -> str:
    """Retries and waits, so a slowed run never looks frozen."""
    if stats is None:
        return ""
    text = f" · {stats.retries} retries" if stats.retries else ""
    return text + (f" · {stats.waiting} waiting to retry" if stats.waiting else "")


@dataclass(slots=True)
class PlainProgress:
    """A line every `every_s` seconds (even while waiting on retries) and one at the end; for CI logs."""

    console: Console
    every_s: float = 10.0
    _stats: EndpointStats | None = None
    _total: int = 0
    _tally: _Tally = field(default_factory=_Tally)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ticker: threading.Thread | None = None

    def start(self, total: int, stats: EndpointStats | None = None) -> None:
        self._total, self._stats = total, stats
        self.console.print(f"running {total} runs")
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self.console.print(self._tally.line(self._total) + _endpoint_text(self._stats))

    def advance(self, record: RunRecord) -> None:
        self._tally.add(record)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.console.print(self._tally.line(self._total) + _endpoint_text(self._stats))


@dataclass(slots=True)
class RichProgress:
    """A live bar: cases x k, failures, errors, spend, retries and waits (refreshed while waiting)."""

    console: Console
    _stats: EndpointStats | None = None
    _tally: _Tally = field(default_factory=_Tally)
    _progress: Any = None
    _task: Any = None
    _total: int = 0

    def start(self, total: int, stats: EndpointStats | None = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        self._stats = stats
        tally = self._tally

        class LiveText(ProgressColumn):
            def render(self, task: Task) -> Text:
                return Text(f"{tally.failed} failed · {tally.errors} errors · {tally.spend()}"
                            + _endpoint_text(stats))

        self._total = total
        self._progress = Progress(
            TextColumn("[bold]running"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), LiveText(),
            console=self.console, transient=True,
        )
        self._task = self._progress.add_task("", total=total)
        self._progress.start()

    def advance(self, record: RunRecord) -> None:
        self._tally.add(record)
        self._progress.update(self._task, advance=1)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self.console.print(self._tally.line(self._total) + _endpoint_text(self._stats))


def make_progress(console: Console) -> PlainProgress | RichProgress:
    """Rich on an interactive terminal; plain lines when `CI` is set or output is not a TTY."""
    if os.environ.get("CI") or not console.is_terminal:
        return PlainProgress(console=console)
    return RichProgress(console=console)
