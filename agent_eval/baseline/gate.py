"""The quality gate: compare a candidate run with the baseline; PASS, WARN, FAIL or INCOMPLETE.

Cases are paired by id; the unit is the case (its mean run score). Every route to FAIL that is a
test (the overall margin test, the run-level test, the collapse test, tag limits, critical cases,
absolute floors) is in one Holm family at alpha; the every-run rule for critical cases without a
baseline fails on its own. Precedence: INCOMPLETE beats FAIL beats WARN beats PASS. Pure and
deterministic: the same inputs and options give the same verdict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent_eval.baseline.options import TAG_MIN_CASES, Floors, GateOptions, TagRule
from agent_eval.baseline.pairing import (
    Pairing,
    Scored,
    Side,
    case_deltas,
    make_side,
    pair,
    sides_from_baseline,
    sides_from_results,
)
from agent_eval.baseline.routes import (
    collapse_route,
    critical_routes,
    error_concentration_route,
    floor_routes,
    ids,
    pass_rate_test,
    run_level_route,
    score_test,
    test_route,
    unpaired_route,
)
from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.signals import (
    baseline_se,
    incomplete_reasons,
    power_figures,
    tag_deltas,
    tag_warnings,
)
from agent_eval.baseline.verdict import Outcome, Route, Verdict
from agent_eval.records import Results
from agent_eval.stats.describe import mean, mean_ci
from agent_eval.stats.hypotheses import MarginTest, holm, margin_test, session_dispersion, t_quantile

__all__ = ["Floors", "GateOptions", "RunInfo", "TagRule", "decide", "decide_sides"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the gate needs to know about the runs beyond their cases."""

    complete: bool = True
    incomplete_reason: str | None = None
    warnings: tuple[str, ...] = ()  # comparability: judge, k
    ungated: tuple[str, ...] = ()  # cases the run left out on purpose (needs-review): not missing


def decide(candidate: Results, baseline: Baseline | None, options: GateOptions | None = None) -> Verdict:
    """The verdict for `candidate` against `baseline` (None: only the absolute rules apply)."""
    opts = options or GateOptions()
    k = candidate.suite.repeat
    cand = sides_from_results(candidate, errors_as_failures=opts.errors_as_failures)
    base = sides_from_baseline(baseline, k, errors_as_failures=opts.errors_as_failures) if baseline else None
    info = RunInfo(candidate.complete, candidate.incomplete_reason, _comparability(candidate, baseline, opts),
                   tuple(candidate.ungated))
    verdict = decide_sides(cand, base, opts, info)
    versioning = _versioning(candidate, baseline, verdict)
    if versioning is None:
        return verdict
    return dataclasses.replace(verdict, warnings=(*verdict.warnings, versioning), versioning=versioning,
                               versioning_blocks=opts.strict_versioning)


def _versioning(candidate: Results, baseline: Baseline | None, verdict: Verdict) -> str | None:
    """The versioning rule: a patch or minor bump must not move the paired case scores significantly."""
    from agent_eval.baseline.verdict import CaseStatus
    from agent_eval.baseline.versioning import moved_p, version_change_warning

    if baseline is None:
        return None
    skip = (CaseStatus.NEW, CaseStatus.MISSING, CaseStatus.CHANGED)
    pairs = [(c.baseline_score, c.candidate_score) for c in verdict.cases if c.status not in skip
             and c.baseline_score is not None and c.candidate_score is not None]
    return version_change_warning(baseline.provenance.config_version, candidate.config.version,
                                  p_moved=moved_p(pairs), change=verdict.relative_change, alpha=verdict.alpha,
                                  baseline_hash=baseline.provenance.config_hash, candidate_hash=candidate.config.hash)


def decide_sides(
    cand: Mapping[str, Side], base: Mapping[str, Side] | None, opts: GateOptions, info: RunInfo | None = None
) -> Verdict:
    """`decide` on cases already reduced to sides (simulations build them directly)."""
    info = info or RunInfo()
    verdict = _decide(cand, base, opts, info)
    if any(s.errors for s in cand.values()) or any(s.errors for s in (base or {}).values()):
        worst = _decide(_as_failures(cand), _as_failures(base) if base is not None else None, opts, info)
        verdict = dataclasses.replace(
            verdict, sensitivity=f"if every errored run had failed: {worst.outcome} ({worst.rule})")
    return verdict


def _as_failures(sides: Mapping[str, Side]) -> dict[str, Side]:
    return {i: make_side(s.id, (*s.scores, *[0.0] * s.errors), [*_passes(s), *[False] * s.errors], k=s.stats.k,
                         tags=s.tags, critical=s.critical, definition_hash=s.definition_hash)
            for i, s in sides.items()}


def _passes(side: Side) -> list[bool]:
    return [True] * side.stats.passed + [False] * (side.stats.n - side.stats.passed)


def _pinned(cand: Mapping[str, Side], base: Mapping[str, Side] | None) -> bool:
    """The candidate's runs are identical within every case while the baseline's pass rates say at least 5 cases
    should differ (a pinned seed at temperature 0): its k runs are one run."""
    if base is None:
        return False
    expected = 0.0
    for c in cand.values():
        if c.stats.n < 2:
            continue
        if len(set(c.scores)) > 1 or 0 < c.stats.passed < c.stats.n:
            return False
        b = base.get(c.id)
        if b is not None and b.stats.pass_rate is not None:
            expected += 1 - b.stats.pass_rate**c.stats.n - (1 - b.stats.pass_rate) ** c.stats.n
    return expected >= 5


def _one_run(side: Side) -> Side:
    return make_side(side.id, side.scores[:1], _passes(side)[:1], errors=side.errors, k=side.stats.k, tags=side.tags,
                     critical=side.critical, definition_hash=side.definition_hash, timeouts=side.timeouts,
                     error_times=side.error_times, done_times=side.done_times)


def _decide(cand: Mapping[str, Side], base: Mapping[str, Side] | None, opts: GateOptions, info: RunInfo) -> Verdict:
    if _pinned(cand, base):
        k = max(s.stats.n for s in cand.values())
        cand = {i: _one_run(s) for i, s in cand.items()}
        pinned = (f"the candidate's {k} runs are identical in every case (a pinned seed at temperature 0?): k identical "
                  f"runs are one run, so each case counts as one run; unpin the seed for {k} independent runs")
        info = dataclasses.replace(info, warnings=(*info.warnings, pinned))
    pairing = pair(base, cand) if base is not None else None
    incomplete, error_warnings = incomplete_reasons(cand, base, pairing, opts, info)
    sc = pairing.comparable if pairing is not None else None
    test = score_test(sc, opts.max_drop, opts) if sc is not None and sc.pairs else None
    dispersion = session_dispersion([(b.scores, c.scores) for b, c in sc.pairs]) if sc is not None else 1.0
    routes, notes = _score_routes(test, sc, opts, dispersion)
    tags = tag_deltas(sc, cand, opts) if sc is not None else ()
    tag_tests, tag_floors = _tag_routes(sc, cand, opts)
    routes += tag_floors
    crit = critical_routes(cand.values(), opts)
    routes += floor_routes([s for s in cand.values() if s.stats.n > 0], opts.floors, opts)
    collapse, collapsed = collapse_route(pairing, opts, dispersion) if pairing is not None else (None, [])
    if collapse is not None and opts.case_collapse == "fail":
        routes.append(collapse)
    concentrated = error_concentration_route(pairing, opts) if pairing is not None else None
    if concentrated is not None:
        routes.append(concentrated)
    routes = [*_holm(routes, opts.alpha), *tag_tests, *crit]
    unpaired = unpaired_route(pairing, opts, info.ungated) if pairing is not None else None
    if unpaired is not None:
        routes.append(unpaired)
    fails = [r.text for r in routes if r.failed]
    critical_note = _every_run_note(cand, opts)
    if critical_note:
        notes.append(critical_note)
    none_done = [s.id for s in cand.values() if s.critical and s.stats.n == 0]
    failed_critical = [r.case_id for r in crit if r.failed and r.case_id]
    missing_only: list[str] = []
    if none_done:
        missing_only.append(f"critical case(s) completed no run (every run must pass): {ids(none_done)}")
    if base is None:
        fails += _nothing_passed(cand)
    outcome, rule = _resolve(incomplete, fails, missing_only, routes, test is not None or base is None, base is None)
    warnings = [*info.warnings, *error_warnings, *_pairing_warnings(pairing)]
    if collapse is not None and opts.case_collapse != "off" and not _failed(routes, "collapse"):
        warnings.append(f"{len(collapsed)} case(s) passed every baseline run and no candidate run: {ids(collapsed)}")
    warnings += tag_warnings(tags, opts)
    with_collapse = _family(routes) + (0 if any(r.kind == "collapse" and r.p_value is not None for r in routes) else 1)
    unreachable = _collapse_reach(pairing, opts, with_collapse) if pairing is not None and not opts.strict else None
    if unreachable is not None and not _failed(routes, "collapse"):
        warnings.append(unreachable)
    fell = {r.tag for r in routes if r.failed and r.kind == "tag"}
    tags = tuple(dataclasses.replace(t, failed=True) if t.tag in fell else t for t in tags)
    mdd, needed, reps = power_figures(test, sc, opts, _family(routes)) if outcome in (Outcome.PASS, Outcome.WARN) \
        else (None, None, None)
    se, runs = baseline_se(sc) if sc is not None else (None, None)
    scored = [s.stats.score for s in cand.values() if s.stats.score is not None]
    return Verdict(
        outcome=outcome, rule=rule, warnings=tuple(warnings), has_baseline=base is not None,
        max_drop=opts.max_drop, alpha=opts.alpha, absolute=opts.absolute, strict=opts.strict,
        paired_cases=len(sc) if sc is not None else 0,
        baseline_score=test.base_mean if test else None,
        baseline_ci=mean_ci(sc.base, lower=0.0, upper=1.0) if sc is not None else None,
        candidate_score=test.cand_mean if test else mean(scored),
        candidate_ci=mean_ci(sc.cand if sc is not None else scored, lower=0.0, upper=1.0),
        relative_change=test.change if test else None,
        relative_change_ci=_interval(test, opts.alpha / _family(routes)), bound_alpha=opts.alpha / _family(routes),
        p_value=test.p_value if test else None,
        min_detectable_drop=mdd, cases_needed=needed, repeats_needed=reps,
        cases=case_deltas(pairing) if pairing is not None else (),
        tags=tags,
        critical_failures=tuple(sorted({*none_done, *failed_critical})),
        routes=tuple(routes), baseline_se=se, baseline_runs=runs, notes=tuple(notes),
        errored_runs=sum(s.errors for s in cand.values()),
        absolute_rule=bool(test and test.absolute),
    )


def _score_routes(test: MarginTest | None, sc: Scored | None, opts: GateOptions,
                  dispersion: float = 1.0) -> tuple[list[Route], list[str]]:
    """The overall margin test and the run-level test, and a note when the absolute rule stood in."""
    if test is None or sc is None:
        return [], []
    routes = [test_route("overall score", "score", test, opts)]
    rates = pass_rate_test(sc, opts)
    if rates is not None:
        routes.append(test_route("overall pass rate", "pass rate", rates, opts, kind="pass-rate"))
    level = run_level_route(sc, opts.max_drop, test.absolute, dispersion)
    if level is not None and not opts.strict:
        routes.append(level)
    notes = []
    if test.absolute and not opts.absolute:
        notes.append(f"the baseline score {test.base_mean:.3f} is under 0.05, so the limit is read as "
                     f"{opts.max_drop:.3f} score points (absolute rule), not relative")
    return routes, notes


def _interval(test: MarginTest | None, level: float) -> tuple[float, float] | None:
    """The two-sided 1 - 2 level interval whose top is the one-sided bound at `level` (Holm's strictest step)."""
    if test is None or test.upper is None or test.se is None:
        return None
    half = t_quantile(1 - level, test.n - 1) * test.se
    return (test.change - half, test.change + half)


def _tag_routes(sc: Scored | None, cand: Mapping[str, Side], opts: GateOptions) -> tuple[list[Route], list[Route]]:
    """(the tags' margin tests, Holm'd within a tag budget of alpha of their own; their absolute floors, for the
    main family). Every tag of at least 5 paired cases is tested at its own max_drop or gate.max_drop."""
    tests: list[Route] = []
    floors: list[Route] = []
    names = sorted({t for _, c in (sc.pairs if sc is not None else ()) for t in c.tags} | set(opts.tag_limits))
    for tag in names:
        rule = opts.tag_rule(tag)
        limit = rule.max_drop if rule is not None and rule.max_drop is not None else None
        sub = sc.with_tag(tag) if sc is not None else None
        if sub is not None and sub.pairs and (limit is not None or len(sub) >= TAG_MIN_CASES):
            t = score_test(sub, opts.max_drop if limit is None else limit, opts)
            tests.append(test_route(f"tag '{tag}'", f"tag '{tag}'", t, opts, warn=False, kind="tag", tag=tag))
        if rule is not None:
            tagged = [s for s in cand.values() if tag in s.tags and s.stats.n > 0]
            floors += floor_routes(tagged, rule.floors, opts, where=f"tag '{tag}' ", tag=tag)
    return tarone_holm(tests, sc, opts), floors


def tarone_holm(tests: list[Route], sc: Scored | None, opts: GateOptions) -> list[Route]:
    """Holm within the tag budget, over the tests that can reach their level (Tarone): a tag whose smallest
    attainable p-value (every candidate score 0) is not below alpha / K is left out of the K tests counted."""
    if sc is None or opts.strict or not tests:
        return tests
    floor_p = {}
    for r in tests:
        sub = sc.with_tag(r.tag or "")
        worst = margin_test(sub.base, [0.0] * len(sub), margin=opts.max_drop, alpha=opts.alpha,
                            absolute=score_test(sub, opts.max_drop, opts).absolute)
        floor_p[r.name] = worst.p_value if worst.p_value is not None else 1.0
    count = len(tests)
    while count > 1 and sum(1 for p in floor_p.values() if p < opts.alpha / count) < count:
        count -= 1
    reachable = [r for r in tests if floor_p[r.name] < opts.alpha / max(count, 1)]
    tested = _holm(reachable, opts.alpha, family_name="tag budget")
    by_name = {r.name: r for r in tested}
    return [by_name.get(r.name, dataclasses.replace(r, p_value=None, text=r.text + " (cannot reach its level: "
                                                        "left out by Tarone's rule)")) for r in tests]


def _holm(routes: list[Route], alpha: float, family_name: str = "") -> list[Route]:
    tested = [i for i, r in enumerate(routes) if r.p_value is not None]
    levels = holm([routes[i].p_value for i in tested], alpha)  # type: ignore[misc]
    out = list(routes)
    for i, level in zip(tested, levels, strict=True):
        if level is not None:
            r = routes[i]
            family = f"Holm level of {len(tested)} tests" if len(tested) > 1 else "alpha"
            family += f" in the {family_name}" if family_name else ""
            text = r.text[:-1] + f" < {level:.3g}, {family})" if r.text.endswith(")") else r.text
            out[i] = dataclasses.replace(r, failed=True, warn=False, text=text)
    return out


def _failed(routes: list[Route], kind: str) -> bool:
    return any(r.failed for r in routes if r.kind == kind)


def _collapse_reach(pairing: Pairing, opts: GateOptions, family: int) -> str | None:
    """A warning when the collapse test cannot fire at this suite's runs per case: one always-passing case that
    broke gives at best p = 1 / C(n_b + n_c, n_c), which must be below its Holm level alpha / family."""
    sized = [(b.stats.n, c.stats.n) for b, c in pairing.paired if b.stats.n and c.stats.n]
    if not sized or not any(b.stats.n and b.stats.passed == b.stats.n for b, _ in pairing.paired):
        return None
    nb = sorted(n for n, _ in sized)[len(sized) // 2]
    nc = sorted(n for _, n in sized)[len(sized) // 2]
    level = opts.alpha / max(1, family)
    best = 1 / math.comb(nb + nc, nc)
    if nb >= 3 and nc >= 3 and best < level:
        return None
    k = next(k for k in range(3, 64) if 1 / math.comb(3 * k, k) < level)
    base_runs = next(n for n in range(3, 10_000) if 1 / math.comb(n + max(nc, 3), max(nc, 3)) < level)
    why = (f"one always-passing case that broke gives p >= 1/{math.comb(nb + nc, nc)} = {best:.3g}, not below its "
           f"Holm level {level:.3g}" if nb >= 3 and nc >= 3 else "it needs at least 3 runs per case on both sides")
    return (f"the collapse test cannot fire with a {nb}-run baseline and k={nc} ({why}): it needs k >= {k} with a "
            f"2k-run baseline, or a baseline of {base_runs} runs at k={max(nc, 3)} (gate.baseline_repeat)")


def _family(routes: list[Route]) -> int:
    return max(1, sum(1 for r in routes if r.p_value is not None and r.kind != "tag"))


def _resolve(
    incomplete: list[str], fails: list[str], missing_only: list[str], routes: list[Route], compared: bool,
    no_baseline: bool,
) -> tuple[Outcome, str]:
    """INCOMPLETE beats FAIL unless a route fired on what completed: a significant drop there is a FAIL, and the
    lost cases are named after it."""
    prefix = "no baseline: " if no_baseline else ""
    if incomplete and not fails:
        return Outcome.INCOMPLETE, prefix + "; ".join(incomplete)
    if fails or missing_only:
        overall = next((r for r in routes if r.kind == "score" and r.warn), None)
        context = [f"{overall.text}, not significant alone at its Holm level"] if overall is not None else []
        lost = [f"also incomplete: {why}" for why in incomplete]
        return Outcome.FAIL, prefix + "; ".join([*context, *fails, *missing_only, *lost])
    warns = [r.text for r in routes if r.warn]
    if warns:
        return Outcome.WARN, prefix + "; ".join(warns) + ": not significant, the suite may be underpowered"
    if not compared:
        return Outcome.WARN, "no case has a completed run on both sides with the same definition; nothing to compare"
    main = next((r.text for r in routes if r.kind == "score"), None)
    if main is None:
        checked = f"{len(routes)} absolute limit(s) met" if routes else "nothing to compare, no limit set"
        return Outcome.PASS, prefix + checked
    return Outcome.PASS, main


def _nothing_passed(cand: Mapping[str, Side]) -> list[str]:
    """Without a baseline, a suite where runs completed and not one passed is not a PASS."""
    completed = sum(s.stats.n for s in cand.values())
    if completed == 0 or any(s.stats.passed for s in cand.values()):
        return []
    return [f"not one of {completed} completed run(s) passed"]


def _every_run_note(cand: Mapping[str, Side], opts: GateOptions) -> str | None:
    """The every-run rule's false-FAIL rate by design (1 - p^runs), printed with every verdict that uses it."""
    runs = sum(s.stats.n for s in cand.values() if s.critical and s.id not in opts.critical_min_pass_rate)
    if not runs:
        return None
    rate = 1 - 0.99**runs
    return (f"critical cases use the every-run rule ({runs} runs must all pass, outside the Holm family): "
            f"if each run truly passed 99% of the time it would still FAIL {rate:.0%} of the time, by design "
            f"(1 - 0.99^{runs}; set critical: {{min_pass_rate: x}} to tolerate failures)")


def _pairing_warnings(pairing: Pairing | None) -> list[str]:
    if pairing is None:
        return []
    out = []
    if pairing.missing:
        out.append(f"{len(pairing.missing)} baseline case(s) missing from the candidate (not gated): "
                   f"{ids([s.id for s in pairing.missing])}")
    if pairing.changed:
        out.append(f"{len(pairing.changed)} case(s) changed definition since the baseline (not gated): "
                   f"{ids([c.id for _, c in pairing.changed])}")
    return out


def _comparability(candidate: Results, baseline: Baseline | None, opts: GateOptions) -> tuple[str, ...]:
    if baseline is None:
        return ()
    prov, cfg = baseline.provenance, candidate.config
    k_ok = prov.repeat in (candidate.suite.repeat, opts.baseline_repeat or 2 * candidate.suite.repeat)
    return tuple(
        f"{what} differs from the baseline's ({old} -> {new}); scores may not be comparable"
        for what, old, new, same in (
            ("judge model", prov.judge_model, cfg.judge_model, prov.judge_model == cfg.judge_model),
            ("judge prompt hash", prov.judge_prompt_hash, cfg.judge_prompt_hash,
             prov.judge_prompt_hash == cfg.judge_prompt_hash),
            ("k (runs per case)", prov.repeat, candidate.suite.repeat, k_ok),
        )
        if not same
    )
