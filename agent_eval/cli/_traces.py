"""`run --trace-export FILE`: write the runs' traces as OTLP/JSON, and send them to a collector when one is set."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from agent_eval.cli._common import say
from agent_eval.records import Results
from agent_eval.suite.loader import LoadedConfig, LoadedSuite

__all__ = ["export_traces", "secret_values"]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secret_values(pairs: Sequence[tuple[LoadedSuite, LoadedConfig]], environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values that must never reach a trace: the API keys in use and every `${VAR}` a config refers to."""
    from agent_eval.providers.registry import key_env

    names: set[str] = set()
    for suite, config in pairs:
        specs = [config.spec.model, *(c.judge for c in suite.cases if c.judge),
                 *(r.judge for c in suite.cases for r in c.rubrics if r.judge)]
        names.update(v for v in (key_env(s) for s in specs if s is not None) if v)
        try:
            names.update(_ENV_REFERENCE.findall(config.path.read_text(encoding="utf-8")))
        except OSError:
            pass
    return tuple(sorted({environ[n] for n in names if environ.get(n)}, key=len, reverse=True))


def export_traces(err: Console, path: Path | None, results: Sequence[Results], *, redact: bool,
                  secrets: Sequence[str]) -> None:
    """Write FILE; with OTEL_EXPORTER_OTLP_ENDPOINT set, send the same spans through the OpenTelemetry SDK."""
    if path is None:
        return
    from agent_eval.trace.otlp import exported_spans, otlp_document, write_otlp

    documents = [otlp_document(r, redact=redact, secrets=secrets) for r in results]
    merged = {"resourceSpans": [rs for d in documents for rs in d["resourceSpans"]]}
    write_otlp(path, merged)
    spans = sum(len(s["spans"]) for rs in merged["resourceSpans"] for s in rs["scopeSpans"])
    err.print(f"traces:  {path} ({spans} spans, OTLP/JSON)")
    from agent_eval.trace.otel_send import otel_endpoint, send_spans

    endpoint = otel_endpoint(os.environ)
    if endpoint is None:
        return
    sent = 0
    for r in results:
        resource = {"service.name": "agent-eval", "agent_eval.suite": r.suite.name}
        try:
            sent += send_spans(exported_spans(r, redact=redact, secrets=secrets), resource)
        except Exception as exc:  # a collector that is down must not lose the run's verdict
            say(err, "warning", f"traces not sent to {endpoint}: {exc}")
            return
    err.print(f"traces sent to {endpoint} ({sent} spans)")
