"""The one per-incident lock registry: exclusion while in use, nothing kept afterwards,
and the rule that no outside call is made while holding it."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.locks import IncidentLocks, LockHeldAcrossCall, check_not_holding, holding


async def test_an_incidents_lock_is_forgotten_once_nobody_holds_or_waits_for_it():
    locks = IncidentLocks()
    for incident_id in range(1, 101):  # a long-running bot sees many incidents
        async with locks.hold(incident_id):
            pass
    assert len(locks) == 0


async def test_the_lock_excludes_while_others_wait_and_is_then_forgotten():
    locks = IncidentLocks()
    inside, order = 0, []
    release = asyncio.Event()

    async def work(name: str) -> None:
        nonlocal inside
        async with locks.hold(7):
            inside += 1
            assert inside == 1
            order.append(name)
            if name == "a":
                await release.wait()
            inside -= 1

    first = asyncio.create_task(work("a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(work(n)) for n in "bc"]
    await asyncio.sleep(0)
    assert locks.locked(7)
    cancelled = asyncio.create_task(work("x"))
    await asyncio.sleep(0)
    cancelled.cancel()  # a waiter that gives up leaves nothing behind either
    release.set()
    await asyncio.gather(first, *waiting, cancelled, return_exceptions=True)
    assert order == ["a", "b", "c"]
    assert len(locks) == 0


async def test_a_woken_waiter_keeps_the_lock_it_was_handed():
    """The flaw of the old triage map: forgetting a lock whose holder had just been woken
    let a third task make a fresh lock and run beside the holder."""
    locks = IncidentLocks()
    inside, most = 0, 0
    gate = asyncio.Event()

    async def work() -> None:
        nonlocal inside, most
        async with locks.hold(1):
            inside += 1
            most = max(most, inside)
            await gate.wait()
            await asyncio.sleep(0)
            inside -= 1

    tasks = [asyncio.create_task(work()) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert most == 1


async def test_holding_names_the_held_keys_and_outside_calls_are_refused_inside():
    locks = IncidentLocks()
    check_not_holding("a Discord call")  # nothing held: fine
    async with locks.hold(3):
        assert holding() == (3,)
        with pytest.raises(LockHeldAcrossCall, match="a Discord call"):
            check_not_holding("a Discord call")
    assert holding() == ()


async def test_a_task_started_outside_the_lock_does_not_inherit_it():
    locks = IncidentLocks()
    seen: list[tuple] = []

    async def elsewhere() -> None:
        seen.append(holding())

    task = asyncio.create_task(elsewhere())
    async with locks.hold(9):
        await task
    assert seen == [()]


async def test_an_effect_serialiser_may_be_held_across_outside_calls():
    locks = IncidentLocks()
    async with locks.hold(("ops-card", 3), across_calls=True):
        check_not_holding("editing the card")  # allowed: commands never wait on it
    async with locks.hold(3), locks.hold(("ops-card", 3), across_calls=True):
        with pytest.raises(LockHeldAcrossCall):
            check_not_holding("editing the card")
