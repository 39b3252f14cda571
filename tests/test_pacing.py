"""The pacer behind --rpm/--tpm and the rate learned from 429s (real clock, small numbers)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from agent_eval.calls.limits import AdaptiveLimit, Pacer
from agent_eval.providers.ratelimits import RateInfo


def test_rpm_spaces_requests_evenly_without_a_burst() -> None:
    async def main() -> list[float]:
        pacer = Pacer(rpm=1200, tpm=None)  # one request every 50 ms (+1% margin)
        stamps = []
        for _ in range(6):
            await pacer.acquire(1)
            stamps.append(time.monotonic())
        return stamps

    stamps = asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.048 and stamps[-1] - stamps[0] >= 0.25


def test_tpm_waits_for_tokens_and_reported_usage_corrects_the_estimate() -> None:
    async def main() -> tuple[float, float, float]:
        pacer = Pacer(rpm=None, tpm=60_000)  # 1,000 tokens a second, a minute's worth at first
        start = time.monotonic()
        await pacer.acquire(60_000)
        first = time.monotonic() - start
        await pacer.acquire(200)  # the bucket is empty: about 0.2 s
        second = time.monotonic() - start - first
        pacer.correct(estimated=200, actual=50)  # 150 tokens come back
        before = time.monotonic()
        await pacer.acquire(140)
        return first, second, time.monotonic() - before

    first, second, third = asyncio.run(main())
    assert first < 0.05 and 0.15 <= second < 0.5 and third < 0.05


def test_a_429_paces_at_90_percent_of_what_succeeded_and_probes_up() -> None:
    pacer = Pacer(rpm=None, tpm=None)
    assert pacer.learned_rpm is None
    for _ in range(20):
        pacer.on_success()
    pacer.on_rate_limit()
    learned = pacer.learned_rpm
    assert learned == pytest.approx(0.9 * 20 * 60, rel=0.01)
    pacer.on_rate_limit()  # a burst of 429s within a second is one signal
    assert pacer.learned_rpm == learned
    for _ in range(100):
        pacer.on_success()
    assert pacer.learned_rpm > learned


def test_adaptive_limit_halves_once_per_burst_and_grows_back() -> None:
    async def main() -> None:
        limit = AdaptiveLimit(16)
        limit.on_rate_limit()
        limit.on_rate_limit()
        assert limit.current == 8
        for _ in range(200):
            limit.on_success()
        assert limit.current == 16

    asyncio.run(main())


class VirtualTime:
    """A clock and a sleep for the pacer, where every sleep wakes `late` seconds after its deadline."""

    def __init__(self, late: float) -> None:
        self.now, self.late = 1000.0, late

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late
        await asyncio.sleep(0)


def paced_stamps(pacer: Pacer, clock: VirtualTime, count: int) -> list[float]:
    async def main() -> list[float]:
        stamps = []
        for _ in range(count):
            await pacer.acquire(1)
            stamps.append(clock.now)
        return stamps

    return asyncio.run(main())


def most_in_one_window(stamps: list[float], window_s: float) -> int:
    """The most requests any server window (t - window, t] saw."""
    return max(sum(1 for s in stamps if t - window_s < s <= t) for t in stamps)


def test_late_wakeups_do_not_add_up_and_never_burst() -> None:
    """Woken 1 ms late at every slot (a busy event loop): 500 requests at 3,000 rpm take their paced
    time, not 1 ms more each, and no 1 s window holds more than 50."""
    clock = VirtualTime(late=0.001)
    stamps = paced_stamps(Pacer(rpm=3000, tpm=None, clock=clock.clock, sleep=clock.sleep), clock, 500)
    assert stamps[-1] - stamps[0] == pytest.approx(499 * 0.0204, rel=0.002)  # 2% under the limit
    assert most_in_one_window(stamps, 1.0) <= 50


def test_after_a_stall_the_pace_starts_again_with_no_catch_up_burst() -> None:
    clock = VirtualTime(late=0.05)  # every wake 50 ms late: each slot starts the grid again
    stamps = paced_stamps(Pacer(rpm=3000, tpm=None, clock=clock.clock, sleep=clock.sleep), clock, 20)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) == pytest.approx(0.0204 + 0.05)


def test_an_exhausted_limit_waits_for_its_reset_counted_from_the_send() -> None:
    """The server counted the request when it arrived: its reset runs from the send, not from the reply."""
    clock = VirtualTime(late=0.0)
    pacer = Pacer(rpm=None, tpm=None, clock=clock.clock, sleep=clock.sleep)
    paced_stamps(pacer, clock, 1)
    ticket, sent_at = pacer.sent, pacer.sent_at
    clock.now += 0.05  # the reply arrives one latency later
    pacer.advertise(RateInfo(limit_requests=3000, remaining_requests=0, reset_requests_s=0.02), ticket, sent_at)
    assert pacer.pause_remaining() == 0  # the window reopened while the reply travelled
    pacer.advertise(RateInfo(limit_requests=3000, remaining_requests=0, reset_requests_s=0.5), ticket, sent_at)
    assert pacer.pause_remaining() == pytest.approx(0.45)
    pacer.advertise(RateInfo(limit_requests=3000, remaining_requests=5, reset_requests_s=0.5), ticket, sent_at)
    assert pacer.pause_remaining() == pytest.approx(0.45)  # credit left: no new pause
