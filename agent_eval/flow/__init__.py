"""The run path as a library: plan suites × configs, run every arm, gate, report, redact and export traces.

    outcome = execute(RunRequest(suites=(Path("suites"),)), Console(quiet=True))
    outcome.exit_code  # the process exit code the CLI would return

One config is one arm; several are run interleaved on the same cases and seeds. The CLI (`agent-eval run`),
the pre-commit hook and `agent_eval.run` all call `execute`. Nothing here imports `agent_eval.cli`.

    request     RunRequest: what to run and how (run options, gate flags, outputs)
    plan        loading suites and configs, output folders, baselines, resume
    execution   the run itself: locks, credentials, runs, gate, reports, redaction, traces
    gating      gate one arm's results and write its reports (also `compare`, `merge`, `report`)
    outcome     SuiteOutcome, RunOutcome and their JSON form
    traces      --trace-export
    matrix      several configs: the matrix table and report
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval._lazy import lazy_exports

if TYPE_CHECKING:
    from agent_eval.flow.execution import execute
    from agent_eval.flow.outcome import RunOutcome, SuiteOutcome
    from agent_eval.flow.plan import find_suites
    from agent_eval.flow.request import RunRequest

_EXPORTS = {
    "execute": "agent_eval.flow.execution",
    "RunOutcome": "agent_eval.flow.outcome",
    "SuiteOutcome": "agent_eval.flow.outcome",
    "find_suites": "agent_eval.flow.plan",
    "RunRequest": "agent_eval.flow.request",
}
__all__ = ["RunOutcome", "RunRequest", "SuiteOutcome", "execute", "find_suites"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
