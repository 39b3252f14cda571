"""The one status-code policy every provider shares.

`classify_status` maps an HTTP status (and its retry headers) to a `RetryDecision`.
It never reads the error's message text: wording changes, status codes do not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from agent_eval.providers.base import RetryDecision, RetryKind
from agent_eval.providers.ratelimits import header_number, parse_rate_headers
from agent_eval.providers.replies import InvalidReply

__all__ = [
    "ErrorContext",
    "classify_other",
    "classify_status",
    "parse_retry_after",
    "redact",
]

_DETAIL_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What a decision's message may name: the key's variable, the model, the endpoint."""

    key_env: str
    model: str
    endpoint: str
    secret: str | None = field(default=None, repr=False)  # only to scrub it from server text


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `retry-after` (seconds or an HTTP date).

    LiteLLM passes the upstream provider's headers on as `llm_provider-retry-after(-ms)`.
    """
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    for prefix in ("", "llm_provider-"):
        millis = header_number(lowered.get(f"{prefix}retry-after-ms"))
        if millis is not None:
            return max(0.0, millis / 1000.0)
    raw = lowered.get("retry-after", lowered.get("llm_provider-retry-after"))
    if raw is None:
        return None
    seconds = header_number(raw)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)




def classify_status(
    status: int,
    headers: Mapping[str, str] | None,
    context: ErrorContext,
    *,
    detail: str = "",
    now: float | None = None,
) -> RetryDecision:
    """Decide what the runner does with an HTTP error status."""
    retry_after = parse_retry_after(headers, now=now)
    if status == 429:
        rate = parse_rate_headers(headers, now=now)
        return RetryDecision(RetryKind.RATE_LIMIT, "rate limited (HTTP 429)", status, retry_after, rate)
    if status in (408, 409) or status >= 500:
        label = "overloaded" if status == 529 else "server error"
        return RetryDecision(RetryKind.TRANSIENT, f"{label} (HTTP {status})", status, retry_after)
    if status == 401:
        return RetryDecision(RetryKind.FATAL, f"authentication failed: check {context.key_env}", status)
    if status == 403:
        message = f"permission denied (HTTP 403): check {context.key_env} and its access to model '{context.model}'"
        return RetryDecision(RetryKind.FATAL, message, status)
    if status == 404:
        return RetryDecision(RetryKind.FATAL, f"model '{context.model}' not found at {context.endpoint}", status)
    text = redact(detail, context.secret)
    return RetryDecision(RetryKind.NONE, f"request rejected (HTTP {status})" + (f": {text}" if text else ""), status)


def classify_other(exc: BaseException, context: ErrorContext) -> RetryDecision:
    """Errors that are not the SDK's: a timeout is TRANSIENT, anything else fails this run only."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError since 3.11
        return RetryDecision(RetryKind.TRANSIENT, "timed out")
    if isinstance(exc, InvalidReply):
        return RetryDecision(RetryKind.NONE, redact(str(exc), context.secret), 200)
    text = redact(str(exc), context.secret)
    return RetryDecision(RetryKind.NONE, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def redact(text: str, secret: str | None) -> str:
    """Server-provided text, one line, truncated, with the key (if any) removed."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"
