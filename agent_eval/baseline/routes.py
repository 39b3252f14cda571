"""The routes to FAIL, each a test with a p-value (one Holm family) or a rule without one.

Overall score (margin test), run-level test, tag limits, critical cases and absolute floors.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from math import comb

from agent_eval.baseline.options import BASELINE_FLOOR, Floors, GateOptions
from agent_eval.baseline.pairing import Pairing, Scored, Side
from agent_eval.baseline.verdict import Route, RouteKind
from agent_eval.stats.hypotheses import (
    TOL,
    MarginTest,
    at_least,
    binomial_at_most,
    effective_runs,
    icc_from_dispersion,
    limit_test,
    margin_test,
    run_level_test,
)

__all__ = [
    "amount",
    "collapse_route",
    "critical_routes",
    "error_concentration_route",
    "floor_routes",
    "hypergeom_at_least",
    "ids",
    "p_text",
    "pass_rate_test",
    "pass_rate_upper",
    "run_level_route",
    "score_test",
    "test_route",
    "unpaired_route",
    "uses_absolute",
]


def uses_absolute(base_mean: float, opts: GateOptions) -> bool:
    """Score points instead of a relative drop: asked for, or a baseline too near 0 for ratios."""
    return opts.absolute or base_mean < BASELINE_FLOOR


def score_test(sc: Scored, margin: float, opts: GateOptions) -> MarginTest:
    absolute = uses_absolute(math.fsum(sc.base) / len(sc.base), opts)
    return margin_test(sc.base, sc.cand, margin=margin, alpha=opts.alpha, absolute=absolute)


def pass_rate_test(sc: Scored, opts: GateOptions) -> MarginTest | None:
    """The margin test on the paired cases' pass rates, beside the score's; None when every run's score is its
    pass (1 or 0), where it would repeat the score test."""
    b = [x for s, _ in sc.pairs if (x := s.stats.pass_rate) is not None]
    c = [x for _, s in sc.pairs if (x := s.stats.pass_rate) is not None]
    if not sc.pairs or len(b) != len(sc.pairs) or len(c) != len(sc.pairs):
        return None
    if all(abs(x - y) < TOL for x, y in zip((*b, *c), (*sc.base, *sc.cand), strict=True)):
        return None
    absolute = uses_absolute(math.fsum(b) / len(b), opts)
    return margin_test(b, c, margin=opts.max_drop, alpha=opts.alpha, absolute=absolute)


def amount(x: float | None, absolute: bool, *, signed: bool = False) -> str:
    """A change or limit as text: percent when relative, score points when absolute."""
    value = (x or 0.0) if signed else abs(x or 0.0)
    if absolute:
        return f"{value:+.3f} points" if signed else f"{value:.3f} points"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def p_text(p: float | None, alpha: float | None = None, op: str = "") -> str:
    if p is None:
        return "p unavailable (fewer than 2 cases)"
    text = f"p={p:.1e}" if p < 0.001 else f"p={p:.3f}"
    return f"{text} {op} {alpha:g}" if alpha is not None else text


def ids(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def test_route(name: str, what: str, t: MarginTest, opts: GateOptions, *, warn: bool = True,
               kind: RouteKind = "score", tag: str | None = None) -> Route:
    """A margin test as a route: `what` is "score" or "tag 'x'"; `warn` on a drop past the limit without a FAIL."""
    limit = amount(t.margin, t.absolute)
    if t.change < -t.margin - TOL:
        head = f"{what} dropped {amount(t.change, t.absolute)}, past the {limit} limit"
    else:
        head = f"{what} changed {amount(t.change, t.absolute, signed=True)}, within the {limit} limit"
    bound = ""  # the verdict prints the bound at the level tested (alpha / the Holm family), known only later
    if opts.strict:
        failed = t.change < -t.margin - TOL
        return Route(name, f"{head} (strict: no significance required)", None, failed, kind=kind, tag=tag)
    text = f"{head} ({bound}{p_text(t.p_value)})"
    return Route(name, text, t.p_value, False, warn=warn and t.change < -t.margin - TOL, kind=kind, tag=tag)


def run_level_route(sc: Scored, margin: float, absolute: bool, dispersion: float = 1.0) -> Route | None:
    """The run-level test within cases (see `run_level_test`); None without runs on both sides."""
    p = run_level_test([(b.scores, c.scores) for b, c in sc.pairs], margin=margin, absolute=absolute,
                       dispersion=dispersion)
    if p is None:
        return None
    widened = f", variance x{dispersion:.2f} for between-session drift" if dispersion > 1 else ""
    return Route("run-level", f"runs within cases dropped past the {amount(margin, absolute)} limit "
                 f"(run-level permutation test{widened}, {p_text(p)})", p, kind="run-level")


def collapse_route(pairing: Pairing, opts: GateOptions, dispersion: float = 1.0) -> tuple[Route | None, list[str]]:
    """Cases that passed every baseline run and no candidate run (at least 3 runs each side), and their test.

    Under "nothing changed" the runs of a case are exchangeable between the arms, so a case whose runs passed
    exactly as often as it has baseline runs collapses by chance with probability 1 / C(n_b + n_c, n_c); the
    p-value is the chance of at least as many collapses (exact, over every such case). A case that always
    passed and broke stands out; a flaky suite's chance collapses do not FAIL it. When runs of one session are
    correlated (`dispersion` > 1), each arm counts as its effective number of independent runs.
    """
    chances, collapsed = [], []
    for b, c in pairing.paired:
        nb, nc = b.stats.n, c.stats.n
        if nb < 3 or nc < 3:
            continue
        if b.stats.passed + c.stats.passed == nb:
            icc = icc_from_dispersion(dispersion, nb, nc)
            chances.append(_one_in(effective_runs(nb, icc), effective_runs(nc, icc)))
        if b.stats.passed == nb and c.stats.passed == 0:
            collapsed.append(c.id)
    if not collapsed:
        return None, []
    p = at_least(len(collapsed), chances)
    text = (f"{len(collapsed)} case(s) passed every baseline run and no candidate run: {ids(collapsed)} "
            f"(collapse test, {p_text(p)})")
    if opts.strict:
        return Route("collapse", text, None, True, kind="collapse"), collapsed
    return Route("collapse", text, p, kind="collapse"), collapsed


def _one_in(nb: float, nc: float) -> float:
    """1 / C(nb + nc, nc), for effective (fractional) run counts too."""
    return math.exp(math.lgamma(nb + 1) + math.lgamma(nc + 1) - math.lgamma(nb + nc + 1))


def critical_routes(cand: Iterable[Side], opts: GateOptions) -> list[Route]:
    """The rule of each critical case with a completed run, outside the Holm family, with or without a baseline.

    `critical: true`: FAIL when any completed run failed. `critical: {min_pass_rate: x}`: FAIL when the exact
    one-sided (1 - alpha) upper bound of its pass rate is below x (the binomial p of "rate >= x" under alpha).
    A case that completed no run is handled by the caller (missing data, or the every-run rule without one).
    """
    routes: list[Route] = []
    for c in cand:
        if not c.critical or c.stats.n == 0:
            continue
        n, passed = c.stats.n, c.stats.passed
        floor = opts.critical_min_pass_rate.get(c.id)
        failed_runs = f"run(s) {', '.join(map(str, c.failed_runs))} failed" if c.failed_runs else "no run failed"
        if floor is None:
            text = f"critical case '{c.id}' passed {passed}/{n} runs ({failed_runs}; every run must pass)"
            routes.append(Route(f"critical '{c.id}'", text, None, passed < n, kind="critical", case_id=c.id))
            continue
        p = binomial_at_most(passed, n, floor)
        upper = pass_rate_upper(passed, n, opts.alpha)
        failed = passed < floor * n - TOL if opts.strict else p < opts.alpha
        text = (f"critical case '{c.id}' passed {passed}/{n} runs ({failed_runs}; one-sided {1 - opts.alpha:.0%} "
                f"upper bound {upper:.0%} against min_pass_rate {floor:.0%}, {p_text(p)})")
        routes.append(Route(f"critical '{c.id}' rate", text, None, failed, kind="critical-rate", case_id=c.id))
    return routes


def error_concentration_route(pairing: Pairing, opts: GateOptions) -> Route | None:
    """Do the candidate's timeouts concentrate where runs would fail? Timeouts of the system under test may be
    failures in disguise: under "they are missing at random", the cases with a timed-out candidate run are a random
    draw of the paired cases, so how many of them passed every completed baseline run is hypergeometric. The
    baseline's own errors are left out of its runs (they cannot cover the candidate's). None without a timeout."""
    cases = [(b, c) for b, c in pairing.paired if b.stats.n > 0 and c.runs > 0]
    always = {c.id for b, c in cases if b.stats.passed == b.stats.n}
    timed_out = [c.id for _, c in cases if c.timeouts > 0]
    if not timed_out:
        return None
    hit = [i for i in timed_out if i in always]
    p = hypergeom_at_least(len(hit), len(cases), len(always), len(timed_out))
    text = (f"the candidate's timeouts concentrate where runs would fail: {len(hit)} of the {len(timed_out)} case(s) "
            f"with a timed-out run passed every baseline run, against {len(always)} of {len(cases)} cases: "
            f"{ids(sorted(hit))} (hypergeometric {p_text(p)})")
    if opts.strict:
        return Route("errors", text, None, False, kind="errors")
    return Route("errors", text, p, kind="errors")


def hypergeom_at_least(hits: int, total: int, successes: int, draws: int) -> float:
    """P(X >= hits) for X hypergeometric: `draws` from `total` of which `successes` count."""
    if hits <= 0:
        return 1.0
    top = min(successes, draws)
    return min(1.0, math.fsum(comb(successes, x) * comb(total - successes, draws - x)
                              for x in range(hits, top + 1)) / comb(total, draws))


def unpaired_route(pairing: Pairing, opts: GateOptions, ungated: Collection[str] = ()) -> Route | None:
    """Baseline cases that passed a run and are now missing (removed or renamed) or changed definition, unless
    accepted by id: a PR cannot hide a broken case by removing or editing it. None when there is none."""
    defined = opts.suite_cases
    gone = [b.id for b in pairing.missing if b.stats.passed > 0 and b.id not in ungated
            and (defined is None or b.id not in defined)]
    edited = [b.id for b, _ in pairing.changed if b.stats.passed > 0]
    hidden = sorted(i for i in (*gone, *edited) if i not in opts.accept_unpaired)
    if not hidden:
        return None
    parts = []
    if gone_now := [i for i in hidden if i in gone]:
        parts.append(f"{len(gone_now)} passing baseline case(s) missing from the candidate: {ids(gone_now, 20)}")
    if edited_now := [i for i in hidden if i in edited]:
        parts.append(f"{len(edited_now)} passing baseline case(s) changed definition: {ids(edited_now, 20)}")
    text = (f"unpaired cases: {'; '.join(parts)} (accept each with --accept-unpaired ID, or re-record them with "
            f"`agent-eval baseline update --cases ID...`)")
    return Route("unpaired cases", text, None, True, kind="unpaired")


def pass_rate_upper(passed: int, n: int, alpha: float) -> float:
    """The exact (Clopper-Pearson) one-sided 1 - alpha upper bound of a pass rate."""
    if passed >= n:
        return 1.0
    from scipy.special import betaincinv

    return float(betaincinv(passed + 1, n - passed, 1 - alpha))


_FLOOR_VALUES = {
    "min_score": lambda s: s.stats.score,
    "min_pass_rate": lambda s: s.stats.pass_rate,
    "min_pass_hat_k": lambda s: s.stats.pass_hat_k,
}


def floor_routes(sides: Sequence[Side], floors: Floors, opts: GateOptions, where: str = "",
                 tag: str | None = None) -> list[Route]:
    """Absolute floors on the candidate alone: FAIL when the upper bound is below, WARN when the lower is."""
    routes = []
    for name, limit in floors.items():
        values = [v for s in sides if (v := _FLOOR_VALUES[name](s)) is not None]
        label = f"{where}{name}"
        t = limit_test(values, limit, alpha=opts.alpha)
        if t is None:
            routes.append(Route(label, f"{label} {limit:.3g}: no case has a value to compare", None, False, warn=True,
                                kind="floor", tag=tag))
            continue
        what = name.removeprefix("min_").replace("pass_hat_k", "pass^k").replace("_", " ")
        head = f"{where}{what} {t.mean:.3f} against {label} {limit:.3g}"
        if opts.strict:
            routes.append(Route(label, f"{head} (strict: the point estimate)", None, t.mean < limit - TOL,
                                kind="floor", tag=tag))
            continue
        bounds = "" if t.upper is None else f"one-sided {1 - opts.alpha:.0%} bounds [{t.lower:.3f}, {t.upper:.3f}], "
        warn = (t.lower if t.lower is not None else t.mean) < limit - TOL
        routes.append(Route(label, f"{head} ({bounds}{p_text(t.p_value)})", t.p_value, False, warn=warn,
                            kind="floor", tag=tag))
    return routes
