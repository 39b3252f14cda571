"""Baselines: the stored reference run, its file format and store, and the quality gate.

The names below are imported on first use: reading a verdict's types does not load the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval._lazy import lazy_exports

if TYPE_CHECKING:
    from agent_eval.baseline.gate import Floors, GateOptions, TagRule, decide, decide_sides
    from agent_eval.baseline.schema import Baseline, baseline_from_results
    from agent_eval.baseline.store import (
        baseline_root,
        default_baseline_path,
        load_baseline,
        load_results,
        save_baseline,
    )
    from agent_eval.baseline.verdict import CaseDelta, CaseStatus, Outcome, Route, TagDelta, Verdict

_EXPORTS = {
    **dict.fromkeys(["Floors", "GateOptions", "TagRule", "decide", "decide_sides"], "agent_eval.baseline.gate"),
    **dict.fromkeys(["Baseline", "baseline_from_results"], "agent_eval.baseline.schema"),
    **dict.fromkeys(["baseline_root", "default_baseline_path", "load_baseline", "load_results", "save_baseline"],
                    "agent_eval.baseline.store"),
    **dict.fromkeys(["CaseDelta", "CaseStatus", "Outcome", "Route", "TagDelta", "Verdict"],
                    "agent_eval.baseline.verdict"),
}
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
