"""Checks on an HTTP 200 before it becomes a completion: a reply that is not an answer is an error.

A gateway that answers 200 with `{"error": ...}`, an empty `choices`, an HTML page or an SSE stream
nobody asked for must not be scored as an empty answer. Usage a server did not report is estimated
from text and marked as estimated, never taken as zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_eval.records import Usage

__all__ = ["InvalidReply", "body_error", "estimated_usage", "is_json", "not_an_api"]

_PREVIEW = 80


class InvalidReply(Exception):
    """An HTTP 200 that holds no answer; its message says what came back instead."""


def is_json(headers: Mapping[str, str]) -> bool:
    """Whether the reply says it is JSON (not an HTML page, an unasked SSE stream or plain text)."""
    return (headers.get("content-type") or "").split(";")[0].strip().lower().endswith("json")


def not_an_api(api: str, headers: Mapping[str, str], body: bytes) -> InvalidReply:
    """The error for a 200 that is not JSON: its content type and first bytes."""
    content_type = headers.get("content-type") or "none"
    preview = " ".join(body[:_PREVIEW].decode("utf-8", "replace").split())
    return InvalidReply(f"the base URL does not look like an {api} API: HTTP 200 with content-type "
                        f"{content_type!r}, body starts {preview!r}")


def body_error(body: Any) -> str | None:
    """The message of an error object inside a 200 body, e.g. {"error": {"message": ...}}."""
    extra = getattr(body, "model_extra", None) or {}
    error = extra.get("error") if isinstance(extra, Mapping) else None
    if error is None and getattr(body, "type", None) == "error":
        error = getattr(body, "error", None) or extra.get("error") or "error"
    if error is None:
        return None
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("type") or error
        return str(message)
    return str(getattr(error, "message", None) or error)


def estimated_usage(prompt_chars: int, output_chars: int) -> Usage:
    """About four characters a token, marked as estimated."""
    return Usage(input_tokens=max(1, prompt_chars // 4), output_tokens=max(0, -(-output_chars // 4)), estimated=True)
