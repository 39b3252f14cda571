"""Send a run's spans to an OTLP collector through the official OpenTelemetry SDK (the `otel` extra).

Only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the SDK's
OTLP/HTTP exporter reads the endpoint, headers and timeout from the standard OTEL_* variables.
The spans keep the ids of the `--trace-export` file, so both can be matched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agent_eval.errors import ConfigError
from agent_eval.trace.otlp import ExportedSpan

__all__ = ["ENDPOINT_VARIABLES", "otel_endpoint", "send_spans"]

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_INSTALL = "pip install 'agent-eval-gate[otel]' (opentelemetry-sdk and opentelemetry-exporter-otlp)"


def otel_endpoint(environ: Mapping[str, str]) -> str | None:
    """The collector endpoint the environment names, if any."""
    return next((environ[v] for v in ENDPOINT_VARIABLES if environ.get(v)), None)


def send_spans(spans: Sequence[ExportedSpan], resource: Mapping[str, str]) -> int:
    """Export the spans over OTLP/HTTP; returns how many were sent. Raises ConfigError when the SDK is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.trace.export import SpanExportResult
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
    except ImportError:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is missing: {_INSTALL}") from None
    from agent_eval._version import __version__

    res = Resource.create(dict(resource))
    scope = InstrumentationScope("agent-eval", __version__)
    flags = TraceFlags(TraceFlags.SAMPLED)

    def context(trace_id: str, span_id: str) -> SpanContext:
        return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=flags)

    readable = [
        ReadableSpan(
            s.name, context=context(s.trace_id, s.span_id),
            parent=context(s.trace_id, s.parent_id) if s.parent_id else None, resource=res,
            attributes={k: _otel_value(v) for k, v in s.attributes.items() if v is not None},
            kind=SpanKind.CLIENT if s.kind in ("model", "judge") else SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, s.error) if s.error else Status(StatusCode.OK),
            start_time=s.start_ns, end_time=s.end_ns, instrumentation_scope=scope,
        )
        for s in spans
    ]
    exporter = OTLPSpanExporter()
    try:
        result = exporter.export(readable)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise ConfigError("the OTLP collector did not accept the spans (see OTEL_EXPORTER_OTLP_ENDPOINT)")
    return len(readable)


def _otel_value(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
        return list(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
