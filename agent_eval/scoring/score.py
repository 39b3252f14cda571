"""A run's score and verdict from its checks and rubrics."""

from __future__ import annotations

from collections.abc import Sequence

from agent_eval.records import CheckResult, RubricResult

__all__ = ["score_run"]


def score_run(checks: Sequence[CheckResult], rubrics: Sequence[RubricResult]) -> tuple[float, bool]:
    """Weighted mean of check scores (graded, else 1 or 0) and normalised rubric scores; passes when all pass.

    A run with neither checks nor rubrics passes with score 1, as in other eval tools. A weight-0
    check or rubric is informational: recorded, but it affects neither the score nor the verdict.
    """
    total = 0.0
    weights = 0.0
    for check in checks:
        total += check.weight * (check.score if check.score is not None else float(check.passed))
        weights += check.weight
    for rubric in rubrics:
        total += rubric.weight * (rubric.normalized or 0.0)
        weights += rubric.weight
    passed = all(c.passed for c in checks if c.weight > 0) and all(r.passed for r in rubrics if r.weight > 0)
    return (total / weights if weights else 1.0), passed
