"""The per-incident comms lock: mutual exclusion while in use, nothing kept afterwards."""

from __future__ import annotations

import asyncio

from bot.communicate.base import Deps


def deps() -> Deps:
    return Deps(None, None, None, None, None, None, None, None)  # type: ignore[arg-type]


async def test_an_incidents_lock_is_forgotten_once_nobody_holds_or_waits_for_it():
    d = deps()
    for incident_id in range(1, 101):  # a long-running bot sees many incidents
        async with d.lock(incident_id):
            pass
    assert d._locks == {}


async def test_the_lock_still_excludes_while_others_wait_and_then_is_forgotten():
    d = deps()
    inside, order = 0, []

    async def work(name: str) -> None:
        nonlocal inside
        async with d.lock(7):
            inside += 1
            assert inside == 1
            order.append(name)
            await asyncio.sleep(0.01)
            inside -= 1

    first = asyncio.create_task(work("a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(work(n)) for n in "bc"]
    await asyncio.sleep(0)
    assert 7 in d._locks  # held and waited for: kept
    cancelled = asyncio.create_task(work("x"))
    await asyncio.sleep(0)
    cancelled.cancel()  # a waiter that gives up leaves nothing behind either
    await asyncio.gather(first, *waiting, cancelled, return_exceptions=True)
    assert order == ["a", "b", "c"]
    assert d._locks == {}
