"""The injectable clock: tests move time; sleepers wake when it passes their deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import Clock, ManualClock

START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


async def test_a_manual_clock_stands_still_until_advanced():
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.advance(timedelta(minutes=5)) == START + timedelta(minutes=5)
    assert clock.now() == START + timedelta(minutes=5)


async def test_sleepers_wake_in_order_once_their_deadline_has_passed():
    clock = ManualClock(START)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 600)), asyncio.create_task(sleeper("soon", 60))]
    await asyncio.sleep(0)
    clock.advance(timedelta(seconds=59))
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(timedelta(seconds=1))
    await asyncio.sleep(0)
    assert woke == ["soon"]
    clock.advance(timedelta(minutes=10))
    await asyncio.gather(*tasks)
    assert woke == ["soon", "late"]


async def test_wait_returns_when_the_event_is_set_or_the_time_has_passed():
    clock = ManualClock(START)
    event = asyncio.Event()
    waiting = asyncio.create_task(clock.wait(event, 30))
    await asyncio.sleep(0)
    clock.advance(timedelta(seconds=31))
    assert await waiting is False
    waiting = asyncio.create_task(clock.wait(event, 30))
    await asyncio.sleep(0)
    event.set()
    assert await waiting is True


async def test_time_does_not_go_backwards():
    with pytest.raises(ValueError):
        ManualClock(START).advance(timedelta(seconds=-1))


async def test_the_wall_clock_is_aware_utc():
    now = Clock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
