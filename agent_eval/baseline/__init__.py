"""Baselines: the stored reference run, its file format and store, and the quality gate."""

from agent_eval.baseline.gate import GateOptions, decide
from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.store import (
    default_baseline_path,
    load_baseline,
    load_results,
    save_baseline,
)
from agent_eval.baseline.verdict import (
    CaseDelta,
    CaseStatus,
    Outcome,
    TagDelta,
    Verdict,
)

__all__ = [
    "Baseline",
    "CaseDelta",
    "CaseStatus",
    "GateOptions",
    "Outcome",
    "TagDelta",
    "Verdict",
    "baseline_from_results",
    "decide",
    "default_baseline_path",
    "load_baseline",
    "load_results",
    "save_baseline",
]
