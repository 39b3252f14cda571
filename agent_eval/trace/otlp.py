"""Run traces as OTLP/JSON (`resourceSpans`) with OpenTelemetry GenAI semantic-convention attributes.

    write_otlp(path, otlp_document(results, redact=False, secrets=("sk-...",)))
    calls = read_otlp_messages(path)  # the model calls back, with their input and output messages

Each run is one trace: an `invoke_agent` root span (the run's input messages and final answer) holding
the run's spans; each run's judge calls form a trace of their own. Ids are derived from the run, so exporting twice gives the same file.
Messages follow the GenAI conventions (`role` and typed `parts`) as JSON text in
`gen_ai.input.messages` / `gen_ai.output.messages`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_eval._files import write_atomic
from agent_eval.masking import SAFE_SPAN_KEYS, redact_error_text, redact_span_name
from agent_eval.records import Results, RunRecord, Span
from agent_eval.trace.trajectory import iter_spans

__all__ = [
    "REDACTED",
    "ExportedCall",
    "ExportedSpan",
    "exported_spans",
    "otlp_document",
    "read_otlp_messages",
    "write_otlp",
]

REDACTED = "[redacted]"
SECRET_MASK = "***"
_MESSAGE_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages")
_CONTENT_KEYS = ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "agent_eval.context")
_SPAN_KIND = {"agent": 1, "model": 3, "judge": 3, "tool": 1, "user": 1}  # INTERNAL = 1, CLIENT = 3
_STATUS_ERROR = 2


@dataclass(frozen=True, slots=True)
class ExportedSpan:
    """One span with absolute times and ids, as the exporter and the OTel SDK sender see it."""

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str  # "" for a root
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class ExportedCall:
    """One model call read back from an OTLP/JSON file: what went in and what came out."""

    trace_id: str
    span_id: str
    case_id: str | None
    model: str | None
    operation: str  # "invoke_agent": a whole run (its input and final answer); "chat": one model call
    input_messages: tuple[dict[str, Any], ...]
    output_messages: tuple[dict[str, Any], ...]


def exported_spans(results: Results, *, redact: bool = False, secrets: Sequence[str] = ()) -> list[ExportedSpan]:
    """Every run's spans (and its judge's, as separate traces), with ids and unix-nano times."""
    masks = tuple(s for s in secrets if s and len(s) >= 4)
    out: list[ExportedSpan] = []
    for case in results.cases:
        for run in case.runs:
            out.extend(_run_spans(results, run, redact, masks))
    return out


def otlp_document(results: Results, *, redact: bool = False, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """The OTLP/JSON `ExportTraceServiceRequest` of a results file."""
    from agent_eval._version import __version__

    spans = [_otlp_span(s) for s in exported_spans(results, redact=redact, secrets=secrets)]
    resource = {"attributes": _attributes({
        "service.name": "agent-eval", "agent_eval.suite": results.suite.name,
        "agent_eval.config": f"{results.config.name} {results.config.version}",
    })}
    scope = {"name": "agent-eval", "version": __version__}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}]}


def write_otlp(path: Path, document: dict[str, Any]) -> None:
    """Write the document as one JSON file, atomically (invalid Unicode from outside becomes U+FFFD)."""
    try:
        text = json.dumps(document, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        from agent_eval.untrusted import clean_value

        text = json.dumps(clean_value(document)[0], ensure_ascii=False)
    write_atomic(Path(path), text + "\n")


def read_otlp_messages(path: Path) -> list[ExportedCall]:
    """The spans with messages of an OTLP/JSON trace file (ours or any GenAI-instrumented app's), in file order.

    Ours hold each run as one `invoke_agent` span (the messages the target was given and its final answer)
    followed by its model calls (`chat`). Spans without `gen_ai.input.messages` are skipped; message `parts`
    are turned back into `{role, content, tool_calls?, tool_call_id?}` chat messages.
    """
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    calls: list[ExportedCall] = []
    cases: dict[str, str] = {}
    spans = list(_iter_otlp_spans(document))
    for span in spans:
        attrs = _decode_attributes(span.get("attributes", []))
        if "agent_eval.case_id" in attrs:
            cases[span.get("traceId", "")] = str(attrs["agent_eval.case_id"])
    for span in spans:
        attrs = _decode_attributes(span.get("attributes", []))
        if "gen_ai.input.messages" not in attrs:
            continue
        trace_id = span.get("traceId", "")
        calls.append(ExportedCall(
            trace_id=trace_id, span_id=span.get("spanId", ""), case_id=cases.get(trace_id),
            model=attrs.get("gen_ai.request.model"), operation=str(attrs.get("gen_ai.operation.name", "chat")),
            input_messages=tuple(_chat_message(m) for m in _json_list(attrs.get("gen_ai.input.messages"))),
            output_messages=tuple(_chat_message(m) for m in _json_list(attrs.get("gen_ai.output.messages"))),
        ))
    return calls


# --- building spans -------------------------------------------------------------------------------------

def _run_spans(results: Results, run: RunRecord, redact: bool, masks: tuple[str, ...]) -> list[ExportedSpan]:
    """The run's trace under its root span, then each rubric's judge calls as traces of their own.

    The run finished (`finished_at`) after its judging: its spans end where the judge's begin.
    """
    seed = f"{results.suite.name}|{results.started_at}|{run.case_id}|{run.index}"
    trace_id = _hex(seed, 32)
    judged_ms = [max(_end_ms(s) for s in r.trace) for r in run.rubrics if r.trace]
    run_end_ns = _unix_ns(run.finished_at or results.finished_at) - int(sum(judged_ms) * 1e6)
    start_ns = run_end_ns - int(max([run.latency_ms or 0.0, *(_end_ms(s) for s in run.trace)]) * 1e6)
    root_attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": results.config.name,
        "agent_eval.case_id": run.case_id, "agent_eval.run_index": run.index, "agent_eval.status": str(run.status),
        "agent_eval.score": run.score, "agent_eval.failure_kind": run.failure_kind, "agent_eval.steps": run.steps,
        "error.type": run.error.kind if run.error else None,
    }
    root_attrs.update(_export_attributes(_conversation(run), redact))
    root = ExportedSpan(trace_id, _hex(seed + "/root", 16), "", f"invoke_agent {run.case_id}#{run.index + 1}",
                        "agent", start_ns, run_end_ns, {k: v for k, v in root_attrs.items() if v is not None},
                        _error_text(run.error.message if run.error else None, redact))
    out = [root, *_children(run.trace, trace_id, root.span_id, start_ns, seed, redact, masks)]
    cursor = run_end_ns
    for rubric in (r for r in run.rubrics if r.trace):
        jseed = f"{seed}|judge|{rubric.name}"
        jtrace = _hex(jseed, 32)
        jend = cursor + int(max(_end_ms(s) for s in rubric.trace) * 1e6)
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "judge",
                 "agent_eval.case_id": run.case_id, "agent_eval.run_index": run.index,
                 "agent_eval.rubric": rubric.name, "agent_eval.judge_for": trace_id}
        jroot = ExportedSpan(jtrace, _hex(jseed + "/root", 16), "", f"judge {rubric.name}", "judge", cursor, jend,
                             attrs, _error_text(rubric.error, redact))
        out += [jroot, *_children(rubric.trace, jtrace, jroot.span_id, cursor, jseed, redact, masks)]
        cursor = jend
    return [_masked(s, masks) for s in out]


def _error_text(text: str | None, redact: bool) -> str | None:
    return redact_error_text(text) if redact else text


def _conversation(run: RunRecord) -> dict[str, Any]:
    """The run as one conversation on its root span: what the target was given, and its final answer."""
    first = next((sp for sp in iter_spans(run.trace) if sp.kind == "model"), None)
    given = first.attributes.get("gen_ai.input.messages") if first is not None else None
    if given is None:
        given = [m.model_dump(exclude_defaults=True) for m in run.messages]
    out: dict[str, Any] = {"gen_ai.input.messages": given}
    if run.output:
        out["gen_ai.output.messages"] = [{"role": "assistant", "content": run.output}]
    return out


def _children(spans: Sequence[Span], trace_id: str, parent: str, base_ns: int, seed: str, redact: bool,
              masks: tuple[str, ...]) -> Iterator[ExportedSpan]:
    for i, span in enumerate(spans):
        path = f"{seed}/{parent}/{i}"
        span_id = _hex(path, 16)
        start = base_ns + int(span.start_ms * 1e6)
        end = base_ns + int(_end_ms(span) * 1e6)
        attrs = _export_attributes(span.attributes, redact)
        name = redact_span_name(span.name, span.kind) if redact else span.name
        error = redact_error_text(span.error) if redact else span.error
        yield ExportedSpan(trace_id, span_id, parent, name, span.kind, start, end, attrs, error)
        yield from _children(span.children, trace_id, span_id, base_ns, path, redact, masks)


def _end_ms(span: Span) -> float:
    own = span.start_ms + (span.duration_ms or 0.0)
    return max([own, *(_end_ms(c) for c in span.children)])


def _export_attributes(attributes: dict[str, Any], redact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reasons = attributes.get("gen_ai.response.finish_reasons") or [None]
    for key, value in attributes.items():
        if key in _MESSAGE_KEYS:
            messages = [_semconv_message(m, redact) for m in value or []]
            if key == "gen_ai.output.messages" and reasons[0]:
                messages = [{**m, "finish_reason": reasons[0]} for m in messages]
            out[key] = json.dumps(messages, ensure_ascii=False)
        elif redact and (key in _CONTENT_KEYS or (key not in SAFE_SPAN_KEYS and not _plain_number(value))):
            out[key] = REDACTED
        elif key in _DOUBLE_KEYS and isinstance(value, int) and not isinstance(value, bool):
            out[key] = float(value)  # the conventions type these as doubles: `temperature: 0` included
        else:
            out[key] = value
    return out


def _plain_number(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float)


def _semconv_message(message: dict[str, Any], redact: bool) -> dict[str, Any]:
    """Our chat message as a GenAI semantic-convention message: a role and typed parts."""
    parts: list[dict[str, Any]] = []
    role = message.get("role", "user")
    content = message.get("content") or ""
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id") or "",
                      "response": REDACTED if redact else content})
    elif content:
        parts.append({"type": "text", "content": REDACTED if redact else content})
    for call in message.get("tool_calls") or ():
        parts.append({"type": "tool_call", "id": call.get("id", ""), "name": call.get("name", ""),
                      "arguments": REDACTED if redact else _maybe_json(call.get("arguments", ""))})
    return {"role": role, "parts": parts}


def _chat_message(message: dict[str, Any]) -> dict[str, Any]:
    """A GenAI semantic-convention message back as a chat message."""
    out: dict[str, Any] = {"role": message.get("role", "user"), "content": ""}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.get("parts") or ():
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            args = part.get("arguments", "")
            calls.append({"id": part.get("id", ""), "name": part.get("name", ""),
                          "arguments": args if isinstance(args, str) else json.dumps(args)})
        elif kind == "tool_call_response":
            out["tool_call_id"] = part.get("id", "")
            response = part.get("response", "")
            texts.append(response if isinstance(response, str) else json.dumps(response))
    out["content"] = "".join(texts)
    if calls:
        out["tool_calls"] = calls
    return out


def _masked(span: ExportedSpan, masks: tuple[str, ...]) -> ExportedSpan:
    if not masks:
        return span
    attrs = {k: _mask_value(v, masks) for k, v in span.attributes.items()}
    error = _mask_value(span.error, masks) if span.error else span.error
    return ExportedSpan(span.trace_id, span.span_id, span.parent_id, _mask_value(span.name, masks), span.kind,
                        span.start_ns, span.end_ns, attrs, error)


def _mask_value(value: Any, masks: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in masks:
            value = value.replace(secret, SECRET_MASK)
        return value
    if isinstance(value, list | tuple):
        return [_mask_value(v, masks) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, masks) for k, v in value.items()}
    return value


# --- OTLP/JSON encoding ----------------------------------------------------------------------------------

def _otlp_span(span: ExportedSpan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id, "spanId": span.span_id, "name": span.name, "kind": _SPAN_KIND.get(span.kind, 1),
        "startTimeUnixNano": str(span.start_ns), "endTimeUnixNano": str(span.end_ns),
        "attributes": _attributes({**span.attributes, "agent_eval.span_kind": span.kind,
                                   **({"error.type": span.attributes.get("error.type") or _error_type(span.error)}
                                      if span.error else {})}),
        "status": {"code": _STATUS_ERROR, "message": span.error} if span.error else {"code": 1},
    }
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    return out


_DOUBLE_KEYS = frozenset({"gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.frequency_penalty",
                          "gen_ai.request.presence_penalty"})
_ERROR_CLASS = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Exit|Interrupt|Timeout))\b")
_HTTP_STATUS = re.compile(r"\bHTTP ([1-5]\d\d)\b")


def _error_type(error: str) -> str:
    """A low-cardinality `error.type`: the exception class or HTTP status the message names, else `_OTHER`."""
    if found := _ERROR_CLASS.search(error):
        return found.group(1)
    if found := _HTTP_STATUS.search(error):
        return found.group(1)
    return "timeout" if "timed out" in error or "no answer within" in error else "_OTHER"


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in values.items() if v is not None]


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)}


def _decode_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_decode_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _decode_attributes(value["kvlistValue"].get("values", []))
    return None


def _decode_attributes(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: _decode_value(a.get("value", {})) for a in attributes if "key" in a}


def _iter_otlp_spans(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            yield from scope.get("spans", [])


def _json_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _maybe_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _hex(seed: str, digits: int) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:digits]


def _unix_ns(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1e9)
    except ValueError:
        return 0
