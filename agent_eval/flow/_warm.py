"""Load what the gate and the reports need while a run waits on the network, instead of after it."""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_eval.calls.endpoint import EndpointStats
    from agent_eval.records import RunRecord
    from agent_eval.runner.engine import Progress

__all__ = ["WarmingProgress"]


class WarmingProgress:
    """A run's progress that, at the first finished run, starts a thread importing the gate and report
    modules and compiling the report templates: about 0.2 s a run would otherwise spend at its end.

    Not before: until the first request is out, the same CPU would delay it.
    """

    def __init__(self, progress: Progress, *, gate: bool) -> None:
        self._progress, self._gate, self._started = progress, gate, False

    def start(self, total: int, stats: EndpointStats | None = None) -> None:
        self._progress.start(total, stats)

    def advance(self, record: RunRecord) -> None:
        if not self._started:
            self._started = True
            threading.Thread(target=_load, args=(self._gate,), name="agent-eval-warm", daemon=True).start()
        self._progress.advance(record)

    def close(self) -> None:
        self._progress.close()


_MODULES = ("agent_eval.baseline.gate", "agent_eval.report.console", "agent_eval.report.writer")
_GATE_MODULES = ("numpy", "scipy.special")  # the paired test's numerics, needed only against a baseline


def _load(gate: bool) -> None:
    try:
        for name in _MODULES + (_GATE_MODULES if gate else ()):
            importlib.import_module(name)
        from agent_eval.report.html import compile_templates

        compile_templates()
    except Exception:  # only a head start: the same import fails again, properly reported, where it is needed
        return
