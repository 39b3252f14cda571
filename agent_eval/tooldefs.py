"""Tool definitions, written once in the config and sent in each provider's format.

A tool is written as `{name, description, parameters}` (a JSON Schema); the
OpenAI form `{type: function, function: {...}}` and the Anthropic form
`{name, description, input_schema}` are accepted as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["to_anthropic_tool", "to_openai_tool", "tool_parts"]

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def tool_parts(tool: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The name, description and parameter schema of a tool in any accepted form."""
    spec = tool["function"] if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping) else tool
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool definition needs a 'name', got keys {sorted(tool)}")
    schema = spec.get("parameters", spec.get("input_schema", _EMPTY_SCHEMA))
    return name, str(spec.get("description") or ""), dict(schema)


def to_openai_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-completions `tools` entry."""
    name, description, schema = tool_parts(tool)
    function: dict[str, Any] = {"name": name, "parameters": schema}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


def to_anthropic_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The messages API `tools` entry."""
    name, description, schema = tool_parts(tool)
    out: dict[str, Any] = {"name": name, "input_schema": schema}
    if description:
        out["description"] = description
    return out
