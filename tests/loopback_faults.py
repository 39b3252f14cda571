"""What the loopback server answers: scripted faults, a key check, a rolling rpm limit, random faults.

`Policy.decide` is called once per API request, under a lock, in this order:
the next scripted fault; a wrong key (when one is required); the rpm window;
a seeded random draw over `rates`; otherwise 200.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["BROKEN_200", "Fault", "Outcome", "Policy", "PolicySettings", "parse_fault", "rate_key"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What the server does instead of answering: an error status, `hang`, `drop`, or a broken 200 (`BROKEN_200`)."""

    kind: str = "status"  # "status" | "hang" | "drop" | one of BROKEN_200
    status: int = 500
    retry_after: str | None = None  # the Retry-After header exactly as sent (seconds or an HTTP date)
    retry_after_ms: float | None = None  # the retry-after-ms header
    message: str | None = None  # error message; the provider's usual text when None

    @classmethod
    def error(
        cls,
        status: int,
        *,
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        message: str | None = None,
    ) -> Fault:
        """An error answer; `retry_after` in seconds (or an HTTP date string)."""
        value = retry_after if retry_after is None or isinstance(retry_after, str) else _number(retry_after)
        return cls("status", status, value, retry_after_ms, message)

    @classmethod
    def hang(cls) -> Fault:
        """Never answer: the client must time out."""
        return cls("hang", 0)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection after reading the request, without a response."""
        return cls("drop", 0)


# HTTP 200s that hold no answer, as broken gateways send them: an error object, no choices/content,
# an HTML page, an SSE stream nobody asked for, a JSON content type over a body that is not JSON
BROKEN_200 = ("error200", "empty", "html", "sse", "badjson")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_fault(spec: str | int | Fault) -> Fault:
    """`Fault`, 500, "500", "429:1" (Retry-After: 1), "429:ms=250", "hang", "drop" or a `BROKEN_200` kind."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, int):
        return Fault.error(spec)
    text = spec.strip().lower()
    if text in ("hang", "drop"):
        return Fault(text, 0)
    if text in BROKEN_200:
        return Fault(text, 200)
    status, _, after = text.partition(":")
    if after.startswith("ms="):
        return Fault.error(int(status), retry_after_ms=float(after[3:]))
    return Fault.error(int(status), retry_after=after or None)


def rate_key(key: int | str) -> int | str:
    """A `rates` key: a status code, "hang", "drop" or a `BROKEN_200` kind."""
    return key if key in ("hang", "drop", *BROKEN_200) or isinstance(key, int) else int(key)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for one request."""

    status: int | None  # None for hang and drop
    fault: str | None  # "status", "hang", "drop", "rpm", "auth", or None
    headers: tuple[tuple[str, str], ...] = ()
    message: str | None = None
    serial: int = 0  # 1-based request number, used in ids


def _fault_outcome(fault: Fault, serial: int) -> Outcome:
    if fault.kind in ("hang", "drop"):
        return Outcome(None, fault.kind, serial=serial)
    if fault.kind in BROKEN_200:
        return Outcome(200, fault.kind, serial=serial)
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", _number(fault.retry_after_ms)))
    return Outcome(fault.status, "status", tuple(headers), fault.message, serial)


class PolicySettings(Protocol):
    """The settings `Policy` reads on every request (the server's live config)."""

    @property
    def rates(self) -> Mapping[int | str, float]: ...
    @property
    def rate_retry_after(self) -> float | None: ...
    @property
    def rpm(self) -> int | None: ...
    @property
    def rpm_window_s(self) -> float: ...
    @property
    def rpm_grace_s(self) -> float: ...
    @property
    def rpm_retry_after(self) -> bool: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def advertise_limits(self) -> bool: ...
    @property
    def advertised_tpm(self) -> int: ...
    @property
    def retry_header_prefix(self) -> str: ...


class Policy:
    """Thread-safe state behind the decisions: scripted faults, rpm window, counters, RNG."""

    def __init__(self, settings: PolicySettings, seed: int) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._faults: collections.deque[Fault] = collections.deque()
        self._window: collections.deque[float] = collections.deque()
        self._counts: collections.Counter[int | str] = collections.Counter()
        self._total = 0
        self._rng = random.Random(seed)

    def add(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._window.clear()
            self._counts.clear()
            self._total = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_status": dict(self._counts), "pending_faults": len(self._faults)}

    def uniform(self) -> float:
        with self._lock:
            return self._rng.random()

    def decide(self, headers: Mapping[str, str], anthropic: bool) -> Outcome:
        """Count the request and decide its answer."""
        with self._lock:
            self._total += 1
            serial = self._total
            now = time.monotonic()
            outcome = (
                self._scripted(serial)
                or self._auth(headers, anthropic, serial)
                or self._limited(now, serial)
                or self._random(serial)
                or Outcome(200, None, serial=serial)
            )
            if self.settings.advertise_limits and outcome.status is not None:
                outcome = dataclasses.replace(outcome, headers=outcome.headers + self._advertised(now, anthropic))
            self._counts[outcome.status if outcome.status is not None else str(outcome.fault)] += 1
            return outcome

    def _scripted(self, serial: int) -> Outcome | None:
        return _fault_outcome(self._faults.popleft(), serial) if self._faults else None

    def _auth(self, headers: Mapping[str, str], anthropic: bool, serial: int) -> Outcome | None:
        key = self.settings.api_key
        if key is None:
            return None
        sent = headers.get("x-api-key") if anthropic else None
        if sent is None:
            sent = headers.get("authorization", "").removeprefix("Bearer ").strip()
        return None if sent == key else Outcome(401, "auth", serial=serial)

    def _limited(self, now: float, serial: int) -> Outcome | None:
        rpm, window = self.settings.rpm, self.settings.rpm_window_s
        if rpm is None:
            return None
        while self._window and self._window[0] <= now - window + self.settings.rpm_grace_s:
            self._window.popleft()
        if len(self._window) < rpm:
            self._window.append(now)
            return None
        wait = max(0.0, self._window[0] + window - now)  # when the oldest admitted request leaves the window
        headers: tuple[tuple[str, str], ...] = ()
        if self.settings.rpm_retry_after:
            prefix = self.settings.retry_header_prefix
            headers = ((f"{prefix}retry-after", str(math.ceil(wait))),
                       (f"{prefix}retry-after-ms", str(math.ceil(wait * 1000))))
        return Outcome(429, "rpm", headers, f"Rate limit reached: {rpm} requests per {window:g} s.", serial)

    def _advertised(self, now: float, anthropic: bool) -> tuple[tuple[str, str], ...]:
        """The rate-limit headers OpenAI (or Anthropic) send: limit per minute, remaining, reset."""
        rpm, window, tpm = self.settings.rpm, self.settings.rpm_window_s, self.settings.advertised_tpm
        if rpm is None:
            limit, remaining, reset = 10_000, 10_000, 0.0
        else:
            while self._window and self._window[0] <= now - window:
                self._window.popleft()
            limit, remaining = round(rpm * 60 / window), max(0, rpm - len(self._window))
            reset = max(0.0, self._window[0] + window - now) if self._window else 0.0
        if anthropic:
            at = datetime.fromtimestamp(time.time() + reset, UTC).isoformat().replace("+00:00", "Z")
            now_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            return (("anthropic-ratelimit-requests-limit", str(limit)),
                    ("anthropic-ratelimit-requests-remaining", str(remaining)),
                    ("anthropic-ratelimit-requests-reset", at),
                    ("anthropic-ratelimit-tokens-limit", str(tpm)),
                    ("anthropic-ratelimit-tokens-remaining", str(tpm)),
                    ("anthropic-ratelimit-tokens-reset", now_at))
        return (("x-ratelimit-limit-requests", str(limit)), ("x-ratelimit-remaining-requests", str(remaining)),
                ("x-ratelimit-reset-requests", f"{math.ceil(reset * 1000)}ms"),
                ("x-ratelimit-limit-tokens", str(tpm)), ("x-ratelimit-remaining-tokens", str(tpm)),
                ("x-ratelimit-reset-tokens", "0s"))

    def _random(self, serial: int) -> Outcome | None:
        rates = self.settings.rates
        if not rates:
            return None
        draw = self._rng.random()
        for key, rate in rates.items():
            if draw < rate:
                if key in ("hang", "drop"):
                    return Outcome(None, str(key), serial=serial)
                if key in BROKEN_200:
                    return Outcome(200, str(key), serial=serial)
                after = self.settings.rate_retry_after if key == 429 else None
                return _fault_outcome(Fault.error(int(key), retry_after=after), serial)
            draw -= rate
        return None
