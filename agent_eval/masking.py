"""Secrets out of every file: known secret values replaced by `SECRET_MASK` in text and in records; and what
of an error message or a span name `--redact` keeps.

The values come from `runner.secrets.secret_values` (every model's key, every `${VAR}` the suite and config
use); an endpoint that echoes one back must not put it in runs.jsonl, results.json, reports or traces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["REDACTED", "SAFE_SPAN_KEYS", "SECRET_MASK", "environment_secrets", "mask_json", "mask_model", "mask_text",
           "redact_error_text", "redact_span_name", "usable_secrets"]

SECRET_MASK = "***"
_MIN_LENGTH = 4  # shorter values ("1", "dev") would mask ordinary words
M = TypeVar("M")


def usable_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    """The values worth masking, longest first (a key that contains another is masked whole)."""
    return tuple(sorted({s for s in secrets if s and len(s) >= _MIN_LENGTH}, key=len, reverse=True))


_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


def environment_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of the environment variables whose names say they are secret (`*_API_KEY`, `*TOKEN*`, ...): what a
    message printed before the run's own secrets are known (a crash, a bad-input error) must not show."""
    return usable_secrets([value for name, value in environ.items() if _SECRET_NAME.search(name) and len(value) >= 8])


def mask_text(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    return text


def mask_model(model: M, secrets: Sequence[str]) -> M:
    """A pydantic model with every secret replaced in every string it holds (unchanged when none occurs)."""
    if not secrets:
        return model
    dumped: Any = model.model_dump_json()  # type: ignore[attr-defined]
    masked = mask_json(dumped, secrets)
    if masked is dumped:
        return model
    return type(model).model_validate_json(masked)  # type: ignore[attr-defined, no-any-return]


def mask_json(dumped: str, secrets: Sequence[str]) -> str:
    """JSON text with every secret replaced in its strings; the same object when none occurs."""
    escaped = [json.dumps(s, ensure_ascii=False)[1:-1] for s in secrets]
    if not any(e in dumped for e in escaped):
        return dumped
    for value in escaped:
        dumped = dumped.replace(value, SECRET_MASK)
    return dumped


# --- --redact: what of a text may stay -----------------------------------------------------------------------

REDACTED = "[redacted]"
# span attributes that name the setup (models, tools, operations), never the run's text: kept under --redact
SAFE_SPAN_KEYS = frozenset({"gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model",
                            "gen_ai.response.model", "gen_ai.tool.name", "gen_ai.tool.call.id",
                            "gen_ai.response.finish_reasons", "gen_ai.agent.name", "error.type", "agent_eval.cached"})
_ERROR_NAME = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Exit|Interrupt|Timeout))\b|\b(HTTP \d{3})\b")
_SPAN_HEAD = re.compile(r"^(\w+)(?: (\d+|GET|POST|PUT|PATCH|DELETE)\b)?")


def redact_error_text(text: str | None) -> str | None:
    """An error message without its text (which may quote the input, a URL built from it, or the output):
    its exception name or HTTP status when it has one, then `[redacted]`."""
    if not text:
        return text
    match = _ERROR_NAME.search(text)
    return f"{match.group(0)}: {REDACTED}" if match else REDACTED


def redact_span_name(name: str, kind: str) -> str:
    """A span's name without text from the run: model and tool spans are named by the config (`chat gpt-4o`,
    `execute_tool search`) and stay; an agent's span keeps its operation (and HTTP method or step number)."""
    if kind in ("model", "judge", "tool"):
        return name
    match = _SPAN_HEAD.match(name)
    head = match.group(0) if match else ""
    return head if head == name else f"{head} {REDACTED}".strip()
