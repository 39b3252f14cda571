"""Per-case views: the row of the cases table and the detail it opens to."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent_eval.baseline.verdict import CaseDelta, Verdict
from agent_eval.records import (
    CaseResult,
    CheckResult,
    ContentPart,
    Message,
    Results,
    RubricResult,
    RunError,
    RunRecord,
    ToolCall,
)
from agent_eval.stats.passk import pass_hat_curve
from agent_eval.trace.failure import failure_kind, median_steps

from ._chat import ChatTurn, chat_turns
from ._format import (
    DASH,
    REDACTED,
    fmt_case_change,
    fmt_ck,
    fmt_ms,
    fmt_score,
    input_text,
)
from ._sides import Side, SideCase, SideRun
from ._timeline import Timeline, timeline

__all__ = ["MAX_DIFF_WORDS", "STATUS_LABELS", "CaseDetail", "CaseRow", "Compare", "MessageView", "RunView", "case_rows"]

STATUS_LABELS: dict[str, str] = {
    "regressed": "regressed",
    "new_failure": "new failure",
    "fixed": "fixed",
    "flaky": "flaky",
    "error": "error",
    "unchanged": "unchanged",
    "new": "new",
    "missing": "missing",
    "changed": "changed",
    "failing": "failing",  # without a baseline
    "passing": "passing",  # without a baseline
}
_NO_BASELINE_RANK = {"error": 0, "failing": 1, "flaky": 2, "passing": 3}
# The browser's word diff is quadratic in the worst case; longer outputs are shown side by side as they are.
MAX_DIFF_WORDS = 2_000
# How a run's output is shown: alone ("none"), alone as identical to the baseline run's ("same"),
# side by side with the changed words marked in the browser ("words"), or side by side unmarked ("plain").
Compare = Literal["none", "same", "words", "plain"]


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message of a trace; `from_config` when it is the config's system prompt."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...]
    from_config: bool
    parts: tuple[PartView, ...] = ()


# Inline images shown as thumbnails (the report's CSP allows data: images only); anything else is a label or a link
_THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class PartView:
    """An image, PDF or audio part of a message: a thumbnail (`src`, a data: URL), a link (`href`) or a label."""

    label: str
    src: str | None = None
    href: str | None = None


def _part_view(part: ContentPart, redact: bool) -> PartView:
    if redact:
        return PartView(label=f"[{part.type}]")
    if part.data is not None and part.type == "image" and part.media_type in _THUMBNAIL_TYPES:
        return PartView(label=part.label, src=part.data_url())
    url = part.url if part.url is not None and part.url.startswith(("https://", "http://")) else None
    return PartView(label=part.label, href=url)


@dataclass(frozen=True, slots=True)
class RunView:
    """One candidate run (or a baseline-only run), with the baseline run's output to compare it with."""

    index: int
    status: str
    score: str
    output: str  # the candidate's output; the baseline's for a baseline-only run
    baseline_output: str  # empty unless `compare` is "words" or "plain"
    compare: Compare
    has_baseline: bool
    baseline_status: str | None
    baseline_score: str
    record: RunRecord | None
    checks: tuple[CheckResult, ...]
    rubrics: tuple[RubricResult, ...]
    messages: tuple[MessageView, ...]
    tool_calls: tuple[ToolCall, ...]
    error: RunError | None
    timeline: Timeline | None = None
    failure_kind: str | None = None
    baseline_failure_kind: str | None = None
    chat: tuple[ChatTurn, ...] = ()  # a conversation's turns, with the baseline run's replies


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """What a case row opens to."""

    input: str
    expected: str | None
    curve: str  # pass^1 .. pass^k of the case
    messages: tuple[MessageView, ...]  # shared by every run, when they all sent the same
    runs: tuple[RunView, ...]
    definition_changed: bool


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One row of the cases table."""

    id: str
    tags: tuple[str, ...]
    status: str
    critical: bool
    baseline_ck: str
    candidate_ck: str
    baseline_score: str
    candidate_score: str
    delta: str
    tone: str
    errors: int
    latency: str
    detail: CaseDetail

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _messages(msgs: Sequence[Message], system_prompt: str | None, redact: bool) -> tuple[MessageView, ...]:
    out = []
    for m in msgs:
        from_config = m.role == "system" and system_prompt is not None and m.content == system_prompt
        content = "" if from_config else (REDACTED if redact and m.content else m.content)
        calls = tuple(ToolCall(id=t.id, name=t.name, arguments=REDACTED) for t in m.tool_calls) if redact else m.tool_calls
        out.append(MessageView(m.role, content, calls, from_config, tuple(_part_view(p, redact) for p in m.parts)))
    return tuple(out)


def _redact_run(run: RunRecord) -> tuple[tuple[CheckResult, ...], tuple[RubricResult, ...], tuple[ToolCall, ...]]:
    checks = tuple(c.model_copy(update={"reason": REDACTED}) for c in run.checks)
    rubrics = tuple(r.model_copy(update={"reasoning": REDACTED if r.reasoning else ""}) for r in run.rubrics)
    calls = tuple(ToolCall(id=t.id, name=t.name, arguments=REDACTED) for t in run.tool_calls)
    return checks, rubrics, calls


def _baseline_only(base: SideRun, redact: bool) -> RunView:
    output = REDACTED if redact else base.output
    return RunView(base.index, "absent", DASH, output, "", "none", True, base.status, fmt_score(base.score), None, (), (), (), (),
                   None, None, None, base.failure_kind)


def _too_long(text: str) -> bool:
    # A text of n characters has at most n/2 + 1 words: most outputs are ruled out without a split.
    return len(text) > 2 * MAX_DIFF_WORDS and len(text.split()) > MAX_DIFF_WORDS


def _compare(old: str, new: str) -> Compare:
    """Identical texts need no diff; very long ones are not diffed (the browser would stall)."""
    if old == new:
        return "same"
    return "plain" if _too_long(old) or _too_long(new) else "words"


def _run_view(run: RunRecord, base: SideRun | None, shared: bool, prompt: str | None, redact: bool,
              median: float | None = None) -> RunView:
    compare: Compare = "none" if base is None else _compare(base.output, run.output)
    output, baseline_output = run.output, base.output if base is not None and compare != "same" else ""
    checks, rubrics, calls = run.checks, run.rubrics, run.tool_calls
    if redact:
        output, baseline_output = REDACTED, ""
        compare = "same" if compare == "same" else "none"
        checks, rubrics, calls = _redact_run(run)
    return RunView(
        index=run.index,
        status=str(run.status),
        score=fmt_score(run.score),
        output=output,
        baseline_output=baseline_output,
        compare=compare,
        has_baseline=base is not None,
        baseline_status=base.status if base else None,
        baseline_score=fmt_score(base.score) if base else DASH,
        record=run,
        checks=checks,
        rubrics=rubrics,
        messages=() if shared else _messages(run.messages, prompt, redact),
        tool_calls=calls,
        error=run.error,
        timeline=timeline(run, base, redact),
        failure_kind=failure_kind(run, median),
        baseline_failure_kind=base.failure_kind if base else None,
        chat=chat_turns(run, base.assistant_turns if base is not None else None, redact),
    )


def _detail(case: CaseResult | None, base: SideCase | None, prompt: str | None, redact: bool) -> CaseDetail:
    runs = case.runs if case else ()
    shared = len(runs) > 0 and all(r.messages == runs[0].messages for r in runs)
    base_runs = {r.index: r for r in base.runs} if base else {}
    median = median_steps(r.steps for r in base.runs) if base else None
    views = [_run_view(r, base_runs.pop(r.index, None), shared, prompt, redact, median) for r in runs]
    views += [_baseline_only(b, redact) for b in base_runs.values()]
    text = _rendered_input(case) if case else ""
    expected = case.expected if case else None
    return CaseDetail(
        input=REDACTED if redact and text else text,
        curve=_curve(case),
        expected=REDACTED if redact and expected else expected,
        messages=_messages(runs[0].messages, prompt, redact) if shared else (),
        runs=tuple(views),
        definition_changed=bool(case and base and base.definition_hash and case.definition_hash != base.definition_hash),
    )


def _curve(case: CaseResult | None) -> str:
    if case is None or case.stats.k < 2:
        return ""
    values = pass_hat_curve(case.stats.n, case.stats.passed, case.stats.k)
    return " ".join(f"pass^{j + 1} {DASH if v is None else f'{v:.0%}'}" for j, v in enumerate(values))


def _rendered_input(case: CaseResult) -> str:
    """The input as the model saw it: the rendered user message of a run, else the case's input as written."""
    if isinstance(case.input, str):
        for run in case.runs:
            users = [m.content for m in run.messages if m.role == "user"]
            if users:
                return users[-1]
    return input_text(case.input)


def _derived_status(case: CaseResult) -> str:
    s = case.stats
    if s.errors:
        return "error"
    if s.flaky:
        return "flaky"
    return "failing" if s.passed < s.n else "passing"


def _mean_latency(case: CaseResult | None) -> str:
    lat = [r.latency_ms for r in case.runs if r.latency_ms is not None] if case else []
    return fmt_ms(statistics.fmean(lat)) if lat else DASH


def _row(delta: CaseDelta | None, case: CaseResult | None, base: SideCase | None, detail: CaseDetail) -> CaseRow:
    assert delta is not None or case is not None
    b_score = delta.baseline_score if delta else (base.stats.score if base else None)
    c_score = delta.candidate_score if delta else case.stats.score if case else None
    diff = None if b_score is None or c_score is None else c_score - b_score
    return CaseRow(
        id=delta.case_id if delta else case.id,  # type: ignore[union-attr]
        tags=tuple(delta.tags if delta else case.tags),  # type: ignore[union-attr]
        status=str(delta.status) if delta else _derived_status(case),  # type: ignore[arg-type]
        critical=delta.critical if delta else bool(case and case.critical),
        baseline_ck=fmt_ck(delta.baseline_passed, delta.baseline_n) if delta else (fmt_ck(base.stats.passed, base.stats.n) if base else DASH),
        candidate_ck=fmt_ck(delta.candidate_passed, delta.candidate_n) if delta else fmt_ck(case.stats.passed, case.stats.n) if case else DASH,
        baseline_score=fmt_score(b_score),
        candidate_score=fmt_score(c_score),
        delta=fmt_case_change(diff, _counts(delta, base, None), _counts(delta, None, case)),
        tone="neutral" if diff is None or abs(diff) < 5e-4 else "good" if diff > 0 else "bad",
        errors=case.stats.errors if case else 0,
        latency=_mean_latency(case),
        detail=detail,
    )


def _counts(delta: CaseDelta | None, base: SideCase | None, case: CaseResult | None) -> tuple[int | None, int | None]:
    if delta is not None:
        return (delta.baseline_passed, delta.baseline_n) if case is None else (delta.candidate_passed, delta.candidate_n)
    if base is not None:
        return base.stats.passed, base.stats.n
    return (case.stats.passed, case.stats.n) if case is not None else (None, None)


def case_rows(results: Results, verdict: Verdict, base: Side | None, *, redact: bool = False) -> list[CaseRow]:
    """Every case, most regressed first (the verdict's order); without a baseline, worst first."""
    by_id = {c.id: c for c in results.cases}
    prompt = results.config.system_prompt
    base_cases = base.cases if base else {}
    rows: list[CaseRow] = []
    seen: set[str] = set()
    for d in verdict.cases if base is not None else ():
        case, bcase = by_id.get(d.case_id), base_cases.get(d.case_id)
        if case is None and bcase is None:
            continue
        seen.add(d.case_id)
        rows.append(_row(d, case, bcase, _detail(case, bcase, prompt, redact)))
    rest = [c for c in results.cases if c.id not in seen]
    rest.sort(key=lambda c: (_NO_BASELINE_RANK[_derived_status(c)], c.stats.score if c.stats.score is not None else -1.0))
    for c in rest:
        bcase = base_cases.get(c.id)
        rows.append(_row(None, c, bcase, _detail(c, bcase, prompt, redact)))
    return rows
