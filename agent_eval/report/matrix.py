"""The matrix of several configs run on the same cases and seeds: `matrix.json` and what the reports show.

Each config is an arm. Per arm: its score with a 95% interval over cases, pass rate, cost and
latency. Per pair of arms: a paired comparison over the cases both completed (mean difference
with a 95% t interval, two-sided paired t-test p-value, Benjamini-Hochberg adjusted over pairs).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from agent_eval.records import Record, Results, RunStatus

__all__ = ["MATRIX_SCHEMA_VERSION", "Arm", "ArmRun", "Matrix", "MatrixCase", "MatrixCell", "PairComparison",
           "build_matrix"]

MATRIX_SCHEMA_VERSION = 1
_OUTPUT_LIMIT = 2000


class Arm(Record):
    """One config's results, summarised."""

    label: str = Field(description="The config file's stem and hash, also its results folder's name.")
    config_name: str
    config_version: str
    model: str
    results: str = Field(description="Path of the arm's results folder.")
    outcome: str = Field(description="PASS, WARN, FAIL or INCOMPLETE, as for a single run.")
    exit_code: int
    score: float | None
    score_ci: tuple[float, float] | None = None
    pass_rate: float | None
    errors: int
    runs: int
    cost_usd: float
    mean_cost_usd: float | None
    cost_unknown_runs: int = Field(0, description="Completed runs whose cost is unknown: `cost_usd` is a lower bound.")
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    tokens: int
    metrics: dict[str, float | None] = Field({}, description="Named metrics (means) and derived metrics.")


class PairComparison(Record):
    """b minus a over the cases both arms completed."""

    a: str
    b: str
    cases: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None = Field(description="mean(b) - mean(a), in score points.")
    diff_ci: tuple[float, float] | None = None
    p_value: float | None = Field(None, description="Two-sided paired t-test.")
    p_adjusted: float | None = Field(None, description="Benjamini-Hochberg over all pairs.")
    significant: bool = False
    better: str | None = Field(None, description="The better arm when the difference is significant.")


class ArmRun(Record):
    """One run of a case in one arm, as the side-by-side view needs it."""

    index: int
    status: RunStatus
    score: float | None
    output: str


class MatrixCell(Record):
    """One case in one arm."""

    arm: str
    passed: int
    n: int
    score: float | None
    runs: tuple[ArmRun, ...] = ()


class MatrixCase(Record):
    """One case across the arms."""

    id: str
    tags: tuple[str, ...] = ()
    input: str = ""
    cells: tuple[MatrixCell, ...]


class Matrix(Record):
    """The `matrix.json` file of a multi-config run."""

    schema_version: int = MATRIX_SCHEMA_VERSION
    suite: str
    seed: int
    repeat: int
    alpha: float
    reference: str | None = Field(None, description="The --gate-against arm, if any.")
    arms: tuple[Arm, ...]
    pairs: tuple[PairComparison, ...]
    cases: tuple[MatrixCase, ...]


@dataclass(frozen=True, slots=True)
class ArmInput:
    """What the run flow hands over for one arm."""

    label: str
    results: Results
    folder: str
    outcome: str
    exit_code: int


def _arm(item: ArmInput) -> Arm:
    s, cfg = item.results.summary, item.results.config
    return Arm(label=item.label, config_name=cfg.name, config_version=cfg.version, model=cfg.model,
               results=item.folder, outcome=item.outcome, exit_code=item.exit_code, score=s.score,
               score_ci=s.score_ci, pass_rate=s.pass_rate, errors=s.errors, runs=s.runs, cost_usd=s.cost_usd,
               mean_cost_usd=s.mean_cost_usd, cost_unknown_runs=s.cost_unknown_runs, latency_p50_ms=s.latency_p50_ms, latency_p95_ms=s.latency_p95_ms,
               tokens=s.tokens, metrics={**{n: m.mean for n, m in s.metrics.items()},
                                         **{n: d.value for n, d in s.derived.items()}})


def _pair(a: ArmInput, b: ArmInput) -> PairComparison:
    from agent_eval.stats.describe import t_quantile_975
    from agent_eval.stats.paired import paired_test

    score_a = {c.id: c.stats.score for c in a.results.cases if c.stats.score is not None}
    score_b = {c.id: c.stats.score for c in b.results.cases if c.stats.score is not None}
    ids = [i for i in score_a if i in score_b]
    if not ids:
        return PairComparison(a=a.label, b=b.label, cases=0, mean_a=None, mean_b=None, diff=None)
    test = paired_test([score_a[i] for i in ids], [score_b[i] for i in ids], absolute=True)
    ci, p = None, None
    if test.se_diff is not None and test.p_value is not None:
        half = t_quantile_975(test.n - 1) * test.se_diff
        ci = (test.mean_diff - half, test.mean_diff + half)
        p = min(1.0, 2 * min(test.p_value, 1 - test.p_value))
        if test.se_diff == 0:  # every case scored the same difference: none at all is p = 1, not 0
            p = 1.0 if test.mean_diff == 0 else 0.0
    return PairComparison(a=a.label, b=b.label, cases=test.n, mean_a=test.base_mean, mean_b=test.cand_mean,
                          diff=test.mean_diff, diff_ci=ci, p_value=p)


def _adjust(pairs: list[PairComparison], alpha: float) -> list[PairComparison]:
    from agent_eval.stats.paired import benjamini_hochberg

    tested = [i for i, p in enumerate(pairs) if p.p_value is not None]
    adjusted = benjamini_hochberg([pairs[i].p_value for i in tested]) if tested else []  # type: ignore[misc]
    out = list(pairs)
    for i, q in zip(tested, adjusted, strict=True):
        p = pairs[i]
        significant = q < alpha and p.diff is not None and p.diff != 0
        better = (p.b if (p.diff or 0) > 0 else p.a) if significant else None
        out[i] = p.model_copy(update={"p_adjusted": q, "significant": significant, "better": better})
    return out


def _input_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in value if isinstance(m, dict))
    return ""


def _cases(arms: Sequence[ArmInput]) -> tuple[MatrixCase, ...]:
    order: dict[str, MatrixCase] = {}
    by_arm = [{c.id: c for c in arm.results.cases} for arm in arms]
    for case in arms[0].results.cases:
        cells = []
        for arm, cases in zip(arms, by_arm, strict=True):
            found = cases.get(case.id)
            if found is None:
                continue
            runs = tuple(ArmRun(index=r.index, status=r.status, score=r.score, output=r.output[:_OUTPUT_LIMIT])
                         for r in found.runs)
            cells.append(MatrixCell(arm=arm.label, passed=found.stats.passed, n=found.stats.n,
                                    score=found.stats.score, runs=runs))
        order[case.id] = MatrixCase(id=case.id, tags=tuple(case.tags), input=_input_text(case.input)[:_OUTPUT_LIMIT],
                                    cells=tuple(cells))
    return tuple(order.values())


def build_matrix(arms: Sequence[ArmInput], *, alpha: float, reference: str | None = None) -> Matrix:
    """The matrix of arms that ran the same suite with the same seed."""
    first = arms[0].results
    pairs = [_pair(a, b) for a, b in itertools.combinations(arms, 2)]
    return Matrix(suite=first.suite.name, seed=first.seed, repeat=first.suite.repeat, alpha=alpha,
                  reference=reference, arms=tuple(_arm(a) for a in arms), pairs=tuple(_adjust(pairs, alpha)),
                  cases=_cases(arms))


def fmt_diff(p: PairComparison) -> str:
    """`+0.120 [+0.010, +0.230]`, or a dash."""
    if p.diff is None:
        return "—"
    ci = f" [{p.diff_ci[0]:+.3f}, {p.diff_ci[1]:+.3f}]" if p.diff_ci else ""
    return f"{p.diff:+.3f}{ci}"


def fmt_p(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3g}"
