"""The quality gate: compare a candidate run with the baseline; PASS, WARN, FAIL or INCOMPLETE.

Cases are paired by id; the unit is the case (its mean run score). The score rule is a one-sided
paired t-test on the per-case differences plus a relative (or absolute) drop limit. Precedence:
INCOMPLETE beats FAIL beats WARN beats PASS. Warnings never change the outcome. Pure and
seeded: the same inputs and options give the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent_eval.baseline.pairing import (
    Pairing,
    Scored,
    Side,
    case_deltas,
    critical_failures,
    error_rate,
    pair,
    sides_from_baseline,
    sides_from_results,
    within_variance,
)
from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import Outcome, TagDelta, Verdict
from agent_eval.errors import UsageError
from agent_eval.records import Results
from agent_eval.stats.describe import mean, mean_ci
from agent_eval.stats.paired import (
    PairedTest,
    benjamini_hochberg,
    bootstrap_change_ci,
    cases_needed,
    drop_fails,
    min_detectable_drop,
    paired_test,
    repeats_needed,
)

__all__ = ["GateOptions", "decide"]


@dataclass(frozen=True, slots=True)
class GateOptions:
    """Limits and knobs of the gate; `tag_limits` comes from the suite's `gate.tags`."""

    max_drop: float = 0.03  # relative (0.03 = 3%), or score points when absolute
    alpha: float = 0.05  # one-sided significance level
    strict: bool = False  # fail on the drop alone, without the significance requirement
    absolute: bool = False  # limits in score points instead of relative to the baseline
    tag_limits: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0  # bootstrap RNG seed
    bootstrap_iterations: int = 2000
    error_threshold: float = 0.05  # errored-run share above which the run is INCOMPLETE
    power: float = 0.8  # for the minimum detectable drop and the cases needed

    def __post_init__(self) -> None:
        if self.max_drop < 0 or any(v < 0 for v in self.tag_limits.values()):
            raise UsageError("drop limits must be >= 0")
        if not 0 < self.alpha < 1 or not 0 < self.power < 1:
            raise UsageError(f"alpha and power must be in (0, 1), got {self.alpha} and {self.power}")
        if not 0 <= self.error_threshold <= 1:
            raise UsageError(f"error threshold must be in [0, 1], got {self.error_threshold}")
        if self.bootstrap_iterations < 0:
            raise UsageError("bootstrap iterations must be >= 0")
        object.__setattr__(self, "tag_limits", dict(self.tag_limits))


def decide(candidate: Results, baseline: Baseline | None, options: GateOptions | None = None) -> Verdict:
    """The verdict for `candidate` against `baseline` (None: only the absolute rules apply)."""
    opts = options or GateOptions()
    cand = sides_from_results(candidate)
    base = sides_from_baseline(baseline) if baseline is not None else None
    incomplete = _incomplete(candidate, cand, base, opts)
    critical = critical_failures(cand.values())
    if baseline is None or base is None:
        return _without_baseline(cand, critical, incomplete, opts)
    pairing = pair(base, cand)
    sc = pairing.comparable
    test = paired_test(sc.base, sc.cand, absolute=opts.absolute) if sc.pairs else None
    tags = _tag_deltas(sc, opts)
    level, score_text = _score_rule(test, sc, opts)
    fails = [score_text] if level is Outcome.FAIL else []
    if critical:
        fails.append(f"critical case(s) failed: {_ids(critical)}")
    fails += [_tag_text(t, opts) for t in tags if t.failed]
    outcome, rule = _resolve(incomplete, fails, level, score_text)
    mdd, n_needed, reps = _power(test, sc, opts)
    return Verdict(
        outcome=outcome,
        rule=rule,
        warnings=_warnings(candidate, baseline, pairing, tags, opts),
        has_baseline=True,
        max_drop=opts.max_drop,
        alpha=opts.alpha,
        absolute=opts.absolute,
        strict=opts.strict,
        paired_cases=len(sc),
        baseline_score=test.base_mean if test else None,
        baseline_ci=mean_ci(sc.base, lower=0.0, upper=1.0),
        candidate_score=test.cand_mean if test else None,
        candidate_ci=mean_ci(sc.cand, lower=0.0, upper=1.0),
        relative_change=test.change if test else None,
        relative_change_ci=_change_ci(sc, opts),
        p_value=test.p_value if test else None,
        min_detectable_drop=mdd,
        cases_needed=n_needed,
        repeats_needed=reps,
        cases=case_deltas(pairing),
        tags=tags,
        critical_failures=critical,
    )


def _resolve(incomplete: list[str], fails: list[str], level: Outcome, text: str) -> tuple[Outcome, str]:
    if incomplete:
        return Outcome.INCOMPLETE, "; ".join(incomplete)
    if fails:
        return Outcome.FAIL, "; ".join(fails)
    return level, text


def _without_baseline(
    cand: Mapping[str, Side], critical: tuple[str, ...], incomplete: list[str], opts: GateOptions
) -> Verdict:
    scores = [s.stats.score for s in cand.values() if s.stats.score is not None]
    if incomplete:
        outcome, rule = Outcome.INCOMPLETE, "no baseline: " + "; ".join(incomplete)
    elif critical:
        outcome, rule = Outcome.FAIL, f"no baseline: critical case(s) failed: {_ids(critical)}"
    else:
        errored = error_rate(cand.values())
        outcome = Outcome.PASS
        rule = f"no baseline: nothing to compare; no critical case failed, {errored:.1%} of runs errored"
    return Verdict(
        outcome=outcome,
        rule=rule,
        max_drop=opts.max_drop,
        alpha=opts.alpha,
        absolute=opts.absolute,
        strict=opts.strict,
        candidate_score=mean(scores),
        candidate_ci=mean_ci(scores, lower=0.0, upper=1.0),
        critical_failures=critical,
    )


def _incomplete(
    results: Results, cand: Mapping[str, Side], base: Mapping[str, Side] | None, opts: GateOptions
) -> list[str]:
    reasons = []
    if not results.complete:
        why = f" ({results.incomplete_reason})" if results.incomplete_reason else ""
        reasons.append(f"the candidate run is incomplete{why}")
    for arm, sides in (("candidate", cand), ("baseline", base)):
        rate = error_rate(sides.values()) if sides is not None else 0.0
        if rate > opts.error_threshold:
            reasons.append(f"{rate:.1%} of {arm} runs errored (limit {opts.error_threshold:.1%})")
    return reasons


def _score_rule(test: PairedTest | None, sc: Scored, opts: GateOptions) -> tuple[Outcome, str]:
    """The overall score rule: its level and its sentence."""
    if test is None:
        return Outcome.WARN, (
            "no case has a completed run on both sides with the same definition; nothing to compare"
        )
    if test.change is None:
        return Outcome.PASS, "the baseline score is 0, so a relative drop is undefined (use absolute limits)"
    limit = _amount(opts.max_drop, opts)
    dropped = f"score dropped {_amount(test.change, opts)} (limit {limit})"
    if _fails(test, opts.max_drop, opts):
        sig = "strict: no significance required" if opts.strict else _p_text(test.p_value, opts.alpha, "<")
        return Outcome.FAIL, f"{dropped}, {sig}"
    if test.change < -opts.max_drop:
        if test.p_value is None:
            return Outcome.WARN, f"{dropped} but only 1 case is paired, so significance cannot be tested"
        p = _p_text(test.p_value, opts.alpha, ">=")
        return Outcome.WARN, f"{dropped} but {p}: the suite is underpowered{_power_text(test, sc, opts)}"
    p = f", {_p_text(test.p_value)}" if test.p_value is not None else ""
    return Outcome.PASS, f"score changed {_amount(test.change, opts, signed=True)}, within the {limit} limit{p}"


def _fails(test: PairedTest | None, limit: float, opts: GateOptions) -> bool:
    if test is None or test.change is None:
        return False
    p = test.p_value if test.p_value is not None else math.nan
    return bool(drop_fails(test.change, p, max_drop=limit, alpha=opts.alpha, strict=opts.strict))


def _power(
    test: PairedTest | None, sc: Scored, opts: GateOptions
) -> tuple[float | None, int | None, int | None]:
    """Minimum detectable drop, cases needed and runs per case needed to resolve max_drop."""
    if test is None or test.sd_diff is None or test.se_diff is None:
        return None, None, None
    scale = 1.0 if opts.absolute else test.base_mean
    if scale <= 0:
        return None, None, None
    drop = opts.max_drop * scale
    mdd = min_detectable_drop(test.se_diff, alpha=opts.alpha, power=opts.power) / scale
    n_needed = cases_needed(test.sd_diff, drop, alpha=opts.alpha, power=opts.power)
    noise = within_variance(sc.pairs)
    reps = None
    if noise is not None:
        reps = repeats_needed(test.sd_diff, *noise, test.n, drop, alpha=opts.alpha, power=opts.power)
    return mdd, n_needed, reps


def _power_text(test: PairedTest, sc: Scored, opts: GateOptions) -> str:
    mdd, n_needed, reps = _power(test, sc, opts)
    if mdd is None or n_needed is None:
        return ""
    more = f" (or {reps} runs per case)" if reps is not None else ""
    return (
        f"; it resolves drops of {_amount(mdd, opts)} or more at {opts.power:.0%} power, "
        f"and about {n_needed} cases{more} would resolve {_amount(opts.max_drop, opts)}"
    )


def _change_ci(sc: Scored, opts: GateOptions) -> tuple[float, float] | None:
    if len(sc) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(opts.seed)
    return bootstrap_change_ci(
        sc.base, sc.cand, rng=rng, absolute=opts.absolute, iterations=opts.bootstrap_iterations
    )


def _tag_deltas(sc: Scored, opts: GateOptions) -> tuple[TagDelta, ...]:
    """Per-tag paired tests, BH-adjusted across tags; a tag with a limit fails like the score rule."""
    names = sorted({t for _, c in sc.pairs for t in c.tags} | set(opts.tag_limits))
    tests: dict[str, PairedTest] = {}
    for name in names:
        sub = sc.with_tag(name)
        if sub.pairs:
            tests[name] = paired_test(sub.base, sub.cand, absolute=opts.absolute)
    p_values = {n: t.p_value for n, t in tests.items() if t.p_value is not None}
    adjusted = dict(zip(p_values, benjamini_hochberg(list(p_values.values())), strict=True))
    deltas = []
    for name in names:
        t, limit = tests.get(name), opts.tag_limits.get(name)
        deltas.append(
            TagDelta(
                tag=name,
                cases=t.n if t else 0,
                baseline_score=t.base_mean if t else None,
                candidate_score=t.cand_mean if t else None,
                relative_change=t.change if t else None,
                p_value=t.p_value if t else None,
                p_adjusted=adjusted.get(name),
                limit=limit,
                failed=limit is not None and _fails(t, limit, opts),
            )
        )
    return tuple(sorted(deltas, key=_tag_order))


def _tag_order(t: TagDelta) -> tuple[bool, float, str]:
    change = t.relative_change if t.relative_change is not None else math.inf
    return (not t.failed, change, t.tag)


def _tag_text(t: TagDelta, opts: GateOptions) -> str:
    assert t.relative_change is not None and t.limit is not None
    sig = "strict" if opts.strict else _p_text(t.p_value, opts.alpha, "<")
    return f"tag '{t.tag}' dropped {_amount(t.relative_change, opts)} (limit {_amount(t.limit, opts)}), {sig}"


def _warnings(
    candidate: Results, baseline: Baseline, pairing: Pairing, tags: Sequence[TagDelta], opts: GateOptions
) -> tuple[str, ...]:
    """Comparability first, then cases not gated, then per-tag and per-case signals."""
    prov, cfg = baseline.provenance, candidate.config
    out = [
        f"{what} differs from the baseline's ({old} -> {new}); scores may not be comparable"
        for what, old, new in (
            ("judge model", prov.judge_model, cfg.judge_model),
            ("judge prompt hash", prov.judge_prompt_hash, cfg.judge_prompt_hash),
            ("k (runs per case)", prov.repeat, candidate.suite.repeat),
        )
        if old != new
    ]
    if pairing.missing:
        ids = _ids([s.id for s in pairing.missing])
        out.append(f"{len(pairing.missing)} baseline case(s) missing from the candidate (not gated): {ids}")
    if pairing.changed:
        ids = _ids([c.id for _, c in pairing.changed])
        out.append(f"{len(pairing.changed)} case(s) changed definition since the baseline (not gated): {ids}")
    out += _tag_warnings(tags, opts)
    collapsed = [c.id for b, c in pairing.paired if _all_passed(b) and c.stats.n > 0 and c.stats.passed == 0]
    if collapsed:
        out.append(f"{len(collapsed)} case(s) went from passing every run to passing none: {_ids(collapsed)}")
    return tuple(out)


def _tag_warnings(tags: Sequence[TagDelta], opts: GateOptions) -> list[str]:
    """Significant drops (after Benjamini-Hochberg) in tags without a limit; limits with no case."""
    out = []
    for t in tags:
        if t.limit is not None and t.cases == 0:
            out.append(f"tag '{t.tag}' has a limit in gate.tags but no paired case")
        dropped = t.relative_change is not None and t.relative_change < 0
        if t.limit is None and dropped and t.p_adjusted is not None and t.p_adjusted < opts.alpha:
            out.append(
                f"tag '{t.tag}' dropped {_amount(t.relative_change, opts)} "
                f"(BH-adjusted p={t.p_adjusted:.3g} < {opts.alpha:g}) and has no limit in gate.tags"
            )
    return out


def _all_passed(side: Side) -> bool:
    return side.stats.n > 0 and side.stats.passed == side.stats.n


def _amount(x: float | None, opts: GateOptions, *, signed: bool = False) -> str:
    """A change or limit as text: percent when relative, score points when absolute."""
    value = (x or 0.0) if signed else abs(x or 0.0)
    if opts.absolute:
        return f"{value:+.3f} points" if signed else f"{value:.3f} points"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _p_text(p: float | None, alpha: float | None = None, op: str = "") -> str:
    if p is None:
        return "p unavailable (fewer than 2 cases)"
    text = f"p={p:.1e}" if p < 0.001 else f"p={p:.3f}"
    return f"{text} {op} {alpha:g}" if alpha is not None else text


def _ids(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
