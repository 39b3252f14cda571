"""The quality gate on Results built in memory: outcomes, rules and statistical properties."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from agent_eval.baseline.gate import GateOptions, decide
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
from agent_eval.stats.paired import drop_fails, one_sided_p
from agent_eval.stats.reduce import case_stats

# --- factory -------------------------------------------------------------------------------


@dataclass
class C:
    """A case for the factory: one score per run (None = errored); a run passes at score >= 1."""

    id: str
    scores: Sequence[float | None]
    tags: tuple[str, ...] = ()
    critical: bool = False
    definition: str = "v1"
    extra: dict[str, object] = field(default_factory=dict)


def run(case_id: str, i: int, score: float | None) -> RunRecord:
    if score is None:
        return RunRecord(
            case_id=case_id, index=i, status=RunStatus.ERRORED, passed=False,
            error=RunError(kind="provider", message="HTTP 500", status=500),
        )  # fmt: skip
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


# --- outcomes --------------------------------------------------------------------------------


def test_a_a_passes_and_names_the_change() -> None:
    rng = np.random.default_rng(0)
    cases = noisy(50, 3, rng.uniform(0.5, 1.0, 50), rng)
    v = decide(results(cases), base(cases))
    assert v.outcome is Outcome.PASS and v.exit_code == 0
    assert v.relative_change == 0.0 and v.p_value == 1.0
    assert v.rule.startswith("score changed +0.0%, within the 3.0% limit")
    assert v.paired_cases == 50 and v.warnings == ()
    assert {c.status for c in v.cases} <= {CaseStatus.UNCHANGED, CaseStatus.FLAKY}


def test_clear_ten_percent_drop_on_100_cases_fails() -> None:
    rng = np.random.default_rng(1)
    b = [C(f"c{i}", [1.0] * 5) for i in range(100)]
    cand = [C(f"c{i}", [1.0 if x else 0.0 for x in rng.random(5) < 0.9]) for i in range(100)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.FAIL and v.exit_code == 1
    assert v.relative_change is not None and v.relative_change < -0.05
    assert v.p_value is not None and v.p_value < 1e-6
    assert v.rule.startswith(f"score dropped {-v.relative_change:.1%} (limit 3.0%), p=")
    assert v.rule.endswith("< 0.05")
    lo, hi = v.relative_change_ci  # type: ignore[misc]
    assert lo < v.relative_change < hi < 0
    assert v.cases[0].status is CaseStatus.NEW_FAILURE and v.cases[0].delta == min(c.delta for c in v.cases)  # type: ignore[type-var]


def test_five_percent_drop_on_five_noisy_cases_warns_with_cases_needed() -> None:
    b = [C("a", [1.0, 0.6, 1.0]), C("b", [0.8, 1.0, 0.7]), C("c", [0.9, 0.9, 1.0]),
         C("d", [0.7, 1.0, 1.0]), C("e", [1.0, 0.8, 0.9])]  # fmt: skip
    cand = [C("a", [0.9, 0.6, 0.9]), C("b", [0.9, 1.0, 0.8]), C("c", [0.7, 0.8, 0.9]),
            C("d", [0.8, 0.9, 1.0]), C("e", [0.8, 0.8, 0.8])]  # fmt: skip
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.WARN and v.exit_code == 0
    assert -0.08 < v.relative_change < -0.03  # type: ignore[operator]
    assert v.p_value is not None and v.p_value >= 0.05
    assert v.cases_needed is not None and v.cases_needed > 5
    assert v.min_detectable_drop is not None and v.min_detectable_drop > 0.03
    assert "underpowered" in v.rule and f"about {v.cases_needed} cases" in v.rule
    # The formula: n* = ceil(((z_0.95 + z_0.80) * sd_d / (max_drop * Q_base))^2).
    d = [np.mean(c.scores) - np.mean(o.scores) for c, o in zip(cand, b, strict=True)]  # type: ignore[arg-type]
    sd, q_base = float(np.std(d, ddof=1)), float(np.mean([np.mean(o.scores) for o in b]))  # type: ignore[arg-type]
    assert v.baseline_score == pytest.approx(q_base)
    assert v.cases_needed == math.ceil(((1.6448536269514722 + 0.8416212335729143) * sd / (0.03 * q_base)) ** 2)


def test_critical_failure_fails_even_without_a_score_drop() -> None:
    cases = [C("ok", [1.0, 1.0]), C("pay", [1.0, 0.0], critical=True)]
    v = decide(results(cases), base(cases))
    assert v.outcome is Outcome.FAIL
    assert v.rule == "critical case(s) failed: pay"
    assert v.critical_failures == ("pay",)


def test_critical_case_with_no_completed_run_fails() -> None:
    cases = [C(f"c{i}", [1.0] * 4) for i in range(30)] + [C("pay", [None], critical=True)]
    v = decide(results(cases), None)
    assert v.outcome is Outcome.FAIL and v.critical_failures == ("pay",)


def test_errors_over_five_percent_make_the_run_incomplete() -> None:
    b = [C(f"c{i}", [1.0] * 5) for i in range(20)]
    cand = [C(f"c{i}", [None, 1.0, 1.0, 1.0, 1.0] if i < 6 else [1.0] * 5) for i in range(20)]  # 6%
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.INCOMPLETE and v.exit_code == 3
    assert v.rule == "6.0% of candidate runs errored (limit 5.0%)"
    ok = [C(f"c{i}", [None, 1.0, 1.0, 1.0, 1.0] if i < 5 else [1.0] * 5) for i in range(20)]  # exactly 5%
    assert decide(results(ok), base(b)).outcome is Outcome.PASS


def test_baseline_errors_and_incomplete_runs_are_incomplete_and_beat_fail() -> None:
    b = [C(f"c{i}", [None, 1.0] if i < 3 else [1.0, 1.0]) for i in range(10)]
    cand = [C(f"c{i}", [0.0, 0.0], critical=True) for i in range(10)]
    v = decide(results(cand, complete=False), base(b))
    assert v.outcome is Outcome.INCOMPLETE
    assert v.rule == "the candidate run is incomplete (interrupted); 15.0% of baseline runs errored (limit 5.0%)"
    assert len(v.critical_failures) == 10  # still reported


def test_errored_runs_are_missing_data_not_failures() -> None:
    b = [C(f"c{i}", [1.0] * 10) for i in range(10)]
    cand = [C(f"c{i}", [None] + [1.0] * 9 if i < 5 else [1.0] * 10) for i in range(10)]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.PASS and v.relative_change == 0.0
    assert sum(c.candidate_errors for c in v.cases) == 5


def test_tag_limit_fails_when_a_tag_drops_significantly() -> None:
    rng = np.random.default_rng(3)
    b = [C(f"a{i}", [1.0] * 3, tags=("billing",)) for i in range(20)]
    b += [C(f"o{i}", [1.0] * 3, tags=("other",)) for i in range(80)]
    cand = [C(f"a{i}", [float(x) for x in rng.random(3) < 0.8], tags=("billing",)) for i in range(20)]
    cand += [C(f"o{i}", [1.0] * 3, tags=("other",)) for i in range(80)]
    opts = GateOptions(max_drop=0.10, tag_limits={"billing": 0.05})
    v = decide(results(cand), base(b), opts)
    overall = -v.relative_change  # type: ignore[operator]
    assert overall < 0.10  # the overall rule alone would pass
    assert v.outcome is Outcome.FAIL
    billing = v.tags[0]
    assert billing.tag == "billing" and billing.failed and billing.limit == 0.05
    assert v.rule.startswith(f"tag 'billing' dropped {-billing.relative_change:.1%} (limit 5.0%), p=")  # type: ignore[operator]
    assert not decide(results(cand), base(b), GateOptions(max_drop=0.10)).tags[0].failed


def test_unlimited_tag_drop_is_a_warning_after_benjamini_hochberg() -> None:
    b = [C(f"a{i}", [1.0] * 3, tags=("x",)) for i in range(30)] + [C(f"o{i}", [1.0] * 3, tags=("y",)) for i in range(170)]
    cand = [C(f"a{i}", [1.0, 1.0, 0.0] if i % 2 else [1.0] * 3, tags=("x",)) for i in range(30)]
    cand += [C(f"o{i}", [1.0] * 3, tags=("y",)) for i in range(170)]
    v = decide(results(cand), base(b), GateOptions(max_drop=0.05))
    assert v.outcome is Outcome.PASS
    assert any(w.startswith("tag 'x' dropped 16.7% (BH-adjusted p=") and "no limit" in w for w in v.warnings)
    assert v.tags[0].tag == "x" and v.tags[0].p_adjusted is not None


def test_strict_fails_on_the_drop_alone() -> None:
    b = [C("a", [1.0, 1.0]), C("b", [1.0, 1.0]), C("c", [1.0, 1.0])]
    cand = [C("a", [1.0, 0.0]), C("b", [1.0, 1.0]), C("c", [1.0, 1.0])]
    assert decide(results(cand), base(b)).outcome is Outcome.WARN
    v = decide(results(cand), base(b), GateOptions(strict=True))
    assert v.outcome is Outcome.FAIL
    assert v.rule.startswith("score dropped 16.7% (limit 3.0%), strict: no significance required")


def test_absolute_mode_measures_points() -> None:
    b = [C(f"c{i}", [0.5, 0.5]) for i in range(40)]
    cand = [C(f"c{i}", [0.46, 0.46] if i % 2 else [0.5, 0.5]) for i in range(40)]  # -0.02 points, -4%
    rel = decide(results(cand), base(b), GateOptions(max_drop=0.03))
    assert rel.outcome is Outcome.FAIL
    v = decide(results(cand), base(b), GateOptions(max_drop=0.03, absolute=True))
    assert v.outcome is Outcome.PASS
    assert v.relative_change == pytest.approx(-0.02)
    assert v.rule.startswith("score changed -0.020 points, within the 0.030 points limit")
    v2 = decide(results(cand), base(b), GateOptions(max_drop=0.015, absolute=True))
    assert v2.outcome is Outcome.FAIL and v2.rule.startswith("score dropped 0.020 points (limit 0.015 points), p=")


def test_new_missing_and_changed_cases_are_listed_not_gated() -> None:
    b = [C(f"c{i}", [1.0] * 3) for i in range(10)] + [C("gone", [1.0] * 3), C("edited", [1.0] * 3)]
    cand = [C(f"c{i}", [1.0] * 3) for i in range(10)]
    cand += [C("fresh", [0.0] * 3), C("edited", [0.0] * 3, definition="v2")]
    v = decide(results(cand), base(b))
    assert v.outcome is Outcome.PASS and v.paired_cases == 10
    assert [c.case_id for c in v.by_status(CaseStatus.NEW)] == ["fresh"]
    assert [c.case_id for c in v.by_status(CaseStatus.MISSING)] == ["gone"]
    assert [c.case_id for c in v.by_status(CaseStatus.CHANGED)] == ["edited"]
    assert [c.status for c in v.cases[-3:]] == [CaseStatus.CHANGED, CaseStatus.NEW, CaseStatus.MISSING]
    assert any("missing from the candidate (not gated): gone" in w for w in v.warnings)
    assert any("changed definition since the baseline (not gated): edited" in w for w in v.warnings)


def test_judge_and_k_mismatch_warn_but_model_change_does_not() -> None:
    cases = [C(f"c{i}", [1.0] * 3) for i in range(5)]
    v = decide(results(cases, model="model-b"), base(cases))
    assert v.warnings == ()
    cand = [C(f"c{i}", [1.0] * 5) for i in range(5)]
    v = decide(results(cand, judge_model="judge-2", judge_prompt_hash="jp2"), base(cases))
    assert v.outcome is Outcome.PASS
    assert v.warnings[:3] == (
        "judge model differs from the baseline's (judge-1 -> judge-2); scores may not be comparable",
        "judge prompt hash differs from the baseline's (jp1 -> jp2); scores may not be comparable",
        "k (runs per case) differs from the baseline's (3 -> 5); scores may not be comparable",
    )


def test_case_statuses_and_order() -> None:
    b = [C("fixed", [0.0, 1.0]), C("newfail", [1.0, 1.0]), C("reg", [1.0, 0.5]), C("flaky", [1.0, 0.0]),
         C("err", [1.0, 1.0]), C("same", [1.0, 1.0]), C("collapse", [1.0, 1.0])]  # fmt: skip
    cand = [C("fixed", [1.0, 1.0]), C("newfail", [1.0, 0.9]), C("reg", [0.7, 0.5]), C("flaky", [1.0, 0.0]),
            C("err", [None, None]), C("same", [1.0, 1.0]), C("collapse", [0.0, 0.0])]  # fmt: skip
    v = decide(results(cand), base(b), GateOptions(error_threshold=1.0))
    status = {c.case_id: c.status for c in v.cases}
    assert status == {
        "fixed": CaseStatus.FIXED, "newfail": CaseStatus.NEW_FAILURE, "reg": CaseStatus.REGRESSED,
        "flaky": CaseStatus.FLAKY, "err": CaseStatus.ERROR, "same": CaseStatus.UNCHANGED,
        "collapse": CaseStatus.NEW_FAILURE,
    }  # fmt: skip
    assert [c.case_id for c in v.cases] == ["collapse", "reg", "newfail", "flaky", "same", "fixed", "err"]
    assert any("passing every run to passing none: collapse" in w for w in v.warnings)


def test_no_baseline() -> None:
    cases = [C("a", [1.0, 0.5]), C("b", [1.0, 1.0])]
    v = decide(results(cases), None)
    assert v.outcome is Outcome.PASS and not v.has_baseline
    assert v.rule.startswith("no baseline: nothing to compare")
    assert v.candidate_score == pytest.approx(0.875) and v.candidate_ci is not None
    bad = decide(results([C("a", [None, 1.0])]), None)
    assert bad.outcome is Outcome.INCOMPLETE and bad.rule == "no baseline: 50.0% of candidate runs errored (limit 5.0%)"


def test_verdict_is_deterministic_and_order_independent() -> None:
    rng = np.random.default_rng(7)
    b = noisy(40, 3, [0.9] * 40, rng)
    cand = noisy(40, 3, [0.85] * 40, rng)
    v1 = decide(results(cand), base(b), GateOptions(seed=3))
    v2 = decide(results(list(reversed(cand))), base(list(reversed(b))), GateOptions(seed=3))
    assert v1 == v2
    assert decide(results(cand), base(b), GateOptions(seed=4)).relative_change_ci != v1.relative_change_ci


# --- statistical properties of the score rule (same functions decide() uses) -----------------


def simulate(trials: int, n: int, k: int, lo: float, scale: float, seed: int) -> float:
    """Share of trials the score rule FAILs; per-case pass probabilities ~ U[lo, 1], binary runs."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(lo, 1.0, (trials, n))
    b = rng.binomial(k, p) / k
    c = rng.binomial(k, p * scale) / k
    change = c.mean(axis=1) / b.mean(axis=1) - 1
    return float(np.mean(drop_fails(change, one_sided_p(c - b), max_drop=0.03, alpha=0.05, strict=False)))


def test_a_a_false_fail_rate_is_at_most_alpha() -> None:
    trials = 2000
    rate = simulate(trials, 100, 5, 0.8, 1.0, seed=11)
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / trials)  # alpha plus Monte Carlo error


def test_ten_percent_drop_is_caught_95_percent_of_the_time() -> None:
    assert simulate(2000, 100, 5, 0.8, 0.9, seed=12) >= 0.95


def test_decide_agrees_with_the_vectorised_rule() -> None:
    rng = np.random.default_rng(5)
    for scale in (1.0, 0.9, 0.95):
        p = rng.uniform(0.8, 1.0, 100)
        b, c = noisy(100, 5, p, rng), noisy(100, 5, p * scale, rng)
        v = decide(results(c), base(b))
        bs = np.array([np.mean(x.scores) for x in b])  # type: ignore[arg-type]
        cs = np.array([np.mean(x.scores) for x in c])  # type: ignore[arg-type]
        assert v.p_value == pytest.approx(float(one_sided_p(cs - bs)))
        fails = bool(drop_fails(cs.mean() / bs.mean() - 1, v.p_value, max_drop=0.03, alpha=0.05, strict=False))
        assert (v.outcome is Outcome.FAIL) == fails
