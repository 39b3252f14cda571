"""Baselines: the stored reference run, its file format and store, and the quality gate."""

from agent_eval.baseline.gate import Floors, GateOptions, TagRule, decide, decide_sides
from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.store import (
    baseline_root,
    default_baseline_path,
    load_baseline,
    load_results,
    save_baseline,
)
from agent_eval.baseline.verdict import (
    CaseDelta,
    CaseStatus,
    Outcome,
    Route,
    TagDelta,
    Verdict,
)

__all__ = [
    "Baseline",
    "CaseDelta",
    "CaseStatus",
    "Floors",
    "GateOptions",
    "Outcome",
    "Route",
    "TagDelta",
    "TagRule",
    "Verdict",
    "baseline_from_results",
    "baseline_root",
    "decide",
    "decide_sides",
    "default_baseline_path",
    "load_baseline",
    "load_results",
    "save_baseline",
]
