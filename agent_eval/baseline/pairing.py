"""Line up candidate and baseline cases by id, and classify how each case moved.

Both arms are reduced to `Side`s, one per case, so the gate sees a result and a baseline alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import CaseDelta, CaseStatus
from agent_eval.records import CaseStats, Results
from agent_eval.stats.hypotheses import TOL
from agent_eval.stats.passk import pass_hat_k
from agent_eval.stats.reduce import AnyRun, completed, critical_failed, error_kind, run_score

__all__ = [
    "Pairing",
    "Scored",
    "Side",
    "SideStats",
    "case_deltas",
    "case_status",
    "critical_failures",
    "error_kind",
    "error_rate",
    "make_side",
    "pair",
    "scored",
    "sides_from_baseline",
    "sides_from_results",
    "within_variance",
]



@dataclass(frozen=True, slots=True)
class SideStats:
    """One case's runs in one arm reduced to counts (the gate's light twin of `CaseStats`)."""

    n: int  # completed runs (a target crash counts, as a failed run)
    passed: int
    errors: int  # infrastructure errors
    k: int
    score: float | None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.n if self.n else None

    @property
    def pass_hat_k(self) -> float | None:
        return pass_hat_k(self.n, self.passed, self.k)

    @property
    def flaky(self) -> bool:
        return 0 < self.passed < self.n


@dataclass(frozen=True, slots=True)
class Side:
    """One case in one arm: its statistics and its completed runs' scores.

    A run that errored in the target itself (kind `target`: the agent raised or exited non-zero) is a
    completed, failed run with score 0; other errors (provider, timeout, judge, ...) are missing data,
    unless `errors_as_failures` scores them 0 too.
    """

    id: str
    tags: tuple[str, ...]
    critical: bool
    definition_hash: str
    stats: SideStats
    scores: tuple[float, ...]  # completed runs; a run without a score counts 1.0 if passed
    runs: int
    errors: int  # infrastructure errors: missing data
    failed_runs: tuple[int, ...] = ()  # 1-based numbers of the completed runs that failed, in run order
    timeouts: int = 0  # errors that are timeouts of the system under test (tested for information)
    error_times: tuple[float | None, ...] = ()  # per errored run, seconds since the epoch when known (clusters)
    done_times: tuple[float | None, ...] = ()  # per completed run, likewise: what separates one outage from the next

    @property
    def score(self) -> float | None:
        return self.stats.score


class _Case(Protocol):
    """What a case needs to be a `Side`: a CaseResult or a BaselineCase."""

    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def critical(self) -> bool: ...
    @property
    def definition_hash(self) -> str: ...
    @property
    def stats(self) -> CaseStats: ...
    @property
    def runs(self) -> Sequence[AnyRun]: ...


def make_side(
    case_id: str, scores: Sequence[float], passed: Sequence[bool], *, errors: int = 0, k: int,
    tags: tuple[str, ...] = (), critical: bool = False, definition_hash: str = "",
    run_numbers: Sequence[int] | None = None, timeouts: int = 0, error_times: Sequence[float | None] = (),
    done_times: Sequence[float | None] = (),
) -> Side:
    """A `Side` from completed run scores and verdicts (what `decide_sides` and simulations use).

    `run_numbers` are the completed runs' 1-based numbers (default 1..n); `timeouts` of the `errors` are timeouts
    of the system under test; `error_times` place errored runs in time for the error clusters.
    """
    n = len(scores)
    stats = SideStats(n, sum(passed), errors, k, math.fsum(scores) / n if n else None)
    numbers = list(run_numbers) if run_numbers is not None else list(range(1, n + 1))
    failed = tuple(numbers[i] for i, ok in enumerate(passed) if not ok)
    return Side(case_id, tags, critical, definition_hash, stats, tuple(scores), n + errors, errors, failed,
                timeouts, tuple(error_times), tuple(done_times))


def _side(case: _Case, k: int, errors_as_failures: bool) -> Side:
    scores, passed, numbers, times, done = [], [], [], [], []
    timeouts = 0
    for number, r in enumerate(case.runs, start=1):
        if completed(r) or errors_as_failures:
            scores.append(run_score(r))
            passed.append(r.passed)
            numbers.append(number)
            done.append(_epoch(getattr(r, "finished_at", "")))
        else:
            timeouts += error_kind(r) == "timeout"
            times.append(_epoch(getattr(r, "finished_at", "")))
    return make_side(case.id, scores, passed, errors=len(times), k=k, tags=tuple(case.tags), critical=case.critical,
                     definition_hash=case.definition_hash, run_numbers=numbers, timeouts=timeouts, error_times=times,
                     done_times=done)


def _epoch(stamp: str) -> float | None:
    """An ISO 8601 time as seconds since the epoch; None when absent or unreadable."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except ValueError:
        return None


def sides_from_results(results: Results, *, errors_as_failures: bool = False) -> dict[str, Side]:
    """The candidate's cases by id."""
    k = results.suite.repeat
    return {c.id: _side(c, k, errors_as_failures) for c in results.cases}


def sides_from_baseline(baseline: Baseline, k: int, *, errors_as_failures: bool = False) -> dict[str, Side]:
    """The baseline's cases by id, pass^k at the candidate's k."""
    return {c.id: _side(c, k, errors_as_failures) for c in baseline.cases}


@dataclass(frozen=True, slots=True)
class Pairing:
    """Cases split by where they appear; every tuple is sorted by case id."""

    paired: tuple[tuple[Side, Side], ...]  # (baseline, candidate), same definition
    changed: tuple[tuple[Side, Side], ...]  # same id, different definition: not gated
    new: tuple[Side, ...]  # candidate only: not gated
    missing: tuple[Side, ...]  # baseline only: not gated

    @property
    def comparable(self) -> Scored:
        """Paired cases with a completed run on both sides: the ones the score test uses."""
        return scored(self.paired)


@dataclass(frozen=True, slots=True)
class Scored:
    """Pairs with a score on both sides, and those scores, in the same order."""

    pairs: tuple[tuple[Side, Side], ...]
    base: tuple[float, ...]
    cand: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.pairs)

    def with_tag(self, tag: str) -> Scored:
        """The pairs whose candidate case carries `tag`."""
        return scored(p for p in self.pairs if tag in p[1].tags)


def scored(pairs: Iterable[tuple[Side, Side]]) -> Scored:
    """Keep the pairs where both sides have a score."""
    kept, base, cand = [], [], []
    for b, c in pairs:
        if b.stats.score is not None and c.stats.score is not None:
            kept.append((b, c))
            base.append(b.stats.score)
            cand.append(c.stats.score)
    return Scored(tuple(kept), tuple(base), tuple(cand))


def pair(base: Mapping[str, Side], cand: Mapping[str, Side]) -> Pairing:
    """Match cases by id; a different definition hash under the same id is a changed case."""
    both = sorted(base.keys() & cand.keys())
    return Pairing(
        paired=tuple((base[i], cand[i]) for i in both if base[i].definition_hash == cand[i].definition_hash),
        changed=tuple((base[i], cand[i]) for i in both if base[i].definition_hash != cand[i].definition_hash),
        new=tuple(cand[i] for i in sorted(cand.keys() - base.keys())),
        missing=tuple(base[i] for i in sorted(base.keys() - cand.keys())),
    )


def case_status(base: Side, cand: Side) -> CaseStatus:
    """How a paired case moved, first match wins.

    ERROR: the candidate has no completed run. NEW_FAILURE: every baseline run passed
    (at least one) and no candidate run passed (5/5 -> 4/5 is REGRESSED, not a new failure). FIXED: some baseline run failed or none
    completed, and every candidate run passed. REGRESSED: the mean score dropped.
    FLAKY: the candidate passed some runs but not all. Otherwise UNCHANGED.
    """
    b, c = base.stats, cand.stats
    if c.n == 0:
        return CaseStatus.ERROR
    if b.n > 0 and b.passed == b.n and c.passed == 0:
        return CaseStatus.NEW_FAILURE
    if b.passed < b.n and c.passed == c.n:
        return CaseStatus.FIXED
    if b.score is not None and c.score is not None and c.score < b.score - TOL:
        return CaseStatus.REGRESSED
    if c.flaky:
        return CaseStatus.FLAKY
    return CaseStatus.UNCHANGED


_ORDER = (
    CaseStatus.NEW_FAILURE,
    CaseStatus.ERROR,
    CaseStatus.REGRESSED,
    CaseStatus.FLAKY,
    CaseStatus.UNCHANGED,
    CaseStatus.FIXED,
    CaseStatus.CHANGED,
    CaseStatus.NEW,
    CaseStatus.MISSING,
)
_RANK = {s: i for i, s in enumerate(_ORDER)}
_UNGATED = {CaseStatus.NEW, CaseStatus.MISSING, CaseStatus.CHANGED}


def _delta(base: Side | None, cand: Side | None, status: CaseStatus) -> CaseDelta:
    ref = cand or base
    assert ref is not None
    return CaseDelta(
        case_id=ref.id,
        tags=ref.tags,
        status=status,
        critical=ref.critical,
        baseline_passed=base.stats.passed if base else None,
        baseline_n=base.stats.n if base else None,
        candidate_passed=cand.stats.passed if cand else None,
        candidate_n=cand.stats.n if cand else None,
        candidate_errors=cand.errors if cand else 0,
        baseline_score=base.score if base else None,
        candidate_score=cand.score if cand else None,
    )


def _order(d: CaseDelta) -> tuple[int, float, int, str]:
    """Gated cases with a delta first (most negative first), then gated without, then ungated."""
    group = 2 if d.status in _UNGATED else (1 if d.delta is None else 0)
    return (group, d.delta if group == 0 and d.delta is not None else 0.0, _RANK[d.status], d.case_id)


def case_deltas(pairing: Pairing) -> tuple[CaseDelta, ...]:
    """Every case of both arms with its status, most regressed first."""
    deltas = [_delta(b, c, case_status(b, c)) for b, c in pairing.paired]
    deltas += [_delta(b, c, CaseStatus.CHANGED) for b, c in pairing.changed]
    deltas += [_delta(None, c, CaseStatus.NEW) for c in pairing.new]
    deltas += [_delta(b, None, CaseStatus.MISSING) for b in pairing.missing]
    return tuple(sorted(deltas, key=_order))


def error_rate(sides: Iterable[Side]) -> float:
    """Errored runs over all runs (0 when there are no runs)."""
    runs = errors = 0
    for s in sides:
        runs += s.runs
        errors += s.errors
    return errors / runs if runs else 0.0


def critical_failures(sides: Iterable[Side]) -> tuple[str, ...]:
    """Ids of critical cases that did not pass every completed run (or completed none), sorted."""
    return tuple(sorted(s.id for s in sides if critical_failed(s)))


def within_variance(pairs: Iterable[tuple[Side, Side]]) -> tuple[float, float] | None:
    """Run-to-run noise of the paired differences, averaged over cases with >= 2 runs per side.

    Returns (variance of d_i at the current repetitions, variance per single run), or None
    when no case has two completed runs on both sides.
    """
    now: list[float] = []
    per_run: list[float] = []
    for b, c in pairs:
        if len(b.scores) < 2 or len(c.scores) < 2:
            continue
        vb, vc = _var(b.scores), _var(c.scores)
        now.append(vb / len(b.scores) + vc / len(c.scores))
        per_run.append(vb + vc)
    if not now:
        return None
    return math.fsum(now) / len(now), math.fsum(per_run) / len(per_run)


def _var(xs: tuple[float, ...]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)
