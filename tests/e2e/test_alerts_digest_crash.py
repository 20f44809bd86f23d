"""A crash between the storm digest's post and its record (found by `make chaos`, issue 15):
the restarted bot lists each digest entry once, and pings the on-call primary once."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.test_alerts import (  # its storm settings (storm_limit 3) too
    Webhook,
    incident_channels,
    overlay,  # noqa: F401 (a fixture)
    rows,
    settled,
    storm_body,
)


async def _storm(bot, control, numbers: range) -> None:
    async with aiohttp.ClientSession() as http:
        webhook = Webhook(await control.world(refresh=True), http)
        for number in numbers:
            assert (await webhook.post("alertmanager", storm_body(number)))[0] == 202


async def _held(control) -> dict:
    async def waiting():
        held = [h for h in await control.holds() if not h["released"]]
        return held[0] if held else None

    return await control.wait_for(waiting, what="the digest to reach the world")


async def _digests(control, ops: str) -> list[dict]:
    return [m for m in await control.messages(ops) if "Storm alert number" in m["content"]]


async def test_a_digest_posted_just_before_a_crash_is_not_posted_again(bot, control):
    ops = await control.channel_id("ops-alerts")
    await _storm(bot, control, range(3))  # alerts.storm_limit: three channels
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3
    # The digest takes effect in Discord; its answer waits, and the bot stops meanwhile.
    await control.fault("hold_after", method="POST", path_pattern=rf"/channels/{ops}/messages$")
    await _storm(bot, control, range(3, 5))
    held = await _held(control)
    await asyncio.wait_for(bot.stop(), 30)
    await control.release(held["id"])
    assert len(await _digests(control, ops)) == 1  # it was posted before the stop

    await bot.start()
    await settled(control, bot)
    digests = await _digests(control, ops)
    listed = [n for m in digests for n in range(5) if f"Storm alert number {n}" in m["content"]]
    assert sorted(listed) == [3, 4]
    alice = await control.user_id("alice")  # the on-call primary
    assert sum(alice in m.get("notified_user_ids", []) for m in digests) == 1
    # The entries record the message(s) they are listed in.
    recorded = rows(bot, "SELECT digest_message_id FROM alert_groups WHERE state = 'digest'")
    assert {r for (r,) in recorded} == {m["id"] for m in digests}


async def test_a_storm_that_goes_on_after_a_restart_does_not_ping_the_primary_again(bot, control):
    ops = await control.channel_id("ops-alerts")
    await _storm(bot, control, range(4))  # three channels, one digest entry
    await settled(control, bot)
    await bot.restart()
    await _storm(bot, control, range(4, 6))  # the storm goes on: two more entries
    await settled(control, bot)
    digests = await _digests(control, ops)
    listed = [n for m in digests for n in range(6) if f"Storm alert number {n}" in m["content"]]
    assert sorted(listed) == [3, 4, 5]
    assert len(digests) >= 2
    alice = await control.user_id("alice")  # the on-call primary, mentioned once a storm
    assert [alice in m.get("notified_user_ids", []) for m in digests] == [
        True,
        *[False] * (len(digests) - 1),
    ]
