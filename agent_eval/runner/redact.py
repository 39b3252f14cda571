"""`--redact` for the raw files: results.json and runs.jsonl rewritten without inputs and outputs.

Ids, tags, statuses, scores, verdicts, tokens, cost and latency stay, so `compare`, `report`,
`merge`, `baseline save` and `--resume` still work on a redacted folder; the texts do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_eval._files import write_atomic
from agent_eval.masking import REDACTED, SAFE_SPAN_KEYS, redact_error_text, redact_span_name
from agent_eval.records import (
    CaseResult,
    Message,
    Results,
    RubricResult,
    RunError,
    RunRecord,
    Span,
    ToolCall,
    TurnResult,
)

__all__ = ["REDACTED", "redact_folder", "redact_results", "redact_run"]

_MESSAGE_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages")


def _mask(text: str | None) -> str | None:
    return REDACTED if text else text


def _error(error: RunError | None) -> RunError | None:
    if error is None:
        return None
    return error.model_copy(update={"message": redact_error_text(error.message), "detail": None})


def _attribute(key: str, value: Any) -> Any:
    if key in _MESSAGE_KEYS and isinstance(value, list):
        return [_span_message(m) if isinstance(m, dict) else REDACTED for m in value]
    if value is None or isinstance(value, bool | int | float) or key in SAFE_SPAN_KEYS:
        return value
    return REDACTED


def _span_message(m: dict[str, Any]) -> dict[str, Any]:
    """A message as spans hold it (a dict), with its role and ids but not its text."""
    out: dict[str, Any] = {k: m[k] for k in ("role", "tool_call_id") if isinstance(m.get(k), str)}
    out["content"] = REDACTED if m.get("content") else ""
    calls = m.get("tool_calls")
    if isinstance(calls, list) and calls:
        out["tool_calls"] = [{"id": str(c.get("id", "")), "name": str(c.get("name", "")), "arguments": REDACTED}
                             for c in calls if isinstance(c, dict)]
    return out


def _span(span: Span) -> Span:
    """The span's shape, times and counts; its name, texts and error without the run's text."""
    return span.model_copy(update={
        "name": redact_span_name(span.name, span.kind), "error": redact_error_text(span.error),
        "attributes": {k: _attribute(k, v) for k, v in span.attributes.items()},
        "children": tuple(_span(c) for c in span.children),
    })


def _rubric(r: RubricResult) -> RubricResult:
    return r.model_copy(update={"reasoning": _mask(r.reasoning) or "", "trace": tuple(_span(s) for s in r.trace),
                                "error": redact_error_text(r.error),
                                "warnings": tuple(REDACTED for _ in r.warnings)})


def _turn(t: TurnResult) -> TurnResult:
    return t.model_copy(update={
        "user": _mask(t.user) or "", "output": _mask(t.output) or "", "tool_calls": tuple(_call(c) for c in t.tool_calls),
        "checks": tuple(c.model_copy(update={"reason": REDACTED}) for c in t.checks),
        "rubrics": tuple(_rubric(r) for r in t.rubrics),
    })


def _call(t: ToolCall) -> ToolCall:
    return ToolCall(id=t.id, name=t.name, arguments=REDACTED, result=None if t.result is None else REDACTED,
                    error=redact_error_text(t.error))


def _message(m: Message) -> Message:
    calls = tuple(_call(t) for t in m.tool_calls)
    parts = tuple(part.model_copy(update={"data": None, "url": None, "name": None}) for part in m.parts)
    return m.model_copy(update={"content": _mask(m.content) or "", "tool_calls": calls, "parts": parts})


def redact_run(run: RunRecord) -> RunRecord:
    """The run without its texts (messages, output, conversation turns, tool arguments, check reasons, judge
    reasoning, error messages and warnings, span names and contents); its trace keeps its shape and counts."""
    return run.model_copy(update={
        "output": _mask(run.output) or "",
        "messages": tuple(_message(m) for m in run.messages),
        "tool_calls": tuple(_call(t) for t in run.tool_calls),
        "checks": tuple(c.model_copy(update={"reason": REDACTED}) for c in run.checks),
        "rubrics": tuple(_rubric(r) for r in run.rubrics),
        "turns": None if run.turns is None else tuple(_turn(t) for t in run.turns),
        "error": _error(run.error),
        "warnings": tuple(REDACTED for _ in run.warnings),
        "trace": tuple(_span(s) for s in run.trace),
    })


def _case(case: CaseResult) -> CaseResult:
    masked_input = REDACTED if case.input else case.input
    return case.model_copy(update={"input": masked_input, "expected": _mask(case.expected),
                                   "runs": tuple(redact_run(r) for r in case.runs)})


def redact_results(results: Results) -> Results:
    """The results without inputs, expected answers and outputs (the config's own prompts are kept)."""
    return results.model_copy(update={"cases": tuple(_case(c) for c in results.cases)})


def redact_folder(folder: Path, results: Results) -> None:
    """Rewrite `results.json` and `runs.jsonl` of a results folder, redacted, atomically."""
    write_atomic(folder / "results.json", redact_results(results).model_dump_json(indent=2) + "\n")
    runs = folder / "runs.jsonl"
    if runs.exists():
        lines = []
        for line in runs.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                lines.append(redact_run(RunRecord.model_validate_json(line)).model_dump_json())
            except ValueError:
                continue  # an unreadable line would carry raw text: dropped
        write_atomic(runs, "".join(f"{line}\n" for line in lines))
