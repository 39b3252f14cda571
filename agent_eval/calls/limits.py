"""Flow control for one endpoint: a request/token pacer and an adaptive concurrency limit."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable

from agent_eval.providers.ratelimits import RateInfo

__all__ = ["AdaptiveLimit", "Pacer"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# 2% under the limit: between our slot and the wire, the SDK's CPU and the other tasks on the
# event loop delay a request by up to ~20 ms, so arrivals bunch against a 1 s window
_MARGIN = 1.02
_CATCH_UP_S = 0.0025


class Pacer:
    """Spaces requests to stay under `rpm` and `tpm`, and holds everyone during a Retry-After pause.

    Requests are spaced evenly with no burst, so a server that enforces its per-minute
    limit over short windows never answers 429. A server that advertises its limits in
    rate-limit headers is paced to them (`advertise`). A server that tells its limit only
    through 429s gets a learned rate: 90% of what succeeded in the last second (all of it when
    the 429 said when to come back), probing upward.
    """

    def __init__(self, rpm: float | None, tpm: float | None, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._interval = 60.0 / rpm * _MARGIN if rpm else 0.0
        self._flag_interval = self._interval
        self._tokens_per_s = tpm / 60.0 if tpm else 0.0
        self._capacity = tpm or 0.0
        self._tpm_flag = bool(tpm)
        self.sent = 0  # request slots handed out; a reply's ticket is the value right after its acquire
        self.sent_at = 0.0  # when the last slot was handed out, on this pacer's clock
        self._clock, self._sleep = clock, sleep
        self._next_request = 0.0
        self._tokens = self._capacity
        self._tokens_at = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._learned = 0.0  # seconds between requests learned from 429s; 0 = none
        self._successes: collections.deque[float] = collections.deque()
        self._observe_s = 1.0
        self._last_cut = -1e9

    def on_success(self) -> None:
        """Count a success; a learned rate probes upward about 5% a second while calls succeed."""
        now = self._clock()
        self._successes.append(now)
        while self._successes and self._successes[0] < now - self._observe_s:
            self._successes.popleft()
        if self._learned:
            self._learned = max(self._interval, self._learned * (1 - 0.05 * self._learned))

    def on_rate_limit(self, *, told: bool = False) -> None:
        """A 429: pace at 90% of the success rate of the last second (at most one cut a second).

        `told`: the 429 said when to come back, so overshooting costs one short wait, not a lost
        attempt; pace at the full observed rate.
        """
        now = self._clock()
        if now - self._last_cut < self._observe_s:
            return
        self._last_cut = now
        recent = sum(1 for t in self._successes if t >= now - self._observe_s)
        observed = recent / self._observe_s
        if observed > 0:  # relative to what got through, so random 429s cannot compound into a crawl
            self._learned = 1.0 / ((1.0 if told else 0.9) * observed)
        else:
            self._learned = min(5.0, (self._learned or 0.05) * 2)

    @property
    def learned_rpm(self) -> float | None:
        """The request rate learned from 429s, per minute; None before any."""
        return 60.0 / self._learned if self._learned else None

    def advertise(self, info: RateInfo, ticket: int, sent_at: float) -> None:
        """Pace to the limits a server advertised in a reply to the request with slot `ticket`.

        The request limit (per minute) spaces requests like `--rpm`; a stricter flag wins. When
        nothing remains of it, counting the requests sent after this one, everyone waits for
        its reset, counted from `sent_at`, when the server counted the request: counted from
        the reply, a paced run would stall one latency at every full window. The token limit
        paces like `--tpm` unless that flag was given.
        """
        if info.limit_requests:
            self._interval = max(self._flag_interval, 60.0 / info.limit_requests * _MARGIN)
        if info.remaining_requests is not None and info.reset_requests_s:
            credit = info.remaining_requests - (self.sent - ticket)
            if credit <= 0:
                self.pause_until(sent_at + min(info.reset_requests_s, 60.0))
        if info.limit_tokens and not self._tpm_flag:
            per_s = info.limit_tokens / 60.0
            if per_s != self._tokens_per_s:
                if not self._tokens_per_s:  # start with what the server says remains
                    self._tokens = min(info.limit_tokens, info.remaining_tokens or info.limit_tokens)
                    self._tokens_at = self._clock()
                self._tokens_per_s, self._capacity = per_s, info.limit_tokens

    def pause_until(self, deadline: float) -> None:
        """Hold every request of this endpoint until `deadline` (a Retry-After)."""
        self._paused_until = max(self._paused_until, deadline)

    def pause_remaining(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, tokens: int) -> float:
        """Wait for a request slot and `tokens` tokens; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                delay = max(self._paused_until - now, self._next_request - now, self._token_delay(tokens, now))
                if delay <= 0:
                    break
                waited += delay
                await self._sleep(delay)
            interval = max(self._interval, self._learned)
            if interval:
                # A slot taken a little late keeps its place: a busy event loop wakes us about 1 ms
                # late, which would add up over every request. Later than _CATCH_UP_S (a stall, whose
                # delayed sends bunch up on the wire) the grid starts again from now: no catch-up burst.
                on_time = now - self._next_request <= _CATCH_UP_S
                self._next_request = (self._next_request if on_time else now) + interval
            if self._tokens_per_s:
                self._tokens -= min(tokens, self._capacity)
            self.sent += 1
            self.sent_at = now
        return waited

    def correct(self, estimated: int, actual: int) -> None:
        """Replace a call's estimated tokens by what the provider reported."""
        if self._tokens_per_s:
            self._tokens = min(self._capacity, self._tokens + estimated - actual)

    def _token_delay(self, tokens: int, now: float) -> float:
        if not self._tokens_per_s:
            return 0.0
        self._tokens = min(self._capacity, self._tokens + (now - self._tokens_at) * self._tokens_per_s)
        self._tokens_at = now
        needed = min(tokens, self._capacity) - self._tokens
        return needed / self._tokens_per_s if needed > 0 else 0.0


class AdaptiveLimit:
    """Calls in flight: halved on a rate-limit reply, grown back by one per window of successes (AIMD)."""

    def __init__(self, maximum: int, clock: Clock = time.monotonic, cooldown_s: float = 1.0) -> None:
        self.maximum = maximum
        self.limit = float(maximum)
        self.in_flight = 0
        self._clock = clock
        self._cooldown_s = cooldown_s
        self._last_cut = -1e9
        self._changed = asyncio.Condition()

    @property
    def current(self) -> int:
        return max(1, int(self.limit))

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.current)
            self.in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def on_success(self) -> None:
        if self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)

    def on_rate_limit(self) -> None:
        """Halve the limit, at most once per cooldown: a burst of 429s is one signal."""
        now = self._clock()
        if now - self._last_cut >= self._cooldown_s:
            self._last_cut = now
            self.limit = max(1.0, self.limit / 2)
