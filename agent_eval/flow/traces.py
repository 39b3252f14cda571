"""`--trace-export FILE`: write the runs' traces as OTLP/JSON, and send them to a collector when one is set."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from agent_eval.flow._console import say
from agent_eval.records import Results
from agent_eval.runner.secrets import secret_values

__all__ = ["check_trace_path", "export_traces", "secret_values"]

# What a run writes in a results folder: the trace file must not replace one of them
_RESULT_FILES = frozenset({"runs.jsonl", "results.json", "manifest.json", "report.html", "junit.xml", "summary.md",
                           "matrix.json", "matrix.html", ".agent-eval.lock"})


def check_trace_path(path: Path, folders: Sequence[Path]) -> None:
    """Refuse, before anything runs, a `--trace-export` path that is a folder or a file the run writes itself."""
    from agent_eval.errors import UsageError

    if path.is_dir():
        raise UsageError(f"--trace-export {path} is a folder; give a file name, e.g. {path / 'traces.json'}")
    target = path.resolve()
    for folder in folders:
        where = folder.resolve()
        if target == where:
            raise UsageError(f"--trace-export {path} is the results folder {folder}; give a file name")
        if target.parent == where and target.name in _RESULT_FILES:
            raise UsageError(f"--trace-export {path} would replace the run's own {target.name} in {folder}; "
                             "choose another file name")


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
