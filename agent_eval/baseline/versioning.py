"""The gate's versioning rule: a patch or minor bump must not move the score, and an unchanged version must
not hide a behaviour change.

A move is significant (two-sided, at alpha) and at least `MIN_CHANGE` (1%) of the score: with many cases a
0.2% wobble is significant and means nothing. Under the same version number, a changed config hash is a
behaviour change whatever the scores say (what `validate --against` reports). Pure: a warning or None;
`--strict-versioning` turns it into exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_eval.versioning.semver import bump

__all__ = ["moved_p", "version_change_warning"]

_SHOULD_BE = {"patch": "a minor or major version", "minor": "a major version"}
MIN_CHANGE = 0.01  # a significant move smaller than 1% of the score is not a behaviour change worth a version


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
    change: float | None, alpha: float = 0.05, baseline_hash: str | None = None, candidate_hash: str | None = None,
) -> str | None:
    """The warning when a patch or minor bump moved the score (significantly, two-sided, and by at least 1%),
    or when the version did not change but the config's behaviour hash did."""
    step = bump(baseline_version, candidate_version)
    moved = p_moved is not None and change is not None and p_moved < alpha and abs(change) >= MIN_CHANGE
    how = ""
    if moved:
        assert change is not None
        how = (f"the score {'dropped' if change < 0 else 'rose'} {abs(change):.1%} (two-sided p={p_moved:.2g} < "
               f"{alpha:g}, and at least {MIN_CHANGE:.0%})")
    if step == "none":
        if baseline_hash is not None and candidate_hash is not None and baseline_hash != candidate_hash:
            return (f"behaviour changed under an unchanged version {candidate_version}: the config's behaviour hash "
                    f"{baseline_hash[:12]} -> {candidate_hash[:12]}" + (f" and {how}" if how else "")
                    + "; bump the version (agent-eval validate --against says which part)")
        return None  # same version, same hash: a moved score is the gate's business, not the version's
    if step not in _SHOULD_BE or not moved:
        return None
    return (f"behaviour changed: {how} under a {step} bump {baseline_version} -> {candidate_version}; this should "
            f"have been {_SHOULD_BE[step]}")
