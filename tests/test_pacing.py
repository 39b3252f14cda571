"""The pacer behind --rpm/--tpm and the rate learned from 429s (real clock, small numbers)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from agent_eval.calls.limits import AdaptiveLimit, Pacer


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
    assert min(gaps) >= 0.049 and stamps[-1] - stamps[0] >= 0.25


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
