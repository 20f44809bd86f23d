"""A crash between a declaration's commit and its pin (found by `make chaos`, issue 15):
the restarted bot pins the kickoff, once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest

from tests.e2e.helpers import ALWAYS_ON_CALL, find_channel


@pytest.fixture
def overlay():
    return ALWAYS_ON_CALL


async def _held(control) -> dict:
    async def waiting():
        held = [h for h in await control.holds() if not h["released"]]
        return held[0] if held else None

    return await control.wait_for(waiting, what="the pin to reach the world")


@pytest.mark.manual_clock
async def test_a_crash_before_the_pin_is_pinned_after_the_restart(bot, control, clock):
    await control.fault("hold", method="PUT", path_pattern=r"/pins/\d+$")
    general = await control.channel_id("general")
    erin = await control.user_id("erin")
    declaring = asyncio.create_task(
        control.command(erin, general, "incident", "declare", title="Pin me", severity="P1")
    )
    held = await _held(control)
    await asyncio.wait_for(bot.stop(), 30)  # the bot stops while Discord holds the pin
    await control.release(held["id"], drop=True)  # ... which never took effect
    with contextlib.suppress(Exception):
        await declaring
    channel = await find_channel(control, "incident-", "-pin-me")
    assert channel is not None
    assert not any(m["pinned"] for m in await control.messages(channel["id"]))

    await bot.start()
    clock.advance(timedelta(minutes=1))

    async def pinned():
        return [m for m in await control.messages(channel["id"]) if m["pinned"]]

    kickoffs = await control.wait_for(pinned, what="the kickoff pinned after the restart")
    assert len(kickoffs) == 1
    pins = [
        r
        for r in await control.requests()
        if r["method"] == "PUT" and "/pins/" in r["path"] and r["status"] == 204
    ]
    assert len(pins) == 1
