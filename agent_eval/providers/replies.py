"""Checks on an HTTP 200 before it becomes a completion: a reply that is not an answer is an error.

A gateway that answers 200 with `{"error": ...}`, an empty `choices`, an HTML page or an SSE stream
nobody asked for must not be scored as an empty answer. Usage a server did not report is estimated
from text and marked as estimated, never taken as zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent_eval.records import Usage

__all__ = [
    "InvalidReply",
    "as_object",
    "body_error",
    "estimated_usage",
    "is_json",
    "json_reply",
    "not_an_api",
    "text_arguments",
]

_PREVIEW = 80


class InvalidReply(Exception):
    """An HTTP 200 that holds no answer; its message says what came back instead."""


def is_json(headers: Mapping[str, str]) -> bool:
    """Whether the reply says it is JSON (not an HTML page, an unasked SSE stream or plain text)."""
    return (headers.get("content-type") or "").split(";")[0].strip().lower().endswith("json")


def not_an_api(api: str, headers: Mapping[str, str], body: bytes) -> InvalidReply:
    """The error for a 200 that is not JSON: its content type and first bytes."""
    content_type = headers.get("content-type") or "none"
    preview = _preview(body)
    return InvalidReply(f"the base URL does not look like an {api} API: HTTP 200 with content-type "
                        f"{content_type!r}, body starts {preview!r}")


def json_reply(content: bytes) -> dict[str, Any]:
    """A reply body parsed once: a JSON object, or InvalidReply saying what it is instead."""
    try:
        body = json.loads(content)
    except ValueError as exc:  # declared JSON, but is not
        raise InvalidReply(f"the reply is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidReply(f"the reply is JSON but not an object: {_preview(content)!r}")
    return body


def body_error(body: Mapping[str, Any]) -> str | None:
    """The message of an error object inside a 200 body, e.g. {"error": {"message": ...}}."""
    error = body.get("error")
    if error is None and body.get("type") == "error":
        error = "error"
    if error is None:
        return None
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("type") or error)
    return str(error)


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object of a reply, or an empty one where the server sent something else."""
    return value if isinstance(value, dict) else {}


def text_arguments(value: Any) -> str:
    """Tool-call arguments as text: a server that sends them as a JSON object gets them serialized."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


def _preview(body: bytes) -> str:
    return " ".join(body[:_PREVIEW].decode("utf-8", "replace").split())


def estimated_usage(prompt_chars: int, output_chars: int) -> Usage:
    """About four characters a token, marked as estimated."""
    return Usage(input_tokens=max(1, prompt_chars // 4), output_tokens=max(0, -(-output_chars // 4)), estimated=True)
