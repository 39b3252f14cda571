"""What a run is asked to do: suites, configs, run options, gate flags and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent_eval.baseline.options import GateFlags
from agent_eval.runner.session import RunOptions

__all__ = ["RunRequest"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One `agent-eval run`: every flag, for one config or several alike.

    `configs` empty: each suite's own `config:`. Several: every config on the same cases and seeds,
    interleaved; `gate_against` gates the others against that config's live results.
    """

    suites: tuple[Path, ...] = ()
    configs: tuple[Path, ...] = ()
    gate_against: Path | None = None
    options: RunOptions = field(default_factory=RunOptions)
    gate: GateFlags = field(default_factory=GateFlags)
    out: Path | None = None
    overwrite: bool = False
    baseline: Path | None = None
    save_baseline: bool = False
    dry_run: bool = False
    resume: Path | None = None
    verbose: bool = False
    trace_export: Path | None = None
    adaptive: bool = False  # sequential testing (flow.adaptive); the suite's `gate.adaptive` turns it on too
    k_min: int | None = None

    @property
    def redact(self) -> bool:
        return self.gate.redact
