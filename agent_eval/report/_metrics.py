"""The tables every report shows: metrics side by side, provenance, per-tag figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent_eval.baseline.verdict import TagDelta, Verdict
from agent_eval.records import GroupStats

from ._format import (
    DASH,
    fmt_ci,
    fmt_cost,
    fmt_count,
    fmt_ms,
    fmt_pct,
    fmt_pp,
    fmt_rel,
    fmt_score,
    fmt_signed,
    fmt_usd,
    short_hash,
)
from ._sides import Provenance, Side

__all__ = ["MetricRow", "ProvenanceRow", "TagRow", "cache_line", "metric_rows", "provenance_rows", "tag_rows"]

Tone = Literal["good", "bad", "neutral"]
# Relative changes of latency and cost smaller than this are noise, not news.
_REL_NOISE = 0.05
_JUDGE_DISAGREEMENT = "Judge disagreement (sample std dev)"


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One metric on both sides; `tone` says whether the change is good or bad news."""

    label: str
    baseline: str
    candidate: str
    delta: str
    tone: Tone


@dataclass(frozen=True, slots=True)
class _Metric:
    label: str
    get: Callable[[GroupStats], float | None]
    fmt: Callable[[float | None], str]
    kind: Literal["score", "rate", "count", "relative"]
    higher_is_better: bool
    cost: bool = False  # unknown for a side that stores no costs
    judged: bool = True  # False: a change is news, but neither good nor bad (output length)


_COST_TOTAL = "Cost (total)"
_METRICS: tuple[_Metric, ...] = (
    _Metric("Pass rate", lambda s: s.pass_rate, fmt_pct, "rate", True),
    _Metric("pass^k (all k pass)", lambda s: s.pass_hat_k, fmt_pct, "rate", True),
    _Metric("pass@k (any of k passes)", lambda s: s.pass_at_k, fmt_pct, "rate", True),
    _Metric("Flaky cases", lambda s: float(s.flaky), lambda v: fmt_count(None if v is None else int(v)), "count", False),
    _Metric("Errored runs", lambda s: float(s.errors), lambda v: fmt_count(None if v is None else int(v)), "count", False),
    _Metric("Error rate", lambda s: s.error_rate, fmt_pct, "rate", False),
    _Metric("Refusal rate", lambda s: s.refusal_rate, fmt_pct, "rate", False),
    _Metric("Latency p50", lambda s: s.latency_p50_ms, fmt_ms, "relative", False),
    _Metric("Latency p95", lambda s: s.latency_p95_ms, fmt_ms, "relative", False),
    _Metric("Latency p99", lambda s: s.latency_p99_ms, fmt_ms, "relative", False),
    _Metric(_COST_TOTAL, lambda s: s.cost_usd if s.runs else None, fmt_usd, "relative", False, cost=True),
    _Metric("Cost per run", lambda s: s.mean_cost_usd, fmt_usd, "relative", False, cost=True),
    _Metric("Output length p50 (chars)", lambda s: s.output_chars_p50, lambda v: fmt_count(None if v is None else round(v)), "relative", False, judged=False),
)


def _tone(delta: float, higher_is_better: bool, noise: float = 1e-9) -> Tone:
    if abs(delta) <= noise:
        return "neutral"
    return "good" if (delta > 0) == higher_is_better else "bad"


def _delta(m: _Metric, base: float | None, cand: float | None) -> tuple[str, Tone]:
    if base is None or cand is None:
        return DASH, "neutral"
    diff = cand - base
    if m.kind == "rate":
        return fmt_pp(diff), _tone(diff, m.higher_is_better, 5e-4)
    if m.kind == "count":
        return f"{diff:+.0f}", _tone(diff, m.higher_is_better)
    if base == 0:
        return (DASH, "neutral") if cand == 0 else ("new", _tone(diff, m.higher_is_better))
    rel = diff / base
    return fmt_rel(rel), _tone(rel, m.higher_is_better, _REL_NOISE)


def _score_row(verdict: Verdict, base: Side | None, cand: Side) -> MetricRow:
    b_score = verdict.baseline_score if verdict.baseline_score is not None else (base.stats.score if base else None)
    c_score = verdict.candidate_score if verdict.candidate_score is not None else cand.stats.score
    b_ci = verdict.baseline_ci or (base.stats.score_ci if base else None)
    c_ci = verdict.candidate_ci or cand.stats.score_ci
    delta: str = DASH
    tone: Tone = "neutral"
    if base is not None and b_score is not None and c_score is not None:
        rel = verdict.relative_change
        delta = fmt_signed(c_score - b_score) + (f" ({fmt_rel(rel)})" if rel is not None and not verdict.absolute else "")
        tone = _tone(c_score - b_score, True, 5e-4)
    return MetricRow(
        "Score (mean of cases)",
        f"{fmt_score(b_score)} {fmt_ci(b_ci)}".strip() if base is not None else DASH,
        f"{fmt_score(c_score)} {fmt_ci(c_ci)}".strip(),
        delta,
        tone,
    )


def metric_rows(verdict: Verdict, base: Side | None, cand: Side) -> list[MetricRow]:
    """The metrics table: score with CI first, then rates, errors, latency and cost."""
    rows = [_score_row(verdict, base, cand)]
    for m in _METRICS:
        b = m.get(base.stats) if base is not None and (base.costs_known or not m.cost) else None
        c = m.get(cand.stats)
        b_text, c_text = m.fmt(b) if base is not None else DASH, m.fmt(c)
        if m.label == _COST_TOTAL:  # a lower bound, or unknown, when some runs' cost is
            c_text = fmt_cost(cand.stats)
            b_text = fmt_cost(base.stats) if base is not None and b is not None else b_text
            if cand.stats.cost_unknown_runs or (base is not None and base.stats.cost_unknown_runs):
                b = c = None
        delta, tone = _delta(m, b, c)
        tone = tone if m.judged else "neutral"
        rows.append(MetricRow(m.label, b_text, c_text, delta, tone))
    rows.insert(1, MetricRow("Cases", fmt_count(base.stats.cases) if base else DASH, fmt_count(cand.stats.cases), DASH, "neutral"))
    steps = (base.mean_steps() if base is not None else None, cand.mean_steps())
    if any(v is not None and v != 1 for v in steps):  # agents: a plain prompt call is always one step
        b, c = steps
        delta = DASH if b is None or c is None or b == 0 else f"{(c - b) / b:+.1%}"
        rows.append(MetricRow("Steps per run (mean)", DASH if b is None else f"{b:.2f}",
                              DASH if c is None else f"{c:.2f}", delta, "neutral"))
    if cand.judge_disagreement is not None:
        spread = _of_scale(base.judge_disagreement) if base is not None else DASH
        rows.append(MetricRow(_JUDGE_DISAGREEMENT, spread, _of_scale(cand.judge_disagreement), DASH, "neutral"))
    return rows


def _of_scale(value: float | None) -> str:
    return DASH if value is None else f"{fmt_pct(value)} of scale"


def cache_line(stats: GroupStats) -> str | None:
    """'N of M runs came from the cache', when any did."""
    if not stats.cached_runs:
        return None
    return f"{stats.cached_runs} of {stats.runs} runs came from the cache (output, latency and tokens of the recorded call)."


@dataclass(frozen=True, slots=True)
class ProvenanceRow:
    """One provenance field on both sides; `changed` when they differ."""

    label: str
    baseline: str
    candidate: str
    changed: bool


def provenance_rows(base: Provenance | None, cand: Provenance) -> list[ProvenanceRow]:
    """Config, model, judge, suite, commit and date of both sides."""
    fields: list[tuple[str, Callable[[Provenance], str]]] = [
        ("Config", lambda p: p.config_name or DASH),
        ("Version", lambda p: p.config_version or DASH),
        ("Config hash", lambda p: short_hash(p.config_hash)),
        ("Provider", lambda p: p.provider or DASH),
        ("Model", lambda p: p.model or DASH),
        ("Judge model", lambda p: p.judge_model or DASH),
        ("Judge prompt hash", lambda p: short_hash(p.judge_prompt_hash)),
        ("Suite", lambda p: p.suite_name or DASH),
        ("Suite hash", lambda p: short_hash(p.suite_hash)),
        ("Runs per case (k)", lambda p: fmt_count(p.k)),
        ("Git commit", lambda p: short_hash(p.git_commit, 10) + (" (dirty)" if p.git_dirty else "")),
        ("Date", lambda p: p.date or DASH),
        ("agent-eval", lambda p: p.tool_version or DASH),
    ]
    rows = []
    for label, get in fields:
        c = get(cand)
        b = get(base) if base is not None else DASH
        known = base is not None and DASH not in (b, c)
        rows.append(ProvenanceRow(label, b, c, known and b != c and label != "Date"))
    return rows


@dataclass(frozen=True, slots=True)
class TagRow:
    """One tag on both sides."""

    tag: str
    cases: int
    baseline_score: str
    candidate_score: str
    change: str
    tone: Tone
    baseline_pass: str
    candidate_pass: str
    pass_hat_k: str
    errors: int
    p_value: str
    limit: str
    failed: bool
    relative: float | None


def _tag_row(tag: str, td: TagDelta | None, base: GroupStats | None, cand: GroupStats | None) -> TagRow:
    b_score = td.baseline_score if td else (base.score if base else None)
    c_score = td.candidate_score if td else (cand.score if cand else None)
    rel = td.relative_change if td else None
    p = td.p_adjusted if td and td.p_adjusted is not None else (td.p_value if td else None)
    return TagRow(
        tag=tag,
        cases=td.cases if td else (cand.cases if cand else base.cases if base else 0),
        baseline_score=fmt_score(b_score),
        candidate_score=fmt_score(c_score),
        change=fmt_rel(rel),
        tone=_tone(rel, True, 5e-4) if rel is not None else "neutral",
        baseline_pass=fmt_pct(base.pass_rate) if base else DASH,
        candidate_pass=fmt_pct(cand.pass_rate) if cand else DASH,
        pass_hat_k=fmt_pct(cand.pass_hat_k) if cand else DASH,
        errors=cand.errors if cand else 0,
        p_value=DASH if p is None else f"{p:.3g}",
        limit=fmt_pct(td.limit) if td and td.limit is not None else DASH,
        failed=bool(td and td.failed),
        relative=rel,
    )


def tag_rows(verdict: Verdict, base: Side | None, cand: Side) -> list[TagRow]:
    """One row per tag, in the verdict's order (regressions first); tags it lacks follow, worst first."""
    rows = [_tag_row(td.tag, td, base.tags.get(td.tag) if base else None, cand.tags.get(td.tag)) for td in verdict.tags]
    seen = {td.tag for td in verdict.tags}
    rest = [t for t in cand.tags if t not in seen] + [t for t in (base.tags if base else {}) if t not in seen and t not in cand.tags]
    def worst_first(tag: str) -> tuple[bool, float]:
        score = cand.tags[tag].score if tag in cand.tags else None
        return (score is None, score or 0.0)

    rest.sort(key=worst_first)
    return rows + [_tag_row(t, None, base.tags.get(t) if base else None, cand.tags.get(t)) for t in rest]
