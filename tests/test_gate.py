"""The quality gate on Results built in memory: outcomes, rules and statistical properties."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from agent_eval.baseline.gate import Floors, GateOptions, TagRule, decide, decide_sides
from agent_eval.baseline.pairing import make_side
from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.verdict import CaseStatus, Outcome
from agent_eval.records import (
    CaseResult,
    ConfigInfo,
    Results,
    RunError,
    RunRecord,
    RunStatus,
    SuiteInfo,
    Summary,
)
from agent_eval.stats.reduce import case_stats

# --- factory -------------------------------------------------------------------------------


@dataclass
class C:
    """A case for the factory: one score per run (None = errored); a run passes at score >= 1."""

    id: str
    scores: Sequence[float | str | None]
    tags: tuple[str, ...] = ()
    critical: bool = False
    definition: str = "v1"
    extra: dict[str, object] = field(default_factory=dict)


def run(case_id: str, i: int, score: float | str | None) -> RunRecord:
    """A run: a score, None (a provider error), "target" (the agent crashed) or "timeout" (it ran out of time)."""
    if score is None or score in ("target", "timeout"):
        kind = score if isinstance(score, str) else "provider"
        return RunRecord(
            case_id=case_id, index=i, status=RunStatus.ERRORED, passed=False,
            error=RunError(kind=kind, message="boom" if kind == "target" else "HTTP 500", status=None),
        )  # fmt: skip
    assert isinstance(score, float | int)
    passed = score >= 1.0
    status = RunStatus.PASSED if passed else RunStatus.FAILED
    return RunRecord(case_id=case_id, index=i, status=status, passed=passed, score=score, output=f"out {score}")


def results(
    cases: Sequence[C],
    *,
    repeat: int | None = None,
    judge_model: str | None = "judge-1",
    judge_prompt_hash: str | None = "jp1",
    complete: bool = True,
    model: str = "model-a",
) -> Results:
    k = repeat or max(len(c.scores) for c in cases)
    out = []
    for c in cases:
        runs = tuple(run(c.id, i, s) for i, s in enumerate(c.scores))
        out.append(
            CaseResult(
                id=c.id, tags=c.tags, critical=c.critical, definition_hash=c.definition,
                runs=runs, stats=case_stats(runs, k),
            )
        )  # fmt: skip
    return Results(
        tool_version="0.1.0",
        suite=SuiteInfo(name="s", path="suites/s.yaml", hash="sh", repeat=k),
        config=ConfigInfo(
            name="c", version="1.0.0", hash="ch", path="c.yaml", provider="mock", model=model,
            judge_model=judge_model, judge_prompt_hash=judge_prompt_hash,
        ),
        seed=1,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:00Z",
        complete=complete,
        incomplete_reason=None if complete else "interrupted",
        cases=tuple(out),
        summary=Summary(cases=len(out), runs=0, errors=0, error_rate=0.0, pass_rate=None,
                        pass_hat_k=None, pass_at_k=None, score=None),
    )


def base(cases: Sequence[C], **kw: object) -> Baseline:
    return baseline_from_results(results(cases, **kw))  # type: ignore[arg-type]


def noisy(n: int, k: int, p: Sequence[float], rng: np.random.Generator, prefix: str = "c") -> list[C]:
    """n cases, k binary runs each, case i passing with probability p[i]."""
    return [C(f"{prefix}{i:03d}", [float(x) for x in rng.random(k) < p[i]]) for i in range(n)]


# --- the overall score: the margin test -----------------------------------------------------


def test_a_a_passes_and_names_the_change() -> None:
    rng = np.random.default_rng(0)
    cases = noisy(50, 3, rng.uniform(0.5, 1.0, 50), rng)
    v = decide(results(cases), base(cases))
    assert v.outcome is Outcome.PASS and v.exit_code == 0
    assert v.relative_change == 0.0 and v.p_value == 1.0
    assert v.rule.startswith("score changed +0.0%, within the 3.0% limit (p=")
    assert v.paired_cases == 50
    reach = ("the collapse test cannot fire with a 3-run baseline and k=3 (one always-passing case that broke gives "
             "p >= 1/20 = 0.05, not below its Holm level 0.0167): it needs k >= 3 with a 2k-run baseline, or a "
             "baseline of 6 runs at k=3 (gate.baseline_repeat)")
    assert v.warnings == (reach,)
    assert {c.status for c in v.cases} <= {CaseStatus.UNCHANGED, CaseStatus.FLAKY}
    assert [r.name for r in v.routes] == ["overall score", "run-level"]


def test_clear_ten_percent_drop_on_100_cases_fails_and_the_bound_agrees_with_the_test() -> None:
    rng = np.random.default_rng(1)
    b = [C(f"c{i}", [1.0] * 5) for i in range(100)]
    cand = [C(f"c{i}", [1.0 if x else 0.0 for x in rng.random(5) < 0.9]) for i in range(100)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1
    assert v.relative_change is not None and v.relative_change < -0.05
    assert v.rule.startswith(f"score dropped {-v.relative_change:.1%}, past the 3.0% limit (p=")
    lo, hi = v.relative_change_ci  # type: ignore[misc]
    assert lo < v.relative_change < hi < -0.03
    assert v.min_detectable_drop is None and v.cases_needed is None  # no power figures on a FAIL
    assert v.regressed()[0].delta == min(c.delta for c in v.cases)  # type: ignore[type-var]


def test_margin_test_matches_a_one_sample_t_test_and_its_bound() -> None:
    from scipy import stats

    from agent_eval.stats.hypotheses import margin_test

    rng = np.random.default_rng(2)
    for _ in range(20):
        b = rng.uniform(0.6, 1.0, 30)
        c = np.clip(b * rng.uniform(0.9, 1.02) + rng.normal(0, 0.05, 30), 0, 1)
        t = margin_test(list(b), list(c), margin=0.03, alpha=0.05, absolute=False)
        e = c - 0.97 * b
        assert t.p_value == pytest.approx(stats.ttest_1samp(e, 0.0, alternative="less").pvalue, rel=1e-9)
        assert t.upper is not None and (t.p_value < 0.05) == (t.upper < -0.03)
        a = margin_test(list(b), list(c), margin=0.02, alpha=0.05, absolute=True)
        assert a.p_value == pytest.approx(stats.ttest_1samp(c - b + 0.02, 0.0, alternative="less").pvalue, rel=1e-9)


def test_drop_past_the_limit_without_significance_warns_with_the_power_figures() -> None:
    from agent_eval.stats.hypotheses import t_quantile

    b = [C("a", [1.0, 0.6, 1.0]), C("b", [0.8, 1.0, 0.7]), C("c", [0.9, 0.9, 1.0]),
         C("d", [0.7, 1.0, 1.0]), C("e", [1.0, 0.8, 0.9])]  # fmt: skip
    cand = [C("a", [0.9, 0.6, 0.9]), C("b", [0.9, 1.0, 0.8]), C("c", [0.7, 0.8, 0.9]),
            C("d", [0.8, 0.9, 1.0]), C("e", [0.8, 0.8, 0.8])]  # fmt: skip
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.WARN and v.exit_code == 0
    assert -0.08 < v.relative_change < -0.03  # type: ignore[operator]
    assert "not significant" in v.rule
    # the drop that FAILs with 80% power: max_drop + (t_{1-a', n-1} + t_{0.8, n-1}) x SE, a' = alpha / 3^0.75 (3 routes)
    bs = np.array([np.mean(x.scores) for x in b])  # type: ignore[arg-type]
    cs = np.array([np.mean(x.scores) for x in cand])  # type: ignore[arg-type]
    se = float(np.std(cs - 0.97 * bs, ddof=1) / math.sqrt(5) / bs.mean())
    assert v.min_detectable_drop == pytest.approx(0.03 + (t_quantile(1 - 0.05 / 3**0.75, 4) + t_quantile(0.8, 4)) * se)
    assert v.cases_needed is not None and v.cases_needed > 5


def test_zero_variance_uses_the_exact_sign_flip_p_and_float_noise_is_no_drop() -> None:
    b = [C("a", [0.5, 0.5]), C("b", [0.5, 0.5])]
    tiny = decide(results([C("a", [0.5 - 1e-10] * 2), C("b", [0.5 - 1e-10] * 2)]), base(b))
    assert tiny.outcome is Outcome.PASS
    three = [C(x, [0.5, 0.5]) for x in "abc"]
    v = decide(results([C(x, [0.4, 0.4]) for x in "abc"]), base(three))
    assert v.p_value == pytest.approx(1 / 8)  # 2^-3, not 0: the overall test alone cannot FAIL 3 cases
    assert v.outcome is Outcome.FAIL and "run-level" in v.rule  # every run of every case is lower
    same = [C(f"c{i}", [0.1 + 0.2, 0.3]) for i in range(10)]
    drift = [C(f"c{i}", [0.3, 0.3 - 2.8e-17]) for i in range(10)]
    assert decide(results(drift), base(same), GateOptions(max_drop=0.0, absolute=True)).outcome is Outcome.PASS
    assert decide(results(same), base(same)).min_detectable_drop is None  # no "0.0%" on identical runs


def test_a_near_zero_baseline_falls_back_to_the_absolute_rule_and_says_so() -> None:
    b = [C(f"c{i}", [0.0] * 3) for i in range(30)] + [C("x", [0.2, 0.2, 0.2])]
    cand = [C(f"c{i}", [0.0] * 3) for i in range(30)] + [C("x", [0.0, 0.0, 0.0])]
    v = decide(results(cand), base(b))
    assert v.absolute_rule and v.outcome is Outcome.PASS  # -0.0065 points, within 0.03 points
    assert any("absolute rule" in n for n in v.notes)


def test_strict_fails_on_the_drop_alone() -> None:
    b = [C("a", [1.0, 1.0]), C("b", [1.0, 1.0]), C("c", [1.0, 1.0])]
    cand = [C("a", [1.0, 0.0]), C("b", [1.0, 1.0]), C("c", [1.0, 1.0])]
    assert decide(results(cand), base(b)).outcome is Outcome.WARN
    v = decide(results(cand), base(b), GateOptions(strict=True))
    assert v.outcome is Outcome.FAIL
    assert v.rule.startswith("score dropped 16.7%, past the 3.0% limit (strict: no significance required)")


def test_absolute_mode_measures_points() -> None:
    b = [C(f"c{i}", [0.5, 0.5]) for i in range(40)]
    cand = [C(f"c{i}", [0.46, 0.46] if i % 2 else [0.5, 0.5]) for i in range(40)]  # -0.02 points, -4%
    v = decide(results(cand), base(b), GateOptions(max_drop=0.03, absolute=True))
    assert v.outcome is Outcome.PASS and v.relative_change == pytest.approx(-0.02)
    assert v.rule.startswith("score changed -0.020 points, within the 0.030 points limit")
    v2 = decide(results(cand), base(b), GateOptions(max_drop=0.01, absolute=True))
    assert v2.outcome is Outcome.FAIL and v2.rule.startswith("score dropped 0.020 points, past the 0.010 points limit")


# --- broken cases ---------------------------------------------------------------------------


def test_one_case_from_5_of_5_to_0_of_5_among_100_fails_by_the_collapse_test() -> None:
    b = [C(f"c{i:03d}", [1.0] * 5) for i in range(100)]
    cand = [C(f"c{i:03d}", [1.0] * 5) for i in range(99)] + [C("c099", [0.0] * 5)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.FAIL
    # the only case that could collapse by chance is c099 itself: p = 1 / C(10, 5) = 1/252
    assert v.rule.startswith("1 case(s) passed every baseline run and no candidate run: c099 (collapse test, p=0.004")
    assert decide(results(cand), base(b), GateOptions(case_collapse="warn")).outcome is Outcome.PASS
    assert any("c099" in w for w in decide(results(cand), base(b), GateOptions(case_collapse="warn")).warnings)
    assert decide(results(cand), base(b), GateOptions(case_collapse="off")).warnings == ()
    short = [C(f"c{i:03d}", [1.0] * 2) for i in range(99)] + [C("c099", [0.0] * 2)]
    assert decide(results(short), base(short[:99] + [C("c099", [1.0] * 2)])).outcome is Outcome.PASS  # k < 3


def test_chance_collapses_of_flaky_cases_do_not_fail_the_gate() -> None:
    from agent_eval.stats.hypotheses import at_least

    # 40 coin-flip cases, each 3 passes in 6 runs: by chance 3 of them passed all 3 baseline runs and no candidate run
    flips = ([1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    b = [C(f"f{i:02d}", [1.0] * 3 if i < 3 else flips[i % 2]) for i in range(40)]
    cand = [C(f"f{i:02d}", [0.0] * 3 if i < 3 else flips[1 - i % 2]) for i in range(40)]
    v = decide(results(cand), base(b))
    route = next(r for r in v.routes if r.name == "collapse")
    assert route.p_value == pytest.approx(at_least(3, [1 / 20] * 40)) and route.p_value > 0.3
    assert not route.failed
    assert any("passed every baseline run and no candidate run" in w for w in v.warnings)


def test_case_statuses_and_order() -> None:
    b = [C("fixed", [0.0, 1.0]), C("newfail", [1.0, 1.0]), C("reg", [1.0, 0.5]), C("flaky", [1.0, 0.0]),
         C("err", [1.0, 1.0]), C("same", [1.0, 1.0]), C("nearly", [1.0] * 5)]  # fmt: skip
    cand = [C("fixed", [1.0, 1.0]), C("newfail", [0.0, 0.9]), C("reg", [0.7, 0.5]), C("flaky", [1.0, 0.0]),
            C("err", [None, None]), C("same", [1.0, 1.0]), C("nearly", [1.0] * 4 + [0.0])]  # fmt: skip
    v = decide(results(cand, repeat=5), base(b, repeat=5))
    status = {c.case_id: c.status for c in v.cases}
    assert status == {
        "fixed": CaseStatus.FIXED, "newfail": CaseStatus.NEW_FAILURE, "reg": CaseStatus.REGRESSED,
        "flaky": CaseStatus.FLAKY, "err": CaseStatus.ERROR, "same": CaseStatus.UNCHANGED,
        "nearly": CaseStatus.REGRESSED,  # 5/5 -> 4/5 is not a "new failure"
    }  # fmt: skip
    assert [c.case_id for c in v.regressed()] == ["newfail", "nearly", "reg"]  # most regressed first


def test_between_session_drift_does_not_fail_an_unchanged_agent_and_a_pinned_seed_is_one_run() -> None:
    rng = np.random.default_rng(12)

    def arm(p: np.ndarray, runs: int, icc: float) -> dict[str, object]:
        a, b = p * (1 - icc) / icc, (1 - p) * (1 - icc) / icc
        session = rng.beta(a, b)  # the session's pass probability of each case wanders around p
        rows = (rng.random((100, runs)) < session[:, None]).tolist()
        return {f"c{i}": make_side(f"c{i}", [float(x) for x in row], row, k=5) for i, row in enumerate(rows)}

    fails = 0
    for _ in range(150):
        p = rng.uniform(0.8, 0.999, 100)
        fails += decide_sides(arm(p, 5, 0.2), arm(p, 10, 0.2), GateOptions()).outcome is Outcome.FAIL  # type: ignore[arg-type]
    assert fails / 150 <= 0.06  # 17% before the dispersion was estimated
    p = rng.uniform(0.8, 1.0, 100)
    draw = rng.random(100) < p
    pinned = {f"c{i}": make_side(f"c{i}", [float(draw[i])] * 5, [bool(draw[i])] * 5, k=5) for i in range(100)}
    v = decide_sides(pinned, arm(p, 10, 0.001), GateOptions())  # type: ignore[arg-type]
    assert v.outcome is not Outcome.FAIL
    assert any("runs are identical in every case" in w and "k identical runs are one run" in w for w in v.warnings)


def test_the_pass_rate_is_gated_beside_the_score_so_checks_that_always_pass_cannot_dilute_a_drop() -> None:
    rng = np.random.default_rng(8)
    p = rng.uniform(0.8, 1.0, 100)

    def diluted(q: np.ndarray, k: int) -> list[C]:  # a failed run still passes 2 of its 3 checks: score 2/3
        return [C(f"c{i:03d}", [1.0 if x else 2 / 3 for x in rng.random(k) < q[i]]) for i in range(100)]

    b = diluted(p, 10)
    v = decide(results(diluted(p * 0.9, 5)), base(b))
    assert v.outcome is Outcome.FAIL and "pass rate dropped" in v.rule
    assert [r.name for r in v.routes][:2] == ["overall score", "overall pass rate"]
    same = decide(results(diluted(p, 5)), base(b))
    assert same.outcome is not Outcome.FAIL


# --- errors ---------------------------------------------------------------------------------


def test_five_always_passing_cases_all_errored_is_incomplete_with_a_sensitivity_line() -> None:
    b = [C(f"c{i:03d}", [1.0] * 5) for i in range(100)]
    cand = [C(f"c{i:03d}", [None] * 5 if i < 5 else [1.0] * 5) for i in range(100)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.INCOMPLETE and v.exit_code == 3
    assert v.rule.startswith("5 gated case(s) have no completed candidate run but have baseline runs: c000")
    assert v.sensitivity is not None and v.sensitivity.startswith("if every errored run had failed: FAIL")
    assert decide(results(cand), base(b), GateOptions(errors_as_failures=True)).outcome is Outcome.FAIL


def test_spread_out_errors_are_a_warning_unless_their_rate_rose() -> None:
    rng = np.random.default_rng(4)
    b = [C(f"c{i}", [None if x < 0.04 else 1.0 for x in rng.random(5)]) for i in range(100)]
    cand = [C(f"c{i}", [None if x < 0.04 else 1.0 for x in rng.random(5)]) for i in range(100)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.PASS and v.sensitivity is not None
    assert any("of candidate runs errored, spread over" in w for w in v.warnings)
    clean = [C(f"c{i}", [1.0] * 5) for i in range(100)]
    worse = decide(results(cand), base(clean))
    assert worse.outcome is Outcome.INCOMPLETE and "infrastructure errors rose" in worse.rule


def test_timeouts_that_concentrate_where_runs_would_fail_fail_the_gate_naming_the_cases() -> None:
    rng = np.random.default_rng(6)
    p = rng.uniform(0.8, 1.0, 100)
    p[:20] = 1.0
    b = [C(f"c{i:03d}", [None if x < 0.05 else float(y < p[i]) for x, y in rng.random((10, 2))]) for i in range(100)]
    # 20 always-passing cases now fail 30% of their runs, and those failures surface as timeouts
    cand = [C(f"c{i:03d}", ["timeout" if x < 0.3 else 1.0 for x in rng.random(5)]) for i in range(20)]
    cand += [C(f"c{i:03d}", [float(x < p[i]) for x in rng.random(5)]) for i in range(20, 100)]
    v = decide(results(cand), base(b, repeat=10))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1
    assert "the candidate's timeouts concentrate where runs would fail" in v.rule and "c000" in v.rule
    spread = [C(c.id, ["timeout" if i % 25 == 0 and j == 0 else s for j, s in enumerate(c.scores)])
              for i, c in enumerate(noisy(100, 5, p, rng))]  # 4 timeouts, one per 25 cases: no concentration
    assert decide(results(spread), base(b, repeat=10)).outcome is not Outcome.FAIL


def test_an_outage_is_one_error_cluster_not_25_independent_errors() -> None:
    from agent_eval.baseline.signals import error_clusters

    def arm(k: int, outage: range) -> dict[str, object]:
        out = {}
        for i in range(100):
            calls = [j * 100 + i for j in range(k)]  # one call per second, run by run as the runner orders them
            down = [c for c in calls if c in outage]
            out[f"c{i}"] = make_side(f"c{i}", [1.0] * (k - len(down)), [True] * (k - len(down)), k=k,
                                     errors=len(down), error_times=[float(c) for c in down])
        return out

    cand, clean = arm(5, range(200, 230)), arm(10, range(0))
    assert error_clusters(cand.values()) == 1  # type: ignore[arg-type]
    v = decide_sides(cand, clean, GateOptions())  # type: ignore[arg-type]
    assert v.outcome is not Outcome.INCOMPLETE
    assert any("in 1 cluster(s): missing data" in w for w in v.warnings)


def test_a_target_crash_is_a_failed_run_not_missing_data() -> None:
    b = [C(f"c{i}", [1.0] * 5) for i in range(50)]
    cand = [C(f"c{i}", ["target"] * 5 if i < 10 else [1.0] * 5) for i in range(50)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.FAIL and v.errored_runs == 0 and v.sensitivity is None
    assert v.relative_change == pytest.approx(-0.2)
    stats = results(cand).cases[0].stats
    assert (stats.n, stats.passed, stats.errors, stats.score) == (5, 0, 0, 0.0)


def test_an_incomplete_run_is_incomplete_unless_what_completed_already_fails() -> None:
    b = [C(f"c{i}", [1.0, 1.0]) for i in range(10)]
    v = decide(results(b, complete=False), base(b))
    assert v.outcome is Outcome.INCOMPLETE and v.rule == "the candidate run is incomplete (interrupted)"
    cand = [C(f"c{i}", [0.0, 0.0]) for i in range(10)]
    v = decide(results(cand, complete=False), base(b))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1
    assert v.rule.endswith("also incomplete: the candidate run is incomplete (interrupted)")


def test_a_significant_drop_on_the_completed_cases_fails_and_names_the_lost_case() -> None:
    rng = np.random.default_rng(5)
    b = [C(f"c{i:03d}", [1.0] * 10) for i in range(100)]
    cand = [C(f"c{i:03d}", [float(x) for x in rng.random(5) < 0.85]) for i in range(99)]
    cand.append(C("c099", [None] * 5))
    v = decide(results(cand, repeat=5), base(b, repeat=10))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1
    assert "also incomplete: 1 gated case(s) have no completed candidate run but have baseline runs: c099" in v.rule


# --- tags, critical cases, absolute floors --------------------------------------------------


def test_tag_limit_fails_when_a_tag_drops_significantly() -> None:
    rng = np.random.default_rng(3)
    b = [C(f"a{i}", [1.0] * 3, tags=("billing",)) for i in range(20)]
    b += [C(f"o{i}", [1.0] * 3, tags=("other",)) for i in range(80)]
    cand = [C(f"a{i}", [float(x) for x in rng.random(3) < 0.7], tags=("billing",)) for i in range(20)]
    cand += [C(f"o{i}", [1.0] * 3, tags=("other",)) for i in range(80)]
    opts = GateOptions(max_drop=0.10, tag_limits={"billing": 0.05}, case_collapse="off")
    v = decide(results(cand), base(b), opts)
    assert -v.relative_change < 0.10  # type: ignore[operator]  # the overall rule alone would pass
    assert v.outcome is Outcome.FAIL and "tag 'billing' dropped" in v.rule
    assert v.tags[0].tag == "billing" and v.tags[0].limit == 0.05
    floor = GateOptions(max_drop=0.10, tag_limits={"billing": TagRule(floors=Floors(min_pass_rate=0.9))},
                        case_collapse="off")
    assert "tag 'billing' min_pass_rate" in decide(results(cand), base(b), floor).rule


def test_every_tag_of_5_cases_is_tested_in_its_own_budget_and_small_tags_are_warned() -> None:
    b = [C(f"a{i}", [1.0] * 3, tags=("x",)) for i in range(30)] + [C(f"o{i}", [1.0] * 3, tags=("y",)) for i in range(170)]
    b += [C(f"s{i}", [1.0] * 3, tags=("small",)) for i in range(3)]
    cand = [C(f"a{i}", [1.0, 1.0, 0.0] if i % 2 else [1.0] * 3, tags=("x",)) for i in range(30)]
    cand += [C(f"o{i}", [1.0] * 3, tags=("y",)) for i in range(170)]
    cand += [C(f"s{i}", [0.0] * 3, tags=("small",)) for i in range(3)]
    v = decide(results(cand), base(b), GateOptions(max_drop=0.05, case_collapse="off"))
    assert -v.relative_change < 0.05  # type: ignore[operator]  # the overall rule alone would pass
    assert v.outcome is Outcome.FAIL and v.rule.startswith("tag 'x' dropped 16.7%, past the 5.0% limit")
    assert "in the tag budget)" in v.rule
    assert [t.tag for t in v.tags if t.failed] == ["x"]
    assert any(w.startswith("tag 'small' dropped 100.0% on 3 case(s), fewer than 5: not tested") for w in v.warnings)
    assert [r.name for r in v.routes if r.kind == "tag"] == ["tag 'x'", "tag 'y'"]


def test_tags_keep_a_a_false_fails_low_and_find_one_regressed_tag() -> None:
    rng = np.random.default_rng(9)
    tags = ("t0", "t1", "t2", "t3", "t4")

    def sides(q: np.ndarray, runs: int) -> dict[str, object]:
        rows = (rng.random((100, runs)) < q[:, None]).tolist()
        return {f"c{i}": make_side(f"c{i}", [float(x) for x in row], row, k=5, tags=(tags[i % 5],))
                for i, row in enumerate(rows)}

    aa = fell = 0
    for _ in range(300):
        p = rng.uniform(0.8, 1.0, 100)
        aa += decide_sides(sides(p, 5), sides(p, 10), GateOptions()).outcome is Outcome.FAIL  # type: ignore[arg-type]
        q = p.copy()
        q[::5] *= 0.85  # tag t0 drops 15%, the suite 3%
        fell += decide_sides(sides(q, 5), sides(p, 10), GateOptions()).outcome is Outcome.FAIL  # type: ignore[arg-type]
    assert aa / 300 <= 0.02 and fell / 300 >= 0.2


def test_a_critical_case_fails_on_any_failed_run_with_or_without_a_baseline() -> None:
    cases = [C(f"c{i}", [1.0] * 5) for i in range(20)]
    slip = cases + [C("pay", [1.0, 0.0, 1.0, 1.0, 0.0], critical=True)]
    ten = base(cases + [C("pay", [1.0] * 10, critical=True)], repeat=5)
    for baseline in (ten, None):
        v = decide(results(slip), baseline)
        assert v.outcome is Outcome.FAIL and v.exit_code == 1 and v.critical_failures == ("pay",)
        assert "critical case 'pay' passed 3/5 runs (run(s) 2, 5 failed; every run must pass)" in v.rule
        assert any("FAIL 5% of the time, by design (1 - 0.99^5;" in n for n in v.notes)
    assert all(r.p_value is None for r in decide(results(slip), ten).routes if r.kind == "critical")
    same = cases + [C("pay", [1.0] * 5, critical=True)]
    assert decide(results(same), ten).outcome is Outcome.PASS


def test_critical_min_pass_rate_fails_when_the_upper_bound_is_below_it() -> None:
    cases = [C(f"c{i}", [1.0] * 10) for i in range(20)]
    one = cases + [C("pay", [1.0] * 9 + [0.0], critical=True)]
    rate = GateOptions(critical_min_pass_rate={"pay": 0.8})
    assert decide(results(one), None, rate).outcome is Outcome.PASS  # 9/10: the bound is far above 0.8
    low = cases + [C("pay", [1.0] * 3 + [0.0] * 7, critical=True)]
    v = decide(results(low), base(one), rate)
    assert v.outcome is Outcome.FAIL and v.critical_failures == ("pay",)
    assert "one-sided 95% upper bound 61% against min_pass_rate 80%" in v.rule


def test_critical_cases_outside_holm_leave_the_overall_power_unchanged() -> None:
    rng = np.random.default_rng(2)
    b = noisy(100, 10, [1.0] * 50 + [0.9] * 50, rng)
    cand = noisy(100, 5, [1.0] * 50 + [0.75] * 50, rng)
    flagged = [C(c.id, c.scores, critical=i < 50) for i, c in enumerate(cand)]
    flagged_base = [C(c.id, c.scores, critical=i < 50) for i, c in enumerate(b)]
    plain = decide(results(cand), base(b))
    marked = decide(results(flagged), base(flagged_base))
    assert [r.text for r in plain.routes if r.kind == "score"] == [r.text for r in marked.routes if r.kind == "score"]


def test_critical_cases_without_a_baseline_keep_the_every_run_rule_and_print_its_false_fail_rate() -> None:
    cases = [C("ok", [1.0, 1.0]), C("pay", [1.0, 0.0], critical=True)]
    v = decide(results(cases), None)
    assert v.outcome is Outcome.FAIL and v.critical_failures == ("pay",)
    assert v.rule.startswith("no baseline: critical case 'pay' passed 1/2 runs")
    assert any("would still FAIL 2% of the time" in n for n in v.notes)  # 1 - 0.99^2


def test_absolute_floors_without_a_baseline_fail_on_the_upper_bound_and_warn_on_the_lower() -> None:
    low = [C(f"c{i}", [1.0, 1.0, 0.0, 0.0] if i % 2 else [1.0, 1.0, 1.0, 0.0]) for i in range(40)]  # 62.5%
    v = decide(results(low), None, GateOptions(floors=Floors(min_pass_rate=0.8)))
    assert v.outcome is Outcome.FAIL and "pass rate 0.625 against min_pass_rate 0.8" in v.rule
    near = [C(f"c{i}", [1.0] * 4 if i % 3 else [1.0, 1.0, 1.0, 0.0]) for i in range(12)]  # 91.7%
    assert decide(results(near), None, GateOptions(floors=Floors(min_pass_rate=0.9))).outcome is Outcome.WARN
    assert decide(results(near), None, GateOptions(floors=Floors(min_pass_rate=0.95), strict=True)).outcome is Outcome.FAIL
    assert decide(results(near), None, GateOptions(floors=Floors(min_score=0.5))).outcome is Outcome.PASS
    hat = decide(results(near), None, GateOptions(floors=Floors(min_pass_hat_k=0.95)))
    assert hat.outcome is Outcome.FAIL and "pass^k" in hat.rule


# --- comparability, pass^k, determinism -----------------------------------------------------


def test_removed_or_edited_passing_cases_fail_as_unpaired_unless_accepted() -> None:
    b = [C(f"c{i}", [1.0] * 3) for i in range(10)] + [C("gone", [1.0] * 3), C("edited", [1.0] * 3)]
    b += [C("never", [0.0] * 3)]  # a baseline case that never passed hides nothing when removed
    cand = [C(f"c{i}", [1.0] * 3) for i in range(10)]
    cand += [C("fresh", [0.0] * 3), C("edited", [0.0] * 3, definition="v2")]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1 and v.paired_cases == 10
    assert v.rule.startswith("unpaired cases: 1 passing baseline case(s) missing from the candidate: gone; "
                             "1 passing baseline case(s) changed definition: edited")
    assert [r.kind for r in v.routes if r.failed] == ["unpaired"]
    assert [c.case_id for c in v.by_status(CaseStatus.NEW)] == ["fresh"]
    assert [c.case_id for c in v.by_status(CaseStatus.MISSING)] == ["gone", "never"]
    assert [c.case_id for c in v.by_status(CaseStatus.CHANGED)] == ["edited"]
    accepted = decide(results(cand), base(b), GateOptions(accept_unpaired=frozenset({"gone", "edited"})))
    assert accepted.outcome is Outcome.PASS
    assert any("missing from the candidate (not gated): gone" in w for w in accepted.warnings)
    filtered = decide(results(cand), base(b), GateOptions(accept_unpaired=frozenset({"edited"}),
                                                          suite_cases=frozenset({"gone", "edited"})))
    assert filtered.outcome is Outcome.PASS  # still in the suite, left out by --filter: not removed


def test_judge_and_k_mismatch_warn_but_a_baseline_with_2k_runs_does_not() -> None:
    cases = [C(f"c{i}", [1.0] * 3) for i in range(5)]
    assert not any("differs" in w for w in decide(results(cases, model="model-b"), base(cases)).warnings)
    cand = [C(f"c{i}", [1.0] * 5) for i in range(5)]
    v = decide(results(cand, judge_model="judge-2", judge_prompt_hash="jp2"), base(cases))
    assert v.warnings[:3] == (
        "judge model differs from the baseline's (judge-1 -> judge-2); scores may not be comparable",
        "judge prompt hash differs from the baseline's (jp1 -> jp2); scores may not be comparable",
        "k (runs per case) differs from the baseline's (3 -> 5); scores may not be comparable",
    )
    double = [C(f"c{i}", [1.0] * 6) for i in range(5)]
    v = decide(results(cases), base(double))
    assert v.warnings == () and v.baseline_runs == 6 and v.baseline_se == 0.0
    one = decide(results([C(f"c{i}", [1.0]) for i in range(5)]), base([C(f"c{i}", [1.0] * 2) for i in range(5)]))
    assert any(w.startswith("the collapse test cannot fire with a 2-run baseline and k=1 (it needs at least 3 runs "
                            "per case on both sides): it needs k >= 3") for w in one.warnings)


def test_pass_hat_k_is_only_reported_with_k_completed_runs() -> None:
    r = results([C("a", [1.0, 1.0, None]), C("b", [1.0, 1.0, 1.0])], repeat=3)
    assert r.cases[0].stats.pass_hat_k is None and r.cases[1].stats.pass_hat_k == 1.0


def test_verdict_is_deterministic_and_order_independent() -> None:
    rng = np.random.default_rng(7)
    b = noisy(40, 3, [0.9] * 40, rng)
    cand = noisy(40, 3, [0.85] * 40, rng)
    v1 = decide(results(cand), base(b))
    v2 = decide(results(list(reversed(cand))), base(list(reversed(b))))
    assert v1 == v2


# --- the whole default gate, simulated (>= 2,000 trials per cell, fixed seed) --------------


def _simulated_outcome(rng: np.random.Generator, opts: GateOptions, scale: float) -> Outcome:
    p = rng.uniform(0.8, 1.0, 100)
    p[-5:] = 1.0  # five critical cases (at 0.99 the every-run rule FAILs 1 - 0.99^25 by design)
    tags = ("billing", "account", "format", "safety", "smoke")

    def sides(q: np.ndarray, runs: int) -> dict[str, object]:
        rows = (rng.random((100, runs)) < q[:, None]).tolist()
        return {f"c{i}": make_side(f"c{i}", [float(x) for x in row], row, k=5, tags=(tags[i % 5],),
                                   critical=i >= 95) for i, row in enumerate(rows)}

    return decide_sides(sides(p * scale, 5), sides(p, 10), opts).outcome  # type: ignore[arg-type]


def test_the_whole_default_gate_keeps_a_a_false_fail_under_6_percent() -> None:
    rng = np.random.default_rng(11)
    opts = GateOptions(tag_limits=dict.fromkeys(("billing", "account", "format", "safety", "smoke"), 0.03))
    trials = 2000
    fails = sum(_simulated_outcome(rng, opts, 1.0) is Outcome.FAIL for _ in range(trials))
    assert fails / trials <= 0.06
    power = sum(_simulated_outcome(rng, opts, 0.9) is Outcome.FAIL for _ in range(100))
    assert power / 100 >= 0.65  # and it still catches a 10% drop (81% in benchmarks/gate_power.py)
