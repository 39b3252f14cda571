"""Whether a run escalated to a human, by the config's `escalation:` (a tool call or a JSONPath).

The JSONPath runs on the event loop, so its filter regexes have the inline limit
(`agent_eval.userregex`): one that runs out of time leaves the run not escalated, with a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent_eval.jsonpath import RegexTimeout, parse
from agent_eval.suite.schema import EscalationSpec
from agent_eval.targets.base import TargetResult

__all__ = ["ESCALATION_WARNING", "Escalation", "detect_escalation"]

ESCALATION_WARNING = "escalation:"  # how the warnings of detect_escalation begin


@dataclass(frozen=True, slots=True)
class Escalation:
    """Whether the run escalated (None when undeclared), and why it could not tell, if it could not."""

    escalated: bool | None
    warning: str | None = None


def _document(result: TargetResult) -> Any:
    """The target's raw result, or its answer when that is JSON (a model asked to answer in JSON)."""
    if result.raw is not None:
        return result.raw
    try:
        return json.loads(result.output) if result.output.lstrip().startswith(("{", "[")) else None
    except (ValueError, RecursionError):
        return None


def detect_escalation(spec: EscalationSpec | None, result: TargetResult) -> Escalation:
    """Escalated when the run called the escalation tool or has a truthy value at the JSONPath."""
    if spec is None:
        return Escalation(None)
    if spec.tool is not None:
        return Escalation(any(call.name == spec.tool for call in result.tool_calls))
    document = _document(result)
    if document is None or spec.json_path is None:
        return Escalation(False)
    try:
        values = parse(spec.json_path).values(document)
    except RegexTimeout as exc:
        return Escalation(False, f"{ESCALATION_WARNING} {spec.json_path}: {exc}; not escalated")
    return Escalation(any(bool(value) for value in values))
