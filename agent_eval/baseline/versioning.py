"""The gate's versioning rule: a patch or minor bump must not move the score significantly.

Pure: from the baseline's and the candidate's config versions and the paired per-case scores, a warning
or None. `--strict-versioning` turns the warning into exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_eval.versioning.semver import bump

__all__ = ["moved_p", "version_change_warning"]

_SHOULD_BE = {"patch": "a minor or major version", "minor": "a major version"}


def moved_p(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Two-sided paired t-test p-value of "the score changed" over (baseline, candidate) case scores."""
    from agent_eval.stats.paired import one_sided_p

    if len(pairs) < 2:
        return None
    diffs = [c - b for b, c in pairs]
    lower = float(one_sided_p(diffs))
    upper = float(one_sided_p([-d for d in diffs]))
    return min(1.0, 2 * min(lower, upper))


def version_change_warning(
    baseline_version: str | None, candidate_version: str | None, *, p_moved: float | None,
    change: float | None, alpha: float = 0.05,
) -> str | None:
    """The warning when the bump is patch or minor and the score moved significantly (two-sided) either way."""
    step = bump(baseline_version, candidate_version)
    if step not in _SHOULD_BE or p_moved is None or change is None or p_moved >= alpha:
        return None
    direction = "dropped" if change < 0 else "rose"
    return (f"behaviour changed: the score {direction} {abs(change):.1%} (two-sided p={p_moved:.2g} < {alpha:g}) "
            f"under a {step} bump {baseline_version} -> {candidate_version}; this should have been "
            f"{_SHOULD_BE[step]}")
