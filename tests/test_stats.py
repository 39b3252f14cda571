"""pass^k and pass@k, case reduction, group summaries and the pure-Python helpers."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from agent_eval.records import (
    CaseResult,
    RubricResult,
    RunError,
    RunRecord,
    RunStatus,
    Usage,
)
from agent_eval.stats.describe import mean_ci, percentile, t_quantile_975
from agent_eval.stats.hypotheses import (
    at_least,
    binomial_at_most,
    fisher_fewer,
    holm,
    limit_test,
    run_level_test,
    t_quantile,
)
from agent_eval.stats.paired import benjamini_hochberg, one_sided_p, paired_test
from agent_eval.stats.passk import pass_at_k, pass_hat_curve, pass_hat_k
from agent_eval.stats.power import Design, ab_sessions_per_arm, cases_needed, detectable_drop, fail_drop, runs_needed
from agent_eval.stats.reduce import case_stats, summarize


def test_pass_hat_k_and_pass_at_k_by_hand() -> None:
    # n=5, c=3, k=2: C(3,2)/C(5,2) = 3/10; 1 - C(2,2)/C(5,2) = 9/10
    assert pass_hat_k(5, 3, 2) == pytest.approx(0.3)
    assert pass_at_k(5, 3, 2) == pytest.approx(0.9)
    # n=10, c=8, k=3: C(8,3)/C(10,3) = 56/120; 1 - C(2,3)/C(10,3) = 1
    assert pass_hat_k(10, 8, 3) == pytest.approx(56 / 120)
    assert pass_at_k(10, 8, 3) == 1.0
    assert pass_hat_k(4, 4, 4) == 1.0 and pass_hat_k(4, 3, 4) == 0.0
    assert pass_at_k(4, 0, 2) == 0.0 and pass_at_k(4, 1, 1) == pytest.approx(0.25)


def test_fewer_than_k_runs_is_none_and_the_curve_stops_there() -> None:
    assert pass_hat_k(2, 1, 5) is None and pass_at_k(2, 1, 5) is None  # it would be pass^2, not pass^5
    assert pass_hat_k(2, 1, 2) == 0.0
    assert pass_hat_k(0, 0, 3) is None and pass_at_k(0, 0, 3) is None
    assert pass_hat_curve(4, 3, 5) == (pytest.approx(0.75), pytest.approx(0.5), pytest.approx(0.25), 0.0, None)
    with pytest.raises(ValueError):
        pass_hat_k(3, 4, 1)


def run(i: int, status: RunStatus, score: float | None = None, **kw: object) -> RunRecord:
    extra = {"error": RunError(kind="timeout", message="timed out")} if status is RunStatus.ERRORED and "error" not in kw else {}
    return RunRecord(
        case_id="x", index=i, status=status, passed=status is RunStatus.PASSED, score=score, **extra, **kw  # type: ignore[arg-type]
    )


P, F, E = RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERRORED


def test_case_stats_leaves_errors_out_of_the_rates() -> None:
    runs = [run(0, P, 1.0), run(1, F, 0.5), run(2, E), run(3, P, 1.0), run(4, E)]
    s = case_stats(runs, k=5)
    assert (s.n, s.passed, s.errors, s.k) == (3, 2, 2, 5)
    assert s.pass_rate == pytest.approx(2 / 3)
    assert s.pass_hat_k is None and s.pass_at_k is None  # 3 completed runs cannot measure pass^5
    target = case_stats([run(0, P, 1.0), run(1, E, error=RunError(kind="target", message="exit 1"))], k=2)
    assert (target.n, target.passed, target.errors, target.score) == (2, 1, 0, 0.5)  # a crash is a failed run
    assert s.score == pytest.approx(2.5 / 3)
    assert s.flaky


def test_case_stats_edge_cases() -> None:
    none = case_stats([run(0, E), run(1, E)], k=2)
    assert (none.n, none.errors, none.pass_rate, none.score, none.flaky) == (0, 2, None, None, False)
    unscored = case_stats([run(0, P), run(1, F)], k=2)  # no score: 1.0 when passed, else 0.0
    assert unscored.score == 0.5 and unscored.pass_hat_k == 0.0 and unscored.pass_at_k == 1.0
    assert not case_stats([run(0, P, 1.0)] * 3, k=3).flaky


def case(cid: str, runs: list[RunRecord], tags: tuple[str, ...] = (), critical: bool = False, k: int = 2) -> CaseResult:
    runs = [r.model_copy(update={"case_id": cid}) for r in runs]
    return CaseResult(id=cid, tags=tags, critical=critical, definition_hash="h", runs=tuple(runs), stats=case_stats(runs, k))


def test_summarize_means_over_cases_not_runs() -> None:
    # 'a' has 4 completed runs, 'b' has 1: pooled runs would give 4/5, the case mean is 1/2.
    a = case("a", [run(i, P, 1.0) for i in range(4)], k=4)
    b = case("b", [run(0, F, 0.0), run(1, E), run(2, E), run(3, E)], k=4)
    s = summarize([a, b], rng_seed=0)
    assert s.pass_rate == 0.5 and s.score == 0.5
    assert (s.cases, s.runs, s.errors) == (2, 8, 3) and s.error_rate == pytest.approx(3 / 8)


def test_summarize_tags_ci_and_run_figures() -> None:
    cases = [
        case("a", [run(0, P, 1.0, latency_ms=100.0, cost_usd=0.01, tokens=Usage(input_tokens=10, output_tokens=5),
                       output="Paris"),
                   run(1, P, 1.0, latency_ms=200.0, cost_usd=0.03, output="Paris!", cached=True)],
             tags=("geo",)),
        case("b", [run(0, F, 0.4, latency_ms=300.0, output="I can't help with that."),
                   run(1, F, 0.2, latency_ms=400.0, output="nope",
                       rubrics=(RubricResult(name="r", threshold=4, cost_usd=0.002),
                                RubricResult(name="s", threshold=4, cost_usd=0.001)))],
             tags=("geo", "math"), critical=True),
        case("c", [run(0, E, cost_usd=0.005), run(1, E)], tags=("math",), critical=True),
    ]  # fmt: skip
    s = summarize(cases)
    assert s.score == pytest.approx((1.0 + 0.3) / 2)  # 'c' has no completed run: not in the means
    lo, hi = s.score_ci  # type: ignore[misc]
    assert lo == 0.0 and hi == 1.0  # two cases, t(1) = 12.7: clipped to [0, 1]
    assert s.critical_failed == 2 and s.flaky == 0
    assert s.latency_p50_ms == 250.0 and s.latency_p95_ms == pytest.approx(385.0)
    assert s.latency_p99_ms == pytest.approx(397.0)
    assert s.cost_usd == pytest.approx(0.045)  # errored runs cost money too
    assert s.mean_cost_usd == pytest.approx(0.02)  # over completed runs that report a cost
    assert s.tokens == 15 and s.cached_runs == 1
    assert s.refusal_rate == 0.25
    assert s.output_chars_p50 == 5.5
    assert s.judge_cost_usd == pytest.approx(0.003)
    assert list(s.tags) == ["geo", "math"]
    assert s.tags["geo"].cases == 2 and s.tags["geo"].score == pytest.approx(0.65)
    assert s.tags["math"].score == pytest.approx(0.3) and s.tags["math"].errors == 2
    assert s.tags["math"].score_ci is None  # one scored case


def test_summarize_accepts_case_runs_stats_tuples() -> None:
    class Spec:
        id, tags, critical = "t", ("x",), True

    runs = [run(0, P, 1.0), run(1, F, 0.0)]
    s = summarize([(Spec(), runs, case_stats(runs, 2))])
    assert s.critical_failed == 1 and s.tags["x"].flaky == 1 and s.score == 0.5


def test_student_t_interval_and_quantiles() -> None:
    assert t_quantile_975(1) == pytest.approx(12.706205)
    assert t_quantile_975(100) == pytest.approx(1.983972, abs=1e-5)
    assert t_quantile_975(10_000) == pytest.approx(1.960201, abs=1e-5)
    lo, hi = mean_ci([0.5, 0.7, 0.9])  # type: ignore[misc]
    half = 4.302653 * 0.2 / math.sqrt(3)
    assert (lo, hi) == (pytest.approx(0.7 - half), pytest.approx(0.7 + half))
    assert mean_ci([1.0]) is None


def test_percentiles_interpolate_linearly() -> None:
    xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert percentile(xs, 0) == 1.0 and percentile(xs, 100) == 9.0
    assert percentile(xs, 50) == 3.5
    assert percentile(xs, 95) == pytest.approx(7.95)
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0


def test_paired_test_matches_scipy_and_handles_constant_differences() -> None:
    from scipy import stats

    base, cand = [0.9, 0.8, 1.0, 0.7, 0.95], [0.85, 0.8, 0.9, 0.75, 0.8]
    t = paired_test(base, cand)
    assert t.p_value == pytest.approx(stats.ttest_rel(cand, base, alternative="less").pvalue)
    assert t.change == pytest.approx(sum(cand) / sum(base) - 1)
    assert paired_test(base, base).p_value == 1.0
    assert paired_test([1.0, 1.0], [0.9, 0.9]).p_value == 0.25  # the exact sign-flip p, 2^-2
    assert paired_test([1.0], [0.5]).p_value is None
    assert list(one_sided_p([[0.0, 0.0], [-0.1, -0.1]])) == [1.0, 0.25]


def test_exact_tests_by_hand() -> None:
    from scipy import stats

    # 10/10 -> 1/5: P(X <= 1), X ~ Hypergeometric(15 runs, 11 passes, 5 drawn)
    assert fisher_fewer(1, 5, 10, 10) == pytest.approx(stats.hypergeom.cdf(1, 15, 11, 5))
    assert fisher_fewer(1, 5, 10, 10) == pytest.approx(stats.fisher_exact([[1, 4], [10, 0]], alternative="less")[1])
    assert binomial_at_most(7, 10, 0.9) == pytest.approx(stats.binom.cdf(7, 10, 0.9))
    assert at_least(2, [0.5, 0.5, 0.5]) == pytest.approx(0.5) and at_least(1, [0.1, 0.2]) == pytest.approx(1 - 0.9 * 0.8)
    assert at_least(0, []) == 1.0 and at_least(1, []) == 0.0
    assert holm([0.01, 0.04, 0.03], 0.05) == [pytest.approx(0.05 / 3), None, None]
    assert holm([0.01, 0.02, 0.04], 0.05) == [pytest.approx(0.05 / 3), pytest.approx(0.025), pytest.approx(0.05)]
    t = limit_test([0.7, 0.8, 0.9, 0.6], 0.9, alpha=0.05)
    assert t is not None and t.p_value == pytest.approx(stats.ttest_1samp([0.7, 0.8, 0.9, 0.6], 0.9, alternative="less").pvalue)
    assert t.upper == pytest.approx(0.75 + stats.t.ppf(0.95, 3) * stats.sem([0.7, 0.8, 0.9, 0.6]))


def test_run_level_test_is_the_stratified_permutation_test_in_its_normal_form() -> None:
    pairs = [([1.0, 1.0, 0.0], [0.0, 0.0, 1.0]), ([1.0, 1.0], [1.0, 0.0])]
    # T = mean of (c - b) = ((1/3 - 2/3) + (1/2 - 1)) / 2; Var = sum S_i^2 (1/nb + 1/nc) / m^2
    t = ((1 / 3 - 2 / 3) + (0.5 - 1.0)) / 2
    s1, s2 = np.var([1, 1, 0, 0, 0, 1], ddof=1), np.var([1, 1, 1, 0], ddof=1)
    sd = math.sqrt(s1 * (1 / 3 + 1 / 3) + s2 * (1 / 2 + 1 / 2)) / 2
    assert run_level_test(pairs, margin=0.0, absolute=True) == pytest.approx(stats_norm_cdf(t / sd))
    assert run_level_test([([1.0, 1.0], [1.0, 1.0])], margin=0.0, absolute=False) == 1.0


def stats_norm_cdf(x: float) -> float:
    from statistics import NormalDist

    return NormalDist().cdf(x)


def test_power_figures_against_the_closed_forms() -> None:
    # fail_drop: max_drop + (t_{1-a,n-1} + t_{0.8,n-1}) x se
    assert fail_drop(0.01, 100, max_drop=0.03, alpha=0.05) == pytest.approx(0.03 + (1.6603911560169906 + 0.8452670319534972) * 0.01)  # scipy.stats.t.ppf(0.95 and 0.8, 99)
    # no between-case term (absolute): x = (t + t) sqrt(W / n)
    d = Design(cases=100, k=5, baseline_k=10, mean=0.9, between=0.0, run_var=0.09, max_drop=0.03, alpha=0.05, absolute=True)
    w = 0.09 / 5 + 0.09 / 10
    assert detectable_drop(d) == pytest.approx(0.03 + (t_quantile(0.95, 99) + t_quantile(0.8, 99)) * math.sqrt(w / 100))
    # relative with spread between cases: x = c sqrt(W / (1 - c^2 B)), c = (t + t) / (sqrt(n) Q)
    r = Design(cases=50, k=5, baseline_k=10, mean=0.8, between=0.02, run_var=0.1, max_drop=0.03, alpha=0.05)
    c = (t_quantile(0.95, 49) + t_quantile(0.8, 49)) / (math.sqrt(50) * 0.8)
    w = 0.1 / 5 + 0.97**2 * 0.1 / 10
    assert detectable_drop(r) == pytest.approx(0.03 + c * math.sqrt(w / (1 - c * c * 0.02)))
    # cases needed: the smallest n whose detectable drop is at most the target
    n = cases_needed(r, 0.06)
    assert n is not None and detectable_drop(dataclasses.replace(r, cases=n)) <= 0.06 + 1e-12
    assert detectable_drop(dataclasses.replace(r, cases=n - 1)) > 0.06  # type: ignore[operator]
    assert cases_needed(r, 0.02) is None  # within the limit: never meant to FAIL
    k = runs_needed(r, 0.06)

    def resolves(runs: int) -> bool:
        return detectable_drop(dataclasses.replace(r, k=runs, baseline_k=2 * runs)) <= 0.06 + 1e-12  # type: ignore[operator]

    assert k is not None and resolves(k) and not resolves(k - 1)
    wide = Design(cases=10, k=5, baseline_k=10, mean=0.8, between=0.02, run_var=0.1, max_drop=0.03, alpha=0.05,
                  tau2=0.5)
    assert runs_needed(wide, 0.05) is None  # the per-case spread alone is too wide


def test_ab_sessions_per_arm_against_the_closed_form() -> None:
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    p1, p2 = 0.8, 0.75
    p = (p1 + p2) / 2
    n = (z(0.975) * math.sqrt(2 * p * (1 - p)) + z(0.8) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / 0.05**2
    assert ab_sessions_per_arm(0.8, 0.05) == math.ceil(n) == 1094
    assert ab_sessions_per_arm(0.02, 0.05) > 0  # 0.02 - 0.05 < 0: plans the rise to 0.07 instead


def test_benjamini_hochberg() -> None:
    adj = benjamini_hochberg([0.01, 0.04, 0.03, 0.2, 0.005])
    assert adj == pytest.approx([0.025, 0.05, 0.05, 0.2, 0.025])


def test_summarize_and_imports_need_neither_numpy_nor_scipy() -> None:
    code = (
        "import sys, agent_eval.stats.paired, agent_eval.baseline.gate, agent_eval.baseline.store\n"
        "from agent_eval.records import RunRecord\n"
        "from agent_eval.stats.reduce import case_stats, summarize\n"
        "runs = [RunRecord(case_id='a', index=i, status='passed', passed=True, score=1.0) for i in range(2)]\n"
        "summarize([(type('S', (), {'id': 'a', 'tags': (), 'critical': False}), runs, case_stats(runs, 2))])\n"
        "print('scipy' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
