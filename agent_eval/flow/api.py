"""`agent_eval.run`: the `agent-eval run` command as one Python call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from agent_eval.baseline.options import GateFlags
from agent_eval.flow.outcome import RunOutcome
from agent_eval.runner.session import RunOptions

__all__ = ["run"]


def run(
    suites: str | Path | Sequence[str | Path],
    *,
    config: str | Path | Sequence[str | Path] | None = None,
    gate_against: str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    baseline: str | Path | None = None,
    save_baseline: bool = False,
    options: RunOptions | None = None,
    gate: GateFlags | None = None,
    trace_export: str | Path | None = None,
    console: Console | None = None,
) -> RunOutcome:
    """Run suites (files or folders) with one config or several, gate and report, as `agent-eval run` does.

    Returns the outcome the CLI prints: `outcome.exit_code` is the command's exit code, and each of
    `outcome.suites` carries its `Results` and `Verdict`. Bad input raises `agent_eval.errors.AgentEvalError`
    (its `exit_code` is 2). Nothing is printed unless a `console` is given.
    """
    from agent_eval.flow._console import quiet_console
    from agent_eval.flow.execution import execute
    from agent_eval.flow.request import RunRequest

    request = RunRequest(
        suites=_paths(suites), configs=_paths(config) if config is not None else (),
        gate_against=_path(gate_against), options=options or RunOptions(), gate=gate or GateFlags(),
        out=_path(out), overwrite=overwrite, baseline=_path(baseline), save_baseline=save_baseline,
        trace_export=_path(trace_export),
    )
    return execute(request, console or quiet_console())


def _paths(value: str | Path | Sequence[str | Path]) -> tuple[Path, ...]:
    if isinstance(value, str | Path):
        return (Path(value),)
    return tuple(Path(v) for v in value)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
