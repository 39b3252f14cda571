"""A run's trace as a timeline (agent steps, model calls, tool calls, latency) and its trajectory
side by side with the baseline run's.

The views hold plain text: the template escapes every value (tool arguments and results are untrusted).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_eval.records import RunRecord, Span
from agent_eval.trace.trajectory import TrajectoryCall, run_steps, run_trajectory

from ._format import REDACTED, fmt_ms
from ._sides import SideRun

__all__ = ["SpanView", "Timeline", "TrajectoryRow", "timeline"]

_MAX_TEXT = 600  # characters of a tool argument or result shown in the timeline


@dataclass(frozen=True, slots=True)
class SpanView:
    """One row of the timeline: indented by depth, with a bar placed on the run's time axis."""

    depth: int
    kind: str
    name: str
    start: str
    duration: str
    left: float  # percent of the run's span of time
    width: float
    detail: str
    error: str | None


@dataclass(frozen=True, slots=True)
class TrajectoryRow:
    """One step of the trajectory: the baseline run's tool calls beside the candidate's."""

    step: int
    baseline: str
    candidate: str
    same: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the report shows for one run's trace."""

    summary: str
    spans: tuple[SpanView, ...]
    trajectory: tuple[TrajectoryRow, ...]  # empty when neither side called a tool
    baseline_steps: int | None
    steps: int | None


def timeline(run: RunRecord, base: SideRun | None, redact: bool) -> Timeline | None:
    """The timeline of a run that recorded a trace (None otherwise)."""
    if not run.trace:
        return None
    total = max([1e-9, *(_end(s) for s in run.trace)])
    spans = tuple(_rows(run.trace, 0, total, redact))
    kinds = [s.kind for s in spans]
    steps = run_steps(run)
    summary = f"{_n(kinds.count('model'), 'model call')}, {_n(kinds.count('tool'), 'tool call')}, {fmt_ms(total)}"
    if steps is not None:
        summary = f"{_n(steps, 'step')}: {summary}"
    judge = [s for r in run.rubrics for s in r.trace]
    if judge:  # the judge's calls are a trace of their own (runs.jsonl, --trace-export); here, their count
        summary += f"; judge {_n(len(judge), 'call')}, {fmt_ms(sum(s.duration_ms or 0.0 for s in judge))}"
    calls = run_trajectory(run) if base is not None and (base.trajectory or run.tool_calls or 'tool' in kinds) else ()
    trajectory = _trajectory(base.trajectory, calls, redact) if base is not None else ()
    return Timeline(summary, spans, trajectory, base.steps if base else None, steps)


def _rows(spans: Sequence[Span], depth: int, total: float, redact: bool) -> list[SpanView]:
    out: list[SpanView] = []
    for span in spans:
        duration = span.duration_ms or 0.0
        out.append(SpanView(
            depth=depth, kind=span.kind, name=span.name, start=fmt_ms(span.start_ms),
            duration=fmt_ms(duration) if span.duration_ms is not None else "—",
            left=round(100 * span.start_ms / total, 1), width=round(max(0.5, 100 * duration / total), 1),
            detail=_detail(span, redact), error=REDACTED if redact and span.error else span.error,
        ))
        out.extend(_rows(span.children, depth + 1, total, redact))
    return out


def _detail(span: Span, redact: bool) -> str:
    a = span.attributes
    if span.kind == "tool":
        if redact:
            return f"{a.get('gen_ai.tool.name', '')}({REDACTED})"
        args = _short(a.get("gen_ai.tool.call.arguments"))
        result = "" if span.error else f" → {_short(a.get('gen_ai.tool.call.result'))}"
        return f"{a.get('gen_ai.tool.name', '')}({args}){result}"
    if span.kind in ("model", "judge"):
        parts = [str(a.get("gen_ai.response.model") or a.get("gen_ai.request.model") or "")]
        if "gen_ai.usage.input_tokens" in a:
            parts.append(f"{a['gen_ai.usage.input_tokens']} in / {a.get('gen_ai.usage.output_tokens', 0)} out tok")
        reasons = a.get("gen_ai.response.finish_reasons")
        if reasons:
            parts.append(f"finish {', '.join(map(str, reasons))}")
        requested = [c.get("name", "") for m in a.get("gen_ai.output.messages") or () for c in m.get("tool_calls") or ()]
        if requested:
            parts.append(f"asks for {', '.join(requested)}")
        if a.get("agent_eval.cached"):
            parts.append("cached")
        return " · ".join(p for p in parts if p)
    parts = []
    context = a.get("agent_eval.context")
    if context:
        docs = _n(len(context), "document")
        parts.append(f"context: {docs}" if redact else f"context ({docs}): " + " | ".join(_short(d) for d in context))
    if a.get("agent_eval.stop_reason"):
        parts.append(f"stopped: {a['agent_eval.stop_reason']}")
    return " · ".join(parts)


def _trajectory(base: Sequence[TrajectoryCall], cand: Sequence[TrajectoryCall], redact: bool) -> tuple[TrajectoryRow, ...]:
    if not base and not cand:
        return ()
    by_step_b = _by_step(base)
    by_step_c = _by_step(cand)
    rows = []
    for step in sorted({*by_step_b, *by_step_c}):
        b = [_call(c, redact) for c in by_step_b.get(step, [])]
        c = [_call(x, redact) for x in by_step_c.get(step, [])]
        same = [_key(x) for x in by_step_b.get(step, [])] == [_key(x) for x in by_step_c.get(step, [])]
        rows.append(TrajectoryRow(step + 1, "\n".join(b) or "—", "\n".join(c) or "—", same))
    return tuple(rows)


def _by_step(calls: Sequence[TrajectoryCall]) -> dict[int, list[TrajectoryCall]]:
    out: dict[int, list[TrajectoryCall]] = {}
    for call in calls:
        out.setdefault(call.step, []).append(call)
    return out


def _call(call: TrajectoryCall, redact: bool) -> str:
    if redact:
        return f"{call.name}({REDACTED})"
    tail = f" ✗ {call.error}" if call.error else ("" if call.result is None else f" → {_short(call.result)}")
    return f"{call.name}({_short(call.arguments)}){tail}"


def _key(call: TrajectoryCall) -> tuple[str, str]:
    return call.name, json.dumps(call.arguments, sort_keys=True, default=str)


def _short(value: Any) -> str:
    # sorted keys: the baseline file stores results with sorted keys, so both sides read alike
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _end(span: Span) -> float:
    return max([span.start_ms + (span.duration_ms or 0.0), *(_end(c) for c in span.children)])


def _n(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


