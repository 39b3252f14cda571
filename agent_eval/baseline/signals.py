"""What the gate reports besides its routes: missing data, per-tag figures, power and the baseline's noise."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence

from agent_eval.baseline.options import TAG_MIN_CASES, GateOptions
from agent_eval.baseline.pairing import Pairing, Scored, Side
from agent_eval.baseline.routes import amount, ids, score_test
from agent_eval.baseline.verdict import TagDelta
from agent_eval.stats.hypotheses import TOL, MarginTest, fisher_fewer, margin_test
from agent_eval.stats.paired import benjamini_hochberg
from agent_eval.stats.power import PLANNING_EXPONENT, Design, cases_needed, paired_fail_drop, runs_needed

__all__ = ["baseline_se", "error_clusters", "incomplete_reasons", "power_figures", "tag_deltas", "tag_warnings"]


def incomplete_reasons(
    cand: Mapping[str, Side], base: Mapping[str, Side] | None, pairing: Pairing | None, opts: GateOptions,
    info: object,
) -> tuple[list[str], list[str]]:
    """(reasons the run is INCOMPLETE, warnings about errors that are only spread-out missing data)."""
    reasons: list[str] = []
    if not getattr(info, "complete", True):
        why = getattr(info, "incomplete_reason", None)
        reasons.append(f"the candidate run is incomplete{f' ({why})' if why else ''}")
    if pairing is not None:
        lost = [c.id for b, c in pairing.paired if c.stats.n == 0 and b.stats.n > 0]
        gone = [c.id for b, c in pairing.paired if b.stats.n == 0 and c.stats.n > 0]
        if lost:
            reasons.append(f"{len(lost)} gated case(s) have no completed candidate run but have baseline runs: {ids(lost)}")
        if gone:
            reasons.append(f"{len(gone)} gated case(s) have no completed baseline run: {ids(gone)}")
    else:
        lost = [s.id for s in cand.values() if s.stats.n == 0]
        if lost:
            reasons.append(f"{len(lost)} case(s) have no completed run: {ids(lost)}")
    c_err, c_runs = _errors(cand.values())
    warnings: list[str] = []
    rose = False
    if base is not None:
        b_err, b_runs = _errors(base.values())
        c_clusters, b_clusters = error_clusters(cand.values()), error_clusters(base.values())
        # errors of one case, or of one outage, are one cluster (an outage is one event, not 25): the
        # counts are divided by the pooled mean cluster size before the exact test (a quasi-binomial dispersion)
        size = max(1.0, (c_err + b_err) / max(1, c_clusters + b_clusters))
        p = fisher_fewer(*_scaled(c_runs - c_err, c_runs, size), *_scaled(b_runs - b_err, b_runs, size)) \
            if c_err else 1.0
        rose = p < opts.alpha
        if rose:
            reasons.append(f"infrastructure errors rose: {_share(c_err, c_runs)} of candidate runs in {c_clusters} "
                           f"cluster(s) against {_share(b_err, b_runs)} of baseline runs in {b_clusters} (one-sided "
                           f"Fisher on clusters p={p:.2g} < {opts.alpha:g})")
        elif b_err:
            warnings.append(f"{_share(b_err, b_runs)} of baseline runs errored (missing data)")
    if c_err and not rose:
        cases = sum(1 for s in cand.values() if s.errors)
        warnings.append(f"{_share(c_err, c_runs)} of candidate runs errored, spread over {cases} case(s) in "
                        f"{error_clusters(cand.values())} cluster(s): missing data, not failures (see the sensitivity "
                        "line)")
    return reasons, warnings


def _scaled(ok: int, runs: int, size: float) -> tuple[int, int]:
    errors = round((runs - ok) / size)
    n = max(errors, round(runs / size))
    return n - errors, n


WINDOW_S = 60.0


def error_clusters(sides: Iterable[Side]) -> int:
    """Errored runs grouped into clusters, the number of connected groups: errors of one case are one cluster, and
    so are errors of one outage. An outage is a stretch of errors in time with no completed run finishing between
    them, when the runs' times are known; given only the errors' times (a simulation), a 60-second window."""
    sides = list(sides)
    parent: dict[object, object] = {}

    def find(x: object) -> object:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def join(a: object, b: object) -> None:
        parent[find(a)] = find(b)

    dones = sorted(t for s in sides for t in s.done_times if t is not None)
    for s in sides:
        if not s.errors:
            continue
        find(("case", s.id))
        for t in s.error_times:
            if t is None:
                continue
            # the outage an error belongs to: the number of completed runs that finished before it
            outage = bisect.bisect_left(dones, t) if dones else math.floor(t / WINDOW_S)
            join(("case", s.id), ("outage", outage))
    return sum(1 for x in parent if find(x) == x)


def _errors(sides: object) -> tuple[int, int]:
    errors = runs = 0
    for s in sides:  # type: ignore[attr-defined]
        errors += s.errors
        runs += s.runs
    return errors, runs


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "0"


def tag_deltas(sc: Scored, cand: Mapping[str, Side], opts: GateOptions) -> tuple[TagDelta, ...]:
    """Per-tag figures; p-values of "any drop", Benjamini-Hochberg-adjusted across tags (for warnings)."""
    names = sorted({t for _, c in sc.pairs for t in c.tags} | set(opts.tag_limits))
    tests: dict[str, MarginTest] = {}
    for name in names:
        sub = sc.with_tag(name)
        if sub.pairs:
            absolute = score_test(sub, 0.0, opts).absolute
            tests[name] = margin_test(sub.base, sub.cand, margin=0.0, alpha=opts.alpha, absolute=absolute)
    p_values = {n: t.p_value for n, t in tests.items() if t.p_value is not None}
    adjusted = dict(zip(p_values, benjamini_hochberg(list(p_values.values())), strict=True))
    deltas = []
    for name in names:
        t = tests.get(name)
        rule = opts.tag_rule(name)
        limit = rule.max_drop if rule is not None else None
        deltas.append(TagDelta(
            tag=name, cases=t.n if t else 0, baseline_score=t.base_mean if t else None,
            candidate_score=t.cand_mean if t else None, relative_change=t.change if t else None,
            p_value=t.p_value if t else None, p_adjusted=adjusted.get(name), limit=limit, failed=False,
        ))
    return tuple(sorted(deltas, key=_tag_order))


def _tag_order(t: TagDelta) -> tuple[float, str]:
    return (t.relative_change if t.relative_change is not None else math.inf, t.tag)


def tag_warnings(tags: Sequence[TagDelta], opts: GateOptions) -> list[str]:
    """Drops in tags too small to test (under 5 cases, no limit of their own); limits with no case."""
    out = []
    for t in tags:
        if t.tag in opts.tag_limits and t.cases == 0:
            out.append(f"tag '{t.tag}' has a limit in gate.tags but no paired case")
        dropped = t.relative_change is not None and t.relative_change < -TOL
        untested = t.limit is None and 0 < t.cases < TAG_MIN_CASES
        if untested and dropped and t.p_adjusted is not None and t.p_adjusted < opts.alpha:
            out.append(f"tag '{t.tag}' dropped {amount(t.relative_change, opts.absolute)} "
                       f"(BH-adjusted p={t.p_adjusted:.3g} < {opts.alpha:g}) on {t.cases} case(s), fewer than "
                       f"{TAG_MIN_CASES}: not tested")
        elif untested and t.relative_change is not None and t.relative_change < -opts.max_drop - TOL:
            out.append(f"tag '{t.tag}' dropped {amount(t.relative_change, opts.absolute)} on {t.cases} case(s), "
                       f"fewer than {TAG_MIN_CASES}: not tested")
    return out


def _within(pairs: Sequence[tuple[Side, Side]], keep: float) -> tuple[float, float, float, float] | None:
    """Mean run-to-run variance of e_i now, and per run, with the mean runs per case of both arms."""
    now, per_run, kb, kc = [], [], [], []
    for b, c in pairs:
        if len(b.scores) < 2 or len(c.scores) < 2:
            continue
        vb, vc = _var(b.scores), _var(c.scores)
        now.append(vc / len(c.scores) + keep**2 * vb / len(b.scores))
        per_run.append((vb + vc) / 2)
        kb.append(len(b.scores))
        kc.append(len(c.scores))
    if not now:
        return None
    n = len(now)
    return math.fsum(now) / n, math.fsum(per_run) / n, math.fsum(kc) / n, math.fsum(kb) / n


def _var(xs: Sequence[float]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def power_figures(
    test: MarginTest | None, sc: Scored | None, opts: GateOptions, family: int
) -> tuple[float | None, int | None, int | None]:
    """The true drop that would FAIL at the gate's power (at the Holm level alpha / family), and, when
    the observed drop is past the limit without a FAIL, the cases or runs per case that would FAIL it."""
    if test is None or sc is None or test.se is None or test.se <= 0 or test.sd_e is None:
        return None, None, None
    alpha = opts.alpha / family**PLANNING_EXPONENT
    mdd = paired_fail_drop([b.scores for b, _ in sc.pairs], [c.scores for _, c in sc.pairs], sd_e=test.sd_e,
                           base_mean=test.base_mean, max_drop=test.margin, alpha=alpha, power=opts.power,
                           absolute=test.absolute)
    drop = -test.change
    if drop <= test.margin:
        return mdd, None, None
    keep = 1.0 if test.absolute else 1.0 - test.margin
    noise = _within(sc.pairs, keep)
    within_now, run_var, kc, kb = noise if noise is not None else (0.0, 0.0, 1.0, 1.0)
    design = Design(
        cases=test.n, k=max(1, round(kc)), baseline_k=max(1, round(kb)), mean=test.base_mean, between=0.0,
        run_var=run_var, max_drop=test.margin, alpha=alpha, power=opts.power, absolute=test.absolute,
        tau2=max(test.sd_e**2 - within_now, 0.0) if noise is not None else test.sd_e**2,
    )
    reps = runs_needed(design, drop) if noise is not None else None
    return mdd, cases_needed(design, drop), reps


def baseline_se(sc: Scored) -> tuple[float | None, int | None]:
    """Standard error of the baseline's mean score from its run-to-run noise, and its runs per case."""
    terms = [_var(b.scores) / len(b.scores) for b, _ in sc.pairs if len(b.scores) >= 2]
    if not terms or not sc.pairs:
        return None, None
    runs = round(math.fsum(len(b.scores) for b, _ in sc.pairs) / len(sc.pairs))
    return math.sqrt(math.fsum(terms)) / len(sc.pairs), runs
