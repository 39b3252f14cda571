"""The gate's versioning rule: a patch or minor bump must not move the score significantly.

Pure: from the baseline's and the candidate's config versions and the gate's paired test, a warning
or None. `--strict-versioning` turns the warning into exit 2.
"""

from __future__ import annotations

from agent_eval.governance.semver import bump

__all__ = ["version_change_warning"]

_SHOULD_BE = {"patch": "a minor or major version", "minor": "a major version"}


def version_change_warning(
    baseline_version: str | None, candidate_version: str | None, *, p_worse: float | None,
    change: float | None, alpha: float = 0.05,
) -> str | None:
    """The warning when the bump is patch or minor and the score moved significantly either way.

    `p_worse` is the gate's one-sided p-value of "the candidate is worse" (a symmetric paired test), so
    the two-sided p-value is 2 * min(p, 1 - p).
    """
    step = bump(baseline_version, candidate_version)
    if step not in _SHOULD_BE or p_worse is None or change is None:
        return None
    two_sided = min(1.0, 2 * min(p_worse, 1 - p_worse))
    if two_sided >= alpha:
        return None
    direction = "dropped" if change < 0 else "rose"
    return (f"behaviour changed: the score {direction} {abs(change):.1%} (two-sided p={two_sided:.2g} < {alpha:g}) "
            f"under a {step} bump {baseline_version} -> {candidate_version}; this should have been "
            f"{_SHOULD_BE[step]}")
