"""`--trace-export FILE`: write the runs' traces as OTLP/JSON, and send them to a collector when one is set."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from agent_eval.flow._console import say
from agent_eval.records import Results
from agent_eval.runner.secrets import secret_values

__all__ = ["export_traces", "secret_values"]


def export_traces(err: Console, path: Path, results: Sequence[Results], *, redact: bool,
                  secrets: Sequence[str]) -> int:
    """Write FILE; with OTEL_EXPORTER_OTLP_ENDPOINT set, send the same spans through the OpenTelemetry SDK.

    Returns the number of spans written.
    """
    from agent_eval.trace.otlp import exported_spans, otlp_document, write_otlp

    documents = [otlp_document(r, redact=redact, secrets=secrets) for r in results]
    merged = {"resourceSpans": [rs for d in documents for rs in d["resourceSpans"]]}
    write_otlp(path, merged)
    spans = sum(len(s["spans"]) for rs in merged["resourceSpans"] for s in rs["scopeSpans"])
    err.print(f"traces:  {path} ({spans} spans, OTLP/JSON)", markup=False, highlight=False)
    from agent_eval.trace.otel_send import otel_endpoint, send_spans

    endpoint = otel_endpoint(os.environ)
    if endpoint is None:
        return spans
    sent = 0
    for r in results:
        resource = {"service.name": "agent-eval", "agent_eval.suite": r.suite.name}
        try:
            sent += send_spans(exported_spans(r, redact=redact, secrets=secrets), resource)
        except Exception as exc:  # a collector that is down must not lose the run's verdict
            say(err, "warning", f"traces not sent to {endpoint}: {exc}")
            return spans
    err.print(f"traces sent to {endpoint} ({sent} spans)", markup=False, highlight=False)
    return spans
