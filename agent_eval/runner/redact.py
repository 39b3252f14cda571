"""`--redact` for the raw files: results.json and runs.jsonl rewritten without inputs and outputs.

Ids, tags, statuses, scores, verdicts, tokens, cost and latency stay, so `compare`, `report`,
`merge`, `baseline save` and `--resume` still work on a redacted folder; the texts do not.
"""

from __future__ import annotations

from pathlib import Path

from agent_eval._files import write_atomic
from agent_eval.records import CaseResult, Message, Results, RunRecord, ToolCall

__all__ = ["REDACTED", "redact_folder", "redact_results", "redact_run"]

REDACTED = "[redacted]"


def _mask(text: str | None) -> str | None:
    return REDACTED if text else text


def _call(t: ToolCall) -> ToolCall:
    return ToolCall(id=t.id, name=t.name, arguments=REDACTED, result=None if t.result is None else REDACTED,
                    error=_mask(t.error))


def _message(m: Message) -> Message:
    calls = tuple(_call(t) for t in m.tool_calls)
    return m.model_copy(update={"content": _mask(m.content) or "", "tool_calls": calls})


def redact_run(run: RunRecord) -> RunRecord:
    """The run without its texts (messages, output, tool arguments, check reasons, judge reasoning, trace)."""
    return run.model_copy(update={
        "output": _mask(run.output) or "",
        "messages": tuple(_message(m) for m in run.messages),
        "tool_calls": tuple(_call(t) for t in run.tool_calls),
        "checks": tuple(c.model_copy(update={"reason": REDACTED}) for c in run.checks),
        "rubrics": tuple(r.model_copy(update={"reasoning": _mask(r.reasoning) or "", "trace": ()}) for r in run.rubrics),
        "trace": (),
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
