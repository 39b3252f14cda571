"""`agent-eval schema`: the JSON Schema of each file format, for editors."""

from __future__ import annotations

import json

import typer

__all__ = ["register"]

_FORMATS = ("suite", "config", "results", "baseline", "matrix", "agent-input", "agent-result", "labels",
            "calibration", "head-to-head")


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema(kind: str = typer.Argument(..., help="suite, config, results, baseline, matrix, agent-input, agent-result, "
                                  "labels (one line of golden/labels/<suite>.jsonl), calibration or "
                                  "head-to-head (head_to_head.json, shadow.json).")) -> int:
    """Print the JSON Schema of a file format (generated from agent-eval's own models)."""
    from agent_eval.errors import UsageError

    if kind == "suite":
        from agent_eval.suite.schema import SuiteFile as model
    elif kind == "config":
        from agent_eval.suite.schema import ConfigFile as model  # type: ignore[assignment]
    elif kind == "results":
        from agent_eval.records import Results as model  # type: ignore[assignment]
    elif kind == "baseline":
        from agent_eval.baseline.schema import Baseline as model  # type: ignore[assignment]
    elif kind == "matrix":
        from agent_eval.report.matrix import Matrix as model  # type: ignore[assignment]
    elif kind == "agent-input":  # what HTTP and command agents receive
        from agent_eval.targets.agent_io import AgentInput as model  # type: ignore[assignment]
    elif kind == "agent-result":  # what they answer
        from agent_eval.targets.agent_io import AgentResult as model  # type: ignore[assignment]
    elif kind == "labels":
        from agent_eval.calibration.labels import Label as model  # type: ignore[assignment]
    elif kind == "calibration":
        from agent_eval.calibration.calibration_file import Calibration as model  # type: ignore[assignment]
    elif kind == "head-to-head":  # head_to_head.json and shadow.json
        from agent_eval.report.head_to_head import HeadToHead as model  # type: ignore[assignment]
    else:
        raise UsageError(f"unknown format {kind!r}; expected one of: {', '.join(_FORMATS)}")
    document = model.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    typer.echo(json.dumps(document, indent=2))
    return 0
