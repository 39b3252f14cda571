"""Whether a run escalated to a human, by the config's `escalation:` (a tool call or a JSONPath)."""

from __future__ import annotations

import functools
import json
from typing import Any

from agent_eval.suite.schema import EscalationSpec
from agent_eval.targets.base import TargetResult

__all__ = ["detect_escalation"]


@functools.lru_cache(maxsize=64)
def _path(expression: str) -> Any:
    from jsonpath_ng.ext import parse

    return parse(expression)


def _document(result: TargetResult) -> Any:
    """The target's raw result, or its answer when that is JSON (a model asked to answer in JSON)."""
    if result.raw is not None:
        return result.raw
    try:
        return json.loads(result.output) if result.output.lstrip().startswith(("{", "[")) else None
    except (ValueError, RecursionError):
        return None


def detect_escalation(spec: EscalationSpec | None, result: TargetResult) -> bool | None:
    """True when the run called the escalation tool or has a truthy value at the JSONPath; None when undeclared."""
    if spec is None:
        return None
    if spec.tool is not None:
        return any(call.name == spec.tool for call in result.tool_calls)
    document = _document(result)
    if document is None or spec.json_path is None:
        return False
    return any(bool(match.value) for match in _path(spec.json_path).find(document))
