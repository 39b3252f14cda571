"""The rate limits a server advertises in its response headers, read into one `RateInfo`.

OpenAI (and most OpenAI-compatible gateways) send `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
with resets as durations ("6m0s", "20ms"); Anthropic sends `anthropic-ratelimit-{requests,tokens}-*`
with resets as RFC 3339 times. Unknown or malformed values are left out, never guessed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RateInfo", "header_number", "parse_duration", "parse_rate_headers"]

_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True, slots=True)
class RateInfo:
    """Limits (per minute), what remains and seconds until each resets, counted from the request's
    send; None where not sent."""

    limit_requests: float | None = None
    remaining_requests: float | None = None
    reset_requests_s: float | None = None
    limit_tokens: float | None = None
    remaining_tokens: float | None = None
    reset_tokens_s: float | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__slots__)


def parse_rate_headers(headers: Mapping[str, str] | None, *, now: float | None = None) -> RateInfo | None:
    """The advertised limits, or None when the server sends none."""
    if not headers:
        return None
    names = {key.lower() for key in headers}
    if not any(name.startswith(_PREFIXES) for name in names):
        return None  # the common case, decided with one pass over the names
    get = headers.get  # httpx headers are case-insensitive; plain dicts from tests are lower-case
    current = time.time() if now is None else now
    if get("x-ratelimit-limit-requests") is not None or get("x-ratelimit-limit-tokens") is not None:
        info = RateInfo(
            _count(get("x-ratelimit-limit-requests")), _count(get("x-ratelimit-remaining-requests")),
            parse_duration(get("x-ratelimit-reset-requests")),
            _count(get("x-ratelimit-limit-tokens")), _count(get("x-ratelimit-remaining-tokens")),
            parse_duration(get("x-ratelimit-reset-tokens")),
        )
    elif any(get(f"anthropic-ratelimit-{kind}-limit") is not None for kind in ("requests", "tokens", "input-tokens")):
        tokens = "tokens" if get("anthropic-ratelimit-tokens-limit") is not None else "input-tokens"
        info = RateInfo(
            _count(get("anthropic-ratelimit-requests-limit")), _count(get("anthropic-ratelimit-requests-remaining")),
            _until(get("anthropic-ratelimit-requests-reset"), current),
            _count(get(f"anthropic-ratelimit-{tokens}-limit")), _count(get(f"anthropic-ratelimit-{tokens}-remaining")),
            _until(get(f"anthropic-ratelimit-{tokens}-reset"), current),
        )
    else:
        return None
    return None if info.empty else info


def parse_duration(raw: str | None) -> float | None:
    """Seconds from "1s", "6m0s", "20ms", "1h2m3.5s" or a bare number of seconds."""
    if raw is None:
        return None
    text = raw.strip().lower()
    number = _count(text)
    if number is not None:
        return number
    parts = _DURATION.findall(text)
    if not parts or "".join(value + unit for value, unit in parts) != text:
        return None
    return sum(float(value) * _UNIT_S[unit] for value, unit in parts)


def header_number(raw: str | None) -> float | None:
    """A header's finite number, or None when absent or not a number."""
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _count(raw: str | None) -> float | None:
    value = header_number(raw)
    return value if value is not None and value >= 0 else None


def _until(raw: str | None, now: float) -> float | None:
    """Seconds from `now` until an RFC 3339 time (never negative)."""
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.strip())  # 3.11 reads a trailing Z
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
